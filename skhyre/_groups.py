"""Annotator-aware training: which member learns from which annotator.

When the training data say who labelled each example (a user, persona, rater
or domain id: ``fit(X, y, groups=...)``), members can be trained per
annotator, so they stay sharp and diverse instead of drifting to the average
annotator; HyRe then finds the members that match a new person. Training
stays one joint pass: every (example, member) pair gets a weight, and the
member-summed loss is weighted inside the batch (:class:`skhyre._net.MemberSumLoss`).

Modes:

- ``"pooled"``: every member learns from every example (weights all 1).
- ``"by_group"``: members are split among the ``G`` annotators (member ``k``
  belongs to annotator ``k mod G`` in sorted-id order). With more members
  than annotators, an annotator's members are trained on Poisson(1)
  bootstrap resamples of its examples (online bagging), so they differ; an
  annotator with a single member gets its examples with weight 1. With
  fewer members than annotators, member ``k`` learns from the union of
  annotators ``g`` with ``g mod K == k``.
- ``"mixed"``: like ``"by_group"``, plus everyone else's examples, which
  together carry the fraction ``group_share`` of each member's training
  weight (its own annotator's examples carry ``1 - group_share``). The share
  does not depend on the number of annotators: with 100 annotators and
  ``group_share=0.1`` a member still learns 90% from its own annotator.

Each member's column is normalised to mean 1 over the training set, so every
member's loss is a weighted *mean* and members count equally.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import caller_stacklevel

__all__ = [
    "TRAINING_MODES",
    "assigned_weight_matrix",
    "fitted_group_codes",
    "member_weight_matrix",
]

TRAINING_MODES = ("pooled", "by_group", "mixed")


def member_weight_matrix(
    groups,
    n_members: int,
    training: str,
    group_share: float = 0.1,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-(example, member) training weights from annotator ids.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Annotator id of every training example (any sortable labels; no
        missing values).
    n_members : int
        Number of members ``K``.
    training : {"by_group", "mixed"}
    group_share : float in [0, 1], default=0.1
        In ``"mixed"``, the fraction of each member's total training weight
        carried by the other annotators' examples (spread evenly over them).
    random_state : int, RandomState instance or None
        Seeds the bootstrap counts.

    Returns
    -------
    weights : ndarray of shape (n_samples, n_members), float32
    group_ids : ndarray of shape (G,)
        The sorted unique annotator ids.
    assignment : ndarray of shape (G, n_members), bool
        ``assignment[g, k]``: member ``k`` learns from annotator ``g``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre._groups import member_weight_matrix
    >>> W, ids, A = member_weight_matrix(["a", "a", "b", "b"], 2, "by_group")
    >>> W
    array([[2., 0.],
           [2., 0.],
           [0., 2.],
           [0., 2.]], dtype=float32)
    >>> A.astype(int)
    array([[1, 0],
           [0, 1]])
    """
    if training not in ("by_group", "mixed"):
        raise ValueError(f"training must be 'by_group' or 'mixed' here, got {training!r}.")
    group_ids, codes = _group_codes(groups)
    G, K = group_ids.size, int(n_members)
    if G == 1:
        warnings.warn(
            f"training={training!r} got a single annotator id ({group_ids[0]!r}): every member "
            "learns from the same examples (bootstrap resamples when K > 1).",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    assignment = np.zeros((G, K), dtype=bool)
    if K >= G:
        assignment[np.arange(K) % G, np.arange(K)] = True
    else:
        assignment[np.arange(G), np.arange(G) % K] = True
    W = assigned_weights(codes, assignment, training, group_share, random_state)
    return W, group_ids, assignment


def assigned_weight_matrix(
    groups,
    group_ids: np.ndarray,
    assignment: np.ndarray,
    training: str,
    group_share: float = 0.1,
    random_state=None,
) -> np.ndarray:
    """Per-(example, member) weights for new examples under a fitted assignment.

    The members keep the annotators :func:`member_weight_matrix` gave them at
    ``fit`` (``partial_fit`` with ``groups``): an example trains the members
    of its annotator (with fresh bootstrap counts where an annotator has
    several), plus, in ``"mixed"``, the share ``group_share`` spread over
    the other annotators' examples. A member none of whose annotators
    appears in ``groups`` gets weight 0 in ``"by_group"`` (``partial_fit``
    then puts its own parameters, and their rows of the optimizer's state,
    back as they were: Adam's momentum would move them with no gradient; the
    layers it shares with other members still learn) and only the share
    ``group_share`` in ``"mixed"``.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Annotator id of every new example; every id must be in ``group_ids``.
    group_ids : ndarray of shape (G,)
        The sorted annotator ids of the fit.
    assignment : ndarray of shape (G, n_members), bool
        The fit's assignment of members to annotators.
    training : {"by_group", "mixed"}
    group_share : float in [0, 1], default=0.1
    random_state : int, RandomState instance or None

    Returns
    -------
    weights : ndarray of shape (n_samples, n_members), float32
        A member's column has mean 1 over the examples when its annotator is
        among them (as at fit).

    Examples
    --------
    >>> from skhyre._groups import assigned_weight_matrix, member_weight_matrix
    >>> _, ids, A = member_weight_matrix(["a", "a", "b", "b"], 2, "by_group")
    >>> assigned_weight_matrix(["b", "b"], ids, A, "by_group")
    array([[0., 1.],
           [0., 1.]], dtype=float32)
    """
    if training not in ("by_group", "mixed"):
        raise ValueError(f"training must be 'by_group' or 'mixed' here, got {training!r}.")
    codes = fitted_group_codes(groups, group_ids)
    return assigned_weights(codes, assignment, training, group_share, random_state)


def fitted_group_codes(groups, group_ids: np.ndarray) -> np.ndarray:
    """Each example's index into the fit's ``group_ids``; unknown ids are named.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
    group_ids : ndarray of shape (G,)
        The sorted annotator ids of the fit.

    Returns
    -------
    ndarray of shape (n_samples,), int

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre._groups import fitted_group_codes
    >>> fitted_group_codes(["b", "a", "b"], np.array(["a", "b"])).tolist()
    [1, 0, 1]
    """
    new_ids, new_codes = _group_codes(groups, "pass groups=None to train every member on them")
    try:
        known = np.isin(new_ids, group_ids)
    except TypeError:
        fitted = set(group_ids.tolist())
        known = np.array([v in fitted for v in new_ids.tolist()], dtype=bool)
    if not known.all():
        raise ValueError(
            f"groups has annotator ids {new_ids[~known].tolist()[:10]} that were not in fit's "
            f"groups (group_ids_ {group_ids.tolist()[:10]}"
            f"{' ...' if group_ids.size > 10 else ''}); members are assigned to annotators at "
            "fit. Pass groups=None to train every member on these examples."
        )
    return np.searchsorted(group_ids, new_ids)[new_codes]


def _group_codes(groups, hint: str = "use training='pooled'") -> tuple[np.ndarray, np.ndarray]:
    """Validated annotator ids -> (sorted unique ids, each example's index into them)."""
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D (one annotator id per example), got {g.shape}.")
    missing = _missing_mask(g)
    if missing.any():
        raise ValueError(
            f"groups has {int(missing.sum())} missing annotator id(s) (None/NaN/NaT); give every "
            f"training example an id, or {hint}."
        )
    try:
        return np.unique(g, return_inverse=True)
    except TypeError as exc:
        raise ValueError(f"groups ids must be mutually comparable: {exc}") from None


def assigned_weights(codes, assignment, training, group_share, random_state) -> np.ndarray:
    from sklearn.utils import check_random_state

    K = assignment.shape[1]
    own = assignment[codes]  # (n, K): example's annotator trains member k
    W = own.astype(np.float64)
    per_group = assignment.sum(axis=1)  # members per annotator
    boot = per_group[codes] > 1  # examples whose annotator has several members
    if boot.any():
        rng = check_random_state(random_state)
        counts = rng.poisson(1.0, size=(int(boot.sum()), K)).astype(np.float64)
        W[boot] *= counts
    empty = W.sum(axis=0) == 0
    if empty.any():  # a bootstrap drew nothing for some member: give it its own examples
        W[:, empty] = own[:, empty]
    if training == "mixed":
        # each member's own examples carry 1 - share of its weight and everyone
        # else's the share (all of it goes to its own examples when there is no
        # one else); a member whose annotator is absent (partial_fit) keeps
        # only the share, from the others' examples
        share = float(group_share)
        other = (~own).astype(np.float64)
        n_own, n_other = W.sum(axis=0), other.sum(axis=0)
        own_part = np.divide(W, n_own, out=np.zeros_like(W), where=n_own > 0)
        other_part = np.divide(other, n_other, out=np.zeros_like(other), where=n_other > 0)
        W = (np.where(n_other > 0, 1.0 - share, 1.0) * own_part + share * other_part) * len(W)
    else:  # each member's column: mean 1, or 0 when none of its annotators is here
        col_mean = W.mean(axis=0)
        W = np.divide(W, col_mean, out=np.zeros_like(W), where=col_mean > 0)
    return W.astype(np.float32)


def _missing_mask(g: np.ndarray) -> np.ndarray:
    if g.dtype.kind in "mM":  # datetime / timedelta ids: NaT is missing
        return np.isnat(g)
    if g.dtype.kind == "f":
        return np.isnan(g)
    if g.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in g], dtype=bool)
    return np.zeros(g.shape, dtype=bool)
