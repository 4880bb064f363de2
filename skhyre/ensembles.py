"""Efficient ensembles as torch modules.

Every module here maps inputs ``X`` of shape ``(batch, n_features)`` (float32)
to member outputs of shape ``(batch, K, n_outputs)``, where ``K`` is the
ensemble size ``n_members``. Four kinds are provided:

- :class:`SharedBaseEnsemble`: one MLP whose last layer has ``K * n_outputs``
  outputs, plus a frozen random prior MLP of the same shape.
- :class:`Epinet`: a base MLP plus a small epistemic network indexed by ``K``
  fixed random index vectors (Osband et al., 2023).
- :class:`VanillaEnsemble`: ``K`` independent MLPs, computed with batched
  matrix products.
- :class:`MCDropoutEnsemble`: one dropout MLP whose members are ``K`` fixed
  dropout masks.

Initialisation is deterministic given ``seed``: every random draw made while
building a module comes from a local :class:`torch.Generator`, never from
torch's global random state. Frozen priors, epinet indices and dropout masks
are stored as buffers: they are saved in ``state_dict``, move with
``.to(device)``, and are not returned by ``.parameters()``, so an optimizer
never sees them.

:func:`build_ensemble` builds any of them by name.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from itertools import pairwise

import torch
from sklearn.utils import check_scalar
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ENSEMBLE_KINDS",
    "Epinet",
    "MCDropoutEnsemble",
    "SharedBaseEnsemble",
    "VanillaEnsemble",
    "build_ensemble",
]

#: Names accepted by :func:`build_ensemble` (and the estimators' ``ensemble``).
ENSEMBLE_KINDS = ("shared_base", "epinet", "vanilla", "mc_dropout")

_DTYPE = torch.float32
_MAX_SEED = 2**63 - 1


# --------------------------------------------------------------------------- validation


def _check_int(value, name: str, *, min_val: int = 1, max_val: int | None = None) -> int:
    """Validate an integer (not a bool) with sklearn's ``check_scalar``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    check_scalar(value, name, numbers.Integral, min_val=min_val, max_val=max_val)
    return int(value)


def _check_real(
    value,
    name: str,
    *,
    min_val: float,
    max_val: float | None = None,
    include_boundaries: str = "both",
) -> float:
    """Validate a finite real number (not a bool) with sklearn's ``check_scalar``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}."
        )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    check_scalar(
        value,
        name,
        numbers.Real,
        min_val=min_val,
        max_val=max_val,
        include_boundaries=include_boundaries,
    )
    return float(value)


def _check_hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    """Validate a non-empty sequence of positive ints (a single int is one layer)."""
    if isinstance(hidden_layer_sizes, numbers.Integral) and not isinstance(
        hidden_layer_sizes, bool
    ):
        hidden_layer_sizes = (hidden_layer_sizes,)
    if isinstance(hidden_layer_sizes, (str, bytes)) or not isinstance(hidden_layer_sizes, Iterable):
        raise TypeError(
            "hidden_layer_sizes must be a sequence of positive ints, "
            f"got {hidden_layer_sizes!r} of type {type(hidden_layer_sizes).__name__}."
        )
    sizes = tuple(hidden_layer_sizes)
    if len(sizes) == 0:
        raise ValueError("hidden_layer_sizes must be non-empty, got an empty sequence.")
    return tuple(_check_int(s, f"hidden_layer_sizes[{i}]") for i, s in enumerate(sizes))


def _check_feature_module(
    feature_module: nn.Module | None, n_feature_outputs: int | None
) -> int | None:
    """Validate the optional feature module and the width of its output."""
    if feature_module is None:
        if n_feature_outputs is not None:
            raise ValueError(
                "n_feature_outputs is the output width of feature_module and needs one; "
                f"got n_feature_outputs={n_feature_outputs!r} with feature_module=None."
            )
        return None
    if not isinstance(feature_module, nn.Module):
        raise TypeError(
            "feature_module must be a torch.nn.Module, "
            f"got {feature_module!r} of type {type(feature_module).__name__}."
        )
    if n_feature_outputs is None:
        raise ValueError(
            "n_feature_outputs (the width of feature_module's output) is required "
            "when feature_module is given."
        )
    return _check_int(n_feature_outputs, "n_feature_outputs")


# --------------------------------------------------------------------------- layers


def _generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the only source of randomness at build time."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def _init_linear_(weight: torch.Tensor, bias: torch.Tensor, generator: torch.Generator) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``generator``.

    ``weight`` has shape ``(out_features, in_features)``: kaiming-uniform with
    ``a = sqrt(5)``, i.e. uniform on ``+-1/sqrt(in_features)``; the bias is
    uniform on the same interval.
    """
    with torch.no_grad():
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(weight.shape[1])
        nn.init.uniform_(bias, -bound, bound, generator=generator)


def _linear(in_features: int, out_features: int, generator: torch.Generator) -> nn.Linear:
    """A learnable ``nn.Linear`` initialised from ``generator`` (global RNG untouched)."""
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features, dtype=_DTYPE)
    _init_linear_(layer.weight, layer.bias, generator)
    return layer


class _FrozenLinear(nn.Module):
    """A linear layer whose weight and bias are buffers: never trained, always saved."""

    def __init__(self, in_features: int, out_features: int, generator: torch.Generator) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        weight = torch.empty(out_features, in_features, dtype=_DTYPE)
        bias = torch.empty(out_features, dtype=_DTYPE)
        _init_linear_(weight, bias, generator)
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, frozen=True"


def _mlp(
    in_features: int,
    hidden_layer_sizes: tuple[int, ...],
    out_features: int | None,
    generator: torch.Generator,
    *,
    frozen: bool = False,
) -> nn.Sequential:
    """A ReLU MLP; with ``out_features=None`` it ends after the last hidden ReLU."""
    make = _FrozenLinear if frozen else _linear
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [make(width, size, generator), nn.ReLU()]
        width = size
    if out_features is not None:
        layers.append(make(width, out_features, generator))
    return nn.Sequential(*layers)


def floating_dtype(module: nn.Module, default: torch.dtype = torch.float32) -> torch.dtype:
    """The dtype of ``module``'s first floating parameter or buffer (``default`` without one)."""
    for t in (*module.parameters(), *module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return default


# --------------------------------------------------------------------------- base class


class EnsembleModule(nn.Module):
    """Validation, attributes and the optional feature module shared by all ensembles."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_members: int,
        hidden_layer_sizes,
        seed: int,
        feature_module: nn.Module | None,
        n_feature_outputs: int | None,
    ) -> None:
        super().__init__()
        self.n_features = _check_int(n_features, "n_features")
        self.n_outputs = _check_int(n_outputs, "n_outputs")
        self.n_members = _check_int(n_members, "n_members")
        self.hidden_layer_sizes = _check_hidden_layer_sizes(hidden_layer_sizes)
        self.seed = _check_int(seed, "seed", min_val=0, max_val=_MAX_SEED)
        self.n_feature_outputs = _check_feature_module(feature_module, n_feature_outputs)
        self.feature_module = feature_module
        #: width of what the ensemble's own networks see
        self.in_features = self.n_features if feature_module is None else self.n_feature_outputs

    def member_parameters(self) -> list[tuple[nn.Parameter, torch.Tensor]]:
        """The parameters that belong to one member each, with a ``(n_members, ...)`` view.

        Row ``k`` of each view is member ``k``'s own (a vanilla member's
        weights, a shared-base head); layers that every member uses are not
        listed. Empty where no parameter is a single member's (Epinet, MC
        dropout).
        """
        return []

    def _inputs(self, X, dtype: torch.dtype) -> torch.Tensor:
        """Apply the feature module if any, check the width, cast to the module's dtype.

        The feature module sees ``X`` in its own floating dtype (a frozen
        ``float16`` or ``bfloat16`` backbone works); the heads see its output
        cast to theirs.
        """
        if self.feature_module is not None:
            if isinstance(X, torch.Tensor) and X.is_floating_point():
                X = X.to(floating_dtype(self.feature_module, X.dtype))
            Z = self.feature_module(X)
            if not isinstance(Z, torch.Tensor) or Z.ndim != 2 or Z.shape[1] != self.in_features:
                shape = tuple(Z.shape) if isinstance(Z, torch.Tensor) else type(Z).__name__
                raise ValueError(
                    f"feature_module must return a tensor of shape (batch, {self.in_features}) "
                    f"(n_feature_outputs), got {shape}."
                )
            return Z.to(dtype)
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}.")
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (batch, {self.n_features}) (n_features), got {tuple(X.shape)}."
            )
        return X.to(dtype)


# --------------------------------------------------------------------------- shared base


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
        self.prior_scale = _check_real(prior_scale, "prior_scale", min_val=0.0)
        generator = _generator(self.seed)
        width = self.n_members * self.n_outputs
        self.learnable = _mlp(self.in_features, self.hidden_layer_sizes, width, generator)
        self.prior = _mlp(self.in_features, self.hidden_layer_sizes, width, generator, frozen=True)

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


# --------------------------------------------------------------------------- epinet


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
        self.prior_scale = _check_real(prior_scale, "prior_scale", min_val=0.0)
        self.index_dim = _check_int(index_dim, "index_dim")
        generator = _generator(self.seed)
        hidden = self.hidden_layer_sizes
        self.base = _mlp(self.in_features, hidden, None, generator)
        self.base_head = _linear(hidden[-1], self.n_outputs, generator)
        epi_in = hidden[-1] + self.in_features
        epi_out = self.index_dim * self.n_outputs
        self.epinet = _mlp(epi_in, hidden, epi_out, generator)
        self.prior = _mlp(epi_in, hidden, epi_out, generator, frozen=True)
        indices = torch.randn(self.n_members, self.index_dim, generator=generator, dtype=_DTYPE)
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


# --------------------------------------------------------------------------- vanilla


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
        generator = _generator(self.seed)
        sizes = (self.in_features, *self.hidden_layer_sizes, self.n_outputs)
        K = self.n_members
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in pairwise(sizes):
            weight = torch.empty(K, fan_out, fan_in, dtype=_DTYPE)
            bias = torch.empty(K, fan_out, dtype=_DTYPE)
            for k in range(K):  # construction only; forward is vectorised
                _init_linear_(weight[k], bias[k], generator)
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


# --------------------------------------------------------------------------- MC dropout


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
        self.dropout = _check_real(
            dropout, "dropout", min_val=0.0, max_val=1.0, include_boundaries="left"
        )
        generator = _generator(self.seed)
        sizes = (self.in_features, *self.hidden_layer_sizes, self.n_outputs)
        self.layers = nn.ModuleList(
            _linear(fan_in, fan_out, generator) for fan_in, fan_out in pairwise(sizes)
        )
        keep = 1.0 - self.dropout
        for i, width in enumerate(self.hidden_layer_sizes):
            kept = torch.rand(self.n_members, width, generator=generator, dtype=_DTYPE) < keep
            self.register_buffer(f"mask_{i}", kept.to(_DTYPE) / keep)

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


# --------------------------------------------------------------------------- factory


def build_ensemble(
    kind: str,
    n_features: int,
    n_outputs: int,
    *,
    n_members: int = 100,
    hidden_layer_sizes: tuple[int, ...] = (50, 50),
    prior_scale: float = 1.0,
    index_dim: int = 8,
    dropout: float = 0.1,
    seed: int = 0,
    feature_module: nn.Module | None = None,
    n_feature_outputs: int | None = None,
) -> nn.Module:
    """Build an ensemble module by name.

    Parameters
    ----------
    kind : {"shared_base", "epinet", "vanilla", "mc_dropout"}
        Which ensemble: :class:`SharedBaseEnsemble`, :class:`Epinet`,
        :class:`VanillaEnsemble` or :class:`MCDropoutEnsemble`.
    n_features : int
        Number of input features (columns of ``X``).
    n_outputs : int
        Outputs per member.
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Hidden widths of the learnable and prior networks.
    prior_scale : float, default=1.0
        Scale of the frozen prior (``"shared_base"``, ``"epinet"``).
    index_dim : int, default=8
        Index dimension (``"epinet"``).
    dropout : float, default=0.1
        Dropout rate in ``[0, 1)`` (``"mc_dropout"``).
    seed : int, default=0
        Seed for the initial weights, priors, epinet indices and dropout masks.
    feature_module : torch.nn.Module or None, default=None
        Optional module applied to ``X`` first, mapping it to
        ``(batch, n_feature_outputs)``; the ensemble works on its output.
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output; required with it and only with it.

    Returns
    -------
    torch.nn.Module
        Maps ``(batch, n_features)`` float32 inputs to ``(batch, K, n_outputs)``
        (``(batch, 1, n_outputs)`` for ``"mc_dropout"`` in train mode).

    Raises
    ------
    ValueError
        If ``kind`` is unknown or a parameter is out of range. Every parameter
        is validated, including those the chosen kind does not use.
    TypeError
        If a parameter has the wrong type.

    Examples
    --------
    >>> import torch
    >>> from skhyre.ensembles import build_ensemble
    >>> net = build_ensemble("shared_base", n_features=3, n_outputs=1, n_members=8,
    ...                      hidden_layer_sizes=(16,), seed=0)
    >>> net(torch.randn(5, 3)).shape
    torch.Size([5, 8, 1])
    >>> net.n_members, net.prior_scale
    (8, 1.0)
    """
    if not isinstance(kind, str) or kind not in ENSEMBLE_KINDS:
        raise ValueError(f"kind must be one of {list(ENSEMBLE_KINDS)}, got {kind!r}.")
    common = {
        "n_members": n_members,
        "hidden_layer_sizes": hidden_layer_sizes,
        "seed": seed,
        "feature_module": feature_module,
        "n_feature_outputs": n_feature_outputs,
    }
    # parameters the chosen kind does not use are still validated
    prior_scale = _check_real(prior_scale, "prior_scale", min_val=0.0)
    index_dim = _check_int(index_dim, "index_dim")
    dropout = _check_real(dropout, "dropout", min_val=0.0, max_val=1.0, include_boundaries="left")
    if kind == "shared_base":
        return SharedBaseEnsemble(n_features, n_outputs, prior_scale=prior_scale, **common)
    if kind == "epinet":
        return Epinet(n_features, n_outputs, prior_scale=prior_scale, index_dim=index_dim, **common)
    if kind == "vanilla":
        return VanillaEnsemble(n_features, n_outputs, **common)
    return MCDropoutEnsemble(n_features, n_outputs, dropout=dropout, **common)
