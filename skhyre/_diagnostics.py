"""Diagnostics instead of silence: warnings for inputs, labels and queries that look wrong.

Three situations that used to pass silently (issue #26), each named by a
warning class of :mod:`skhyre.reweighting`:

- :func:`warn_input_scale`: ``fit`` got input columns far from standardized
  (:class:`~skhyre.reweighting.InputScaleWarning`);
- :func:`warn_no_member_fits`: every member misses adaptation labels by many
  training standard deviations, or gives them probability ~0
  (:class:`~skhyre.reweighting.NoMemberFitsWarning`);
- :class:`TieTracker`: every candidate's acquisition score ties, so a top pick
  can only be the first rows (:class:`~skhyre.reweighting.TiedScoresWarning`).

They only read what the estimators already computed (the training inputs, the
adaptation losses' member predictions, the score range a pool scan tracks) and
never change a result.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import caller_stacklevel, shown_indices
from .reweighting import InputScaleWarning, NoMemberFitsWarning, TiedScoresWarning

__all__ = [
    "INPUT_SCALE_LIMIT",
    "MISS_PROBABILITY",
    "MISS_STDS",
    "TIE_ATOL",
    "TIE_RTOL",
    "TieTracker",
    "far_label_advice",
    "warn_input_scale",
    "warn_no_member_fits",
]

#: An input column whose ``|mean|`` or standard deviation exceeds this is "far from standardized".
INPUT_SCALE_LIMIT = 10.0
#: Every member missing a regression label by more than this many training
#: target standard deviations is "missing it badly".
MISS_STDS = 10.0
#: Every member giving an observed label less than this probability is "missing it badly".
MISS_PROBABILITY = 1e-6
#: Scores tie when ``max - min <= max(TIE_ATOL * unit, TIE_RTOL * max|score|)``
#: (``unit``: 1 nat, or the squared target scale for a variance).
TIE_ATOL = 1e-12
TIE_RTOL = 1e-9


def far_label_advice() -> str:
    """What to check when labels lie far from every member (one wording for the
    warning and for the errors of :mod:`skhyre._adaptation`)."""
    return (
        "check that the labels are in fit's units (a target scaled or transformed at fit "
        "must be here too: skhyre.pipeline.TransformedTargetRegressor applies fit's transform "
        "to adaptation labels)"
    )


# --------------------------------------------------------------------------
# (a) inputs far from standardized
# --------------------------------------------------------------------------
def warn_input_scale(X: np.ndarray, owner: str, feature_names=None) -> None:
    """An :class:`~skhyre.reweighting.InputScaleWarning` naming the columns of ``X``
    whose ``|mean|`` or standard deviation exceeds :data:`INPUT_SCALE_LIMIT`."""
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
    far = (np.abs(mean) > INPUT_SCALE_LIMIT) | (std > INPUT_SCALE_LIMIT)
    if not far.any():
        return
    cols = np.flatnonzero(far)
    names = (
        [repr(str(feature_names[j])) for j in cols]
        if feature_names is not None
        else [f"column {j}" for j in cols]
    )
    shown = [f"{name} (mean {mean[j]:.3g}, std {std[j]:.3g})" for name, j in zip(names, cols)][:5]
    more = f", and {cols.size - 5} more" if cols.size > 5 else ""
    warnings.warn(
        f"{cols.size} of {X.shape[1]} input column(s) of X are far from standardized "
        f"(|mean| or std above {INPUT_SCALE_LIMIT:g}): {', '.join(shown)}{more}. {owner} feeds X "
        "to its networks and their random priors as it is (as scikit-learn's MLPs do); on "
        "columns like these the members are less accurate and less diverse where it matters, "
        "and adapting can make predictions worse than the uniform ensemble. Standardize them "
        f"first: skhyre.pipeline.make_pipeline(StandardScaler(), {owner}(...)). If the scale is "
        "intended, silence this with warnings.filterwarnings('ignore', "
        "category=skhyre.reweighting.InputScaleWarning).",
        InputScaleWarning,
        stacklevel=caller_stacklevel(),
    )


# --------------------------------------------------------------------------
# (b) every member misses the adaptation labels
# --------------------------------------------------------------------------
def _regression_case(F, y, rows, center) -> str:
    """Which mistake far-missed regression rows look like (engine units over the target
    scale: ``F`` (K, n) and ``y`` (n,) divided by it, ``center`` the training mean)."""
    if center is None:
        return (
            "the labels are on another scale than fit's y, or no member extrapolates to "
            f"these rows; {far_label_advice()}"
        )
    label_off = float(np.median(np.abs(y[rows] - center)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN member columns
        pred_off = float(np.nanmedian(np.abs(np.nanmedian(F[:, rows], axis=0) - center)))
    if label_off > MISS_STDS and not pred_off > MISS_STDS:
        return (
            f"it looks like labels on another scale than fit's y: they lie {label_off:.3g} "
            "training target standard deviations from the training mean (median over those "
            f"rows) while the members' predictions lie within {pred_off:.3g} of it; "
            f"{far_label_advice()}"
        )
    if pred_off > MISS_STDS:
        return (
            "it looks like inputs far outside the training data: the members' own predictions "
            f"on those rows lie {pred_off:.3g} training target standard deviations from the "
            "training mean (median); check that X is in fit's units and went through fit's "
            "preprocessing"
        )
    return (
        "it looks like no member fits or extrapolates to these rows: the labels lie within "
        f"{label_off:.3g} training target standard deviations of the training mean, but every "
        "member predicts far from them, so reweighting can only pick the least wrong; refit "
        "with such rows (or partial_fit on them), or use an ensemble that spans them"
    )


def warn_no_member_fits(
    M: np.ndarray,
    y: np.ndarray,
    task: str,
    *,
    unit: float = 1.0,
    center: float | None = None,
    label_hint: str = "",
    new_from: int = 0,
) -> None:
    """A :class:`~skhyre.reweighting.NoMemberFitsWarning` when every member badly misses
    adaptation labels (see its docstring); nothing when some member comes close.

    ``M`` and ``y`` are in engine form: ``(K, n)`` predictions and float labels
    (``unit``: the training target's std, ``center``: its mean, in the same units;
    ``None`` when unknown), or ``(K, n, C)`` probabilities and class indices. A
    regression row is flagged on its own; classification needs more than half
    of the rows given (at least two): a single confident mistake of every
    member is an ordinary hard example; and a missed row from ``new_from`` on
    (the rows just added, when ``M`` holds every example since the reset).
    """
    n = y.shape[0]
    if n == 0:
        return
    if task == "regression":
        unit = unit if unit > 0 and np.isfinite(unit) else 1.0
        F = np.asarray(M, dtype=np.float64) / unit
        yy = np.asarray(y, dtype=np.float64) / unit
        c = None if center is None else center / unit
        with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            closest = np.nanmin(np.abs(F - yy), axis=0)  # NaN members get weight 0
        rows = np.flatnonzero(closest > MISS_STDS)  # all-NaN columns stay unflagged
        if rows.size == 0:
            return
        what = (
            f"every member misses the label by more than {MISS_STDS:g} training target standard "
            f"deviations (the closest by {float(np.min(closest[rows])):.3g})"
        )
        case = _regression_case(F, yy, rows, c)
    else:
        P = np.asarray(M)
        idx = np.asarray(y, dtype=np.int64)
        p_obs = P[:, np.arange(n), idx]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            best = np.nanmax(p_obs, axis=0)
        rows = np.flatnonzero(best < MISS_PROBABILITY)
        if n < 2 or 2 * rows.size <= n or not (rows >= new_from).any():
            return
        what = f"every member gives the observed label a probability below {MISS_PROBABILITY:g}"
        case = label_hint or "labels encoded differently from fit's, or no member fits these rows"
    since = " seen since the last reset" if new_from else ""
    warnings.warn(
        f"On {rows.size} of the {n} adaptation row(s){since} {shown_indices(rows)} {what}: "
        f"{case}. The weights were computed as usual, but they only rank the least wrong "
        "members.",
        NoMemberFitsWarning,
        stacklevel=caller_stacklevel(),
    )


# --------------------------------------------------------------------------
# (c) every acquisition score ties
# --------------------------------------------------------------------------
def scores_tie(lo, hi, unit: float) -> bool:
    """Whether a pass's finite candidate scores, from ``lo`` to ``hi``, are all equal
    within rounding (``unit``: the scores' natural scale)."""
    if lo is None or hi is None:
        return False
    tol = max(TIE_ATOL * unit, TIE_RTOL * max(abs(lo), abs(hi)))
    return hi - lo <= tol


class TieTracker:
    """Collects, over one ``query`` or ``active_adapt`` call, the picks whose every
    candidate scored alike, and warns once at the end (:meth:`warn`).

    ``unit``: the scores' natural scale (1 nat for entropy and BALD, the squared
    target scale for a variance in the engine's units).
    """

    def __init__(self, criterion: str, unit: float, who: str) -> None:
        self.criterion = criterion
        self.unit = unit
        self.who = who
        self.tied: list[int] = []  # pick numbers (0-based)
        self.weights = None  # the weights at the first tied pick
        self.n_candidates = 0
        self.n_picks = 0

    def observe(self, top, weights, n_candidates: int, n_picks: int = 1) -> None:
        """One pick (or a ``query`` of ``n_picks``) over ``n_candidates`` selectable rows,
        scored into ``top`` (a :class:`skhyre.pools.TopK` with the score range)."""
        pick = self.n_picks
        self.n_picks += 1
        if n_candidates <= n_picks or not scores_tie(top.lo, top.hi, self.unit):
            return  # every candidate is returned anyway, or the scores rank them
        if not self.tied:
            self.weights, self.n_candidates, self.score = weights, n_candidates, top.hi
        self.tied.append(pick)

    def _why(self) -> str:
        w = np.asarray(self.weights, dtype=np.float64)
        k = int(np.argmax(w))
        if w[k] >= 1.0 - 1e-9:
            return (
                f"the weights have collapsed onto one member (member {k} has weight "
                f"{w[k]:.12g}), so the weighted members cannot disagree anywhere"
            )
        return (
            f"the members agree on every candidate row (the score is {self.score:.3g} on all "
            f"of them, with {1.0 / float(np.sum(w**2)):.3g} effective members), for example "
            "identical members or a pool of identical rows"
        )

    def warn(self) -> None:
        # active_adapt: only when its first pick already tied. Ties that arise later in
        # the call are the loop having converged -- the labels put all the weight on
        # one member, and any further pick leaves it there -- not a mistake to flag.
        if not self.tied or (self.who != "query" and self.tied[0] != 0):
            return
        if self.who == "query":
            where = (
                "so query can only return the first candidate rows of the pool (in pool order) "
                "rather than the most informative ones"
            )
        else:
            picks = shown_indices(np.asarray(self.tied))
            where = (
                f"at {len(self.tied)} of {self.n_picks} pick(s) {picks} (counted from 0), so "
                "those picks are simply the first rows left in the pool (in pool order) rather "
                "than the most informative ones"
            )
        warnings.warn(
            f"Every one of the {self.n_candidates} candidate rows has the same "
            f"{self.criterion!r} score under the current weights (within rounding), {where}: "
            f"{self._why()}. To choose among them, use sampling='power' (a random draw when "
            "scores tie) or criterion='random', or a higher temperature (or temperature='auto') "
            "so that more members keep weight.",
            TiedScoresWarning,
            stacklevel=caller_stacklevel(),
        )
