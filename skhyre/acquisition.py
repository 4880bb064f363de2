"""Acquisition: which unlabelled examples to label next, under HyRe weights.

Scores are computed over *cached* member predictions (a pool of ``n``
candidates): ``P`` of shape ``(K, n, C)`` member class probabilities, or ``F``
of shape ``(K, n)`` member regression predictions, and the current member
weights ``w`` of shape ``(K,)``:

- :func:`entropy`: ``H[sum_k w_k p_k(x)]`` (classification);
- :func:`bald`: ``H[sum_k w_k p_k(x)] - sum_k w_k H[p_k(x)]``, the expected
  information gain about which member is right (classification, preferences);
- :func:`variance`: ``sum_k w_k (f_k(x) - f(x))^2`` (regression);
- :func:`random`: i.i.d. uniform scores (random sampling).

:func:`select_top` takes the ``n`` best distinct candidates under fixed
weights (batch queries); :func:`sample_power` draws them at random with
probability proportional to the score instead (Kirsch et al.'s power
acquisition: the highest scores are likeliest, but the picks are not all from
the extreme rows the top of the score singles out); :func:`select_sequential`
picks one at a time,
revealing each label (simulation mode) and re-scoring under the updated
weights, with the whole loop compiled; :func:`batchbald` picks a batch whose
labels are jointly most informative about the member (BatchBALD, computed
exactly over the K weighted members). Every function validates its input and
calls :mod:`skhyre._kernels`; none modifies its input.

When to use which, for a batch of ``n`` labels requested at once:

- **labels come back one at a time** (an annotator in the loop): the
  estimators' ``active_adapt`` (or :func:`select_sequential` to simulate it)
  re-scores BALD after every label under the updated weights; nothing batch
  aware is needed, and nothing is better informed.
- **the top of BALD** (:func:`select_top` of :func:`bald`): one pass over the
  pool, the fastest; its picks are redundant when the pool holds near
  duplicates (the top rows are often copies of one hard region), so the
  batch's joint information is far below the sum of its scores.
- **power sampling** (:func:`sample_power` of :func:`bald`): about as fast,
  a random batch leaning to high scores; breaks up the duplicates of the top
  without modelling them (Kirsch et al., TMLR 2023).
- **BatchBALD** (:func:`batchbald`): greedily maximises the batch's mutual
  information with the member, so a second copy of a picked row gains
  nothing; the most informative batch of the three, at a cost that grows
  with the batch (``max_configurations`` label configurations per
  candidate gain; lazy evaluation keeps the number of candidates small).
  Use it when labels are expensive and come back in batches. A batch of one
  is BALD.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from . import _kernels
from ._validation import (  # the member-matrix checks live with the other checks
    PROBA_TOL,  # noqa: F401
    SAMPLINGS,
    check_exclude,
    check_log_prior,
    check_member_predictions,
    check_member_probabilities,
    check_n_queries,
    check_weights,
    is_real,
)
from .reweighting import check_temperature

__all__ = [
    "BATCHBALD_MAX_CONFIGURATIONS",
    "CRITERIA",
    "SAMPLINGS",
    "bald",
    "batchbald",
    "check_member_predictions",
    "check_member_probabilities",
    "check_weights",
    "entropy",
    "power_keys",
    "random",
    "sample_power",
    "score_pool",
    "select_sequential",
    "select_top",
    "variance",
]

#: Criteria by task (the first is ``"auto"``). ``"batchbald"`` selects a
#: batch under fixed weights (:func:`batchbald`): the estimators' ``query``
#: takes it; one label at a time (``active_adapt``) it is BALD.
CRITERIA = {
    "classification": ("bald", "entropy", "random", "batchbald"),
    "regression": ("variance", "random"),
}

#: Default of :func:`batchbald`'s ``max_configurations``: the batch's label
#: configurations are enumerated exactly while there are at most this many
#: (``C ** b`` for a batch of ``b`` labels, fewer when some have probability
#: 0: 10 labels of 2 classes, 3 of 10), and sampled beyond.
BATCHBALD_MAX_CONFIGURATIONS = 1024

#: How the estimators' ``query`` and ``active_adapt`` turn scores into picks:
#: ``"top"`` takes the best rows (:func:`select_top`), ``"power"`` draws rows
#: with probability proportional to their score (:func:`sample_power`).


#: Key (before the Gumbel noise) of rows that score exactly 0 (or below, from
#: rounding) in :func:`power_keys`: below ``power * log(s)`` for every positive
#: float64 ``s`` (``log(s) >= -745``) at every allowed ``power`` (<= 1e6), and
#: fine enough in float64 (spacing about 1e-7) that the noise still orders
#: such rows at random among themselves.
_ZERO_SCORE_KEY = -1.0e9
#: Largest exponent :func:`power_keys` takes (``select_top`` long before).
_MAX_POWER = 1.0e6


def entropy(P, w, *, check_input: bool = True) -> np.ndarray:
    """Entropy of the weighted mixture for every pool example.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities.
    w : array-like of shape (K,)
        Member weights.
    check_input : bool, default=True
        Validate ``P`` (one extra pass over the pool). Callers that validated
        the pool once can pass ``False``.

    Returns
    -------
    ndarray of shape (n,)
        NaN (never chosen before a finite score by :func:`select_top`) for an
        example where a member of nonzero weight gives NaN or inf, which
        ``check_input=False`` lets through.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import entropy
    >>> P = np.array([[[1.0, 0.0], [0.5, 0.5]],
    ...               [[0.0, 1.0], [0.5, 0.5]]])   # K=2 members, n=2, C=2
    >>> entropy(P, [0.5, 0.5]).round(4)
    array([0.6931, 0.6931])
    """
    P = check_member_probabilities(P) if check_input else np.asarray(P)
    return _kernels.entropy_scores(P, check_weights(w, P.shape[0]))


def bald(P, w, *, member_entropies=None, check_input: bool = True) -> np.ndarray:
    """BALD: mutual information between the label and the member, per example.

    ``H[sum_k w_k p_k(x)] - sum_k w_k H[p_k(x)]``, clamped at 0.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities.
    w : array-like of shape (K,)
        Member weights.
    member_entropies : array-like of shape (K, n), default=None
        Cached ``H[p_k(x)]`` (they do not depend on the weights), for callers
        that score one pool under several weights. When ``None`` they are
        computed on the fly in the same pass as the mixture, with the same
        result and without the ``(K, n)`` float64 matrix.
    check_input : bool, default=True
        Validate ``P``.

    Returns
    -------
    ndarray of shape (n,)
        NaN where a member of nonzero weight gives NaN or inf, as in :func:`entropy`.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import bald
    >>> P = np.array([[[1.0, 0.0], [0.5, 0.5]],
    ...               [[0.0, 1.0], [0.5, 0.5]]])
    >>> bald(P, [0.5, 0.5]).round(4)  # members disagree on row 0 only
    array([0.6931, 0.    ])
    """
    P = check_member_probabilities(P) if check_input else np.asarray(P)
    K, n = P.shape[:2]
    if member_entropies is None:
        return _kernels.bald_scores_direct(P, check_weights(w, K))
    Hm = np.asarray(member_entropies, dtype=np.float64)
    if Hm.shape != (K, n):
        raise ValueError(f"member_entropies must have shape {(K, n)}, got {Hm.shape}.")
    return _kernels.bald_scores(P, check_weights(w, K), Hm)


def variance(F, w, *, check_input: bool = True) -> np.ndarray:
    """Weighted variance of the member predictions for every pool example.

    Parameters
    ----------
    F : array-like of shape (K, n)
        Member regression predictions.
    w : array-like of shape (K,)
        Member weights.
    check_input : bool, default=True
        Validate ``F``.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import variance
    >>> F = np.array([[0.0, 1.0], [2.0, 1.0]])
    >>> variance(F, [0.5, 0.5])
    array([1., 0.])
    """
    F = check_member_predictions(F) if check_input else np.asarray(F)
    return _kernels.variance_scores(F, check_weights(w, F.shape[0]))


def score_pool(predictions, w, criterion: str, *, member_entropies=None, check_input=True):
    """Single-point acquisition scores of every pool row, by criterion name.

    Parameters
    ----------
    predictions : array-like of shape (K, n, C) or (K, n)
        Member probabilities (``"entropy"``, ``"bald"``) or regression
        predictions (``"variance"``).
    w : array-like of shape (K,)
        Member weights.
    criterion : {"bald", "entropy", "variance"}
    member_entropies : ndarray of shape (K, n), default=None
        For ``"bald"``: the members' entropies when already computed.
    check_input : bool, default=True

    Returns
    -------
    ndarray of shape (n,)
        Scores; NaN on rows where a member of nonzero weight predicts NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import score_pool
    >>> P = np.array([[[0.9, 0.1], [0.5, 0.5]], [[0.1, 0.9], [0.5, 0.5]]])
    >>> score_pool(P, [0.5, 0.5], "bald").round(3)
    array([0.368, 0.   ])
    """
    if criterion == "variance":
        return variance(predictions, w, check_input=check_input)
    if criterion == "entropy":
        return entropy(predictions, w, check_input=check_input)
    if criterion == "bald":
        return bald(predictions, w, member_entropies=member_entropies, check_input=check_input)
    raise ValueError(
        f"criterion={criterion!r} has no single-point score; choose 'bald', 'entropy' or "
        "'variance'."
    )


def random(n: int, random_state=None) -> np.ndarray:
    """I.i.d. uniform scores for ``n`` examples: the top ones are a random sample.

    Parameters
    ----------
    n : int
        Pool size.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> from skhyre.acquisition import random, select_top
    >>> select_top(random(10, random_state=0), 3).shape
    (3,)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative integer (the pool size), got {n!r}.")
    return check_random_state(random_state).random_sample(n)


def _row_uniforms(seed: int, start: int, rows: int) -> np.ndarray:
    """Uniforms in (0, 1) for pool rows ``start .. start + rows - 1``.

    A counter-based stream (SplitMix64 of the row index, offset by ``seed``):
    row ``i`` gets the same number whichever block it is computed in, so a
    pool streamed in blocks (or scored on Dask workers) draws exactly what
    one pass over the whole pool draws.
    """
    i = np.arange(start, start + rows, dtype=np.uint64)
    z = np.uint64(seed) + (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def draw_seed(random_state) -> int:
    """A 63-bit seed for :func:`power_keys` from a random state."""
    return int(check_random_state(random_state).randint(0, 2**62, dtype=np.int64)) * 2 + 1


def power_keys(scores, seed: int, start: int = 0, power: float = 1.0) -> np.ndarray:
    """Sampling keys whose top ``n`` are a draw proportional to ``scores ** power``.

    The Gumbel-top-k trick (Kool et al., 2019; also Efraimidis & Spirakis's
    weighted sampling): ``key_i = power * log(score_i) + G_i`` with ``G_i``
    i.i.d. standard Gumbel; the ``n`` largest keys are a sample of ``n``
    distinct rows without replacement, each draw with probability
    proportional to ``score ** power`` among the rows left. Rows scoring 0
    (members that agree there; negative rounding noise counts as 0) come
    after every positive row, in random order; NaN scores stay NaN (ranked
    last by :func:`select_top`).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Acquisition scores (>= 0): variance, entropy or BALD.
    seed : int
        Non-negative seed of the noise (one per draw).
    start : int, default=0
        Pool index of ``scores[0]``: a block of a larger pool draws the
        noise of its own rows, so blocks give what one pass would.
    power : float, default=1.0
        Exponent ``beta`` of the scores, from 0 (uniform sampling) to 1e6;
        large values approach :func:`select_top`.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import power_keys, select_top
    >>> scores = np.array([0.0, 1.0, 3.0])
    >>> keys = power_keys(scores, seed=7)
    >>> int(select_top(keys, 2)[1]) in (1, 2)  # the zero-score row comes last
    True
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got ndim={s.ndim}.")
    if not is_real(power) or not 0 <= power <= _MAX_POWER:
        raise ValueError(f"power must be a number in [0, {_MAX_POWER:g}], got {power!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    gumbel = -np.log(-np.log(_row_uniforms(int(seed) % 2**64, int(start), s.size)))
    if power == 0:  # uniform: every non-NaN row alike, zero and +inf scores included
        return np.where(np.isnan(s), np.nan, gumbel)
    positive = s > 0
    key = np.where(positive, power * np.log(np.where(positive, s, 1.0)), _ZERO_SCORE_KEY)
    return np.where(np.isnan(s), np.nan, key + gumbel)


def sample_power(scores, n_queries: int = 1, exclude=None, random_state=None) -> np.ndarray:
    """Draw ``n_queries`` distinct rows, each with probability proportional to its score.

    Power acquisition with exponent 1 (Kirsch et al., "Stochastic Batch
    Acquisition: A Simple Baseline for Deep Active Learning", TMLR 2023):
    the likeliest rows are the highest-scoring ones, as with
    :func:`select_top`, but the draw also reaches rows that score a little
    lower, so a sample is not made only of the extreme rows where the
    members disagree most. Rows are drawn without replacement (the
    Gumbel-top-k trick, :func:`power_keys`); rows scoring 0 come after every
    positive one, in random order, and NaN scores last.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Acquisition scores (>= 0).
    n_queries : int, default=1
    exclude : array-like of bool of shape (n,) or of int indices, default=None
        Rows never to return, as in :func:`select_top`.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    ndarray of shape (n_queries,), int64, in the order drawn

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import sample_power
    >>> scores = np.array([0.0, 1.0, 1.0, 8.0])
    >>> picks = [int(sample_power(scores, random_state=r)[0]) for r in range(1000)]
    >>> round(picks.count(3) / 1000, 1)  # 8 / (1 + 1 + 8)
    0.8
    >>> picks.count(0)  # a zero score is drawn only when nothing else is left
    0
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got ndim={s.ndim}.")
    return select_top(power_keys(s, draw_seed(random_state)), n_queries, exclude=exclude)


def select_top(scores, n_queries: int = 1, exclude=None) -> np.ndarray:
    """Indices of the ``n_queries`` highest scores, skipping excluded ones.

    Ties keep the lower index first (stable). NaN scores are never chosen
    before finite ones.

    Parameters
    ----------
    scores : array-like of shape (n,)
    n_queries : int, default=1
    exclude : array-like of bool of shape (n,) or of int indices, default=None
        Examples never to return: a boolean mask, or integer indices
        (repeats allowed). An integer array that is a 0/1 mask in
        disguise is refused rather than read as the indices 0 and 1: as
        long as the scores (``n > 2``), only 0s and 1s, excluding other rows
        read as a mask than as indices, and at least half of its entries
        repeat an earlier one; pass a mask as bool.

    Returns
    -------
    ndarray of shape (n_queries,), int64, best first

    Examples
    --------
    >>> from skhyre.acquisition import select_top
    >>> select_top([0.1, 0.9, 0.5, 0.9], n_queries=2)
    array([1, 3])
    >>> select_top([0.1, 0.9, 0.5, 0.9], n_queries=2, exclude=[1])
    array([3, 2])
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got ndim={s.ndim}.")
    mask = check_exclude(exclude, s.size)
    n_queries = check_n_queries(n_queries, int((~mask).sum()), s.size)
    key = np.where(np.isnan(s), -np.inf, s)  # NaN ranks with -inf
    key[mask] = -np.inf  # never above a selectable row; dropped below
    if n_queries == 1:
        i = int(np.argmax(key))  # the first maximum: the lowest index among ties
        if key[i] == -np.inf:  # every selectable score is -inf or NaN: a tie
            i = int(np.argmin(mask))  # the first selectable row
        return np.array([i], dtype=np.int64)
    # O(n): the n_queries-th largest key; the excluded -inf rows cannot move it, as
    # at least n_queries rows are selectable. Only the rows above it are sorted
    # (fewer than n_queries), then ties at it fill up in index order.
    t = np.partition(key, key.size - n_queries)[key.size - n_queries]
    above = np.flatnonzero(key > t)
    above = above[np.argsort(-key[above], kind="stable")]
    at = np.flatnonzero((key == t) & ~mask)[: n_queries - above.size]
    return np.concatenate([above, at]).astype(np.int64)


def batchbald(
    P,
    w,
    n_queries: int,
    exclude=None,
    random_state=None,
    max_configurations: int = BATCHBALD_MAX_CONFIGURATIONS,
    *,
    check_input: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """BatchBALD: a batch whose labels are jointly most informative about the member.

    Greedy BatchBALD (Kirsch, van Amersfoort and Gal, NeurIPS 2019) over the
    K weighted members, with no Monte-Carlo over posterior samples: the
    "posterior" is the member distribution ``w`` itself, so the joint label
    distribution of a batch is ``p(y_1..y_b) = sum_k w_k prod_i p_k(y_i |
    x_i)`` and the batch's mutual information with the member is

        I(y_1..y_b; member) = H[p(y_1..y_b)] - sum_k w_k sum_i H[p_k(x_i)].

    Each step adds the candidate that increases it most. The increase from
    adding ``x`` is ``I(y_x; member | y_batch)``, the BALD of ``x`` under the
    member posterior given the batch's labels, averaged over the batch's
    label configurations; it never grows as the batch grows (submodularity),
    so each step re-evaluates candidates in order of their last gain and
    stops once the best gain found exceeds every remaining one (lazy
    greedy: the same picks as evaluating every candidate, at a fraction of
    the cost). Candidates are evaluated in parallel, float64 accumulation
    over the float32 or float64 pool.

    The batch's label configurations are **enumerated exactly** while there
    are at most ``max_configurations`` of them with non-zero probability
    (``C ** b`` for ``b`` picked labels of ``C`` classes: up to 10 labels of 2
    classes, 3 of 10 with the default 1024); the picks are then exactly
    greedy BatchBALD's and the returned mutual information exact. Beyond,
    ``max_configurations`` configurations are **sampled** from the member
    mixture (systematic resampling, seeded by ``random_state``) and each
    later pick extends every sampled configuration by a label drawn from its
    predictive distribution, so they stay a sample of the batch's joint;
    every configuration contributes its exact conditional term, as in
    batchbald-redux's importance-weighted estimator. Members whose posterior
    given a sampled configuration is below ``1e-9`` of its largest are left
    out of it (a change far below the sampling error). The gains, and so
    the picks near a tie and the returned mutual information, are then
    estimates; the sampling error falls as ``1 / sqrt(max_configurations)``
    and the time grows linearly with it.

    Parameters
    ----------
    P : array-like of shape (K, n, C)
        Member class probabilities over the pool.
    w : array-like of shape (K,)
        Member weights (members of weight 0 are never read).
    n_queries : int
        Batch size.
    exclude : array-like of bool of shape (n,) or of int indices, default=None
        Rows never to pick, as in :func:`select_top`.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampled configurations (unused while they are enumerated).
    max_configurations : int, default=1024
        Most label configurations kept (:data:`BATCHBALD_MAX_CONFIGURATIONS`).
        Memory is about ``16 * K * max_configurations`` bytes.
    check_input : bool, default=True
        Validate ``P``.

    Returns
    -------
    indices : ndarray of shape (n_queries,), int64
        The batch, in the order picked (the first is the BALD argmax).
    mutual_information : ndarray of shape (n_queries,), float64
        ``I(y_1..y_t; member)`` in nats after each pick ``t``: the first is
        the first pick's BALD score; never more than the entropy of ``w``.
        NaN from the first pick on whose members of non-zero weight give NaN
        or inf (such rows are picked last, as in :func:`select_top`).

    Examples
    --------
    Row 1 copies row 0, where the members answer with certainty: BALD ranks
    both first, but the copy's label is known once row 0's is. BatchBALD takes
    row 2 instead, which tells members 0 and 2 apart.

    >>> import numpy as np
    >>> from skhyre.acquisition import bald, batchbald, select_top
    >>> P = np.array([[[1.0, 0.0], [1.0, 0.0], [0.9, 0.1]],
    ...               [[0.0, 1.0], [0.0, 1.0], [0.5, 0.5]],
    ...               [[1.0, 0.0], [1.0, 0.0], [0.1, 0.9]]])
    >>> w = np.full(3, 1 / 3)
    >>> select_top(bald(P, w), 2)
    array([0, 1])
    >>> idx, mi = batchbald(P, w, 2)
    >>> idx
    array([0, 2])
    >>> mi.round(4)  # nats; the copy would have added nothing
    array([0.6365, 0.8819])
    """
    P = check_member_probabilities(P) if check_input else np.asarray(P)
    K, n = P.shape[:2]
    w = check_weights(w, K)
    mask = check_exclude(exclude, n)
    n_queries = check_n_queries(n_queries, int((~mask).sum()), n)
    if (
        isinstance(max_configurations, bool)
        or not isinstance(max_configurations, numbers.Integral)
        or max_configurations < 1
    ):
        raise ValueError(
            f"max_configurations must be a positive integer, got {max_configurations!r}."
        )
    rng = check_random_state(random_state)
    idx, mi, _ = _kernels.batchbald_select(P, w, n_queries, mask, int(max_configurations), rng)
    return idx, mi


LOSS_CODES = {
    "zero_one": _kernels.LOSS_ZERO_ONE,
    "log_loss": _kernels.LOSS_LOG,
    "brier": _kernels.LOSS_BRIER,
    "squared": _kernels.LOSS_SQUARED,
    "absolute": _kernels.LOSS_ABSOLUTE,
}


#: :func:`select_sequential`'s default probability floor of the log loss, and how
#: many picks it updates the weighted mixture incrementally before re-summing it;
#: the streamed pools' step-by-step replay of that loop reads them here.
SEQUENTIAL_EPS = 1e-15
SEQUENTIAL_RESUM_EVERY = 8


def select_sequential(
    predictions,
    y,
    n_queries: int,
    *,
    criterion: str = "auto",
    loss: str | None = None,
    temperature: float = 1.0,
    cumulative_loss=None,
    log_prior=None,
    exclude=None,
    loss_scale: float = 1.0,
    eps: float = SEQUENTIAL_EPS,
    resum_every: int = SEQUENTIAL_RESUM_EVERY,
    random_state=None,
    check_input: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Active selection with labels revealed one at a time (simulation mode).

    Repeat ``n_queries`` times: score the pool under the current weights,
    pick the best selectable example, reveal its label ``y[i]``, add the
    members' losses on it to the cumulative loss (fixed ``temperature``).
    The loop runs in compiled code; for entropy and BALD the weighted mixture
    is updated incrementally from the members whose loss on the new label
    differs from the most common one (re-summed from scratch every
    ``resum_every`` picks, and sooner when the renormalisation would amplify
    rounding errors, to bound drift). The picks equal those of a loop that
    re-scores the pool from scratch, except between scores tied to rounding.

    Parameters
    ----------
    predictions : array-like of shape (K, n, C) or (K, n)
        Cached member probabilities (classification) or predictions
        (regression) over the pool.
    y : array-like of shape (n,)
        The pool's labels: class indices ``0..C-1`` or regression targets.
        Only the picked ones are read.
    n_queries : int
        Number of examples to pick.
    criterion : {"auto", "bald", "entropy", "variance", "random", "batchbald"}, default="auto"
        ``"auto"`` is BALD for probabilities and variance for regression.
        ``"batchbald"`` is BALD: each pick sees the labels before it, and
        BatchBALD's batch of one is BALD (:func:`batchbald` picks a batch
        under fixed weights).
    loss : str, default=None
        ``"zero_one"`` (default), ``"log_loss"`` or ``"brier"`` for
        probabilities; ``"squared"`` (default) or ``"absolute"`` for regression.
    temperature : float, default=1.0
    cumulative_loss : array-like of shape (K,), default=None
        Starting cumulative losses (zeros when ``None``).
    log_prior : array-like of shape (K,), default=None
    exclude : mask or indices, default=None
        Pool examples never to pick (for example, already labelled).
    loss_scale : float, default=1.0
        Multiplier of regression losses (skhyre's regressors use
        ``1 / var(y_train)``).
    eps : float, default=1e-15
        Probability floor of the log-loss.
    resum_every : int, default=8
    random_state : int, RandomState instance or None, default=None
        Used by ``criterion="random"`` only.
    check_input : bool, default=True
        Validate ``predictions``.

    Returns
    -------
    indices : ndarray of shape (n_queries,)
        Picked pool indices in the order picked.
    cumulative_loss : ndarray of shape (K,)
        Cumulative member losses after the last pick.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.acquisition import select_sequential
    >>> P = np.array([[[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]],
    ...               [[0.1, 0.9], [0.5, 0.5], [0.3, 0.7]]])
    >>> idx, L = select_sequential(P, y=np.array([0, 1, 1]), n_queries=2)
    >>> idx, L
    (array([0, 2]), array([0., 1.]))
    """
    arr = np.asarray(predictions)
    if arr.ndim == 3:
        task = "classification"
        P = check_member_probabilities(arr) if check_input else arr
        K, n, C = P.shape
    elif arr.ndim == 2:
        task = "regression"
        P = check_member_predictions(arr) if check_input else arr
        K, n = P.shape
    else:
        raise ValueError(
            "predictions must be (K, n, C) probabilities or (K, n) regression predictions, "
            f"got ndim={arr.ndim}."
        )
    if criterion == "auto":
        criterion = "bald" if task == "classification" else "variance"
    elif criterion == "batchbald" and task == "classification":
        criterion = "bald"  # one label at a time: BatchBALD's batch of one is BALD
    if criterion not in CRITERIA[task]:
        raise ValueError(
            f"criterion={criterion!r} does not fit a {task} pool; "
            f"choose one of {CRITERIA[task] + ('auto',)}."
        )
    if loss is None:
        loss = "zero_one" if task == "classification" else "squared"
    valid_losses = (
        ("zero_one", "log_loss", "brier")
        if task == "classification"
        else (
            "squared",
            "absolute",
        )
    )
    if loss not in valid_losses:
        raise ValueError(f"loss={loss!r} is not valid for {task}; choose one of {valid_losses}.")
    yv = np.asarray(y)
    if yv.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match the pool, got {yv.shape}.")
    if task == "classification":
        if not np.issubdtype(yv.dtype, np.integer):
            if np.issubdtype(yv.dtype, np.floating) and np.all(np.mod(yv, 1) == 0):
                yv = yv.astype(np.int64)
            else:
                raise ValueError("y must hold integer class indices for a probability pool.")
        if yv.size and (yv.min() < 0 or yv.max() >= C):
            raise ValueError(f"y has class indices outside 0..{C - 1}.")
        yv = yv.astype(np.int64, copy=False)
    else:
        yv = yv.astype(np.float64, copy=False)
        if not np.isfinite(yv).all():
            raise ValueError("y contains NaN or inf.")
    T = check_temperature(temperature)
    mask = check_exclude(exclude, n)
    n_queries = check_n_queries(n_queries, int((~mask).sum()), n)
    L0 = (
        np.zeros(K)
        if cumulative_loss is None
        else np.array(cumulative_loss, dtype=np.float64).reshape(-1)
    )
    if L0.shape != (K,):
        raise ValueError(f"cumulative_loss must have shape ({K},), got {L0.shape}.")
    if np.isneginf(L0).any():
        raise ValueError("cumulative_loss must not contain -inf.")
    if np.isnan(L0).all():
        raise ValueError("cumulative_loss is NaN for every member: no member is left to weight.")
    lp = check_log_prior(log_prior, K)
    if (
        isinstance(resum_every, bool)
        or not isinstance(resum_every, numbers.Integral)
        or resum_every < 1
    ):
        raise ValueError(f"resum_every must be a positive integer, got {resum_every!r}.")
    if not is_real(eps) or not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be a number in (0, 1), got {eps!r}.")
    if not is_real(loss_scale) or not (np.isfinite(loss_scale) and loss_scale > 0):
        raise ValueError(f"loss_scale must be a finite number > 0, got {loss_scale!r}.")
    if criterion == "random":
        idx = select_top(random(n, random_state), n_queries, exclude=mask)
        if task == "classification":
            fn = {
                "zero_one": lambda: _kernels.zero_one_loss_proba(P[:, idx], yv[idx]),
                "log_loss": lambda: _kernels.log_loss(P[:, idx], yv[idx], eps),
                "brier": lambda: _kernels.brier_loss(P[:, idx], yv[idx]),
            }[loss]
        else:
            kern = _kernels.squared_loss if loss == "squared" else _kernels.absolute_loss
            fn = lambda: kern(P[:, idx], yv[idx], float(loss_scale))  # noqa: E731
        L = L0 + fn().sum(axis=1)
    else:
        from ._selection import run_sequential

        idx, L = run_sequential(
            P, yv, L0, lp, T, n_queries, criterion, LOSS_CODES[loss], mask,
            scale=float(loss_scale), eps=float(eps), resum_every=int(resum_every),
        )  # fmt: skip
    alive = ~np.isnan(L) & np.isfinite(lp)
    if alive.any() and np.isposinf(L[alive]).all() and np.isfinite(L0[alive]).any():
        raise ValueError(
            f"Every member's cumulative {loss} loss became +inf (a label far outside every "
            "member's predictions, or losses past float64's range): the weights would "
            "silently go back to the prior. Check or rescale the labels."
        )
    return idx, L
