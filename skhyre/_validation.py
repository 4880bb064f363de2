"""Shared validation: each check written once, with one message.

Every module of skhyre that validates a count, a finite real, the hidden
layer sizes, a sampling rule, a query count, an exclusion list, a log prior,
the ``temperature`` parameter, adaptation labels or non-finite member outputs
calls the function here (with ``_kernels`` and
``_config``, the only private modules that others import from).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Iterable

import numpy as np
from sklearn.utils.validation import check_scalar

from . import _kernels

__all__ = [
    "DATA_TEMPERATURES",
    "PROBA_TOL",
    "SAMPLINGS",
    "caller_stacklevel",
    "check_count",
    "check_exclude",
    "check_finite_proba",
    "check_finite_real",
    "check_hidden_layer_sizes",
    "check_log_prior",
    "check_max_temperature",
    "check_member_predictions",
    "check_member_probabilities",
    "check_n_queries",
    "check_real_labels",
    "check_sampling",
    "check_temperature_param",
    "check_weights",
    "encode_known_labels",
    "is_real",
    "looks_like_an_int_mask",
    "nonfinite_output_note",
    "nonfinite_rows",
    "num_samples_or_none",
    "shown_indices",
    "warn_nonfinite_predictions",
]

#: How ``query`` and ``active_adapt`` pick among scored rows.
SAMPLINGS = ("top", "power")

#: Temperatures chosen from the adaptation examples at every update.
DATA_TEMPERATURES = ("auto", "evidence")


def caller_stacklevel() -> int:
    """``stacklevel`` for a warning raised by our caller: the first frame outside
    skhyre and scikit-learn (the user's ``fit``, even through ``_fit_context``)."""
    roots = tuple(
        os.path.dirname(os.path.abspath(m.__file__)) + os.sep
        for m in (sys.modules["skhyre"], sys.modules.get("sklearn"))
        if m is not None and getattr(m, "__file__", None)
    )
    frame, level = sys._getframe(2), 2  # level 1 is the caller's own warnings.warn line
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(roots):
        frame, level = frame.f_back, level + 1
    return level


def check_hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    """A non-empty sequence of positive ints (an int is one layer), as a tuple of ints.

    One message for every way it can fail, naming the entry at fault: a
    ``TypeError`` for a wrong type (a string, a float or bool size, a
    non-iterable), a ``ValueError`` for an empty sequence or a size below 1.
    """
    what = "hidden_layer_sizes must be a non-empty sequence of positive ints"
    if isinstance(hidden_layer_sizes, numbers.Integral) and not isinstance(
        hidden_layer_sizes, bool
    ):
        hidden_layer_sizes = (hidden_layer_sizes,)
    wrong_type = TypeError(
        f"{what}, got {hidden_layer_sizes!r} of type {type(hidden_layer_sizes).__name__}."
    )
    if isinstance(hidden_layer_sizes, (str, bytes)) or not isinstance(hidden_layer_sizes, Iterable):
        raise wrong_type
    try:
        sizes = tuple(hidden_layer_sizes)
    except TypeError:  # a 0-d array: iterable in type only
        raise wrong_type from None
    if not sizes:
        raise ValueError(f"{what}, got {hidden_layer_sizes!r}.")
    for i, h in enumerate(sizes):
        if isinstance(h, bool) or not isinstance(h, numbers.Integral):
            raise TypeError(
                f"{what}, got {hidden_layer_sizes!r}: hidden_layer_sizes[{i}] is {h!r} "
                f"of type {type(h).__name__}."
            )
        if h < 1:
            raise ValueError(
                f"{what}, got {hidden_layer_sizes!r}: hidden_layer_sizes[{i}] is {h!r}."
            )
    return tuple(int(h) for h in sizes)


def check_finite_real(value, name: str, **bounds) -> float:
    """A finite real number within scikit-learn's ``check_scalar`` ``bounds``, as a float.

    A ``TypeError`` for anything but a real number (a bool too); a
    ``ValueError`` for NaN or inf, or a value out of bounds.
    """
    if not is_real(value):
        raise TypeError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}."
        )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return float(check_scalar(value, name, numbers.Real, **bounds))


def check_count(value, name: str, min_val: int = 1, max_val: int | None = None) -> int:
    """An int in ``[min_val, max_val]``, as an int.

    A ``TypeError`` for anything but an integer (a bool too); scikit-learn's
    ``check_scalar`` ``ValueError`` out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    return int(check_scalar(value, name, numbers.Integral, min_val=min_val, max_val=max_val))


def is_real(x) -> bool:
    """A real number that is not a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def check_temperature_param(t) -> None:
    """The estimators' ``temperature``: a float > 0 (``inf`` allowed), ``"auto"`` or
    ``"evidence"``."""
    msg = (
        "temperature must be a float > 0 (inf: the uniform ensemble), 'auto' or "
        f"'evidence', got {t!r}."
    )
    if isinstance(t, str):
        if t not in DATA_TEMPERATURES:
            raise ValueError(msg)
    elif isinstance(t, bool) or not isinstance(t, numbers.Real) or not t > 0:  # NaN too
        raise ValueError(msg)


def check_max_temperature(t) -> None:
    """The estimators' ``max_temperature``: ``None`` or a float > 0 (``inf`` allowed)."""
    if t is None:
        return
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not t > 0:  # NaN too
        raise ValueError(f"max_temperature must be None or a float > 0 (inf: no cap), got {t!r}.")


def check_sampling(sampling) -> str:
    """``sampling`` if it is one of :data:`SAMPLINGS`, else a ``ValueError`` naming them."""
    if not isinstance(sampling, str) or sampling not in SAMPLINGS:
        raise ValueError(
            f"sampling={sampling!r} is not valid; choose one of {SAMPLINGS}: 'top' takes the "
            "best-scoring rows, 'power' draws rows with probability proportional to their score."
        )
    return sampling


def check_n_queries(n_queries, n_available: int, n_pool: int) -> int:
    if isinstance(n_queries, bool) or not isinstance(n_queries, numbers.Integral) or n_queries < 1:
        raise ValueError(f"n_queries must be a positive integer, got {n_queries!r}.")
    if n_queries > n_available:
        raise ValueError(
            f"n_queries={n_queries} is larger than the {n_available} selectable pool "
            f"examples (pool of {n_pool} minus {n_pool - n_available} excluded)."
        )
    return int(n_queries)


def looks_like_an_int_mask(ex: np.ndarray, n: int) -> bool:
    """Whether integer ``ex`` is a 0/1 mask given as integers rather than an index list.

    The rule (see :func:`check_exclude`): as long as the pool (of more than
    2 rows), only 0s and 1s, excluding other rows read as a mask than read
    as indices, and at least half of its entries repeat an earlier one, as
    no sensible index list does (``[0, 0, 1]`` over 3 rows is an index
    list with one repeat; ``[0, 1, 0, 1, 0, 0]`` over 6 rows is a mask).
    """
    if n <= 2 or ex.shape != (n,) or not np.isin(ex, (0, 1)).all():
        return False
    as_indices = np.unique(ex)
    if np.array_equal(np.flatnonzero(ex), as_indices):
        return False  # both readings exclude the same rows
    repeats = n - as_indices.size
    return 2 * repeats >= n


def check_exclude(exclude, n: int) -> np.ndarray:
    """Boolean mask of shape (n,) from None, a mask or an index list.

    A boolean array is a mask; an integer array lists indices (negative ones
    count from the end, repeats are allowed). One integer array is refused
    rather than read: a 0/1 mask given as integers
    (:func:`looks_like_an_int_mask`), which read as indices would exclude
    only rows 0 and 1.
    """
    mask = np.zeros(n, dtype=bool)
    if exclude is None:
        return mask
    ex = np.asarray(exclude)
    if ex.dtype == bool:
        if ex.shape != (n,):
            raise ValueError(f"A boolean exclude mask must have shape ({n},), got {ex.shape}.")
        return ex.copy()
    if ex.size == 0:
        return mask
    if not np.issubdtype(ex.dtype, np.integer) or ex.ndim != 1:
        raise ValueError("exclude must be a boolean mask or a 1-D array of integer indices.")
    if ex.min() < -n or ex.max() >= n:
        raise ValueError(f"exclude has indices outside the pool of {n} examples.")
    if looks_like_an_int_mask(ex, n):
        # read as indices this would exclude only rows 0 and 1: a silent wrong answer
        raise ValueError(
            f"exclude looks like a 0/1 mask over the pool of {n} examples, but its dtype is "
            f"{ex.dtype}, so it would be read as the indices 0 and 1 (repeated "
            f"{n - np.unique(ex).size} times). Pass a boolean mask (exclude.astype(bool)), or "
            "the indices to exclude (np.unique(exclude) if you meant rows 0 and 1)."
        )
    mask[ex] = True
    return mask


def check_log_prior(log_prior, n_members: int) -> np.ndarray:
    if log_prior is None:
        return np.full(n_members, -np.log(n_members))
    lp = np.asarray(log_prior, dtype=np.float64)
    if lp.shape != (n_members,):
        raise ValueError(
            f"log_prior must have shape ({n_members},) (one value per member), got {lp.shape}."
        )
    if np.isnan(lp).any() or np.isposinf(lp).any():
        raise ValueError("log_prior must not contain NaN or +inf.")
    if np.isneginf(lp).all():
        raise ValueError("log_prior gives every member zero prior probability.")
    m = lp.max()
    return lp - (m + np.log(np.exp(lp - m).sum()))


def encode_known_labels(arr: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class indices of the 1-D labels ``arr``; a clear error for labels not in ``classes``."""
    try:
        known = np.isin(arr, classes)
    except TypeError:
        known = np.zeros(arr.shape, dtype=bool)
    if not known.all():
        seen: dict = {}
        for v in arr[~known].tolist():
            seen.setdefault(repr(v), type(v).__name__)
        shown = sorted(seen)[:10]
        known_types = sorted({type(c).__name__ for c in classes.tolist()})
        hint = ""
        if set(seen.values()).isdisjoint(known_types):
            # "1" and 1, or b"no" and "no", print alike: name the types
            hint = (
                f" (y holds {', '.join(sorted(set(seen.values())))} values, the classes "
                f"are {', '.join(known_types)})"
            )
        raise ValueError(
            f"y contains labels never seen in fit: [{', '.join(shown)}]; "
            f"known classes are {classes.tolist()!r}{hint}."
        )
    return np.searchsorted(classes, arr).astype(np.int64)


def num_samples_or_none(X) -> int | None:
    """Rows of ``X`` (sparse matrices and dataframes too), or None if it has no length."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X) if hasattr(X, "__len__") else None


def nonfinite_rows(M: np.ndarray, w) -> np.ndarray | None:
    """Pool rows on which a member of nonzero weight predicts NaN or inf; ``None`` if none.

    One reduction over ``M`` when every prediction is finite (the usual case);
    otherwise a row mask from the weighted members' views (no copy of ``M``).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(M)):
            return None
    n = M.shape[1]
    bad = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(np.asarray(w) > 0):
        bad |= ~np.isfinite(M[k].reshape(n, -1)).all(axis=1)
    return bad if bad.any() else None


def check_real_labels(y: np.ndarray) -> None:
    """Refuse complex labels, as ``fit`` does (scikit-learn's check on ``y``).

    Casting them would drop the imaginary parts with only a ``ComplexWarning``
    (regression), or match ``1+0j`` to the class ``1`` (classification).
    """
    arr = np.asarray(y)
    if arr.dtype.kind == "c" or (
        arr.dtype == object
        and any(isinstance(v, (complex, np.complexfloating)) for v in arr.ravel().tolist())
    ):
        raise ValueError(
            f"Complex data not supported: y holds complex values (dtype {arr.dtype}); "
            "labels must be real, as in fit."
        )


def shown_indices(idx: np.ndarray, limit: int = 10) -> str:
    """``[i, j, ...]``: at most ``limit`` indices, then an ellipsis."""
    head = ", ".join(map(str, np.asarray(idx)[:limit].tolist()))
    return f"[{head}{', ...' if len(idx) > limit else ''}]"


def nonfinite_output_note(M: np.ndarray) -> str | None:
    """Which adaptation rows (columns of ``M``) some members output NaN or inf on.

    ``None`` when every member output is finite. The losses of such members
    are NaN or +inf whatever the label is, so the error names the outputs.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(M)):
            return None
    K, n = M.shape[0], M.shape[1]
    bad = ~np.isfinite(M.reshape(K, n, -1)).all(axis=2)  # (K, n)
    rows = np.flatnonzero(bad.any(axis=0))
    members = np.flatnonzero(bad.any(axis=1))
    return (
        f"the members' outputs are not finite (NaN or inf) on {rows.size} of the {n} "
        f"adaptation row(s), {shown_indices(rows)}: {members.size} of {K} member(s) "
        f"{shown_indices(members)} output NaN or inf there"
    )


def check_finite_proba(P: np.ndarray, culprits: Callable[[np.ndarray], list]) -> None:
    """Refuse to turn non-finite weighted class probabilities into labels.

    ``argmax`` (or ``P[:, 1] > P[:, 0]``) reads a NaN row as the first class,
    so ``predict`` and ``score`` would answer with it silently.
    ``culprits(bad_rows)`` names the members of weight > 0 behind them.
    """
    bad = ~np.isfinite(P).all(axis=1)
    if not bad.any():
        return
    names = culprits(bad)
    shown = repr(names) if len(names) <= 10 else repr(names[:10])[:-1] + ", ...]"
    raise ValueError(
        f"The weighted class probabilities are NaN on {int(bad.sum())} of {bad.size} rows: "
        f"member(s) {shown} returned NaN or inf there and have weight > 0. Adapt on "
        "labelled rows where they are NaN (a NaN member gets weight 0) or fix those members "
        "(an input far outside the training data, or a diverged fit)."
    )


def warn_nonfinite_predictions(pred: np.ndarray, what: str = "predictions") -> None:
    """A :class:`~skhyre.reweighting.NaNMemberWarning` naming how many returned rows
    are NaN or inf."""
    bad = ~np.isfinite(pred)
    if bad.any():
        from .reweighting import NaNMemberWarning  # reweighting imports this module

        warnings.warn(
            f"The weighted {what} are NaN or inf on {int(bad.sum())} of {bad.size} rows: "
            "members of weight > 0 output NaN or inf there (an input far outside the "
            "training data, or a diverged fit). Adapt on labelled rows where they do "
            "(such a member gets weight 0) or fix those members.",
            NaNMemberWarning,
            stacklevel=caller_stacklevel(),
        )


# --------------------------------------------------------------------------
# member matrices and weights (public through skhyre.acquisition)
# --------------------------------------------------------------------------
#: Tolerance of :func:`check_member_probabilities` on probabilities outside
#: ``[0, 1]`` and rows not summing to 1.
PROBA_TOL = 1e-3


def check_member_probabilities(P, name: str = "P") -> np.ndarray:
    """Validate member class probabilities of shape ``(K, n, C)``.

    float32 and float64 are kept as they are (no copy, any memory layout);
    other dtypes are converted to float64. Raises ``ValueError`` naming the
    problem for a wrong ndim, NaN/inf, values outside ``[0, 1]`` or rows that
    do not sum to 1 (tolerance 1e-3).

    Parameters
    ----------
    P : array-like of shape (K, n, C)
    name : str, default="P"
        Name used in error messages.

    Returns
    -------
    ndarray of shape (K, n, C)

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import check_member_probabilities
    >>> check_member_probabilities(np.full((2, 3, 2), 0.5)).shape
    (2, 3, 2)
    """
    arr = np.asarray(P)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be member probabilities of shape (K, n, C), got ndim={arr.ndim}."
        )
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    n_nan, n_range, n_sum = _kernels.proba_problems(arr, PROBA_TOL)
    if n_nan:
        raise ValueError(f"{name} contains NaN or inf in {n_nan} pool row(s).")
    if n_range:
        raise ValueError(f"{name} has probabilities outside [0, 1] in {n_range} pool row(s).")
    if n_sum:
        raise ValueError(
            f"{name} has member probabilities that do not sum to 1 (tolerance "
            f"{PROBA_TOL}) in {n_sum} pool row(s)."
        )
    return arr


def check_member_predictions(F, name: str = "F") -> np.ndarray:
    """Validate member regression predictions of shape ``(K, n)``.

    Parameters
    ----------
    F : array-like of shape (K, n)
    name : str, default="F"
        Name used in error messages.

    Returns
    -------
    ndarray of shape (K, n), float32 or float64

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import check_member_predictions
    >>> check_member_predictions(np.zeros((4, 5))).shape
    (4, 5)
    """
    arr = np.asarray(F)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be member predictions of shape (K, n), got ndim={arr.ndim}.")
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf.")
    return arr


def check_weights(w, n_members: int) -> np.ndarray:
    """Validate member weights: ``(K,)``, finite, non-negative, summing to 1.

    Parameters
    ----------
    w : array-like of shape (n_members,)
    n_members : int
        The number of members ``K`` the weights must match.

    Returns
    -------
    ndarray of shape (n_members,), float64, C-contiguous

    Examples
    --------
    >>> from skhyre.acquisition import check_weights
    >>> check_weights([0.25, 0.75], 2)
    array([0.25, 0.75])
    """
    arr = np.ascontiguousarray(w, dtype=np.float64)
    if arr.shape != (n_members,):
        raise ValueError(
            f"weights must have shape ({n_members},) to match K={n_members} members, "
            f"got {arr.shape}."
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("weights must be finite and non-negative.")
    if abs(arr.sum() - 1.0) > 1e-6:
        raise ValueError(f"weights must sum to 1, got {arr.sum():.6g}.")
    return arr
