"""Ensemble-combination baselines that HyRe is compared with.

Every function works on *cached* member predictions, never on models:

- classification (and preference) members give probabilities ``P`` of shape
  ``(K, n, C)``: member ``k``'s predicted distribution over ``C`` classes for
  each of ``n`` examples (each row sums to 1);
- regression members give point predictions ``F`` of shape ``(K, n)``.

Labels are class indices ``0 .. C-1`` for classification and real numbers for
regression. Inputs are never modified; computations run in float64.

Losses, per example (``loss=None`` picks the task default, shown first):

============  ==============  ===============================================
task          name            per-example loss of a prediction ``q``
============  ==============  ===============================================
classif.      ``"log_loss"``  ``-log(max(q[y], 1e-15))``
classif.      ``"brier"``     ``sum_c (q[c] - [c == y])**2`` (in ``[0, 2]``)
classif.      ``"zero_one"``  ``argmax_c q[c] != y`` (ties: lowest index)
regression    ``"squared"``   ``(q - y)**2``
regression    ``"absolute"``  ``|q - y|``
============  ==============  ===============================================

Model selection (:func:`single_model`, :func:`best_member_oracle`) uses the
mean loss; :func:`convex_weights` needs a differentiable one (``"log_loss"``,
``"brier"`` or ``"squared"``).

The registry :data:`BASELINES` gives every method one calling convention::

    fn(P_adapt, y_adapt, P_test, *, P_train=None, y_train=None, y_test=None)
        -> predictions for P_test: (n_test, C) probabilities or (n_test,) values

A method reads only what it needs and ignores the other keywords:
``"single_model"`` requires ``P_train`` and ``y_train``; ``"oracle"``
requires ``y_test`` — it peeks at the test labels and is an upper
reference, not a method. ``"logit_average"``, ``"majority_vote"``,
``"entropy_weighted"`` and ``"confidence_weighted"`` take class
probabilities only and raise ``ValueError`` on regression predictions ``F``. The adaptation set may be empty (``n_adapt = 0``): then
``"convex"`` falls back to uniform weights. Every registry call validates all
arrays it receives and checks that they share ``K`` (and ``C``).

Examples
--------
>>> import numpy as np
>>> from skhyre.baselines import BASELINES
>>> P = np.array([[[0.9, 0.1], [0.2, 0.8]],
...               [[0.4, 0.6], [0.6, 0.4]]])        # K=2 members, n=2, C=2
>>> y = np.array([0, 1])
>>> extra = {"P_train": P, "y_train": y, "y_test": y}
>>> for name, fn in BASELINES.items():
...     q = fn(P, y, P, **extra)
...     tag = " (oracle)" if name == "oracle" else ""
...     print(f"{name:20s}{tag:9s} accuracy {np.mean(q.argmax(1) == y):.1f}")
single_model                  accuracy 1.0
uniform                       accuracy 1.0
logit_average                 accuracy 1.0
majority_vote                 accuracy 0.5
entropy_weighted              accuracy 1.0
confidence_weighted           accuracy 1.0
convex                        accuracy 1.0
oracle               (oracle) accuracy 1.0
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import softmax, xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array

__all__ = [
    "BASELINES",
    "best_member_oracle",
    "combine",
    "confidence_weighted",
    "convex_weights",
    "entropy_weighted",
    "logit_average",
    "majority_vote",
    "single_model",
    "uniform_average",
]

#: Tolerance on ``|sum_c P[k, i, c] - 1|`` and on ``|sum_k w_k - 1|``.
PROBA_SUM_TOL = 1e-4
#: Probabilities are clipped to at least this value inside ``log`` for ``"log_loss"``.
LOG_LOSS_EPS = 1e-15

_CLASSIFICATION_LOSSES = ("log_loss", "brier", "zero_one")
_REGRESSION_LOSSES = ("squared", "absolute")
_SMOOTH_LOSSES = ("log_loss", "brier", "squared")


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _check_predictions(
    P: ArrayLike,
    *,
    name: str = "P",
    allow_regression: bool = True,
    allow_empty: bool = False,
    caller: str = "",
) -> np.ndarray:
    """Validate member predictions: ``(K, n, C)`` probabilities or ``(K, n)`` values.

    Returns a float64 array (the input itself when it already is one; callers
    never write into it).
    """
    where = f"{caller}: " if caller else ""
    arr = check_array(
        P,
        dtype=np.float64,
        ensure_2d=False,
        allow_nd=True,
        ensure_all_finite=True,
        ensure_min_samples=1,
        ensure_min_features=0,
        input_name=name,
    )
    if arr.ndim == 2 and not allow_regression:
        raise ValueError(
            f"{where}{name} must be member class probabilities of shape (K, n, C); got a "
            f"2-D array of shape {arr.shape} (regression predictions are not supported here)."
        )
    if arr.ndim not in (2, 3):
        expected = (
            "(K, n, C) probabilities or (K, n) predictions"
            if allow_regression
            else ("(K, n, C) probabilities")
        )
        raise ValueError(
            f"{where}{name} must have shape {expected}; got {arr.ndim} dimension(s), "
            f"shape {arr.shape}."
        )
    if arr.shape[1] == 0 and not allow_empty:
        raise ValueError(f"{where}{name} holds no examples (shape {arr.shape}); need n >= 1.")
    if arr.ndim == 3:
        if arr.shape[2] == 0:
            raise ValueError(f"{where}{name} has no classes (shape {arr.shape}); need C >= 1.")
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise ValueError(
                f"{where}{name} must hold probabilities in [0, 1]; found values in "
                f"[{arr.min():.6g}, {arr.max():.6g}]."
            )
        if arr.size:
            dev = np.abs(arr.sum(axis=2) - 1.0)
            if dev.max() > PROBA_SUM_TOL:
                k, i = np.unravel_index(np.argmax(dev), dev.shape)
                raise ValueError(
                    f"{where}{name} rows must sum to 1 over classes (tolerance "
                    f"{PROBA_SUM_TOL:g}); member {k}, example {i} sums to "
                    f"{arr[k, i].sum():.6g}."
                )
    return arr


def _check_labels(y: ArrayLike, P: np.ndarray, *, name: str = "y", caller: str = "") -> np.ndarray:
    """Validate labels against validated predictions ``P``.

    Classification: integer class indices in ``[0, C)`` (returned as int64).
    Regression: finite reals (returned as float64).
    """
    where = f"{caller}: " if caller else ""
    y_arr = check_array(
        y,
        dtype=None,
        ensure_2d=False,
        ensure_all_finite=True,
        ensure_min_samples=0,
        input_name=name,
    )
    if y_arr.ndim != 1:
        raise ValueError(f"{where}{name} must be 1-D; got shape {y_arr.shape}.")
    n = P.shape[1]
    if y_arr.shape[0] != n:
        raise ValueError(
            f"{where}{name} has {y_arr.shape[0]} labels but the predictions hold {n} examples."
        )
    if P.ndim == 2:
        try:
            return y_arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}{name} must be numeric regression targets.") from exc
    n_classes = P.shape[2]
    if y_arr.dtype.kind in "biu":
        y_int = y_arr.astype(np.int64)
    elif y_arr.dtype.kind == "f":
        y_int = y_arr.astype(np.int64)
        if not np.array_equal(y_int, y_arr):
            raise ValueError(
                f"{where}{name} must hold integer class indices 0..{n_classes - 1}; "
                "got non-integer values."
            )
    else:
        raise ValueError(
            f"{where}{name} must hold integer class indices 0..{n_classes - 1}; "
            f"got dtype {y_arr.dtype}."
        )
    if y_int.size and (y_int.min() < 0 or y_int.max() >= n_classes):
        raise ValueError(
            f"{where}{name} holds labels outside 0..{n_classes - 1} (found "
            f"{y_int.min()}..{y_int.max()}); the predictions have C={n_classes} classes."
        )
    return y_int


def _resolve_loss(loss: str | None, P: np.ndarray, *, smooth: bool, caller: str) -> str:
    """Pick the default loss for the task or check that ``loss`` fits it."""
    classification = P.ndim == 3
    if loss is None:
        return "log_loss" if classification else "squared"
    allowed = _CLASSIFICATION_LOSSES if classification else _REGRESSION_LOSSES
    if smooth:
        allowed = tuple(name for name in allowed if name in _SMOOTH_LOSSES)
    if not isinstance(loss, str) or loss not in allowed:
        task = "class probabilities (K, n, C)" if classification else "regression (K, n)"
        raise ValueError(f"{caller}: loss must be one of {allowed} for {task}; got {loss!r}.")
    return loss


def _check_weights(weights: ArrayLike, n_members: int) -> np.ndarray:
    w = check_array(
        weights, dtype=np.float64, ensure_2d=False, ensure_min_samples=1, input_name="weights"
    )
    if w.ndim != 1 or w.shape[0] != n_members:
        raise ValueError(
            f"weights must have shape ({n_members},), one per member; got shape {w.shape}."
        )
    if w.min() < 0.0:
        raise ValueError(f"weights must be non-negative; found {w.min():.6g}.")
    if abs(w.sum() - 1.0) > PROBA_SUM_TOL:
        raise ValueError(
            f"weights must sum to 1 (tolerance {PROBA_SUM_TOL:g}); they sum to {w.sum():.6g}."
        )
    return w


# --------------------------------------------------------------------------- #
# Losses
# --------------------------------------------------------------------------- #
def _prediction_loss(Q: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """Per-example losses of predictions ``Q`` of shape ``(..., n, C)`` or ``(..., n)``."""
    if loss == "squared":
        return (Q - y) ** 2
    if loss == "absolute":
        return np.abs(Q - y)
    if loss == "zero_one":
        return (np.argmax(Q, axis=-1) != y).astype(np.float64)
    p_true = np.take_along_axis(Q, np.broadcast_to(y[:, None], (*Q.shape[:-1], 1)), axis=-1)
    p_true = p_true[..., 0]
    if loss == "log_loss":
        return -np.log(np.maximum(p_true, LOG_LOSS_EPS))
    # brier: sum_c (q_c - [c == y])**2 = sum_c q_c**2 - 2 q_y + 1
    return np.sum(Q**2, axis=-1) - 2.0 * p_true + 1.0


def _member_mean_losses(P: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    return _prediction_loss(P, y, loss).mean(axis=1)


# --------------------------------------------------------------------------- #
# Adaptation-free combinations
# --------------------------------------------------------------------------- #
def combine(P: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """Combine member predictions with fixed member weights.

    Parameters
    ----------
    P : array-like of shape (K, n, C) or (K, n)
        Member class probabilities, or member regression predictions ``F``.
    weights : array-like of shape (K,)
        Non-negative member weights summing to 1 (within ``1e-4``).

    Returns
    -------
    ndarray of shape (n, C) or (n,)
        ``sum_k weights[k] * P[k]``.

    Raises
    ------
    ValueError
        If the shapes disagree, the weights are negative or do not sum to 1,
        or ``P`` is not valid (NaN, not probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import combine
    >>> F = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> combine(F, [0.75, 0.25])
    array([1.5, 3. ])
    """
    arr = _check_predictions(P, caller="combine")
    w = _check_weights(weights, arr.shape[0])
    return np.tensordot(w, arr, axes=(0, 0))


def uniform_average(P: ArrayLike) -> np.ndarray:
    """Average the members with equal weights (the "probability ensemble").

    Parameters
    ----------
    P : array-like of shape (K, n, C) or (K, n)
        Member class probabilities, or member regression predictions ``F``.

    Returns
    -------
    ndarray of shape (n, C) or (n,)
        ``mean_k P[k]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import uniform_average
    >>> P = np.array([[[0.9, 0.1]], [[0.5, 0.5]]])
    >>> uniform_average(P)
    array([[0.7, 0.3]])
    >>> uniform_average(np.array([[1.0, 4.0], [3.0, 0.0]]))
    array([2., 2.])
    """
    arr = _check_predictions(P, caller="uniform_average")
    return arr.mean(axis=0)


def logit_average(P: ArrayLike, eps: float = 1e-12) -> np.ndarray:
    """Average member log-probabilities, then softmax (renormalised geometric mean).

    ``q(x)_c ∝ exp(mean_k log max(p_k(x)_c, eps))``, the "logit ensemble".
    Averaging log-probabilities equals averaging logits up to a per-example
    constant, which the softmax removes.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities.
    eps : float, default=1e-12
        Probabilities are clipped to at least ``eps`` before the log, so a
        member that gives a class probability 0 vetoes it only softly.

    Returns
    -------
    ndarray of shape (n, C)
        Combined probabilities; each row sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import logit_average
    >>> P = np.array([[[0.8, 0.2]], [[0.5, 0.5]]])
    >>> logit_average(P)   # sqrt(0.8 * 0.5) : sqrt(0.2 * 0.5) = 2 : 1
    array([[0.6666..., 0.3333...]])
    """
    arr = _check_predictions(P, allow_regression=False, caller="logit_average")
    if not (isinstance(eps, (int, float, np.floating)) and 0.0 < float(eps) < 1.0):
        raise ValueError(f"logit_average: eps must be a float in (0, 1); got {eps!r}.")
    mean_log = np.log(np.maximum(arr, float(eps))).mean(axis=0)
    return softmax(mean_log, axis=-1)


def majority_vote(P: ArrayLike) -> np.ndarray:
    """Fraction of members voting for each class.

    Each member votes for its most probable class ``argmax_c p_k(x)_c``; a
    member whose top probabilities tie votes for the lowest class index among
    them. The returned vote shares sum to 1; their argmax (again lowest index
    on ties between classes) is the majority-vote prediction.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities.

    Returns
    -------
    ndarray of shape (n, C)
        ``votes[i, c] = #{k : argmax p_k(x_i) = c} / K``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import majority_vote
    >>> P = np.array([[[0.9, 0.1]], [[0.4, 0.6]], [[0.5, 0.5]]])
    >>> majority_vote(P)   # votes 0, 1 and (tie ->) 0
    array([[0.6666..., 0.3333...]])
    """
    arr = _check_predictions(P, allow_regression=False, caller="majority_vote")
    votes = np.argmax(arr, axis=2)  # (K, n); ties -> lowest index
    one_hot = votes[:, :, None] == np.arange(arr.shape[2])
    return one_hot.mean(axis=0)


def _per_example_weighted(arr: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Mix members with per-example weights ``scores / scores.sum(axis=0)``."""
    w = scores / scores.sum(axis=0, keepdims=True)  # (K, n)
    return np.einsum("kn,knc->nc", w, arr)


def entropy_weighted(P: ArrayLike) -> np.ndarray:
    """Per-example mixture weighting members by how certain they are.

    The rule, for every example ``x`` separately::

        H_k(x) = -sum_c p_k(x)_c log p_k(x)_c          (natural log, 0 log 0 = 0)
        w_k(x) = exp(-H_k(x)) / sum_j exp(-H_j(x))     (a softmax of -H over members)
        q(x)   = sum_k w_k(x) p_k(x)

    A confident member (low entropy) gets more weight; since
    ``0 <= H <= log C``, no member's weight is more than ``C`` times another's.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities.

    Returns
    -------
    ndarray of shape (n, C)
        Combined probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import entropy_weighted
    >>> P = np.array([[[1.0, 0.0]], [[0.5, 0.5]]])   # entropies 0 and log 2
    >>> entropy_weighted(P)   # weights 2/3 and 1/3
    array([[0.8333..., 0.1666...]])
    """
    arr = _check_predictions(P, allow_regression=False, caller="entropy_weighted")
    entropy = -xlogy(arr, arr).sum(axis=2)  # (K, n)
    scores = np.exp(-(entropy - entropy.min(axis=0, keepdims=True)))
    return _per_example_weighted(arr, scores)


def confidence_weighted(P: ArrayLike) -> np.ndarray:
    """Per-example mixture weighting members by their top-class probability.

    ``w_k(x) = max_c p_k(x)_c / sum_j max_c p_j(x)_c`` and
    ``q(x) = sum_k w_k(x) p_k(x)``. Every weight is positive, since
    ``max_c p_k(x)_c >= 1 / C``.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities.

    Returns
    -------
    ndarray of shape (n, C)
        Combined probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import confidence_weighted
    >>> P = np.array([[[0.9, 0.1]], [[0.4, 0.6]]])   # confidences 0.9 and 0.6
    >>> confidence_weighted(P)   # weights 0.6 and 0.4
    array([[0.7, 0.3]])
    """
    arr = _check_predictions(P, allow_regression=False, caller="confidence_weighted")
    return _per_example_weighted(arr, arr.max(axis=2))


# --------------------------------------------------------------------------- #
# Methods that use labels
# --------------------------------------------------------------------------- #
def _mixture_objective(
    arr: np.ndarray, y: np.ndarray, loss: str
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """Mean mixture loss and its gradient in the member weights ``w``."""
    n = arr.shape[1]
    if loss == "squared":

        def fun(w):
            resid = np.tensordot(w, arr, axes=(0, 0)) - y  # (n,)
            return float(np.mean(resid**2)), 2.0 * (arr @ resid) / n

    elif loss == "log_loss":
        p_true = arr[:, np.arange(n), y]  # (K, n)

        def fun(w):
            q = w @ p_true
            safe = np.maximum(q, LOG_LOSS_EPS)
            active = q > LOG_LOSS_EPS  # clipped examples have zero gradient
            grad = -(p_true[:, active] / safe[active]).sum(axis=1) / n
            return float(-np.mean(np.log(safe))), grad

    else:  # brier
        onehot = np.zeros(arr.shape[1:])
        onehot[np.arange(n), y] = 1.0

        def fun(w):
            diff = np.tensordot(w, arr, axes=(0, 0)) - onehot  # (n, C)
            grad = 2.0 * np.einsum("knc,nc->k", arr, diff) / n
            return float(np.sum(diff**2) / n), grad

    return fun


def convex_weights(
    P_adapt: ArrayLike,
    y_adapt: ArrayLike,
    loss: str | None = None,
    *,
    max_iter: int = 1000,
    tol: float = 1e-10,
) -> np.ndarray:
    """Member weights on the simplex that minimise the adaptation-set loss.

    Solves ``min_w mean_i loss(sum_k w_k P[k, i], y_i)`` subject to
    ``w_k >= 0`` and ``sum_k w_k = 1`` (Shahhosseini et al., 2022) with
    :func:`scipy.optimize.minimize` (SLSQP, analytic gradient, the equality
    constraint and ``[0, 1]`` bounds), started from uniform weights; the
    result is deterministic. All three losses are convex in ``w``, so SLSQP
    reaches the global minimum up to ``tol``. The objective is divided by its
    value at the uniform start, so ``tol`` is relative and the scale of ``y``
    does not matter. The solution is clipped to ``w >= 0`` and renormalised;
    should it score worse than uniform weights (a failed solve), uniform
    weights are returned, and a failed solve also raises a
    :class:`~sklearn.exceptions.ConvergenceWarning`.

    With no adaptation examples (``n = 0``), or when the uniform mixture
    already has zero loss, the uniform weights are returned.

    Parameters
    ----------
    P_adapt : array-like of shape (K, n, C) or (K, n)
        Member probabilities (or regression predictions ``F``) on the
        adaptation set.
    y_adapt : array-like of shape (n,)
        Adaptation labels: class indices, or regression targets.
    loss : {"log_loss", "brier", "squared"} or None, default=None
        ``"log_loss"`` or ``"brier"`` for probabilities, ``"squared"`` for
        regression; ``None`` picks ``"log_loss"`` / ``"squared"``.
    max_iter : int, default=1000
        Maximum SLSQP iterations.
    tol : float, default=1e-10
        SLSQP ``ftol`` on the normalised objective.

    Returns
    -------
    ndarray of shape (K,)
        Non-negative weights summing to 1; apply them with :func:`combine`.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import convex_weights
    >>> y = np.array([0.0, 1.0, 2.0])
    >>> F = np.stack([y + 1.0, y - 1.0, 2.0 * y])   # the first two average to y
    >>> w = convex_weights(F, y, loss="squared")
    >>> np.round(w, 3) + 0.0
    array([0.5, 0.5, 0. ])
    """
    arr = _check_predictions(P_adapt, name="P_adapt", allow_empty=True, caller="convex_weights")
    y = _check_labels(y_adapt, arr, name="y_adapt", caller="convex_weights")
    loss = _resolve_loss(loss, arr, smooth=True, caller="convex_weights")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"convex_weights: max_iter must be a positive int; got {max_iter!r}.")
    if not (isinstance(tol, (int, float, np.floating)) and tol > 0):
        raise ValueError(f"convex_weights: tol must be a positive float; got {tol!r}.")
    n_members = arr.shape[0]
    w0 = np.full(n_members, 1.0 / n_members)
    if arr.shape[1] == 0 or n_members == 1:
        return w0
    fun = _mixture_objective(arr, y, loss)
    f0, _ = fun(w0)
    if f0 <= 0.0:
        return w0

    def scaled(w):
        value, grad = fun(w)
        return value / f0, grad / f0

    ones = np.ones(n_members)
    with warnings.catch_warnings():
        # SLSQP may step marginally outside the bounds; the result is clipped below.
        warnings.filterwarnings("ignore", message="Values in x were outside bounds")
        res = minimize(
            scaled,
            w0,
            jac=True,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * n_members,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: ones}],
            options={"maxiter": int(max_iter), "ftol": float(tol)},
        )
    if not res.success:
        warnings.warn(
            f"convex_weights: SLSQP did not converge ({res.message}); "
            "returning the best point found.",
            ConvergenceWarning,
            stacklevel=2,
        )
    w = np.clip(res.x, 0.0, None)
    total = w.sum()
    if not np.isfinite(total) or total <= 0.0:
        return w0
    w = w / total
    return w if fun(w)[0] <= f0 else w0


def single_model(P_train: ArrayLike, y_train: ArrayLike, loss: str | None = None) -> int:
    """Index of the member with the lowest mean loss on the training data.

    The "single model" baseline: pick one member, on data it was trained on,
    and use it alone.

    Parameters
    ----------
    P_train : array-like of shape (K, n, C) or (K, n)
        Member probabilities (or regression predictions ``F``) on training data.
    y_train : array-like of shape (n,)
        Training labels: class indices, or regression targets.
    loss : str or None, default=None
        Any loss of the task (see the module docstring); ``None`` picks
        ``"log_loss"`` / ``"squared"``.

    Returns
    -------
    int
        The member index; ties go to the lowest index.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import single_model
    >>> F = np.array([[0.0, 3.0], [1.0, 2.0], [1.0, 2.5]])
    >>> single_model(F, [1.0, 2.0])
    1
    """
    arr = _check_predictions(P_train, name="P_train", caller="single_model")
    y = _check_labels(y_train, arr, name="y_train", caller="single_model")
    loss = _resolve_loss(loss, arr, smooth=False, caller="single_model")
    return int(np.argmin(_member_mean_losses(arr, y, loss)))


def best_member_oracle(P_test: ArrayLike, y_test: ArrayLike, loss: str | None = None) -> int:
    """ORACLE: index of the member with the lowest mean loss on the TEST labels.

    .. warning::
       This peeks at the test labels it is then evaluated on. It is an upper
       reference for what choosing one member could achieve, **not a method**;
       never report it as a competitor.

    Parameters
    ----------
    P_test : array-like of shape (K, n, C) or (K, n)
        Member probabilities (or regression predictions ``F``) on the test set.
    y_test : array-like of shape (n,)
        The test labels.
    loss : str or None, default=None
        Any loss of the task (see the module docstring); ``None`` picks
        ``"log_loss"`` / ``"squared"``.

    Returns
    -------
    int
        The member index; ties go to the lowest index.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.baselines import best_member_oracle
    >>> P = np.array([[[0.6, 0.4], [0.6, 0.4]],
    ...               [[0.9, 0.1], [0.1, 0.9]]])
    >>> best_member_oracle(P, [0, 1])
    1
    """
    arr = _check_predictions(P_test, name="P_test", caller="best_member_oracle")
    y = _check_labels(y_test, arr, name="y_test", caller="best_member_oracle")
    loss = _resolve_loss(loss, arr, smooth=False, caller="best_member_oracle")
    return int(np.argmin(_member_mean_losses(arr, y, loss)))


# --------------------------------------------------------------------------- #
# Registry with one calling convention
# --------------------------------------------------------------------------- #
def _check_adapt_test(P_adapt, y_adapt, P_test, caller):
    """Validate the registry's positional inputs and their agreement."""
    test = _check_predictions(P_test, name="P_test", caller=caller)
    adapt = _check_predictions(P_adapt, name="P_adapt", allow_empty=True, caller=caller)
    _check_same_members(adapt, test, "P_adapt", caller)
    y = _check_labels(y_adapt, adapt, name="y_adapt", caller=caller)
    return adapt, y, test


def _check_same_members(other: np.ndarray, test: np.ndarray, name: str, caller: str) -> None:
    if (
        other.ndim != test.ndim
        or other.shape[0] != test.shape[0]
        or (test.ndim == 3 and other.shape[2] != test.shape[2])
    ):
        raise ValueError(
            f"{caller}: {name} of shape {other.shape} does not match P_test of shape "
            f"{test.shape}: they need the same members K (and classes C)."
        )


def _baseline_single_model(P_adapt, y_adapt, P_test, *, P_train=None, y_train=None, y_test=None):
    """Member best on the training data (needs ``P_train`` and ``y_train``)."""
    _, _, test = _check_adapt_test(P_adapt, y_adapt, P_test, "single_model")
    if P_train is None or y_train is None:
        raise ValueError(
            "single_model needs the members' training predictions: pass P_train= and y_train=."
        )
    train = _check_predictions(P_train, name="P_train", caller="single_model")
    _check_same_members(train, test, "P_train", "single_model")
    return test[single_model(train, y_train)].copy()


def _adaptation_free(method):
    def baseline(P_adapt, y_adapt, P_test, *, P_train=None, y_train=None, y_test=None):
        _, _, test = _check_adapt_test(P_adapt, y_adapt, P_test, method.__name__)
        return method(test)

    baseline.__name__ = f"_baseline_{method.__name__}"
    baseline.__doc__ = f"Registry form of :func:`{method.__name__}` (ignores the labels)."
    return baseline


def _baseline_convex(P_adapt, y_adapt, P_test, *, P_train=None, y_train=None, y_test=None):
    """Convex weights fitted on the adaptation set, applied to ``P_test``."""
    adapt, y, test = _check_adapt_test(P_adapt, y_adapt, P_test, "convex")
    return combine(test, convex_weights(adapt, y))


def _baseline_oracle(P_adapt, y_adapt, P_test, *, P_train=None, y_train=None, y_test=None):
    """ORACLE: the member best on the test labels (needs ``y_test``)."""
    _, _, test = _check_adapt_test(P_adapt, y_adapt, P_test, "oracle")
    if y_test is None:
        raise ValueError("oracle needs the test labels: pass y_test=.")
    return test[best_member_oracle(test, y_test)].copy()


#: name -> ``fn(P_adapt, y_adapt, P_test, *, P_train=None, y_train=None, y_test=None)``
#: returning predictions on ``P_test``; see the module docstring.
BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "single_model": _baseline_single_model,
    "uniform": _adaptation_free(uniform_average),
    "logit_average": _adaptation_free(logit_average),
    "majority_vote": _adaptation_free(majority_vote),
    "entropy_weighted": _adaptation_free(entropy_weighted),
    "confidence_weighted": _adaptation_free(confidence_weighted),
    "convex": _baseline_convex,
    "oracle": _baseline_oracle,
}
# Entries of BASELINES that read the test labels: upper references, not methods.
_ORACLES: frozenset[str] = frozenset({"oracle"})
# Entries of BASELINES that need P_train= and y_train=.
_NEEDS_TRAIN: frozenset[str] = frozenset({"single_model"})
# Entries of BASELINES that accept class probabilities only (not regression F).
_CLASSIFICATION_ONLY: frozenset[str] = frozenset(
    {"logit_average", "majority_vote", "entropy_weighted", "confidence_weighted"}
)
