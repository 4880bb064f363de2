"""MC dropout: one dropout MLP whose members are ``K`` fixed dropout masks."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import check_finite_real
from ._base import EnsembleModule
from ._layers import DTYPE, linear, seeded_generator


class MCDropoutEnsemble(EnsembleModule):
    """Monte Carlo dropout ensemble: one dropout MLP, each member a fixed dropout mask.

    A ReLU MLP with dropout after each hidden layer (Gal and Ghahramani, 2016).
    Member ``k`` is the network thinned by fixed masks, one per hidden layer,
    drawn at construction from ``seed`` and stored as buffers ``mask_0``,
    ``mask_1``, ... of shape ``(n_members, hidden_l)`` with inverted-dropout
    scaling (kept units are multiplied by ``1 / (1 - dropout)``).

    Parameters
    ----------
    n_features : int
        Number of input features (columns of ``X``). With ``feature_module``
        it is only recorded; the networks see ``n_feature_outputs`` features.
    n_outputs : int
        Outputs per member.
    n_members : int, default=100
        Ensemble size ``K``: the number of fixed masks.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Hidden widths.
    dropout : float, default=0.1
        Dropout rate in ``[0, 1)``.
    seed : int, default=0
        Seed of the local generator that draws the initial weights and the masks.
    feature_module : torch.nn.Module or None, default=None
        Optional module applied to ``X`` first, trained end to end.
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output; required with it and only with it.

    Attributes
    ----------
    n_members : int
        Ensemble size ``K``.
    dropout : float
        Dropout rate.
    layers : torch.nn.ModuleList
        The linear layers, hidden ones followed by ReLU and dropout.

    Notes
    -----
    In ``eval()`` mode every member uses its stored masks, so it is the same
    function on every input and a row's output does not depend on the rest of
    the batch; all members are computed at once as ``(batch, n_members,
    hidden)`` activations. In ``train()`` mode the module is an ordinary
    dropout MLP with a fresh random mask per example (from torch's global
    random generator) and returns shape ``(batch, 1, n_outputs)``: a training
    loss that sums over the member axis works whatever its size.

    Examples
    --------
    >>> import torch
    >>> from skhyre.ensembles import MCDropoutEnsemble
    >>> net = MCDropoutEnsemble(n_features=3, n_outputs=2, n_members=6,
    ...                         hidden_layer_sizes=(16,), dropout=0.2, seed=0)
    >>> net.train()(torch.zeros(4, 3)).shape
    torch.Size([4, 1, 2])
    >>> net.eval()(torch.zeros(4, 3)).shape
    torch.Size([4, 6, 2])
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_members: int = 100,
        hidden_layer_sizes: tuple[int, ...] = (50, 50),
        dropout: float = 0.1,
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
        self.dropout = check_finite_real(
            dropout, "dropout", min_val=0.0, max_val=1.0, include_boundaries="left"
        )
        generator = seeded_generator(self.seed)
        sizes = (self.in_features, *self.hidden_layer_sizes, self.n_outputs)
        self.layers = nn.ModuleList(
            linear(fan_in, fan_out, generator) for fan_in, fan_out in pairwise(sizes)
        )
        keep = 1.0 - self.dropout
        for i, width in enumerate(self.hidden_layer_sizes):
            kept = torch.rand(self.n_members, width, generator=generator, dtype=DTYPE) < keep
            self.register_buffer(f"mask_{i}", kept.to(DTYPE) / keep)

    def masks(self) -> list[torch.Tensor]:
        """The members' fixed dropout masks, one ``(n_members, hidden_l)`` tensor per layer.

        Returns
        -------
        list of torch.Tensor
            Entries are 0 (dropped) or ``1 / (1 - dropout)`` (kept).
        """
        return [getattr(self, f"mask_{i}") for i in range(len(self.hidden_layer_sizes))]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Member outputs: ``(batch, n_members, n_outputs)`` in eval mode, ``(batch, 1, n_outputs)`` in train mode."""
        x = self._inputs(X, self.layers[0].weight.dtype)
        if self.training:
            h = x
            for layer in self.layers[:-1]:
                h = F.dropout(torch.relu(layer(h)), p=self.dropout, training=True)
            return self.layers[-1](h).unsqueeze(1)
        masks = self.masks()
        h = torch.relu(self.layers[0](x)).unsqueeze(1) * masks[0]  # (batch, K, hidden)
        for layer, mask in zip(self.layers[1:-1], masks[1:]):
            h = torch.relu(layer(h)) * mask
        return self.layers[-1](h)

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, n_outputs={self.n_outputs}, dropout={self.dropout}"
