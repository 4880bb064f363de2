"""Shared-Base: one MLP with ``K`` heads, each made diverse by a frozen random prior."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_finite_real
from ._base import EnsembleModule
from ._layers import mlp, seeded_generator


class SharedBaseEnsemble(EnsembleModule):
    """Shared-base ensemble: one MLP with ``K`` heads, each made diverse by a frozen prior.

    A learnable ReLU MLP whose hidden layers are shared by all members and whose
    last layer has ``n_members * n_outputs`` outputs, plus a frozen random prior
    MLP of the same shape (Osband et al., 2018, "Randomized prior functions")::

        f_k(x) = learnable(x)[k] + prior_scale * prior(x)[k]

    ``K = 100`` members cost about as much as one MLP with a wider last layer.

    Parameters
    ----------
    n_features : int
        Number of input features (columns of ``X``). With ``feature_module``
        it is only recorded; the networks see ``n_feature_outputs`` features.
    n_outputs : int
        Outputs per member (1 for a scalar regression or reward, the number of
        classes for logits).
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Widths of the hidden layers, the same for the learnable and the prior MLP.
    prior_scale : float, default=1.0
        Non-negative scale of the prior's output; 0 turns the prior off.
    seed : int, default=0
        Seed of the local generator that draws every initial weight, learnable
        and prior. Global torch random state is neither used nor changed.
    feature_module : torch.nn.Module or None, default=None
        Optional module applied to ``X`` first (for instance a small text
        encoder, trained end to end with the learnable network). Its own
        initialisation is left to the caller.
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output, ``(batch, n_feature_outputs)``;
        required with ``feature_module`` and only with it.

    Attributes
    ----------
    n_members : int
        Ensemble size ``K``.
    prior_scale : float
        Scale of the prior's output.
    in_features : int
        Width of the networks' input: ``n_feature_outputs`` with a feature
        module, else ``n_features``.
    learnable : torch.nn.Sequential
        The trained MLP, last layer of width ``n_members * n_outputs``.
    prior : torch.nn.Sequential
        The frozen prior MLP; its weights are buffers, not parameters.

    Notes
    -----
    The prior's weights are buffers: they are in ``state_dict`` and follow
    ``.to(device)``, but ``.parameters()`` does not return them, so no
    optimizer built from it can change them. The prior sees its input
    detached, so no gradient flows through it into ``feature_module`` either.
    Train and eval modes compute the same function.

    Examples
    --------
    >>> import torch
    >>> from skhyre.ensembles import SharedBaseEnsemble
    >>> net = SharedBaseEnsemble(n_features=3, n_outputs=2, n_members=10,
    ...                          hidden_layer_sizes=(16,), seed=0)
    >>> net(torch.zeros(4, 3)).shape
    torch.Size([4, 10, 2])
    >>> any(p is net.prior[0].weight for p in net.parameters())
    False
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_members: int = 100,
        hidden_layer_sizes: tuple[int, ...] = (50, 50),
        prior_scale: float = 1.0,
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
        self.prior_scale = check_finite_real(prior_scale, "prior_scale", min_val=0.0)
        generator = seeded_generator(self.seed)
        width = self.n_members * self.n_outputs
        self.learnable = mlp(self.in_features, self.hidden_layer_sizes, width, generator)
        self.prior = mlp(self.in_features, self.hidden_layer_sizes, width, generator, frozen=True)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Member outputs, shape ``(batch, n_members, n_outputs)``."""
        x = self._inputs(X, self.learnable[0].weight.dtype)
        out = self.learnable(x)
        if self.prior_scale != 0.0:
            out = out + self.prior_scale * self.prior(x.detach())
        return out.view(x.shape[0], self.n_members, self.n_outputs)

    def member_parameters(self) -> list[tuple[nn.Parameter, torch.Tensor]]:
        """Each member's rows of the last learnable layer (its head)."""
        last = self.learnable[-1]
        K = self.n_members
        return [
            (last.weight, last.weight.view(K, self.n_outputs, -1)),
            (last.bias, last.bias.view(K, self.n_outputs)),
        ]

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, n_outputs={self.n_outputs}, prior_scale={self.prior_scale}"
