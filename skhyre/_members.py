"""The members of a :class:`~skhyre.HyReEnsemble`: what each is, its task, its outputs."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.ensemble import (
    BaggingClassifier,
    ExtraTreesClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from . import _kernels
from ._validation import PROBA_TOL

__all__ = [
    "ENCODED_LABEL_ENSEMBLES",
    "MemberSpec",
    "active_pairs",
    "check_member_proba",
    "common_task",
    "fit_one",
    "input_tags",
    "is_member_list",
    "label_kind",
    "member_output",
    "target_scale",
    "task_of",
    "unwrap",
]

# scikit-learn ensembles whose sub-estimators are fitted on encoded labels 0..C-1
ENCODED_LABEL_ENSEMBLES = (
    RandomForestClassifier,
    ExtraTreesClassifier,
    BaggingClassifier,
    VotingClassifier,
    StackingClassifier,
)


# ---------------------------------------------------------------- helpers
def unwrap(est):
    """The estimator inside a :class:`~sklearn.frozen.FrozenEstimator`, else ``est``."""
    return est.estimator if isinstance(est, FrozenEstimator) else est


def input_tags(est):
    """Input tags of what first sees X: a Pipeline's first step, else the estimator.

    scikit-learn's Pipeline does not pass on its first step's ``allow_nan``
    or ``string`` input tags, so a member ``make_pipeline(SimpleImputer(),
    ...)`` or ``make_pipeline(TfidfVectorizer(), ...)`` would look as if it
    took neither NaN nor text.
    """
    est = unwrap(est)
    while isinstance(est, Pipeline):
        steps = [step for _, step in est.steps if step is not None and step != "passthrough"]
        if not steps:
            break
        est = unwrap(steps[0])
    return get_tags(est).input_tags


def task_of(est) -> str | None:
    if is_classifier(est):
        return "classification"
    if is_regressor(est):
        return "regression"
    return None


def is_member_list(estimators) -> bool:
    return isinstance(estimators, list)


def active_pairs(estimators) -> list[tuple[str, object]]:
    """The (name, estimator) pairs of a list, without the ``"drop"`` ones (validated)."""
    if len(estimators) == 0:
        raise ValueError(
            "estimators is an empty list: give at least one (name, estimator) pair, "
            "or one bagging-style ensemble."
        )
    pairs = []
    for item in estimators:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(
                f"estimators must be a list of (name, estimator) pairs; got the item {item!r}."
            )
        name, est = item
        if isinstance(est, str) and est == "drop":
            continue
        if isinstance(est, type):
            raise TypeError(
                f"Member {name!r} is the class {est.__name__}; pass an instance ({est.__name__}())."
            )
        if not (hasattr(est, "fit") and hasattr(est, "predict")):
            raise TypeError(
                f"Member {name!r} ({type(est).__name__}) is not an estimator with fit and predict."
            )
        pairs.append((name, est))
    if not pairs:
        raise ValueError("All estimators are 'drop': at least one member is needed.")
    return pairs


def common_task(named: list[tuple[str, object]], what: str = "Member") -> str:
    """The task every member agrees on, or a ValueError naming the conflict."""
    tasks: dict[str, list[str]] = {}
    for name, est in named:
        task = task_of(est)
        if task is None:
            raise ValueError(
                f"{what} {name!r} ({type(est).__name__}) is neither a classifier nor a "
                "regressor; HyReEnsemble combines the predictions of classifiers or of "
                "regressors."
            )
        tasks.setdefault(task, []).append(name)
    if len(tasks) > 1:
        raise ValueError(
            "HyReEnsemble needs members of one task, but got classifiers "
            f"{tasks['classification']} and regressors {tasks['regression']}."
        )
    return next(iter(tasks))


def label_kind(labels: np.ndarray) -> str:
    if labels.dtype.kind in "biuf":
        return "number"
    if labels.dtype.kind in "US":
        return "string"
    kinds = {
        "number"
        if isinstance(v, numbers.Number)
        else "string"
        if isinstance(v, str)
        else type(v).__name__
        for v in labels.ravel()
    }
    return kinds.pop() if len(kinds) == 1 else "mixed"


def fit_one(estimator, X, y):
    return estimator.fit(X, y)


@dataclass
class MemberSpec:
    """How to turn one fitted member's output into a row of the cached matrix."""

    estimator: object
    features: np.ndarray | None = None  # column subset (bagging)
    use_proba: bool = False  # classification: predict_proba, else one-hot predict
    columns: np.ndarray | None = None  # classes_ index of each of the member's classes
    label_map: np.ndarray | None = None  # encoded member labels -> labels (parent classes_)


def check_member_proba(proba: np.ndarray, est) -> None:
    """A member's ``predict_proba`` rows must be probabilities; name the member if not.

    NaN rows pass: a member predicting NaN gets weight 0 at its first NaN
    loss (with a warning), as in every estimator. Values may be off [0, 1]
    and row sums off 1 by the tolerance of
    :func:`skhyre.acquisition.check_member_probabilities`.
    """
    if np.isinf(proba).any():
        n_inf = int(np.isinf(proba).any(axis=1).sum())
        raise ValueError(
            f"Member {type(est).__name__}.predict_proba returned inf in {n_inf} row(s); "
            "HyReEnsemble needs class probabilities."
        )
    rows = proba[~np.isnan(proba).any(axis=1)]
    if rows.size == 0:
        return
    # the rule of acquisition.check_member_probabilities (its kernel), NaN rows aside
    _, n_range, n_sum = _kernels.proba_problems(np.ascontiguousarray(rows)[None], PROBA_TOL)
    for n_bad, what in (
        (n_range, "values outside [0, 1]"),
        (n_sum, f"rows that do not sum to 1 (tolerance {PROBA_TOL})"),
    ):
        if n_bad:
            raise ValueError(
                f"Member {type(est).__name__}.predict_proba returned {what} in {n_bad} row(s); "
                "HyReEnsemble needs class probabilities."
            )


def member_output(
    member: MemberSpec,
    X,
    n: int,
    task: str,
    classes: np.ndarray,
    P: np.ndarray,
    checked_tree: bool = False,
) -> None:
    """Write one member's predictions into ``P``: ``(n,)`` values or a zeroed ``(n, C)``.

    ``checked_tree``: the member is a tree of the ensemble's forest and ``X``
    is already the float32 array trees need, so the tree's own input checks
    (most of the cost for one row and many trees) are skipped.
    """
    if member.features is not None:
        X = X[:, member.features]
    est = unwrap(member.estimator) if checked_tree else member.estimator
    kwargs = {"check_input": False} if checked_tree else {}
    if task == "regression":
        out = np.asarray(est.predict(X, **kwargs), dtype=np.float64)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.shape != (n,):
            raise ValueError(
                f"Member {type(est).__name__} predicted shape {out.shape}; HyReEnsemble "
                f"needs one prediction per row, shape {(n,)}."
            )
        P[:] = out
        return
    if member.use_proba:
        proba = np.asarray(est.predict_proba(X, **kwargs), dtype=np.float64)
        if proba.shape != (n, member.columns.shape[0]):
            raise ValueError(
                f"Member {type(est).__name__}.predict_proba returned shape {proba.shape}; "
                f"expected {(n, member.columns.shape[0])} (rows x its classes_)."
            )
        check_member_proba(proba, est)
        P[:, member.columns] = proba
        return
    labels = np.asarray(est.predict(X, **kwargs)).reshape(-1)
    if member.label_map is not None:
        labels = member.label_map[labels.astype(np.int64)]
    cols = np.searchsorted(classes, labels)
    cols = np.clip(cols, 0, classes.shape[0] - 1)
    if not np.all(classes[cols] == labels):
        raise ValueError(
            f"Member {type(est).__name__} predicted labels that are not in classes_ "
            f"{classes.tolist()}."
        )
    P[np.arange(n), cols] = 1.0


def target_scale(y) -> float:
    """The standard deviation of a regression target: the unit of the adaptation losses.

    Squared errors are divided by its square, so a target whose spread
    squares past float64's range is refused by name (the losses would all be
    0 or inf and the weights silently uniform); a constant target gives 1.
    """
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = float(y.std())
    if not np.isfinite(scale):  # |y| near float64's limit: the std of y / max|y|, scaled back
        big = float(np.abs(y).max())
        scale = float((y / big).std()) * big
    if not np.isfinite(scale * scale):
        raise ValueError(
            f"y's standard deviation ({scale:.3g}) squared overflows float64, so the "
            "squared adaptation losses (in units of it) cannot be computed; rescale y, "
            "for example wrap the ensemble in TransformedTargetRegressor."
        )
    return scale if scale > 0 else 1.0


# ------------------------------------------------------------ estimator
