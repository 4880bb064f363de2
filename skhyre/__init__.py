"""skhyre: test-time alignment by Hypothesis Reweighting (HyRe).

Train an efficient ensemble once, then adapt it to a new user or a shifted
distribution from a handful of labels by reweighting its members, without a
gradient step.

The public names are imported lazily, so ``import skhyre`` (and the command
line) stays fast; ``from skhyre import HyReRegressor`` works as usual.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skhyre")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

_LAZY = {
    "HypothesisWeights": "skhyre.reweighting",
    "HyReRegressor": "skhyre._regressor",
    "HyReClassifier": "skhyre._classifier",
    "HyReRewardModel": "skhyre._reward",
    "HyReEnsemble": "skhyre._meta",
}

__all__ = [
    "HyReClassifier",
    "HyReEnsemble",
    "HyReRegressor",
    "HyReRewardModel",
    "HypothesisWeights",
    "__version__",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skhyre' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
