"""Numba kernels of the HyRe engine (the only module with compiled code).

Everything here works on cached prediction matrices and plain arrays; it
imports nothing from the rest of skhyre. Validation is the callers' job
(:mod:`skhyre.reweighting`, :mod:`skhyre.acquisition`): kernels assume shapes
agree, labels are in range and probabilities are in ``[0, 1]``.

Conventions
-----------
- ``P``: member class probabilities, ``(K, n, C)``; ``F``: member regression
  predictions, ``(K, n)``; ``w``: member weights, ``(K,)`` float64.
- Storage may be float32 or float64 (C- or non-contiguous: Numba compiles a
  specialisation per layout); every accumulation is float64.
- ``0 * log(0) = 0`` (``xlogy`` semantics): probability 0 is legal input.

Signatures are lazy (compiled on first call for the dtypes seen) and cached on
disk (``cache=True``). Set the environment variable ``SKHYRE_NUMBA_CACHE=0``
before importing skhyre to turn the on-disk cache off.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np

__all__ = [
    "CRITERION_BALD",
    "CRITERION_ENTROPY",
    "CRITERION_VARIANCE",
    "LOSS_ABSOLUTE",
    "LOSS_BRIER",
    "LOSS_LOG",
    "LOSS_SQUARED",
    "LOSS_ZERO_ONE",
    "absolute_loss",
    "bald_scores",
    "brier_loss",
    "entropy_scores",
    "log_loss",
    "log_softmax_weights",
    "member_entropies",
    "mixture",
    "pairwise_zero_one_loss",
    "select_sequential_proba",
    "select_sequential_regression",
    "squared_loss",
    "variance_scores",
    "weighted_mean_std",
    "zero_one_loss_labels",
    "zero_one_loss_proba",
]

CACHE = os.environ.get("SKHYRE_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no"}

_jit = numba.njit(cache=CACHE, nogil=True, fastmath=False)
_pjit = numba.njit(cache=CACHE, nogil=True, parallel=True, fastmath=False)

# Rows per block when streaming a (K, n, C) pool: small enough that the block's
# float64 accumulators stay in L1/L2, large enough to stream each member's slab.
_BLOCK = 256

CRITERION_ENTROPY = 0
CRITERION_BALD = 1
CRITERION_VARIANCE = 2

LOSS_ZERO_ONE = 0
LOSS_LOG = 1
LOSS_BRIER = 2
LOSS_SQUARED = 3
LOSS_ABSOLUTE = 4


# --------------------------------------------------------------------------
# per-member, per-example losses
# --------------------------------------------------------------------------
@_jit
def _argmax_row(P, k, i):
    best = 0
    best_v = P[k, i, 0]
    for c in range(1, P.shape[2]):
        v = P[k, i, c]
        if v > best_v:
            best_v = v
            best = c
    return best


@_jit
def zero_one_loss_proba(P, y):
    """0-1 loss of each member's argmax class (first maximum wins ties)."""
    K, n = P.shape[0], P.shape[1]
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            if np.isnan(P[k, i, 0]):
                out[k, i] = np.nan
            else:
                out[k, i] = 0.0 if _argmax_row(P, k, i) == y[i] else 1.0
    return out


@_jit
def zero_one_loss_labels(Yhat, y):
    """0-1 loss of hard member predictions ``Yhat`` (K, n) against ``y``."""
    K, n = Yhat.shape
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            out[k, i] = 0.0 if Yhat[k, i] == y[i] else 1.0
    return out


@_jit
def log_loss(P, y, eps):
    """Negative log-probability of the true class, clipped below at ``eps``."""
    K, n = P.shape[0], P.shape[1]
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            p = np.float64(P[k, i, y[i]])
            out[k, i] = -math.log(max(p, eps)) if not np.isnan(p) else np.nan
    return out


@_jit
def brier_loss(P, y):
    """Multi-class Brier score ``sum_c (p_c - [c == y])^2``."""
    K, n, C = P.shape
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            s = 0.0
            for c in range(C):
                d = np.float64(P[k, i, c]) - (1.0 if c == y[i] else 0.0)
                s += d * d
            out[k, i] = s
    return out


@_jit
def squared_loss(F, y, scale):
    """``scale * (f_k(x_i) - y_i)^2``."""
    K, n = F.shape
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            d = np.float64(F[k, i]) - np.float64(y[i])
            out[k, i] = scale * d * d
    return out


@_jit
def absolute_loss(F, y, scale):
    """``scale * |f_k(x_i) - y_i|``."""
    K, n = F.shape
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            out[k, i] = scale * abs(np.float64(F[k, i]) - np.float64(y[i]))
    return out


@_jit
def pairwise_zero_one_loss(D, y):
    """Preference 0-1 loss from reward differences ``D = r(A) - r(B)``.

    A member predicts "A preferred" when ``D > 0``; a tie (``D == 0``) costs 1/2.
    """
    K, n = D.shape
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            d = np.float64(D[k, i])
            if np.isnan(d):
                out[k, i] = np.nan
            elif d == 0.0:
                out[k, i] = 0.5
            else:
                out[k, i] = 0.0 if (d > 0.0) == (y[i] == 1) else 1.0
    return out


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------
@_jit
def log_softmax_weights(cum_loss, temperature, log_prior):
    """Normalised log-weights ``log softmax(-L / T + log_prior)``.

    NaN or +inf cumulative losses (and -inf log-prior) get log-weight -inf.
    ``temperature`` may be ``inf`` (weights = prior over the finite members).
    Losses are shifted by their finite minimum first, so the result is exact
    for losses up to the float64 range. If no member has a finite loss, the
    +inf members share the weight by the prior (they are tied). Returns an
    all -inf vector only when every member is NaN or has zero prior; callers
    must check.
    """
    K = cum_loss.shape[0]
    out = np.empty(K, dtype=np.float64)
    lmin = np.inf
    for k in range(K):
        v = cum_loss[k]
        if not np.isnan(v) and v < lmin and log_prior[k] > -np.inf:
            lmin = v
    all_inf = lmin == np.inf
    amax = -np.inf
    for k in range(K):
        v = cum_loss[k]
        if np.isnan(v) or log_prior[k] == -np.inf:
            a = -np.inf
        elif all_inf:
            a = log_prior[k]  # every usable member is +inf: a tie
        elif v == np.inf:
            a = -np.inf
        elif temperature == np.inf:
            a = log_prior[k]
        else:
            a = -(v - lmin) / temperature + log_prior[k]
        out[k] = a
        if a > amax:
            amax = a
    if amax == -np.inf:
        return out
    s = 0.0
    for k in range(K):
        s += math.exp(out[k] - amax)
    lse = amax + math.log(s)
    for k in range(K):
        out[k] = out[k] - lse
    return out


# --------------------------------------------------------------------------
# pool scoring
# --------------------------------------------------------------------------
@_jit
def _xlogx(p):
    return p * math.log(p) if p > 0.0 else 0.0


@_pjit
def member_entropies(P):
    """Entropy of every member's predictive distribution, ``(K, n)`` float64."""
    K, n, C = P.shape
    out = np.empty((K, n), dtype=np.float64)
    for i in numba.prange(n):
        for k in range(K):
            h = 0.0
            for c in range(C):
                h -= _xlogx(np.float64(P[k, i, c]))
            out[k, i] = h
    return out


@_jit
def _mixture_block(P, w, i0, i1, acc):
    """acc[i - i0, c] = sum_k w_k P[k, i, c] for rows i0..i1, skipping zero weights."""
    C = P.shape[2]
    for r in range(i1 - i0):
        for c in range(C):
            acc[r, c] = 0.0
    for k in range(P.shape[0]):
        wk = w[k]
        if wk == 0.0:
            continue
        for i in range(i0, i1):
            r = i - i0
            for c in range(C):
                acc[r, c] += wk * P[k, i, c]


@_pjit
def mixture(P, w):
    """Weighted mixture ``sum_k w_k P[k]``, ``(n, C)`` float64."""
    _K, n, C = P.shape
    out = np.empty((n, C), dtype=np.float64)
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(nblocks):
        i0 = b * _BLOCK
        i1 = min(n, i0 + _BLOCK)
        acc = np.empty((i1 - i0, C), dtype=np.float64)
        _mixture_block(P, w, i0, i1, acc)
        for r in range(i1 - i0):
            for c in range(C):
                out[i0 + r, c] = acc[r, c]
    return out


@_pjit
def entropy_scores(P, w):
    """Entropy of the weighted mixture, ``H[sum_k w_k p_k(x)]``, ``(n,)``."""
    _K, n, C = P.shape
    out = np.empty(n, dtype=np.float64)
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(nblocks):
        i0 = b * _BLOCK
        i1 = min(n, i0 + _BLOCK)
        acc = np.empty((i1 - i0, C), dtype=np.float64)
        _mixture_block(P, w, i0, i1, acc)
        for r in range(i1 - i0):
            h = 0.0
            for c in range(C):
                h -= _xlogx(acc[r, c])
            out[i0 + r] = h
    return out


@_pjit
def bald_scores(P, w, Hm):
    """BALD ``H[sum_k w_k p_k] - sum_k w_k H[p_k]`` clamped at 0, ``(n,)``.

    ``Hm`` holds the member entropies ``(K, n)`` (:func:`member_entropies`),
    computed once per pool: they do not depend on the weights.
    """
    K, n, C = P.shape
    out = np.empty(n, dtype=np.float64)
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(nblocks):
        i0 = b * _BLOCK
        i1 = min(n, i0 + _BLOCK)
        acc = np.empty((i1 - i0, C), dtype=np.float64)
        _mixture_block(P, w, i0, i1, acc)
        for r in range(i1 - i0):
            i = i0 + r
            h = 0.0
            for c in range(C):
                h -= _xlogx(acc[r, c])
            e = 0.0
            for k in range(K):
                if w[k] != 0.0:
                    e += w[k] * Hm[k, i]
            out[i] = max(h - e, 0.0)
    return out


@_pjit
def weighted_mean_std(F, w):
    """Weighted mean and standard deviation over members, each ``(n,)``.

    Two passes per block (mean, then centred squares) for accuracy.
    """
    K, n = F.shape
    mean = np.empty(n, dtype=np.float64)
    std = np.empty(n, dtype=np.float64)
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(nblocks):
        i0 = b * _BLOCK
        i1 = min(n, i0 + _BLOCK)
        m = np.zeros(i1 - i0, dtype=np.float64)
        v = np.zeros(i1 - i0, dtype=np.float64)
        for k in range(K):
            wk = w[k]
            if wk == 0.0:
                continue
            for i in range(i0, i1):
                m[i - i0] += wk * F[k, i]
        for k in range(K):
            wk = w[k]
            if wk == 0.0:
                continue
            for i in range(i0, i1):
                d = F[k, i] - m[i - i0]
                v[i - i0] += wk * d * d
        for i in range(i0, i1):
            mean[i] = m[i - i0]
            std[i] = math.sqrt(v[i - i0])
    return mean, std


@_jit
def variance_scores(F, w):
    """Weighted variance of the member predictions ``sum_k w_k (f_k - f)^2``."""
    _mean, std = weighted_mean_std(F, w)
    return std * std


# --------------------------------------------------------------------------
# sequential selection over a cached pool (simulation mode: labels known)
# --------------------------------------------------------------------------
@_jit
def _weights_from_log(logw):
    K = logw.shape[0]
    w = np.empty(K, dtype=np.float64)
    for k in range(K):
        w[k] = math.exp(logw[k]) if logw[k] > -np.inf else 0.0
    return w


@_jit
def _argmax_allowed(scores, taken):
    best = -1
    best_v = -np.inf
    for i in range(scores.shape[0]):
        if taken[i]:
            continue
        v = scores[i]
        if best == -1 or v > best_v:
            best = i
            best_v = v
    return best


@_jit
def _member_loss_proba(P, k, i, yi, loss, eps):
    if loss == LOSS_ZERO_ONE:
        return 0.0 if _argmax_row(P, k, i) == yi else 1.0
    elif loss == LOSS_LOG:
        return -math.log(max(np.float64(P[k, i, yi]), eps))
    else:
        s = 0.0
        for c in range(P.shape[2]):
            d = np.float64(P[k, i, c]) - (1.0 if c == yi else 0.0)
            s += d * d
        return s


@_pjit
def _resum_mixture(P, w, M, Hbar, Hm, with_bald):
    K, n, C = P.shape
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(nblocks):
        i0 = b * _BLOCK
        i1 = min(n, i0 + _BLOCK)
        acc = np.empty((i1 - i0, C), dtype=np.float64)
        _mixture_block(P, w, i0, i1, acc)
        for r in range(i1 - i0):
            for c in range(C):
                M[i0 + r, c] = acc[r, c]
            if with_bald:
                e = 0.0
                for k in range(K):
                    if w[k] != 0.0:
                        e += w[k] * Hm[k, i0 + r]
                Hbar[i0 + r] = e


@_pjit
def _update_mixture(P, s, delta, changed, M, Hbar, Hm, with_bald):
    """M <- s * M + sum_{k in changed} delta_k P[k]; Hbar likewise (rows in parallel)."""
    n, C = M.shape
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(nblocks):
        i0 = b * _BLOCK
        i1 = min(n, i0 + _BLOCK)
        for i in range(i0, i1):
            for c in range(C):
                M[i, c] *= s
            if with_bald:
                Hbar[i] *= s
        for j in range(changed.shape[0]):
            k = changed[j]
            dk = delta[k]
            for i in range(i0, i1):
                for c in range(C):
                    M[i, c] += dk * P[k, i, c]
                if with_bald:
                    Hbar[i] += dk * Hm[k, i]


@_pjit
def _scores_from_mixture(M, Hbar, with_bald, out):
    n, C = M.shape
    for i in numba.prange(n):
        h = 0.0
        for c in range(C):
            h -= _xlogx(M[i, c])
        if with_bald:
            h = max(h - Hbar[i], 0.0)
        out[i] = h


@_jit
def select_sequential_proba(
    P,
    Hm,
    y,
    cum_loss,
    log_prior,
    temperature,
    n_queries,
    criterion,
    loss,
    exclude,
    eps,
    resum_every,
):
    """Pick ``n_queries`` pool rows one at a time by entropy or BALD.

    After each pick the row's label ``y[i]`` is revealed, the cumulative
    member losses are updated and the pool is re-scored under the new
    weights. The weighted mixture is updated *incrementally*: after a label,
    the unnormalised weight of member k is multiplied by ``exp(-l_k / T)``
    with losses shifted by their minimum, so only members whose shifted loss
    is non-zero change and only their slabs of ``P`` are read (for 0-1 loss,
    the members that got the label wrong). The mixture is re-summed from
    scratch every ``resum_every`` picks (and whenever more than half of the
    members change) to bound floating-point drift.

    Returns the picked indices ``(n_queries,)`` and the final cumulative
    losses ``(K,)``.
    """
    K, n, C = P.shape
    with_bald = criterion == CRITERION_BALD
    L = cum_loss.copy()
    taken = exclude.copy()
    picked = np.empty(n_queries, dtype=np.int64)
    M = np.empty((n, C), dtype=np.float64)
    Hbar = np.zeros(n if with_bald else 1, dtype=np.float64)
    scores = np.empty(n, dtype=np.float64)
    lrow = np.empty(K, dtype=np.float64)
    delta = np.zeros(K, dtype=np.float64)
    changed = np.empty(K, dtype=np.int64)
    w = _weights_from_log(log_softmax_weights(L, temperature, log_prior))
    _resum_mixture(P, w, M, Hbar, Hm, with_bald)
    since = 0
    for q in range(n_queries):
        _scores_from_mixture(M, Hbar, with_bald, scores)
        i = _argmax_allowed(scores, taken)
        picked[q] = i
        taken[i] = True
        for k in range(K):
            lrow[k] = _member_loss_proba(P, k, i, y[i], loss, eps)
            L[k] += lrow[k]
        if q == n_queries - 1:
            break
        w_new = _weights_from_log(log_softmax_weights(L, temperature, log_prior))
        # Members with the row's minimal loss keep their weight up to a common
        # factor s (the renormalisation); only the others change.
        lmin = np.inf
        for k in range(K):
            if w[k] > 0.0 and lrow[k] < lmin:
                lmin = lrow[k]
        s = -1.0
        for k in range(K):
            if w[k] > 0.0 and lrow[k] == lmin:
                s = w_new[k] / w[k]
                break
        n_changed = 0
        for k in range(K):
            delta[k] = 0.0
            if w[k] > 0.0 and lrow[k] != lmin:
                delta[k] = w_new[k] - s * w[k]
                changed[n_changed] = k
                n_changed += 1
        since += 1
        if s <= 0.0 or not np.isfinite(s) or since >= resum_every or 2 * n_changed > K:
            _resum_mixture(P, w_new, M, Hbar, Hm, with_bald)
            since = 0
        else:
            _update_mixture(P, s, delta, changed[:n_changed], M, Hbar, Hm, with_bald)
        w = w_new
    return picked, L


@_jit
def select_sequential_regression(
    F, y, cum_loss, log_prior, temperature, n_queries, loss, scale, exclude
):
    """Pick ``n_queries`` pool rows one at a time by weighted member variance.

    Regression losses change every member's weight, so the pool is re-scored
    from the cached ``F`` after each revealed label.
    """
    K, _n = F.shape
    L = cum_loss.copy()
    taken = exclude.copy()
    picked = np.empty(n_queries, dtype=np.int64)
    for q in range(n_queries):
        w = _weights_from_log(log_softmax_weights(L, temperature, log_prior))
        scores = variance_scores(F, w)
        i = _argmax_allowed(scores, taken)
        picked[q] = i
        taken[i] = True
        for k in range(K):
            d = np.float64(F[k, i]) - np.float64(y[i])
            if loss == LOSS_SQUARED:
                L[k] += scale * d * d
            else:
                L[k] += scale * abs(d)
    return picked, L


# --------------------------------------------------------------------------
# leave-one-out weights for temperature selection, and input checks
# --------------------------------------------------------------------------
@_jit
def loo_log_weights(losses, temperatures, log_prior):
    """Leave-one-out log-weights, ``(G, n, K)``.

    Entry ``[g, i]`` holds the log-weights at temperature ``temperatures[g]``
    from the losses of every example except ``i`` (summed directly, so +inf
    losses stay exact).
    """
    K, n = losses.shape
    G = temperatures.shape[0]
    out = np.empty((G, n, K), dtype=np.float64)
    Lm = np.empty(K, dtype=np.float64)
    for i in range(n):
        for k in range(K):
            s = 0.0
            for j in range(n):
                if j != i:
                    s += losses[k, j]
            Lm[k] = s
        for g in range(G):
            out[g, i, :] = log_softmax_weights(Lm, temperatures[g], log_prior)
    return out


@_pjit
def proba_problems(P, tol):
    """Count rows of ``P`` (K, n, C) with NaN/inf, values outside [0, 1], or sums off 1 by > tol."""
    K, n, C = P.shape
    bad_nan = np.zeros(n, dtype=np.int64)
    bad_range = np.zeros(n, dtype=np.int64)
    bad_sum = np.zeros(n, dtype=np.int64)
    for i in numba.prange(n):
        for k in range(K):
            s = 0.0
            for c in range(C):
                v = np.float64(P[k, i, c])
                if not np.isfinite(v):
                    bad_nan[i] = 1
                elif v < -tol or v > 1.0 + tol:
                    bad_range[i] = 1
                s += v
            if np.isfinite(s) and abs(s - 1.0) > tol:
                bad_sum[i] = 1
    return bad_nan.sum(), bad_range.sum(), bad_sum.sum()
