"""The paper's distribution shift for tabular data: :func:`ood_split`."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_X_y

from .._validation import check_finite_real

# ---------------------------------------------------------------------------


def _check_fraction(value: float, name: str, include_boundaries: str) -> float:
    return check_finite_real(
        value, name, min_val=0.0, max_val=1.0, include_boundaries=include_boundaries
    )


def standardized_features(X: np.ndarray, who: str = "the shift") -> np.ndarray:
    """The non-constant columns of ``X``, each standardized (float64).

    The space a shift is measured in (:func:`ood_split` sorts by the mean of
    these columns; :class:`skhyre.model_selection.ShiftSplit` by projections
    of them). A column whose spread under- or overflows the variance is first
    rescaled to ``[0, 1]`` (an affine map: the same standardized values).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite inputs.
    who : str, default="the shift"
        Named in the error when every column is constant.

    Returns
    -------
    ndarray of shape (n_samples, n_varying)

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import standardized_features
    >>> Z = standardized_features(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> Z.ravel().tolist()
    [-1.0, 1.0]
    """
    varying = np.ptp(X, axis=0) > 0
    if not varying.any():
        raise ValueError(f"{who} needs at least one non-constant feature; all are constant")
    Z = X[:, varying]
    with np.errstate(over="ignore"):  # an overflowing variance is handled just below
        sd = Z.std(axis=0)
    if not (np.isfinite(sd).all() and (sd > 0).all()):
        # a spread that under- or overflows the variance: rescale each feature
        # to [0, 1] first (an affine map, so the same standardized scores)
        Z = (Z - Z.min(axis=0)) / np.ptp(Z, axis=0)
        sd = Z.std(axis=0)
    return (Z - Z.mean(axis=0)) / sd


def ood_split(
    X,
    y,
    ood_fraction: float = 0.1,
    val_fraction: float = 0.2,
    random_state=None,
) -> Bunch:
    """Split a regression dataset into train, validation and out-of-distribution rows.

    The paper's shift: each row is scored by the average of its standardized
    input features (features that are constant are left out of the average);
    the ``floor(n * ood_fraction / 2)`` rows with the lowest scores and as many
    with the highest (at least one each) form the OOD set. The remaining
    middle rows are split at random into training and validation sets, the
    validation set taking ``ceil(val_fraction * n_middle)`` of them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    ood_fraction : float, default=0.1
        Fraction of rows held out as OOD, half from each end, in (0, 1).
    val_fraction : float, default=0.2
        Fraction of the in-distribution rows used for validation, in [0, 1).
    random_state : int, RandomState instance or None, default=None
        Seed of the train/validation split. The OOD set does not depend on it.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        With ``X_train, y_train, X_val, y_val, X_ood, y_ood``; ``ood_side``
        (``-1`` for a row from the low end, ``+1`` from the high end, one per
        OOD row); the row indices into ``X`` ``train_index, val_index,
        ood_index`` (train and validation in increasing order, OOD low end
        then high end, each in increasing score); and ``score`` (n_samples,),
        the sorting score of every row.

    Raises
    ------
    ValueError
        If a fraction is out of range, every feature is constant, or there are
        too few rows to leave a training row.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import ood_split
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    >>> split = ood_split(X, y, ood_fraction=0.1, val_fraction=0.2, random_state=0)
    >>> split.X_train.shape, split.X_val.shape, split.X_ood.shape
    ((72, 3), (18, 3), (10, 3))
    >>> split.ood_side.tolist()
    [-1, -1, -1, -1, -1, 1, 1, 1, 1, 1]
    >>> bool(split.score[split.ood_index[:5]].max() <= split.score[split.train_index].min())
    True
    """
    X, y = check_X_y(X, y, dtype=np.float64, multi_output=True, y_numeric=False)
    ood_fraction = _check_fraction(ood_fraction, "ood_fraction", "neither")
    val_fraction = _check_fraction(val_fraction, "val_fraction", "left")
    rng = check_random_state(random_state)

    n_samples = X.shape[0]
    # Rounded first so that, e.g., 30 * 0.1 counts as 3 and not 3.0000000000000004.
    n_side = max(1, math.floor(round(n_samples * ood_fraction / 2, 9)))
    n_middle = n_samples - 2 * n_side
    n_val = math.ceil(round(val_fraction * n_middle, 9)) if n_middle > 0 else 0
    if n_middle - n_val < 1:
        raise ValueError(
            f"ood_split needs at least one training row: n_samples={n_samples} leaves "
            f"{max(n_middle, 0)} in-distribution rows after holding out {2 * n_side} OOD "
            f"rows, and val_fraction={val_fraction} takes {n_val} of them"
        )

    score = standardized_features(X, "ood_split").mean(axis=1)

    order = np.argsort(score, kind="stable")
    low, middle, high = order[:n_side], order[n_side : n_samples - n_side], order[-n_side:]
    shuffled = rng.permutation(middle)
    val_index = np.sort(shuffled[:n_val])
    train_index = np.sort(shuffled[n_val:])
    ood_index = np.concatenate([low, high])
    ood_side = np.concatenate([-np.ones(n_side, dtype=np.int64), np.ones(n_side, dtype=np.int64)])
    return Bunch(
        X_train=X[train_index],
        y_train=y[train_index],
        X_val=X[val_index],
        y_val=y[val_index],
        X_ood=X[ood_index],
        y_ood=y[ood_index],
        ood_side=ood_side,
        train_index=train_index,
        val_index=val_index,
        ood_index=ood_index,
        score=score,
    )


# ---------------------------------------------------------------------------
# Synthetic generators
