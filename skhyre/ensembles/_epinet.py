"""Epinet: a base MLP plus a small epistemic network indexed by ``K`` fixed index vectors."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_count, check_finite_real
from ._base import EnsembleModule
from ._layers import DTYPE, linear, mlp, seeded_generator


class Epinet(EnsembleModule):
    """Epistemic neural network (Osband et al., 2023): a base MLP plus an indexed epinet.

    With base features ``phi(x)`` (the last hidden layer of a ReLU MLP) and an
    index ``z`` of dimension ``index_dim``::

        f(x, z) = base_head(phi(x))
                  + (epinet([sg(phi(x)), x]) + prior_scale * prior([sg(phi(x)), x])) @ z

    where ``sg`` stops the gradient, ``epinet`` is a learnable MLP and
    ``prior`` a frozen random MLP of the same form, each with
    ``index_dim * n_outputs`` outputs reshaped to ``(n_outputs, index_dim)``.
    Member ``k`` is the function ``f(., z_k)`` for a fixed index vector ``z_k``.

    Parameters
    ----------
    n_features : int
        Number of input features (columns of ``X``). With ``feature_module``
        it is only recorded; the networks see ``n_feature_outputs`` features.
    n_outputs : int
        Outputs per member.
    n_members : int, default=100
        Ensemble size ``K``: the number of index vectors.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Hidden widths of the base MLP and of the epistemic MLPs (learnable and prior).
    prior_scale : float, default=1.0
        Non-negative scale of the prior's output; 0 turns the prior off.
    index_dim : int, default=8
        Dimension of the index ``z``.
    seed : int, default=0
        Seed of the local generator that draws every initial weight and the
        stored indices. Global torch random state is not used at construction.
    feature_module : torch.nn.Module or None, default=None
        Optional module applied to ``X`` first, trained end to end through the
        base network (the epistemic networks see its output detached).
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output; required with it and only with it.

    Attributes
    ----------
    n_members : int
        Ensemble size ``K``.
    prior_scale : float
        Scale of the prior's output.
    index_dim : int
        Dimension of the index.
    indices : torch.Tensor
        Buffer of shape ``(n_members, index_dim)``: the members' index vectors,
        drawn from ``N(0, I)`` at construction.
    base, base_head, epinet, prior : torch.nn.Module
        The base feature MLP, the base linear head, the learnable epistemic
        MLP and the frozen prior (weights stored as buffers).

    Notes
    -----
    In ``eval()`` mode ``forward`` uses the stored ``indices``, so every member
    is a fixed, deterministic function. In ``train()`` mode, as in Osband et
    al., every call draws ``n_members`` *fresh* indices from ``N(0, I)`` (one
    set per call, shared by all rows of the batch) from torch's **global**
    random generator on the module's device; seed it (``torch.manual_seed``)
    for reproducible training. The output shape is ``(batch, n_members,
    n_outputs)`` in both modes.

    The epistemic networks take ``[phi(x), x]`` with the gradient stopped, so
    they never change the base network (nor ``feature_module``). The prior's
    weights are buffers: saved, moved by ``.to``, never returned by
    ``.parameters()``.

    Examples
    --------
    >>> import torch
    >>> from skhyre.ensembles import Epinet
    >>> net = Epinet(n_features=3, n_outputs=1, n_members=5, hidden_layer_sizes=(16,),
    ...              index_dim=4, seed=0).eval()
    >>> out = net(torch.zeros(2, 3))
    >>> out.shape, net.indices.shape
    (torch.Size([2, 5, 1]), torch.Size([5, 4]))
    >>> torch.equal(out, net(torch.zeros(2, 3)))
    True
    """

    #: Train with the stored member indices instead of fresh ones (set by the
    #: estimators for annotator-aware training).
    train_fixed_indices: bool = False

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_members: int = 100,
        hidden_layer_sizes: tuple[int, ...] = (50, 50),
        prior_scale: float = 1.0,
        index_dim: int = 8,
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
        self.index_dim = check_count(index_dim, "index_dim")
        generator = seeded_generator(self.seed)
        hidden = self.hidden_layer_sizes
        self.base = mlp(self.in_features, hidden, None, generator)
        self.base_head = linear(hidden[-1], self.n_outputs, generator)
        epi_in = hidden[-1] + self.in_features
        epi_out = self.index_dim * self.n_outputs
        self.epinet = mlp(epi_in, hidden, epi_out, generator)
        self.prior = mlp(epi_in, hidden, epi_out, generator, frozen=True)
        indices = torch.randn(self.n_members, self.index_dim, generator=generator, dtype=DTYPE)
        self.register_buffer("indices", indices)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Member outputs, shape ``(batch, n_members, n_outputs)``.

        Uses the stored ``indices`` in eval mode and fresh ``N(0, I)`` indices
        from the global generator in train mode -- unless
        ``train_fixed_indices`` is True (annotator-aware training, where each
        stored index is a member with its own training examples).
        """
        x = self._inputs(X, self.base_head.weight.dtype)
        phi = self.base(x)
        mean = self.base_head(phi)
        epi_in = torch.cat([phi.detach(), x.detach()], dim=1)
        coef = self.epinet(epi_in)
        if self.prior_scale != 0.0:
            coef = coef + self.prior_scale * self.prior(epi_in)
        coef = coef.view(x.shape[0], self.n_outputs, self.index_dim)
        if self.training and not self.train_fixed_indices:
            z = torch.randn(
                self.n_members,
                self.index_dim,
                device=self.indices.device,
                dtype=self.indices.dtype,
            )
        else:
            z = self.indices
        return mean.unsqueeze(1) + torch.einsum("boi,ki->bko", coef, z)

    def extra_repr(self) -> str:
        return (
            f"n_members={self.n_members}, n_outputs={self.n_outputs}, "
            f"index_dim={self.index_dim}, prior_scale={self.prior_scale}"
        )
