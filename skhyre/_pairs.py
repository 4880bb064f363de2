"""Pairs for the reward model: the reward-difference network, preference labels, saved modules."""

from __future__ import annotations

import io
import itertools

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from skorch.utils import get_map_location
from torch import nn

from ._validation import check_real_labels

__all__ = [
    "PairDifference",
    "SavedModule",
    "check_binary_preferences",
    "check_fit_preferences",
    "weighted_difference",
]


class PairDifference(nn.Module):
    """Reward differences ``r_k(A) - r_k(B)`` of an ensemble of reward heads.

    A pair row holds response A's ``n_features`` columns, then response B's.
    ``forward`` stacks the A halves and the B halves into one batch of
    ``2 * batch`` rows and runs the ensemble **once**, so both halves of a
    pair see the same sample of the ensemble: the same fixed members in eval
    mode, and, in train mode, the same freshly drawn Epinet indices (drawn
    once per call). An MC-dropout ensemble in train mode draws an independent
    mask for every row, so a pair's A and B halves are thinned differently
    (see :class:`HyReRewardModel`, Notes, for why this is kept).

    Parameters
    ----------
    ensemble : torch.nn.Module
        Maps ``(rows, n_features)`` to ``(rows, K, 1)`` rewards (any module of
        :mod:`skhyre.ensembles` built with ``n_outputs=1``).
    n_features : int
        Width ``d`` of one response; pair rows have ``2 * d`` columns.

    Examples
    --------
    >>> import torch
    >>> from skhyre._pairs import PairDifference
    >>> from skhyre.ensembles import build_ensemble
    >>> heads = build_ensemble("shared_base", 3, 1, n_members=4, hidden_layer_sizes=(8,))
    >>> pairs = PairDifference(heads, n_features=3)
    >>> x = torch.randn(5, 6)
    >>> pairs(x).shape
    torch.Size([5, 4, 1])
    >>> bool(torch.allclose(pairs(x), heads(x[:, :3]) - heads(x[:, 3:])))
    True
    """

    def __init__(self, ensemble: nn.Module, n_features: int) -> None:
        super().__init__()
        self.ensemble = ensemble
        self.n_features = int(n_features)

    @property
    def n_members(self) -> int:
        """Ensemble size ``K`` of the wrapped ensemble."""
        return int(self.ensemble.n_members)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``(batch, 2 * d)`` pairs -> ``(batch, K, 1)`` reward differences."""
        d = self.n_features
        if X.ndim != 2 or X.shape[1] != 2 * d:
            raise ValueError(
                f"pairs must have shape (batch, {2 * d}) (response A's {d} features, then "
                f"response B's), got {tuple(X.shape)}."
            )
        n = X.shape[0]
        rewards = self.ensemble(torch.cat([X[:, :d], X[:, d:]], dim=0))
        return rewards[:n] - rewards[n:]

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}"


def weighted_difference(R: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(K, rows, 1)`` reward differences -> ``sum_k w_k (r_k(A) - r_k(B))`` (float64).

    Members of weight 0 are left out, so their NaN outputs do not reach the sum.
    """
    keep = np.flatnonzero(w > 0)
    return np.asarray(w[keep], dtype=np.float64) @ R[keep, :, 0].astype(np.float64)


def check_binary_preferences(y, *, what: str = "y") -> np.ndarray:
    """0/1 (or bool) labels -> int64; anything else is a ValueError naming it."""
    arr = np.asarray(y)
    check_real_labels(arr)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}.")
    if arr.dtype.kind in "iub":
        ok = np.isin(arr, (0, 1))
    elif arr.dtype.kind == "f" or arr.dtype == object:
        try:
            ok = np.isin(arr.astype(np.float64), (0.0, 1.0))
        except (TypeError, ValueError):
            ok = np.zeros(arr.shape, dtype=bool)
        if arr.dtype == object:  # strings like "1" are not preference labels
            ok &= np.array(
                [isinstance(v, (bool, int, float, np.number, np.bool_)) for v in arr], bool
            )
    else:
        ok = np.zeros(arr.shape, dtype=bool)
    if not ok.all():
        bad = np.unique(arr[~ok].astype(object).astype(str))[:10]
        raise ValueError(
            f"{what} must hold preference labels 1 (response A preferred) or 0 (response B "
            f"preferred), as ints, floats or booleans; got {bad.tolist()}."
        )
    return (arr == 1).astype(np.int64)


def check_fit_preferences(y) -> np.ndarray:
    """Training labels as 0/1 int64; sklearn's "Unknown label type" error, then ours."""
    if y.dtype == object:  # bools or 0/1 in an object array: sklearn calls them "unknown"
        y = check_binary_preferences(y)
    try:
        check_classification_targets(y)
    except ValueError as exc:
        try:
            check_binary_preferences(y)
        except ValueError as ours:
            raise ValueError(f"{exc} {ours}") from None
        raise
    return y


class SavedModule:
    """A ``module`` parameter instance as pickled: ``torch.save`` bytes and its device.

    Pickle would store a CUDA module's tensors as CUDA storages, which fail
    to load on a machine without CUDA; ``torch.load`` with skorch's
    ``get_map_location`` maps them to the CPU there (with a
    ``DeviceWarning``), as skorch does for the trained network.
    """

    def __init__(self, module: nn.Module) -> None:
        first = next(itertools.chain(module.parameters(), module.buffers()), None)
        self.device = str(first.device) if first is not None else "cpu"
        buf = io.BytesIO()
        torch.save(module, buf)
        self.data = buf.getvalue()

    def load(self) -> nn.Module:
        return torch.load(
            io.BytesIO(self.data), map_location=get_map_location(self.device), weights_only=False
        )
