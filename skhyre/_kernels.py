"""Numba kernels of the HyRe engine (the only module with compiled code).

Everything here works on cached prediction matrices and plain arrays; it
imports nothing from the rest of skhyre. Validation is the callers' job
(:mod:`skhyre.reweighting`, :mod:`skhyre.acquisition`): kernels assume shapes
agree, labels are in range and probabilities are in ``[0, 1]``.

Conventions
-----------
- ``P``: member class probabilities, ``(K, n, C)``; ``F``: member regression
  predictions, ``(K, n)``; ``w``: member weights, ``(K,)`` float64.
- Storage may be float32 or float64, C- or non-contiguous (Numba compiles a
  specialisation per layout); every accumulation is float64.
- ``0 * log(0) = 0`` (``xlogy`` semantics): probability 0 is legal input.

How the pool kernels are fast
-----------------------------
- A pool is streamed in blocks of rows; one block of one member,
  ``P[k, i0:i1, :]``, is a contiguous run of memory for a C-ordered pool (a
  view, no copy; other layouts are gathered into a contiguous block), so
  the inner loops are flat and SIMD-vectorised.
- The weighted mixture reads four members per pass over the block's
  accumulator (four times less accumulator traffic) and skips members whose
  weight is exactly 0.
- ``x log x`` is computed by :func:`_xlogx_inplace`, a branch-free
  vectorisable logarithm (fdlibm's ``e_log.c`` polynomial, within 2 ulp of
  ``math.log``): ``math.log`` is a scalar libm call that blocks SIMD.
- Kernels compile with ``error_model="numpy"`` (a division by zero gives
  inf/NaN instead of raising), without which LLVM cannot vectorise loops with
  a division, and with ``fastmath={"contract"}`` only: multiply-adds may fuse
  into FMA instructions (one rounding instead of two); no other IEEE rule is
  relaxed (NaN and inf keep their meaning, sums keep their order).
- The weighted variance reads the pool once: sums of deviations from the
  prediction of the member of largest weight (:func:`_mean_var_block`).
- Pool kernels run ``parallel=True`` over row blocks when the pool holds at
  least :data:`PARALLEL_MIN_ELEMENTS` values and a serial compiled loop
  otherwise (waking threads costs more than small pools take).

Signatures are lazy (compiled on first call for the dtypes and layouts seen)
and cached on disk (``cache=True``). Set the environment variable
``SKHYRE_NUMBA_CACHE=0`` before importing skhyre to turn the on-disk cache off.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np

__all__ = [
    "BATCHBALD_TOL",
    "BATCHBALD_TRIM",
    "CRITERION_BALD",
    "CRITERION_ENTROPY",
    "CRITERION_VARIANCE",
    "LOSS_ABSOLUTE",
    "LOSS_BRIER",
    "LOSS_LOG",
    "LOSS_SQUARED",
    "LOSS_ZERO_ONE",
    "MAX_DRIFT_GROWTH",
    "OUTPUT_PAIR",
    "OUTPUT_RAW",
    "OUTPUT_SOFTMAX",
    "PARALLEL_MIN_ELEMENTS",
    "absolute_loss",
    "add_member_losses_proba",
    "add_member_losses_regression",
    "argmax_allowed",
    "argmax_allowed_span",
    "bald_scores",
    "bald_scores_direct",
    "batchbald_select",
    "brier_loss",
    "entropy_scores",
    "log_loss",
    "log_softmax_weights",
    "loo_log_weights",
    "loo_weights",
    "member_entropies",
    "member_outputs",
    "mixture",
    "mixture_outputs",
    "pairwise_zero_one_loss",
    "proba_problems",
    "softmax_weights",
    "squared_loss",
    "update_cumulative_loss",
    "variance_scores",
    "weighted_mean_std",
    "weighted_mean_var_outputs",
    "zero_one_loss_labels",
    "zero_one_loss_proba",
]

CACHE = os.environ.get("SKHYRE_NUMBA_CACHE", "1").strip().lower() not in {"0", "false", "no"}

_OPTS = {"cache": CACHE, "nogil": True, "fastmath": {"contract"}, "error_model": "numpy"}
_jit = numba.njit(**_OPTS)
_pjit = numba.njit(parallel=True, **_OPTS)

#: Pools with fewer values (``K * n * C`` or ``K * n``) run the serial kernels:
#: about 4 ms of serial work, so waking the threads (tens of microseconds on an
#: idle machine, milliseconds on an oversubscribed one) never dominates.
PARALLEL_MIN_ELEMENTS = 1 << 22

# Values (rows * classes) per block of a (K, n, C) pool: long enough runs of
# each member's slab for the hardware prefetcher (16 KiB of float32), short
# enough that the float64 accumulator and the log scratch (3 x 32 KiB) stay in L2.
_BLOCK_VALUES = 4096
# Rows per block of a (K, n) regression pool: 16 KiB runs of each float32 row.
_BLOCK_COLS = 4096

CRITERION_ENTROPY = 0
CRITERION_BALD = 1
CRITERION_VARIANCE = 2

LOSS_ZERO_ONE = 0
LOSS_LOG = 1
LOSS_BRIER = 2
LOSS_SQUARED = 3
LOSS_ABSOLUTE = 4


def _use_parallel(n_values: int) -> bool:
    return n_values >= PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1


# --------------------------------------------------------------------------
# per-member, per-example losses
# --------------------------------------------------------------------------
@_jit
def _row_has_nan(P, k, i):
    for c in range(P.shape[2]):
        if np.isnan(P[k, i, c]):
            return True
    return False


@_jit
def _zero_one_row(P, k, i, yi):
    """0-1 loss of member ``k``'s most probable class, a tie broken at random.

    The expected loss when a fair draw picks among the ``t`` tied classes:
    ``1 - 1/t`` if the label is one of them, else 1 (a two-way tie with the
    label costs 1/2, as a tied preference pair does).
    """
    best_v = P[k, i, 0]
    for c in range(1, P.shape[2]):
        if P[k, i, c] > best_v:
            best_v = P[k, i, c]
    if P[k, i, yi] != best_v:
        return 1.0
    tied = 0
    for c in range(P.shape[2]):
        if P[k, i, c] == best_v:
            tied += 1
    return 1.0 - 1.0 / tied


@_jit
def zero_one_loss_proba(P, y):
    """0-1 loss of each member's most probable class; ties cost ``1 - 1/t``.

    A member whose top probability is shared by ``t`` classes, the label
    among them, is charged the expected loss of a random pick among them,
    so no class is favoured by its index. NaN where the member's
    probability row holds a NaN.
    """
    K, n = P.shape[0], P.shape[1]
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            if _row_has_nan(P, k, i):
                out[k, i] = np.nan
            else:
                out[k, i] = _zero_one_row(P, k, i, y[i])
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
    """Negative log-probability of the true class, clipped below at ``eps``.

    NaN where the member's probability row holds a NaN.
    """
    K, n = P.shape[0], P.shape[1]
    out = np.empty((K, n), dtype=np.float64)
    for k in range(K):
        for i in range(n):
            if _row_has_nan(P, k, i):
                out[k, i] = np.nan
            else:
                out[k, i] = -math.log(max(np.float64(P[k, i, y[i]]), eps))
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
def _softmax_weights(cum_loss, temperature, log_prior, logw, w):
    """Fill ``logw`` with ``log softmax(-L / T + log_prior)`` and ``w`` with its exp.

    One ``exp`` per member (shared by both outputs) and one ``log``. Returns
    False when no member is left to weight (every member NaN or of zero prior),
    in which case ``logw`` is all -inf and ``w`` all 0.
    """
    K = cum_loss.shape[0]
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
        logw[k] = a
        if a > amax:
            amax = a
    if amax == -np.inf:
        for k in range(K):
            w[k] = 0.0
        return False
    # sum of exp(a - amax) = 1 + rest: log1p(rest) keeps the log-weights of
    # dominant members accurate to the last bits (log(s) would not, for s ~ 1)
    kmax = -1
    rest = 0.0
    for k in range(K):
        if kmax == -1 and logw[k] == amax:
            kmax = k
            w[k] = 1.0
        else:
            e = math.exp(logw[k] - amax) if logw[k] > -np.inf else 0.0
            w[k] = e
            rest += e
    lrest = math.log1p(rest)
    s = 1.0 + rest
    for k in range(K):
        logw[k] = (logw[k] - amax) - lrest  # not logw - (amax + lrest): that rounds at |amax|
        w[k] = w[k] / s
    return True


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
    logw = np.empty(K, dtype=np.float64)
    w = np.empty(K, dtype=np.float64)
    _softmax_weights(cum_loss, temperature, log_prior, logw, w)
    return logw


@_jit
def softmax_weights(cum_loss, temperature, log_prior, logw, w):
    """Fill ``logw`` (log-weights) and ``w`` (weights summing to 1), both ``(K,)``.

    The same rules as :func:`log_softmax_weights`; returns False (and all-zero
    ``w``) when no member is left to weight.
    """
    return _softmax_weights(cum_loss, temperature, log_prior, logw, w)


@_jit
def update_cumulative_loss(cum_loss, losses, temperature, log_prior, new_cum, logw, w):
    """One :class:`~skhyre.reweighting.HypothesisWeights` update, fused.

    ``losses`` is ``(K, n)`` (a ``(K,)`` update is passed as ``(K, 1)``). Each
    member's losses are added to its cumulative loss one example at a time,
    in order, so a batch update and its examples one by one give bit-identical
    cumulative losses (coherence). Fills ``new_cum``, ``logw`` and ``w``
    (``(K,)`` each).

    Returns ``(status, n_new_nan, n_inf)``: ``status`` is 0 on success, 1
    when ``losses`` holds -inf, 2 when no member is left to weight (every
    member NaN or of zero prior); ``n_new_nan`` counts members whose
    cumulative loss became NaN with this update, ``n_inf`` those whose
    cumulative loss is now infinite (the caller then checks for an overflow).
    On ``status != 0`` the outputs are meaningless.
    """
    K, n = losses.shape
    k = 0
    while k + 4 <= K:  # four members at a time: independent chains of in-order adds
        s0, s1, s2, s3 = cum_loss[k], cum_loss[k + 1], cum_loss[k + 2], cum_loss[k + 3]
        for j in range(n):
            s0 += losses[k, j]
            s1 += losses[k + 1, j]
            s2 += losses[k + 2, j]
            s3 += losses[k + 3, j]
        new_cum[k], new_cum[k + 1], new_cum[k + 2], new_cum[k + 3] = s0, s1, s2, s3
        k += 4
    while k < K:
        s0 = cum_loss[k]
        for j in range(n):
            s0 += losses[k, j]
        new_cum[k] = s0
        k += 1
    n_new_nan = 0
    n_inf = 0
    for k in range(K):
        v = new_cum[k]
        if v == np.inf:
            n_inf += 1
        elif v == -np.inf or np.isnan(v):
            for j in range(n):
                if losses[k, j] == -np.inf:
                    return 1, 0, 0
            if v == -np.inf:
                n_inf += 1
            elif not np.isnan(cum_loss[k]):
                n_new_nan += 1
    if not _softmax_weights(new_cum, temperature, log_prior, logw, w):
        return 2, n_new_nan, n_inf
    return 0, n_new_nan, n_inf


@_jit
def _weights_from_log(logw):
    K = logw.shape[0]
    w = np.empty(K, dtype=np.float64)
    for k in range(K):
        w[k] = math.exp(logw[k]) if logw[k] > -np.inf else 0.0
    return w


@_jit
def _nonzero_members(w):
    """Indices of the members with a non-zero weight (they are the only ones read)."""
    K = w.shape[0]
    idx = np.empty(K, dtype=np.int64)
    m = 0
    for k in range(K):
        if w[k] != 0.0:
            idx[m] = k
            m += 1
    return idx[:m]


# --------------------------------------------------------------------------
# vectorised building blocks over one block of rows
# --------------------------------------------------------------------------
# fdlibm e_log.c: log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_MANTISSA = np.int64(0x000FFFFFFFFFFFFF)
_EXPONENT_ONE = np.int64(0x3FF0000000000000)
_SQRT2_OFFSET = np.int64(0x95F6400000000)  # mantissa >= sqrt(2) - 1 carries into bit 52
_BIT52 = np.int64(0x0010000000000000)


@_jit
def _xlogx_inplace(x, ibuf, kbuf):
    """``x[j] <- x[j] * log(x[j])`` for a contiguous float64 ``x``; 0 where ``x[j] <= 0``.

    Branch-free, so LLVM vectorises it (``math.log`` is a scalar libm call).
    ``x = m * 2^e`` with ``m`` in ``[sqrt(2)/2, sqrt(2))`` from the bits, then
    fdlibm's polynomial for ``log(m)``: within 2 ulp of ``math.log`` for
    normal numbers. Subnormal inputs (below 2.2e-308) get an approximate log,
    which changes ``x log x`` by less than 1e-305. ``ibuf`` (int64) and
    ``kbuf`` (float64) are scratch of at least ``x``'s length.
    """
    n = x.shape[0]
    bits = x.view(np.int64)
    for j in range(n):
        b = bits[j]
        mant = b & _MANTISSA
        carry = (mant + _SQRT2_OFFSET) & _BIT52
        ibuf[j] = mant | (carry ^ _EXPONENT_ONE)
        kbuf[j] = np.float64(np.int32(((b >> 52) & 0x7FF) - 1023 + (carry >> 52)))
    m = ibuf.view(np.float64)
    for j in range(n):
        f = m[j] - 1.0
        e = kbuf[j]
        s = f / (2.0 + f)
        z = s * s
        z2 = z * z
        t1 = z2 * (_LG2 + z2 * (_LG4 + z2 * _LG6))
        t2 = z * (_LG1 + z2 * (_LG3 + z2 * (_LG5 + z2 * _LG7)))
        hfsq = 0.5 * f * f
        lg = e * _LN2_HI - ((hfsq - (s * (hfsq + t1 + t2) + e * _LN2_LO)) - f)
        v = x[j]
        x[j] = v * lg if v > 0.0 else 0.0


@_jit
def _rows(P, k, i0, i1):
    """``P[k, i0:i1]`` as a flat contiguous 1-D array: a view for a C-ordered array.

    ``P`` is a ``(K, n, C)`` pool or a ``(K, n)`` matrix (then ``C = 1``).
    """
    block = np.ascontiguousarray(P[k, i0:i1])
    return block.reshape(block.size)


@_jit
def _seg(F, k, i0, i1):
    """``F[k, i0:i1]`` as a contiguous 1-D array: a view for a C-ordered matrix."""
    return np.ascontiguousarray(F[k, i0:i1])


@_jit
def _mix_rows(P, w, nz, i0, i1, acc):
    """``acc = sum_{k in nz} w_k P[k, i0:i1].ravel()``, four members per pass.

    ``P`` is a ``(K, n, C)`` pool or a ``(K, n)`` matrix (member entropies).
    """
    m = acc.shape[0]
    for j in range(m):
        acc[j] = 0.0
    K = nz.shape[0]
    q = 0
    while q + 4 <= K:
        w0, w1, w2, w3 = w[nz[q]], w[nz[q + 1]], w[nz[q + 2]], w[nz[q + 3]]
        r0 = _rows(P, nz[q], i0, i1)
        r1 = _rows(P, nz[q + 1], i0, i1)
        r2 = _rows(P, nz[q + 2], i0, i1)
        r3 = _rows(P, nz[q + 3], i0, i1)
        for j in range(m):
            acc[j] += (w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j])
        q += 4
    while q < K:
        wk = w[nz[q]]
        r0 = _rows(P, nz[q], i0, i1)
        for j in range(m):
            acc[j] += wk * r0[j]
        q += 1


@_jit
def _neg_row_sums(x, C, out, o0):
    """``out[o0 + r] = -sum_c x[r * C + c]`` for every row r of the flat block ``x``."""
    for r in range(x.shape[0] // C):
        s = 0.0
        for c in range(C):
            s += x[r * C + c]
        out[o0 + r] = -s


def _block_rows(C: int) -> int:
    return max(1, _BLOCK_VALUES // max(1, C))


# --------------------------------------------------------------------------
# pool scoring: one block function each, a serial and a parallel driver
# --------------------------------------------------------------------------
@_jit
def _member_entropies_block(P, i0, i1, out):
    C = P.shape[2]
    m = (i1 - i0) * C
    buf = np.empty(m, dtype=np.float64)
    ib = np.empty(m, dtype=np.int64)
    kb = np.empty(m, dtype=np.float64)
    row = np.empty(i1 - i0, dtype=np.float64)
    for k in range(P.shape[0]):
        r = _rows(P, k, i0, i1)
        for j in range(m):
            buf[j] = r[j]
        _xlogx_inplace(buf, ib, kb)
        _neg_row_sums(buf, C, row, np.int64(0))
        for j in range(i1 - i0):
            out[k, i0 + j] = row[j]


@_jit
def _member_entropies_serial(P, B):
    K, n, _C = P.shape
    out = np.empty((K, n), dtype=np.float64)
    for b in range((n + B - 1) // B):
        _member_entropies_block(P, b * B, min(n, b * B + B), out)
    return out


@_pjit
def _member_entropies_parallel(P, B):
    K, n, _C = P.shape
    out = np.empty((K, n), dtype=np.float64)
    for b in numba.prange((n + B - 1) // B):
        _member_entropies_block(P, b * B, min(n, b * B + B), out)
    return out


def member_entropies(P):
    """Entropy of every member's predictive distribution, ``(K, n)`` float64."""
    B = _block_rows(P.shape[2])
    if _use_parallel(P.size):
        return _member_entropies_parallel(P, B)
    return _member_entropies_serial(P, B)


@_jit
def _nonfinite_row_flags(acc, C):
    """Per row of the flat ``(rows * C)`` mixture ``acc``: 0, or NaN where it is not finite.

    Empty when every value is finite (the usual case), so callers skip the row
    loop. That check reads the exponent bits (all ones only for NaN and inf):
    an integer OR, which vectorises, where a float sum would be one serial chain.
    """
    bits = acc.view(np.int64)
    f = 0
    for j in range(acc.shape[0]):
        f |= (((bits[j] >> 52) & 0x7FF) + 1) >> 11
    if f == 0:
        return np.empty(0, dtype=np.float64)
    rows = acc.shape[0] // C
    bad = np.zeros(rows, dtype=np.float64)
    for j in range(rows):
        z = 0.0
        for c in range(C):
            z += acc[j * C + c] * 0.0  # NaN * 0 and inf * 0 are NaN
        bad[j] = z
    return bad


@_jit
def _mixture_block(P, w, nz, i0, i1, out):
    C = P.shape[2]
    flat = out.reshape(out.shape[0] * C)
    _mix_rows(P, w, nz, i0, i1, flat[i0 * C : i1 * C])


@_jit
def _mixture_serial(P, w, B):
    _K, n, C = P.shape
    out = np.empty((n, C), dtype=np.float64)
    nz = _nonzero_members(w)
    for b in range((n + B - 1) // B):
        _mixture_block(P, w, nz, b * B, min(n, b * B + B), out)
    return out


@_pjit
def _mixture_parallel(P, w, B):
    _K, n, C = P.shape
    out = np.empty((n, C), dtype=np.float64)
    nz = _nonzero_members(w)
    for b in numba.prange((n + B - 1) // B):
        _mixture_block(P, w, nz, b * B, min(n, b * B + B), out)
    return out


def mixture(P, w):
    """Weighted mixture ``sum_k w_k P[k]``, ``(n, C)`` float64."""
    B = _block_rows(P.shape[2])
    if _use_parallel(P.size):
        return _mixture_parallel(P, w, B)
    return _mixture_serial(P, w, B)


@_jit
def _mixture_scores_block(P, w, nz, Hm, with_bald, i0, i1, out):
    """Entropy (or BALD when ``with_bald``) of the weighted mixture for rows i0..i1.

    A row whose mixture is not finite (a weighted member predicts NaN or inf
    there) scores NaN: ``x log x`` alone would read NaN as 0.
    """
    C = P.shape[2]
    rows = i1 - i0
    m = rows * C
    acc = np.empty(m, dtype=np.float64)
    ib = np.empty(m, dtype=np.int64)
    kb = np.empty(m, dtype=np.float64)
    _mix_rows(P, w, nz, i0, i1, acc)
    bad = _nonfinite_row_flags(acc, C)
    _xlogx_inplace(acc, ib, kb)
    _neg_row_sums(acc, C, out, i0)
    if with_bald:
        e = np.empty(rows, dtype=np.float64)
        _mix_rows(Hm, w, nz, i0, i1, e)
        for j in range(rows):
            out[i0 + j] = max(out[i0 + j] - e[j], 0.0)
    if bad.size:
        for j in range(rows):
            out[i0 + j] += bad[j]


@_jit
def _mixture_scores_serial(P, w, Hm, with_bald, B):
    n = P.shape[1]
    out = np.empty(n, dtype=np.float64)
    nz = _nonzero_members(w)
    for b in range((n + B - 1) // B):
        _mixture_scores_block(P, w, nz, Hm, with_bald, b * B, min(n, b * B + B), out)
    return out


@_pjit
def _mixture_scores_parallel(P, w, Hm, with_bald, B):
    n = P.shape[1]
    out = np.empty(n, dtype=np.float64)
    nz = _nonzero_members(w)
    for b in numba.prange((n + B - 1) // B):
        _mixture_scores_block(P, w, nz, Hm, with_bald, b * B, min(n, b * B + B), out)
    return out


def _mixture_scores(P, w, Hm, with_bald):
    B = _block_rows(P.shape[2])
    if _use_parallel(P.size):
        return _mixture_scores_parallel(P, w, Hm, with_bald, B)
    return _mixture_scores_serial(P, w, Hm, with_bald, B)


_NO_HM = np.zeros((1, 1), dtype=np.float64)


def entropy_scores(P, w):
    """Entropy of the weighted mixture, ``H[sum_k w_k p_k(x)]``, ``(n,)``.

    NaN where a member of nonzero weight predicts NaN or inf (as in :func:`bald_scores`).
    """
    return _mixture_scores(P, w, _NO_HM, False)


def bald_scores(P, w, Hm):
    """BALD ``H[sum_k w_k p_k] - sum_k w_k H[p_k]`` clamped at 0, ``(n,)``.

    ``Hm`` holds the member entropies ``(K, n)`` (:func:`member_entropies`),
    computed once per pool: they do not depend on the weights.
    """
    return _mixture_scores(P, w, Hm, True)


@_jit
def _bald_direct_block(P, w, nz, i0, i1, out):
    """BALD of rows i0..i1 computed from ``P`` alone (member entropies on the fly).

    The same arithmetic, in the same order, as :func:`_member_entropies_block`
    followed by :func:`_mixture_scores_block` with ``with_bald``: the member
    entropies of the block go to a ``(K, rows)`` scratch (only the members of
    non-zero weight are computed and read) and are mixed by :func:`_mix_rows`,
    so the scores are those of :func:`bald_scores`, without its ``(K, n)``
    float64 matrix.
    """
    K, _n, C = P.shape
    rows = i1 - i0
    m = rows * C
    acc = np.empty(m, dtype=np.float64)
    buf = np.empty(m, dtype=np.float64)
    ib = np.empty(m, dtype=np.int64)
    kb = np.empty(m, dtype=np.float64)
    hm = np.zeros((K, rows), dtype=np.float64)
    for q in range(nz.shape[0]):
        k = nz[q]
        r = _rows(P, k, i0, i1)
        for j in range(m):
            buf[j] = r[j]
        _xlogx_inplace(buf, ib, kb)
        _neg_row_sums(buf, C, hm[k], np.int64(0))
    _mix_rows(P, w, nz, i0, i1, acc)
    bad = _nonfinite_row_flags(acc, C)
    _xlogx_inplace(acc, ib, kb)
    _neg_row_sums(acc, C, out, i0)
    e = np.empty(rows, dtype=np.float64)
    _mix_rows(hm, w, nz, np.int64(0), rows, e)
    for j in range(rows):
        out[i0 + j] = max(out[i0 + j] - e[j], 0.0)
    if bad.size:
        for j in range(rows):
            out[i0 + j] += bad[j]


@_jit
def _bald_direct_serial(P, w, B):
    n = P.shape[1]
    out = np.empty(n, dtype=np.float64)
    nz = _nonzero_members(w)
    for b in range((n + B - 1) // B):
        _bald_direct_block(P, w, nz, b * B, min(n, b * B + B), out)
    return out


@_pjit
def _bald_direct_parallel(P, w, B):
    n = P.shape[1]
    out = np.empty(n, dtype=np.float64)
    nz = _nonzero_members(w)
    for b in numba.prange((n + B - 1) // B):
        _bald_direct_block(P, w, nz, b * B, min(n, b * B + B), out)
    return out


#: Values (rows * classes) per block of :func:`bald_scores_direct`: its
#: ``(K, rows)`` scratch of member entropies stays in L2 (100 members: 160 KiB).
_DIRECT_BLOCK_VALUES = 2048


def bald_scores_direct(P, w):
    """:func:`bald_scores` without cached member entropies: one pass over ``P``.

    Equal to ``bald_scores(P, w, member_entropies(P))`` (the same operations
    in the same order) but never holds the ``(K, n)`` float64 matrix of member
    entropies: extra memory is the ``(n,)`` output and per-thread scratch.
    """
    B = max(1, _DIRECT_BLOCK_VALUES // max(1, P.shape[2]))
    if _use_parallel(P.size):
        return _bald_direct_parallel(P, w, B)
    return _bald_direct_serial(P, w, B)


@_jit
def _mean_var_block(F, w, nz, kref, i0, i1, mean, var):
    """Weighted mean and variance of ``F[:, i0:i1]`` in one pass over the block.

    Shifted sums around ``ref = F[kref]``, the prediction of the member of
    largest weight: ``s1 = sum_k w_k d_k``, ``s2 = sum_k w_k d_k^2`` with
    ``d_k = f_k - ref``. That member is typical of the mixture
    (``w_ref (f_ref - mean)^2 <= var``), so ``(mean - ref)^2 <= var / w_ref <= K var``
    and ``var = s2 - s1^2`` loses at most about ``log2(K)`` bits to cancellation
    (the two-pass formula's accuracy, for one read of the pool).
    """
    m = i1 - i0
    s1 = mean[i0:i1]
    s2 = var[i0:i1]
    for j in range(m):
        s1[j] = 0.0
        s2[j] = 0.0
    ref = _seg(F, kref, i0, i1)
    K = nz.shape[0]
    W = 0.0
    q = 0
    while q + 4 <= K:
        w0, w1, w2, w3 = w[nz[q]], w[nz[q + 1]], w[nz[q + 2]], w[nz[q + 3]]
        W += (w0 + w1) + (w2 + w3)
        r0 = _seg(F, nz[q], i0, i1)
        r1 = _seg(F, nz[q + 1], i0, i1)
        r2 = _seg(F, nz[q + 2], i0, i1)
        r3 = _seg(F, nz[q + 3], i0, i1)
        for j in range(m):
            rf = np.float64(ref[j])
            d0 = r0[j] - rf
            d1 = r1[j] - rf
            d2 = r2[j] - rf
            d3 = r3[j] - rf
            t0 = w0 * d0
            t1 = w1 * d1
            t2 = w2 * d2
            t3 = w3 * d3
            s1[j] += (t0 + t1) + (t2 + t3)
            s2[j] += (t0 * d0 + t1 * d1) + (t2 * d2 + t3 * d3)
        q += 4
    while q < K:
        wk = w[nz[q]]
        W += wk
        r0 = _seg(F, nz[q], i0, i1)
        for j in range(m):
            d0 = r0[j] - np.float64(ref[j])
            t0 = wk * d0
            s1[j] += t0
            s2[j] += t0 * d0
        q += 1
    # mean = sum_k w_k f_k = W ref + s1; var = sum_k w_k (f_k - mean)^2 = s2 - 2 c s1 + W c^2
    # with c = mean - ref (W is 1 up to rounding for normalised weights)
    for j in range(m):
        rf = np.float64(ref[j])
        a = s1[j]
        c = (W - 1.0) * rf + a
        mean[i0 + j] = W * rf + a
        var[i0 + j] = max(s2[j] - 2.0 * c * a + W * c * c, 0.0)


@_jit
def _argmax_weight(w):
    best = 0
    for k in range(1, w.shape[0]):
        if w[k] > w[best]:
            best = k
    return best


@_jit
def _mean_var_serial(F, w, B):
    n = F.shape[1]
    mean = np.empty(n, dtype=np.float64)
    var = np.empty(n, dtype=np.float64)
    nz = _nonzero_members(w)
    kref = _argmax_weight(w)
    for b in range((n + B - 1) // B):
        _mean_var_block(F, w, nz, kref, b * B, min(n, b * B + B), mean, var)
    return mean, var


@_pjit
def _mean_var_parallel(F, w, B):
    n = F.shape[1]
    mean = np.empty(n, dtype=np.float64)
    var = np.empty(n, dtype=np.float64)
    nz = _nonzero_members(w)
    kref = _argmax_weight(w)
    for b in numba.prange((n + B - 1) // B):
        _mean_var_block(F, w, nz, kref, b * B, min(n, b * B + B), mean, var)
    return mean, var


def _block_cols(K: int) -> int:
    return _BLOCK_COLS


def _mean_var(F, w):
    B = _block_cols(F.shape[0])
    if _use_parallel(F.size):
        return _mean_var_parallel(F, w, B)
    return _mean_var_serial(F, w, B)


def weighted_mean_std(F, w):
    """Weighted mean and standard deviation over members, each ``(n,)``.

    One pass over the pool: sums shifted by the prediction of the member of
    largest weight, which keeps the two-pass formula's accuracy.
    """
    mean, var = _mean_var(F, w)
    return mean, np.sqrt(var, out=var)


def variance_scores(F, w):
    """Weighted variance of the member predictions ``sum_k w_k (f_k - f)^2``."""
    return _mean_var(F, w)[1]


# --------------------------------------------------------------------------
# sequential selection over a cached pool (simulation mode: labels known)
# --------------------------------------------------------------------------
@_jit
def argmax_allowed(scores, taken):
    """First index of the highest score among rows not taken (NaN counts as -inf);
    -1 when every row is taken."""
    best = -1
    best_v = -np.inf
    for i in range(scores.shape[0]):
        if taken[i]:
            continue
        v = scores[i]
        if np.isnan(v):
            v = -np.inf
        if best == -1 or v > best_v:
            best = i
            best_v = v
    return best


@_jit
def argmax_allowed_span(scores, taken):
    """:func:`argmax_allowed` and, in the same pass, the smallest and largest finite
    score among rows not taken: ``(index, lo, hi)``; ``lo > hi`` (``inf``, ``-inf``)
    when no such score exists."""
    best = -1
    best_v = -np.inf
    lo = np.inf
    hi = -np.inf
    for i in range(scores.shape[0]):
        if taken[i]:
            continue
        v = scores[i]
        if np.isnan(v):
            v = -np.inf
        elif np.isfinite(v):
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        if best == -1 or v > best_v:
            best = i
            best_v = v
    return best, lo, hi


@_jit
def _member_loss_proba(P, k, i, yi, loss, eps):
    """Member ``k``'s loss on row ``i``: NaN where its probabilities hold a NaN, as in
    :func:`zero_one_loss_proba` (so the member gets weight 0, not a loss of 1)."""
    if _row_has_nan(P, k, i):
        return np.nan
    if loss == LOSS_ZERO_ONE:
        return _zero_one_row(P, k, i, yi)
    elif loss == LOSS_LOG:
        return -math.log(max(np.float64(P[k, i, yi]), eps))
    else:
        s = 0.0
        for c in range(P.shape[2]):
            d = np.float64(P[k, i, c]) - (1.0 if c == yi else 0.0)
            s += d * d
        return s


@_jit
def _refresh_block(P, Hm, with_bald, s, coef, members, full, i0, i1, M, Hbar, scores):
    """Update the cached mixture of rows i0..i1 and re-score them.

    ``full``: ``M = sum_{k in members} coef_k P_k`` (a re-sum from scratch);
    otherwise ``M = s * M + sum_{k in members} coef_k P_k`` (incremental).
    ``Hbar`` (BALD) likewise with the member entropies ``Hm``. Then
    ``scores`` = entropy of ``M`` (minus ``Hbar``, clamped at 0, for BALD);
    NaN where ``M`` is not finite, as in :func:`_mixture_scores_block`.
    """
    C = P.shape[2]
    rows = i1 - i0
    m = rows * C
    Mb = M[i0 * C : i1 * C]
    acc = np.empty(m, dtype=np.float64)
    _mix_rows(P, coef, members, i0, i1, acc)
    if full:
        for j in range(m):
            Mb[j] = acc[j]
    else:
        for j in range(m):
            Mb[j] = s * Mb[j] + acc[j]
    for j in range(m):
        acc[j] = Mb[j]
    bad = _nonfinite_row_flags(acc, C)
    ib = np.empty(m, dtype=np.int64)
    kb = np.empty(m, dtype=np.float64)
    _xlogx_inplace(acc, ib, kb)
    _neg_row_sums(acc, C, scores, i0)
    if with_bald:
        e = np.empty(rows, dtype=np.float64)
        _mix_rows(Hm, coef, members, i0, i1, e)
        for j in range(rows):
            h = e[j] if full else s * Hbar[i0 + j] + e[j]
            Hbar[i0 + j] = h
            scores[i0 + j] = max(scores[i0 + j] - h, 0.0)
    if bad.size:
        for j in range(rows):
            scores[i0 + j] += bad[j]


@_jit
def _refresh_serial(P, Hm, with_bald, s, coef, members, full, B, M, Hbar, scores):
    n = P.shape[1]
    for b in range((n + B - 1) // B):
        _refresh_block(
            P, Hm, with_bald, s, coef, members, full, b * B, min(n, b * B + B), M, Hbar, scores
        )


@_pjit
def _refresh_parallel(P, Hm, with_bald, s, coef, members, full, B, M, Hbar, scores):
    n = P.shape[1]
    for b in numba.prange((n + B - 1) // B):
        _refresh_block(
            P, Hm, with_bald, s, coef, members, full, b * B, min(n, b * B + B), M, Hbar, scores
        )


def _refresh(P, Hm, with_bald, s, coef, members, full, B, parallel, M, Hbar, scores):
    """One mixture refresh of the sequential loop, by the serial or parallel driver
    (chosen here, in Python, so that only the driver used is compiled)."""
    driver = _refresh_parallel if parallel else _refresh_serial
    driver(P, Hm, with_bald, s, coef, members, bool(full), B, M, Hbar, scores)


@_jit
def _modal_loss(lrow, w):
    """The loss value shared by the most members of non-zero weight (lowest on ties)."""
    vals = np.sort(lrow[w > 0.0])
    best = vals[0]
    best_count = 0
    j = 0
    while j < vals.shape[0]:
        j1 = j
        while j1 < vals.shape[0] and vals[j1] == vals[j]:
            j1 += 1
        if j1 - j > best_count:
            best_count = j1 - j
            best = vals[j]
        j = j1
    return best


#: Largest product of the incremental updates' scale factors ``max(s, 1)``
#: since the last re-sum: ``M <- s M + ...`` multiplies the rounding error
#: already in ``M`` by ``s`` (rows of ``M`` sum to 1, so the absolute error
#: stays below about ``MAX_DRIFT_GROWTH * resum_every`` ulp, 6e-14 by default).
MAX_DRIFT_GROWTH = 64.0


@_jit
def _incremental_plan(lrow, w, w_new, coef, changed):
    """How to update the cached mixture after one label, reading few members.

    The members of non-zero weight sharing the row's most common loss value
    (the base group) all change weight by one factor ``s``, so
    ``M_new = s * M_old + sum_{k in changed} coef_k P_k`` with
    ``coef_k = w_new_k - s * w_k`` over the other members (and the members
    whose weight comes back from an underflow to 0). Fills ``coef`` and
    ``changed`` and returns ``(s, n_changed)``. ``s`` is taken from the base
    member of largest weight (the most accurate ratio); it is not finite or
    not positive when the update is impossible (the caller re-sums then).
    """
    K = lrow.shape[0]
    base = _modal_loss(lrow, w)
    kb = -1
    for k in range(K):
        if w[k] > 0.0 and lrow[k] == base and (kb == -1 or w[k] > w[kb]):
            kb = k
    s = w_new[kb] / w[kb]
    n_changed = 0
    for k in range(K):
        if (w[k] > 0.0 and lrow[k] != base) or (w[k] == 0.0 and w_new[k] > 0.0):
            coef[k] = w_new[k] - s * w[k]
            changed[n_changed] = k
            n_changed += 1
    return s, n_changed


@_jit
def _drops_a_member(w, w_new):
    """Whether a member of non-zero weight now has weight 0 (a NaN loss, or an underflow).

    Its share cannot be subtracted from the cached mixture: where its
    probabilities are NaN or inf, ``M - w_k P_k`` stays NaN (the rows would
    score NaN and be picked last for good), and elsewhere it leaves rounding
    behind. A re-sum leaves it out exactly.
    """
    for k in range(w.shape[0]):
        if w[k] > 0.0 and w_new[k] == 0.0:
            return True
    return False


@_jit
def _next_refresh(lrow, w, w_new, since, resum_every, growth, coef, changed):
    """Decide how the sequential loop refreshes its mixture after one label.

    ``lrow``: the members' losses on the new label; ``w``, ``w_new``: the
    weights before and after it; ``since``: incremental updates since the last
    re-sum; ``growth``: the product of their ``max(s, 1)``. Incremental when
    fewer than ``resum_every`` updates were made since the last re-sum, the
    drift growth stays within :data:`MAX_DRIFT_GROWTH`, no member drops to
    weight 0 (:func:`_drops_a_member`) and it reads fewer members than a
    re-sum would; otherwise a re-sum from ``w_new``.

    Returns ``(incremental, s, n_changed, since, growth)`` with the state for
    the next step; when incremental, ``coef`` and ``changed[:n_changed]``
    hold the update (see :func:`_incremental_plan`).
    """
    K = lrow.shape[0]
    if since + 1 < resum_every and not _drops_a_member(w, w_new):
        s, n_changed = _incremental_plan(lrow, w, w_new, coef, changed)
        g = growth * max(s, 1.0)
        if s > 0.0 and g <= MAX_DRIFT_GROWTH and n_changed + 2 < K:
            return True, s, n_changed, since + 1, g
    return False, 0.0, 0, 0, 1.0


@_jit
def add_member_losses_proba(P, i, yi, loss, eps, cum_loss, lrow):
    """The sequential loop's step: members' losses on row ``i`` of ``P`` (label ``yi``)
    into ``lrow``, added to ``cum_loss``."""
    for k in range(P.shape[0]):
        lrow[k] = _member_loss_proba(P, k, i, yi, loss, eps)
        cum_loss[k] += lrow[k]


@_jit
def add_member_losses_regression(F, i, yi, loss, scale, cum_loss):
    """The sequential loop's step for regression: ``scale`` times the members' squared
    or absolute errors on row ``i`` of ``F`` (target ``yi``), added to ``cum_loss``."""
    for k in range(F.shape[0]):
        d = np.float64(F[k, i]) - np.float64(yi)
        if loss == LOSS_SQUARED:
            cum_loss[k] += scale * d * d
        else:
            cum_loss[k] += scale * abs(d)


# --------------------------------------------------------------------------
# BatchBALD over the K weighted members (greedy, lazy, exact or sampled)
# --------------------------------------------------------------------------
#: In sampled mode, a configuration's members whose posterior is below this
#: fraction of its largest are dropped (the rest renormalised): they move the
#: configuration's terms by less than about ``K * 1e-9 * log(C / 1e-9)`` nats,
#: far below the sampling error, and late in a batch, when each configuration
#: has ruled out most members, a handful of members is left to read.
BATCHBALD_TRIM = 1e-9
#: Candidates whose upper bound is within this of the best gain found in a
#: step are evaluated too (rounding must not skip a tie).
BATCHBALD_TOL = 1e-10
#: Below this many multiply-adds per evaluation round, the serial kernel runs.
_BB_PARALLEL_MIN_WORK = 1 << 20
#: Values (candidates * classes) per tile of :func:`_bb_tile`: each
#: configuration's posterior is read once per tile, and the tile's float64
#: copy of the members' rows (100 members: 125 KiB) stays in L2.
_BB_TILE_VALUES = 160


@_jit
def _bb_tile(P, nz, cand, g0, g1, ptr, kidx, val, v, wbar, out):
    """Conditional mutual information of candidates ``cand[g0:g1]`` with the member.

    Configuration ``m`` of the batch's labels has weight ``v[m]`` and member
    posterior ``val[ptr[m]:ptr[m+1]]`` over members ``nz[kidx[...]]``; for a
    candidate ``x``, ``out = sum_m v_m H[sum_k pi_m(k) p_k(x)] - sum_k
    wbar_k H[p_k(x)]`` with ``wbar = sum_m v_m pi_m``: the ``v``-weighted
    BALD of ``x`` under each configuration's posterior, ``I(y_x; member |
    batch labels)``. NaN where a member of non-zero weight predicts NaN or
    inf for the candidate (``x log x`` alone would read NaN as 0).
    """
    C = P.shape[2]
    Kz = nz.shape[0]
    G = g1 - g0
    GC = G * C
    X = np.empty((Kz, GC), dtype=np.float64)
    ib = np.empty(GC, dtype=np.int64)
    kb = np.empty(GC, dtype=np.float64)
    acc = np.empty(GC, dtype=np.float64)
    gain = np.zeros(G, dtype=np.float64)
    for q in range(Kz):
        k = nz[q]
        row = X[q]
        for g in range(G):
            i = cand[g0 + g]
            for c in range(C):
                x = np.float64(P[k, i, c])
                row[g * C + c] = x
                acc[g * C + c] = x
                if not np.isfinite(x):
                    gain[g] = np.nan
        _xlogx_inplace(acc, ib, kb)
        wq = wbar[q]
        for g in range(G):
            s = 0.0
            for c in range(C):
                s += acc[g * C + c]
            gain[g] += wq * s  # - wbar_k H[p_k(x)]
    for m in range(v.shape[0]):
        for t in range(GC):
            acc[t] = 0.0
        j = ptr[m]
        j1 = ptr[m + 1]
        while j + 4 <= j1:
            p0, p1, p2, p3 = val[j], val[j + 1], val[j + 2], val[j + 3]
            x0, x1, x2, x3 = X[kidx[j]], X[kidx[j + 1]], X[kidx[j + 2]], X[kidx[j + 3]]
            for t in range(GC):
                acc[t] += (p0 * x0[t] + p1 * x1[t]) + (p2 * x2[t] + p3 * x3[t])
            j += 4
        while j < j1:
            p0 = val[j]
            x0 = X[kidx[j]]
            for t in range(GC):
                acc[t] += p0 * x0[t]
            j += 1
        _xlogx_inplace(acc, ib, kb)
        vm = v[m]
        for g in range(G):
            s = 0.0
            for c in range(C):
                s += acc[g * C + c]
            gain[g] -= vm * s
    for g in range(G):
        out[g0 + g] = gain[g]


@_jit
def _bb_gains_serial(P, nz, cand, G, ptr, kidx, val, v, wbar, out):
    nc = cand.shape[0]
    for t in range((nc + G - 1) // G):
        _bb_tile(P, nz, cand, t * G, min(nc, t * G + G), ptr, kidx, val, v, wbar, out)


@_pjit
def _bb_gains_parallel(P, nz, cand, G, ptr, kidx, val, v, wbar, out):
    nc = cand.shape[0]
    for t in numba.prange((nc + G - 1) // G):
        _bb_tile(P, nz, cand, t * G, min(nc, t * G + G), ptr, kidx, val, v, wbar, out)


@_jit
def _bb_predictive(P, nz, i, ptr, kidx, val):
    """``J[m, c] = sum_k pi_m(k) p_k(c | x_i)``: the label of row ``i`` given each configuration."""
    C = P.shape[2]
    M = ptr.shape[0] - 1
    J = np.zeros((M, C), dtype=np.float64)
    for m in range(M):
        for j in range(ptr[m], ptr[m + 1]):
            p = val[j]
            k = nz[kidx[j]]
            for c in range(C):
                J[m, c] += p * np.float64(P[k, i, c])
    return J


@_jit
def _bb_children(P, nz, i, ptr, kidx, val, J, parent, label, trim):
    """Member posteriors of the configurations extended by row ``i``'s label.

    Child ``r`` is configuration ``parent[r]`` with label ``label[r]``:
    ``pi'(k) = pi(k) p_k(label | x_i) / J[parent, label]``, exact zeros
    dropped; with ``trim > 0``, entries below ``trim`` times the child's
    largest are dropped too and the rest renormalised. Returns the new
    ``(ptr, kidx, val)``.
    """
    R = parent.shape[0]
    size = 0
    for r in range(R):
        m = parent[r]
        size += ptr[m + 1] - ptr[m]
    nptr = np.zeros(R + 1, dtype=np.int64)
    nk = np.empty(size, dtype=np.int64)
    nv = np.empty(size, dtype=np.float64)
    o = 0
    for r in range(R):
        m = parent[r]
        c = label[r]
        z = J[m, c]
        start = o
        top = 0.0
        for j in range(ptr[m], ptr[m + 1]):
            q = kidx[j]
            p = val[j] * np.float64(P[nz[q], i, c]) / z
            if p > 0.0:
                nk[o] = q
                nv[o] = p
                top = max(top, p)
                o += 1
        if trim > 0.0:
            cut = trim * top
            kept = start
            s = 0.0
            for j in range(start, o):
                if nv[j] >= cut:
                    nk[kept] = nk[j]
                    nv[kept] = nv[j]
                    s += nv[j]
                    kept += 1
            if kept < o:
                for j in range(start, kept):
                    nv[j] /= s
            o = kept
        nptr[r + 1] = o
    return nptr, nk[:o].copy(), nv[:o].copy()


def _bb_tile_rows(C: int) -> int:
    """Candidates per tile of :func:`_bb_tile`: about 160 float64 values per configuration."""
    return max(1, _BB_TILE_VALUES // max(1, C))


def _bb_gains(P, nz, cand, ptr, kidx, val, v, wbar, out):
    G = _bb_tile_rows(P.shape[2])
    work = cand.shape[0] * val.shape[0] * P.shape[2]
    if work >= _BB_PARALLEL_MIN_WORK and cand.shape[0] > G and numba.get_num_threads() > 1:
        _bb_gains_parallel(P, nz, cand, G, ptr, kidx, val, v, wbar, out)
    else:
        _bb_gains_serial(P, nz, cand, G, ptr, kidx, val, v, wbar, out)


def _systematic(cdf, points):
    """Indices of ``points`` in the cumulative sums ``cdf`` (systematic resampling)."""
    j = np.searchsorted(cdf, points, side="right")
    return np.minimum(j, cdf.shape[0] - 1)


def batchbald_select(P, w, n_queries, exclude, max_configurations, rng, chunk=None):
    """Greedy BatchBALD over the K weighted members of ``P`` (``(K, n, C)``).

    Step ``t`` adds the row ``x`` of largest ``I(y_x; member | y_batch)``, the
    gain in the batch's mutual information ``I(y_batch; member)`` (the
    member is drawn from ``w``; labels are independent given the member).
    The batch's label configurations are kept with each member's posterior
    given them (``K x M``, as a sparse matrix), so a candidate's gain is
    ``sum_m v_m BALD_{pi_m}(x)``: the v-weighted BALD of ``x`` under each
    configuration's posterior (a Rao-Blackwellised form of BatchBALD's
    joint-entropy difference; equal to it when the configurations are
    enumerated).

    - Exact while the batch has at most ``max_configurations`` label
      configurations of non-zero probability (``v_m`` their probabilities);
      beyond, ``max_configurations`` configurations are drawn from the
      member mixture by systematic resampling (``v_m`` = multiplicity /
      ``max_configurations``) and each later pick extends every drawn
      configuration by a label drawn from its predictive distribution (again
      systematically), so they stay a sample of the joint; members with
      posterior below :data:`BATCHBALD_TRIM` of a configuration's largest
      are dropped from it.
    - Lazy (Minoux's accelerated greedy): by submodularity a candidate's gain
      can only shrink as the batch grows, so its last computed gain bounds
      it; each step evaluates candidates in order of their bounds and stops
      once the best gain found beats every remaining bound (by
      :data:`BATCHBALD_TOL`). With exact configurations the picks are those
      of evaluating every candidate at every step; when sampled, gains are
      estimates and the bounds approximate.
    - The first pick is the BALD argmax (:func:`bald_scores_direct`).

    ``exclude``: boolean mask of rows never to pick; ``rng``: a
    ``numpy.random.RandomState`` (only read once configurations are sampled).
    Ties go to the lower index; NaN gains rank last.

    Returns ``(indices, mutual_information, n_evaluated)``: the picks, the
    batch's mutual information after each pick (nats; the sum of the gains)
    and the number of gains computed at each step.
    """
    _K, n, C = P.shape
    cap = int(max_configurations)
    nz = _nonzero_members(w)
    Kz = nz.shape[0]
    avail = ~np.asarray(exclude, dtype=bool)
    ub = bald_scores_direct(P, w)
    ub = np.where(np.isnan(ub), -np.inf, ub)
    stamp = np.full(n, -1, dtype=np.int64)
    base = chunk or 2 * numba.get_num_threads() * _bb_tile_rows(C)
    picked = np.empty(n_queries, dtype=np.int64)
    gains = np.empty(n_queries, dtype=np.float64)
    n_eval = np.zeros(n_queries, dtype=np.int64)
    # the empty batch: one configuration, the prior
    ptr = np.array([0, Kz], dtype=np.int64)
    kidx = np.arange(Kz, dtype=np.int64)
    val = np.asarray(w, dtype=np.float64)[nz].copy()
    v = np.ones(1, dtype=np.float64)
    wbar = val.copy()
    counts = None  # multiplicities once sampled
    gbuf = np.empty(n, dtype=np.float64)
    for t in range(n_queries):
        if t == 0:
            key = np.where(avail, ub, -np.inf)
            n_eval[t] = int(avail.sum())
        else:
            best = -np.inf
            done = 0
            while True:
                open_ = avail & (stamp != t)
                if done == 0:
                    cand_mask = open_
                    size = base
                else:
                    cand_mask = open_ & (ub >= best - BATCHBALD_TOL)
                    size = max(base, done // 2)
                idx = np.flatnonzero(cand_mask)
                if idx.size == 0:
                    break
                if idx.size > size:
                    part = np.argpartition(-ub[idx], size - 1)[:size]
                    idx = np.sort(idx[part])
                g = gbuf[: idx.size]
                _bb_gains(P, nz, idx, ptr, kidx, val, v, wbar, g)
                g = np.where(np.isnan(g), -np.inf, np.maximum(g, 0.0))
                ub[idx] = g
                stamp[idx] = t
                done += idx.size
                best = max(best, float(g.max()))
            n_eval[t] = done
            key = np.where(avail & (stamp == t), ub, -np.inf)
        i = int(np.argmax(key))
        if key[i] == -np.inf:  # only NaN (or nothing) left: the first available row
            i = int(np.argmax(avail))
        picked[t] = i
        gains[t] = max(float(key[i]), 0.0) if np.isfinite(key[i]) else np.nan
        avail[i] = False
        if t == n_queries - 1:
            break
        # extend the configurations by row i's label
        J = _bb_predictive(P, nz, i, ptr, kidx, val)
        if counts is None:
            joint = (v[:, None] * J).ravel()
            live = np.flatnonzero(joint > 0.0)
            if live.size <= cap:
                parent, label = live // C, live % C
                v = joint[live]
                trim = 0.0
            else:  # switch to sampled configurations
                cdf = np.cumsum(joint)
                pts = (rng.random_sample() + np.arange(cap)) * (cdf[-1] / cap)
                child = np.bincount(_systematic(cdf, pts), minlength=joint.size)
                live = np.flatnonzero(child)
                parent, label = live // C, live % C
                counts = child[live]
                v = counts / cap
                trim = BATCHBALD_TRIM
        else:
            rows = J / J.sum(axis=1, keepdims=True)
            M = rows.shape[0]
            cdf = (np.cumsum(rows, axis=1) + np.arange(M)[:, None]).ravel()
            owner = np.repeat(np.arange(M), counts)
            first = np.cumsum(counts) - counts
            rank = np.arange(cap) - np.repeat(first, counts)
            offs = rng.random_sample(M)
            pts = owner + (offs[owner] + rank) / counts[owner]
            j = _systematic(cdf, pts)
            j = np.clip(j, owner * C, owner * C + C - 1)
            child = np.bincount(j, minlength=M * C)
            live = np.flatnonzero(child)
            parent, label = live // C, live % C
            counts = child[live]
            v = counts / cap
            trim = BATCHBALD_TRIM
        ptr, kidx, val = _bb_children(
            P, nz, i, ptr, kidx, val, J, parent.astype(np.int64), label.astype(np.int64), trim
        )
        wbar = np.bincount(kidx, weights=val * np.repeat(v, np.diff(ptr)), minlength=Kz)
    return picked, np.cumsum(gains), n_eval


# --------------------------------------------------------------------------
# leave-one-out weights for temperature selection, and input checks
# --------------------------------------------------------------------------
@_jit
def _loo_sums(losses):
    """Leave-one-out cumulative losses, ``(n, K)``: row ``i`` sums every column but ``i``.

    Each entry is a prefix sum (columns before ``i``, left to right) plus a
    suffix sum (columns after ``i``, right to left): O(n K) and no subtraction,
    so a +inf or NaN loss counts in every row but its own, exactly.
    """
    K, n = losses.shape
    S = np.empty((n, K), dtype=np.float64)
    for k in range(K):
        s = 0.0
        for j in range(n - 1, -1, -1):
            S[j, k] = s
            s += losses[k, j]
        p = 0.0
        for i in range(n):
            S[i, k] = p + S[i, k]
            p += losses[k, i]
    return S


@_jit
def _loo_block(S, temperatures, log_prior, want_log, i0, i1, out):
    """Rows ``i0:i1`` of :func:`loo_log_weights` (``want_log``) or :func:`loo_weights`."""
    G = temperatures.shape[0]
    scratch = np.empty(S.shape[1], dtype=np.float64)
    for i in range(i0, i1):
        for g in range(G):
            if want_log:
                _softmax_weights(S[i], temperatures[g], log_prior, out[g, i], scratch)
            elif not _softmax_weights(S[i], temperatures[g], log_prior, scratch, out[g, i]):
                out[g, i, :] = np.nan  # no member left to weight: what 0 / 0 gives


@_jit
def _loo_serial(S, temperatures, log_prior, want_log, B):
    n, K = S.shape
    out = np.empty((temperatures.shape[0], n, K), dtype=np.float64)
    for b in range((n + B - 1) // B):
        _loo_block(S, temperatures, log_prior, want_log, b * B, min(n, b * B + B), out)
    return out


@_pjit
def _loo_parallel(S, temperatures, log_prior, want_log, B):
    n, K = S.shape
    out = np.empty((temperatures.shape[0], n, K), dtype=np.float64)
    for b in numba.prange((n + B - 1) // B):
        _loo_block(S, temperatures, log_prior, want_log, b * B, min(n, b * B + B), out)
    return out


def _loo(losses, temperatures, log_prior, want_log):
    S = _loo_sums(losses)  # shared by every temperature: the sums do not depend on T
    n, K = S.shape
    if _use_parallel(temperatures.shape[0] * n * K):
        B = max(1, -(-n // (4 * numba.get_num_threads())))  # a few blocks per thread
        return _loo_parallel(S, temperatures, log_prior, want_log, B)
    return _loo_serial(S, temperatures, log_prior, want_log, max(n, 1))


def loo_log_weights(losses, temperatures, log_prior):
    """Leave-one-out log-weights, ``(G, n, K)``.

    Entry ``[g, i]`` holds the log-weights (:func:`log_softmax_weights`) at
    temperature ``temperatures[g]`` from the losses of every example except
    ``i``. The leave-one-out sums are prefix plus suffix sums (no
    subtraction, so +inf and NaN losses stay exact), computed once for the
    whole grid: O(n K + G n K).
    """
    return _loo(losses, temperatures, log_prior, True)


def loo_weights(losses, temperatures, log_prior):
    """Leave-one-out weights, ``(G, n, K)``, each row summing to 1.

    The exponentials of :func:`loo_log_weights`, normalised, without a
    second ``(G, n, K)`` array. A row with no member left to weight (every
    member NaN or of zero prior) is all NaN.
    """
    return _loo(losses, temperatures, log_prior, False)


@_jit
def _proba_problems_block(P, tol, i0, i1, bad_nan, bad_range, bad_sum):
    C = P.shape[2]
    m = (i1 - i0) * C
    for k in range(P.shape[0]):
        r = _rows(P, k, i0, i1)
        for j in range(m):
            v = np.float64(r[j])
            if not np.isfinite(v):
                bad_nan[i0 + j // C] = 1
            elif v < -tol or v > 1.0 + tol:
                bad_range[i0 + j // C] = 1
        for j in range(i1 - i0):
            s = 0.0
            for c in range(C):
                s += np.float64(r[j * C + c])
            if np.isfinite(s) and abs(s - 1.0) > tol:
                bad_sum[i0 + j] = 1


@_jit
def _proba_problems_serial(P, tol, B):
    n = P.shape[1]
    bad_nan = np.zeros(n, dtype=np.int64)
    bad_range = np.zeros(n, dtype=np.int64)
    bad_sum = np.zeros(n, dtype=np.int64)
    for b in range((n + B - 1) // B):
        _proba_problems_block(P, tol, b * B, min(n, b * B + B), bad_nan, bad_range, bad_sum)
    return bad_nan.sum(), bad_range.sum(), bad_sum.sum()


@_pjit
def _proba_problems_parallel(P, tol, B):
    n = P.shape[1]
    bad_nan = np.zeros(n, dtype=np.int64)
    bad_range = np.zeros(n, dtype=np.int64)
    bad_sum = np.zeros(n, dtype=np.int64)
    for b in numba.prange((n + B - 1) // B):
        _proba_problems_block(P, tol, b * B, min(n, b * B + B), bad_nan, bad_range, bad_sum)
    return bad_nan.sum(), bad_range.sum(), bad_sum.sum()


def proba_problems(P, tol):
    """Count rows of ``P`` (K, n, C) with NaN/inf, values outside [0, 1], or sums off 1 by > tol."""
    B = _block_rows(P.shape[2])
    if _use_parallel(P.size):
        return _proba_problems_parallel(P, float(tol), B)
    return _proba_problems_serial(P, float(tol), B)


# --------------------------------------------------------------------------
# member outputs straight from a network's chunk of rows
# --------------------------------------------------------------------------
# A torch ensemble's forward pass gives a chunk of rows as ``L`` (rows, K, C),
# row-major. These kernels read it once and write what the estimators need:
# the members' outputs member-major into the (K, n, C) matrix (softmax or
# pair probabilities fused), or, for weighted predictions, only the weighted
# mixture (classifiers, reward models) or weighted mean and variance
# (regressors) of the chunk: the (K, n, C) matrix is never formed.

#: ``L`` as it is (regression outputs, rewards).
OUTPUT_RAW = 0
#: The softmax of each member's ``C`` logits (classifier probabilities).
OUTPUT_SOFTMAX = 1
#: A ``(rows, K, 1)`` reward difference ``d`` -> ``[sigmoid(-d), sigmoid(d)]``.
OUTPUT_PAIR = 2

_LOG2E = 1.4426950408889634
_ROUND = 6755399441055744.0  # 1.5 * 2**52: x + _ROUND - _ROUND rounds x to an integer
#: Below this, ``exp`` is clamped (exp(-708) ~ 3e-308, 0 once a float32 probability)
_EXP_MIN = -708.0
#: Values per block of a chunk: the float64 exponentials and their int64 scale
#: (2 x 64 KiB) stay in L2.
_OUTPUT_BLOCK_VALUES = 8192


@_jit
def _exp_nonpositive_inplace(x, ibuf):
    """``x[j] <- exp(x[j])`` for ``x[j] <= 0``, branch-free so LLVM vectorises it.

    ``x = k ln 2 + r`` with ``|r| <= ln(2) / 2``, ``exp(r)`` by its Taylor
    polynomial of degree 13 (truncation below 1e-17 relative) and ``2^k`` from
    the exponent bits: within about 1 ulp of ``math.exp``. Values below
    :data:`_EXP_MIN`, and NaN, are clamped to it, values above 0 to 0; callers
    flag non-finite inputs themselves. ``ibuf`` (int64) is scratch of at least
    ``x``'s length.
    """
    n = x.shape[0]
    for j in range(n):
        v = x[j]
        v = v if v > _EXP_MIN else _EXP_MIN  # NaN fails the test: clamped too
        v = v if v < 0.0 else 0.0
        kf = (v * _LOG2E + _ROUND) - _ROUND
        r = (v - kf * _LN2_HI) - kf * _LN2_LO
        p = 1.6059043836821613e-10
        p = p * r + 2.08767569878681e-09
        p = p * r + 2.505210838544172e-08
        p = p * r + 2.755731922398589e-07
        p = p * r + 2.7557319223985893e-06
        p = p * r + 2.48015873015873e-05
        p = p * r + 1.984126984126984e-04
        p = p * r + 1.3888888888888889e-03
        p = p * r + 8.333333333333333e-03
        p = p * r + 4.1666666666666664e-02
        p = p * r + 0.16666666666666666
        p = p * r + 0.5
        p = p * r + 1.0
        x[j] = p * r + 1.0
        ibuf[j] = (np.int64(kf) + 1023) << 52
    scale = ibuf.view(np.float64)
    for j in range(n):
        x[j] *= scale[j]


@_jit
def _outputs_block(L, kind, members, i0, i1, out, o0):
    """``out[k, o0 + i - i0, :]`` for ``k`` in ``members`` and chunk rows ``i0..i1``.

    ``kind`` is :data:`OUTPUT_RAW`, :data:`OUTPUT_SOFTMAX` (a member row
    holding NaN, or whose largest logit is +inf or every logit -inf, is all
    NaN, as ``torch.softmax`` gives) or :data:`OUTPUT_PAIR` (NaN where the
    difference is NaN; +-inf gives probabilities 0 and 1). Probabilities are
    computed in float64 and rounded once to ``out``'s dtype. Every loop walks
    the chunk in its own (row, member) order: reads are sequential, and each
    write is a run of ``C`` values in one of the members' slabs.
    """
    rows = i1 - i0
    nm = members.shape[0]
    C = L.shape[2]
    if kind == OUTPUT_RAW:
        for i in range(rows):
            for q in range(nm):
                k = members[q]
                for c in range(C):
                    out[k, o0 + i, c] = L[i0 + i, k, c]
        return
    m = rows * nm
    t = np.empty(m * C, dtype=np.float64)
    ib = np.empty(m * C, dtype=np.int64)
    bad = np.empty(m, dtype=np.bool_)
    if kind == OUTPUT_PAIR:
        for i in range(rows):
            for q in range(nm):
                d = np.float64(L[i0 + i, members[q], 0])
                bad[i * nm + q] = d != d
                t[i * nm + q] = -abs(d)
        _exp_nonpositive_inplace(t, ib)
        for i in range(rows):
            for q in range(nm):
                k = members[q]
                g = i * nm + q
                if bad[g]:
                    out[k, o0 + i, 0] = np.nan
                    out[k, o0 + i, 1] = np.nan
                    continue
                e = t[g]
                small = e / (1.0 + e)  # sigmoid(-|d|)
                large = 1.0 / (1.0 + e)  # sigmoid(|d|)
                if L[i0 + i, k, 0] >= 0:
                    out[k, o0 + i, 0] = small
                    out[k, o0 + i, 1] = large
                else:
                    out[k, o0 + i, 0] = large
                    out[k, o0 + i, 1] = small
        return
    for i in range(rows):
        for q in range(nm):
            k = members[q]
            g = i * nm + q
            mx = np.float64(L[i0 + i, k, 0])
            nan = mx != mx
            for c in range(1, C):
                v = np.float64(L[i0 + i, k, c])
                nan |= v != v
                if v > mx:
                    mx = v
            bad[g] = nan or not (abs(mx) < np.inf)
            for c in range(C):
                t[g * C + c] = np.float64(L[i0 + i, k, c]) - mx
    _exp_nonpositive_inplace(t, ib)
    for i in range(rows):
        for q in range(nm):
            k = members[q]
            g = i * nm + q
            if bad[g]:
                for c in range(C):
                    out[k, o0 + i, c] = np.nan
                continue
            s = 0.0
            for c in range(C):
                s += t[g * C + c]
            for c in range(C):
                out[k, o0 + i, c] = t[g * C + c] / s


def _output_block_rows(L) -> int:
    """Chunk rows per block: about :data:`_OUTPUT_BLOCK_VALUES` values of ``L``."""
    return max(1, _OUTPUT_BLOCK_VALUES // max(1, L.shape[1] * L.shape[2]))


#: A softmax costs about four times a pool kernel's read of a value (an
#: exponential, a division, a scattered write): chunks run in parallel from a
#: quarter of :data:`PARALLEL_MIN_ELEMENTS` values, the same few ms of serial work.
_OUTPUT_COST = 4


def _outputs_parallel(L, kind) -> bool:
    return _use_parallel(L.size * (1 if kind == OUTPUT_RAW else _OUTPUT_COST))


@_jit
def _member_outputs_serial(L, kind, members, out, o0, B):
    rows = L.shape[0]
    for b in range((rows + B - 1) // B):
        _outputs_block(L, kind, members, b * B, min(rows, b * B + B), out, o0 + b * B)


@_pjit
def _member_outputs_parallel(L, kind, members, out, o0, B):
    rows = L.shape[0]
    for b in numba.prange((rows + B - 1) // B):
        _outputs_block(L, kind, members, b * B, min(rows, b * B + B), out, o0 + b * B)


def member_outputs(L, kind, out, o0):
    """Write a chunk's member outputs member-major: ``out[:, o0:o0 + rows, :]``.

    Parameters
    ----------
    L : ndarray of shape (rows, K, C)
        A network's outputs for ``rows`` consecutive rows (C-ordered).
    kind : int
        :data:`OUTPUT_RAW` (``out`` is ``(K, n, C)``), :data:`OUTPUT_SOFTMAX`
        (``(K, n, C)`` probabilities) or :data:`OUTPUT_PAIR` (``L`` holds
        reward differences, ``C = 1``; ``out`` is ``(K, n, 2)``).
    out : ndarray of shape (K, n, C_out)
        The member matrix being filled (float32).
    o0 : int
        The row of ``out`` that the chunk's first row goes to.
    """
    members = np.arange(L.shape[1], dtype=np.int64)
    B = _output_block_rows(L)
    if _outputs_parallel(L, kind):
        _member_outputs_parallel(L, kind, members, out, o0, B)
    else:
        _member_outputs_serial(L, kind, members, out, o0, B)


@_jit
def _mixture_outputs_block(L, kind, w, nz, i0, i1, Q):
    """Rows ``i0..i1`` of the weighted mixture: the members' float32 probabilities
    of the block (:func:`_outputs_block`, members of nonzero weight only), mixed
    by :func:`_mix_rows` as :func:`mixture` mixes a member matrix."""
    C = Q.shape[1]
    rows = i1 - i0
    P = np.empty((L.shape[1], rows, C), dtype=np.float32)
    _outputs_block(L, kind, nz, i0, i1, P, np.int64(0))
    flat = Q.reshape(Q.shape[0] * C)
    _mix_rows(P, w, nz, np.int64(0), rows, flat[i0 * C : i1 * C])


@_jit
def _mixture_outputs_serial(L, kind, w, C, B):
    rows = L.shape[0]
    Q = np.empty((rows, C), dtype=np.float64)
    nz = _nonzero_members(w)
    for b in range((rows + B - 1) // B):
        _mixture_outputs_block(L, kind, w, nz, b * B, min(rows, b * B + B), Q)
    return Q


@_pjit
def _mixture_outputs_parallel(L, kind, w, C, B):
    rows = L.shape[0]
    Q = np.empty((rows, C), dtype=np.float64)
    nz = _nonzero_members(w)
    for b in numba.prange((rows + B - 1) // B):
        _mixture_outputs_block(L, kind, w, nz, b * B, min(rows, b * B + B), Q)
    return Q


def mixture_outputs(L, kind, w):
    """The weighted mixture ``sum_k w_k p_k`` of a chunk, ``(rows, C_out)`` float64.

    Equal, bit for bit, to :func:`mixture` of the chunk's member matrix
    (:func:`member_outputs` of the same ``kind``), without forming it: each
    block of rows is turned into float32 probabilities in a small scratch
    (members of weight 0 are skipped, as :func:`mixture` skips them) and mixed.
    """
    C = 2 if kind == OUTPUT_PAIR else L.shape[2]
    B = _output_block_rows(L)
    if _outputs_parallel(L, kind):
        return _mixture_outputs_parallel(L, kind, w, C, B)
    return _mixture_outputs_serial(L, kind, w, C, B)


@_jit
def _mean_var_outputs_block(L, w, nz, kref, kind, members, i0, i1, mean, var):
    rows = i1 - i0
    K = L.shape[1]
    zero = np.int64(0)
    F = np.empty((K, rows, 1), dtype=np.float32)
    _outputs_block(L, kind, members, i0, i1, F, zero)
    m = np.empty(rows, dtype=np.float64)
    v = np.empty(rows, dtype=np.float64)
    # the pool kernel's own block function and argument types: no new specialization
    _mean_var_block(F.reshape(K, rows), w, nz, kref, zero, rows, m, v)
    mean[i0:i1] = m
    var[i0:i1] = v


@_jit
def _mean_var_outputs_serial(L, w, B):
    rows = L.shape[0]
    mean = np.empty(rows, dtype=np.float64)
    var = np.empty(rows, dtype=np.float64)
    nz = _nonzero_members(w)
    kref = _argmax_weight(w)
    members = np.arange(L.shape[1])
    kind = np.int64(OUTPUT_RAW)
    for b in range((rows + B - 1) // B):
        _mean_var_outputs_block(
            L, w, nz, kref, kind, members, b * B, min(rows, b * B + B), mean, var
        )
    return mean, var


@_pjit
def _mean_var_outputs_parallel(L, w, B):
    rows = L.shape[0]
    mean = np.empty(rows, dtype=np.float64)
    var = np.empty(rows, dtype=np.float64)
    nz = _nonzero_members(w)
    kref = _argmax_weight(w)
    members = np.arange(L.shape[1])
    kind = np.int64(OUTPUT_RAW)
    for b in numba.prange((rows + B - 1) // B):
        _mean_var_outputs_block(
            L, w, nz, kref, kind, members, b * B, min(rows, b * B + B), mean, var
        )
    return mean, var


def weighted_mean_var_outputs(L, w):
    """Weighted mean and variance over members of a ``(rows, K, 1)`` chunk, each ``(rows,)``.

    Equal, bit for bit, to :func:`weighted_mean_std` (squared) of the chunk's
    ``(K, rows)`` member matrix, without forming it.
    """
    B = max(1, _OUTPUT_BLOCK_VALUES // max(1, L.shape[1]))
    if _use_parallel(L.size):
        return _mean_var_outputs_parallel(L, w, B)
    return _mean_var_outputs_serial(L, w, B)
