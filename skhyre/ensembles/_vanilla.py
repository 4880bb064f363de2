"""Vanilla (deep) ensemble: ``K`` independent MLPs computed as one batched network."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from ._base import EnsembleModule
from ._layers import DTYPE, init_linear_, seeded_generator


class VanillaEnsemble(EnsembleModule):
    """Deep ensemble: ``K`` independent ReLU MLPs computed as one batched network.

    Layer ``l`` of all members is one stacked weight of shape
    ``(n_members, in, out)`` and a bias of shape ``(n_members, 1, out)``; the
    forward pass is a chain of batched matrix products (``torch.baddbmm``),
    with no Python loop over members. Each member's weights are drawn
    independently with PyTorch's default ``nn.Linear`` initialisation.

    Parameters
    ----------
    n_features : int
        Number of input features (columns of ``X``). With ``feature_module``
        it is only recorded; the networks see ``n_feature_outputs`` features.
    n_outputs : int
        Outputs per member.
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Hidden widths of every member.
    seed : int, default=0
        Seed of the local generator that draws every initial weight.
    feature_module : torch.nn.Module or None, default=None
        Optional module applied to ``X`` first, shared by all members and
        trained end to end with them.
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output; required with it and only with it.

    Attributes
    ----------
    n_members : int
        Ensemble size ``K``.
    weights : torch.nn.ParameterList
        Stacked weights, layer ``l`` of shape ``(n_members, in_l, out_l)``.
    biases : torch.nn.ParameterList
        Stacked biases, layer ``l`` of shape ``(n_members, 1, out_l)``.

    Notes
    -----
    Member ``k`` computes ``h <- relu(h @ weights[l][k] + biases[l][k])`` layer
    by layer (no ReLU after the last). Train and eval modes compute the same
    function. There is no prior network.

    Examples
    --------
    >>> import torch
    >>> from skhyre.ensembles import VanillaEnsemble
    >>> net = VanillaEnsemble(n_features=3, n_outputs=2, n_members=4,
    ...                       hidden_layer_sizes=(8,), seed=0)
    >>> net(torch.zeros(5, 3)).shape
    torch.Size([5, 4, 2])
    >>> [tuple(w.shape) for w in net.weights]
    [(4, 3, 8), (4, 8, 2)]
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_members: int = 100,
        hidden_layer_sizes: tuple[int, ...] = (50, 50),
        seed: int = 0,
        feature_module: nn.Module | None = None,
        n_feature_outputs: int | None = None,
    ) -> None:
        super().__init__(
            n_features,
            n_outputs,
            n_members=n_members,
            hidden_layer_sizes=hidden_layer_sizes,
            seed=seed,
            feature_module=feature_module,
            n_feature_outputs=n_feature_outputs,
        )
        generator = seeded_generator(self.seed)
        sizes = (self.in_features, *self.hidden_layer_sizes, self.n_outputs)
        K = self.n_members
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in pairwise(sizes):
            weight = torch.empty(K, fan_out, fan_in, dtype=DTYPE)
            bias = torch.empty(K, fan_out, dtype=DTYPE)
            for k in range(K):  # construction only; forward is vectorised
                init_linear_(weight[k], bias[k], generator)
            self.weights.append(nn.Parameter(weight.transpose(1, 2).contiguous()))
            self.biases.append(nn.Parameter(bias.unsqueeze(1)))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Member outputs, shape ``(batch, n_members, n_outputs)``."""
        x = self._inputs(X, self.weights[0].dtype)
        # every member reads the same rows: a stride-0 view, no copy; h is (K, batch, out)
        h = torch.baddbmm(self.biases[0], x.expand(self.n_members, *x.shape), self.weights[0])
        for weight, bias in zip(self.weights[1:], self.biases[1:]):
            h = torch.baddbmm(bias, torch.relu(h), weight)
        return h.transpose(0, 1).contiguous()

    def member_parameters(self) -> list[tuple[nn.Parameter, torch.Tensor]]:
        """Every stacked weight and bias: row ``k`` is member ``k``'s network."""
        return [(p, p) for p in (*self.weights, *self.biases)]

    def extra_repr(self) -> str:
        return (
            f"n_members={self.n_members}, in_features={self.in_features}, "
            f"hidden_layer_sizes={self.hidden_layer_sizes}, n_outputs={self.n_outputs}"
        )
