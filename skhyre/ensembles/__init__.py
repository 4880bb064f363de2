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

:func:`build_ensemble` builds any of them by name. Each idea is a private
module of its own: the seeded layers (``_layers``), what every ensemble
shares (``_base``, ``EnsembleModule``), one module per kind, and the
factory (``_build``).
"""

from __future__ import annotations

from . import _build
from ._base import EnsembleModule  # noqa: F401
from ._build import build_ensemble
from ._epinet import Epinet
from ._layers import floating_dtype  # noqa: F401
from ._mc_dropout import MCDropoutEnsemble
from ._shared_base import SharedBaseEnsemble
from ._vanilla import VanillaEnsemble

__all__ = [
    "ENSEMBLE_KINDS",
    "Epinet",
    "MCDropoutEnsemble",
    "SharedBaseEnsemble",
    "VanillaEnsemble",
    "build_ensemble",
]

#: Names accepted by :func:`build_ensemble` (and the estimators' ``ensemble``).
ENSEMBLE_KINDS = _build.ENSEMBLE_KINDS
