"""Every Numba kernel against a plain NumPy reference written here.

Inputs cover float32 and float64 storage, C-ordered, strided (``P[:, ::2]``)
and Fortran-ordered layouts, and probabilities with exact zeros (one-hot rows
included). Pool kernels run both their serial and their parallel driver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import log_softmax, xlogy

from skhyre import _kernels as kr
from skhyre._selection import run_sequential

DTYPES = [np.float32, np.float64]
LAYOUTS = ["C", "strided", "F"]
RTOL, ATOL = 1e-10, 1e-12


# --------------------------------------------------------------------------
# inputs and references
# --------------------------------------------------------------------------
def _layout(A: np.ndarray, layout: str) -> np.ndarray:
    """``A`` laid out as asked; ``"strided"`` takes every second row of a larger array."""
    if layout == "C":
        return np.ascontiguousarray(A)
    if layout == "F":
        return np.asfortranarray(A)
    big = np.zeros((A.shape[0], 2 * A.shape[1], *A.shape[2:]), dtype=A.dtype)
    big[:, ::2] = A
    out = big[:, ::2]
    assert not out.flags.c_contiguous and not out.flags.f_contiguous
    return out


def make_proba(rng, K, n, C, dtype=np.float64, layout="C"):
    """Member probabilities with exact zeros: Dirichlet rows, some entries zeroed, one-hot rows."""
    P = rng.dirichlet(np.full(C, 0.7), size=(K, n))
    P[rng.random(P.shape) < 0.2] = 0.0
    onehot = rng.random((K, n)) < 0.1
    P[onehot] = np.eye(C)[rng.integers(0, C, onehot.sum())]
    dead = P.sum(-1) == 0
    P[dead] = np.eye(C)[0]
    P /= P.sum(-1, keepdims=True)
    return _layout(P.astype(dtype), layout)


def make_weights(rng, K, zeros=True):
    w = rng.random(K)
    if zeros and K > 2:
        w[rng.permutation(K)[: K // 3]] = 0.0
    return w / w.sum()


def ref_entropy(M):
    M = np.asarray(M, dtype=np.float64)
    return -xlogy(M, M).sum(-1)


def ref_mixture(P, w):
    return np.einsum("k,knc->nc", w, np.asarray(P, dtype=np.float64))


@pytest.fixture(params=["serial", "parallel"])
def driver(request, monkeypatch):
    """Run the pool kernels' serial or parallel driver whatever the pool size."""
    monkeypatch.setattr(kr, "_use_parallel", lambda n_values: request.param == "parallel")
    return request.param


def _allclose(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------
# per-example losses
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_classification_losses(dtype, layout):
    rng = np.random.default_rng(0)
    K, n, C = 6, 40, 4
    P = make_proba(rng, K, n, C, dtype, layout)
    y = rng.integers(0, C, n)
    P64 = np.asarray(P, dtype=np.float64)
    expected_01 = ref_zero_one(P64, y)
    _allclose(kr.zero_one_loss_proba(P, y), expected_01)
    true_p = np.take_along_axis(P64, np.broadcast_to(y[None, :, None], (K, n, 1)), -1)[..., 0]
    _allclose(kr.log_loss(P, y, 1e-15), -np.log(np.maximum(true_p, 1e-15)))
    _allclose(kr.brier_loss(P, y), ((P64 - np.eye(C)[y]) ** 2).sum(-1))
    assert np.isfinite(kr.log_loss(P, y, 1e-15)).all()  # exact zeros are clipped at eps


def ref_zero_one(P64, y):
    """0-1 loss of the top class, a t-way tie with the label costing 1 - 1/t."""
    top = P64 == P64.max(axis=-1, keepdims=True)
    label_on_top = np.take_along_axis(
        top, np.broadcast_to(y[None, :, None], (*top.shape[:2], 1)), -1
    )[..., 0]
    return np.where(label_on_top, 1.0 - 1.0 / top.sum(-1), 1.0)


def test_zero_one_ties_and_nan_rows():
    P = np.array([[[0.5, 0.5], [0.2, 0.8]], [[np.nan, 0.5], [0.5, np.nan]]])
    y = np.array([0, 1])
    out = kr.zero_one_loss_proba(P, y)
    np.testing.assert_array_equal(out[0], [0.5, 0.0])  # a tie costs 1/2, whichever the label
    np.testing.assert_array_equal(kr.zero_one_loss_proba(P[:1], np.array([1, 1]))[0], [0.5, 0.0])
    # three-way ties: 2/3 with the label among them, 1 without
    P3 = np.array([[[0.3, 0.3, 0.3, 0.1], [0.3, 0.3, 0.3, 0.1]]])
    np.testing.assert_allclose(kr.zero_one_loss_proba(P3, np.array([2, 3])), [[2 / 3, 1.0]])
    np.testing.assert_allclose(ref_zero_one(P3, np.array([2, 3])), [[2 / 3, 1.0]])
    assert np.isnan(out[1]).all()  # a NaN anywhere in the row, not only in column 0
    assert np.isnan(kr.log_loss(P, y, 1e-15)[1]).all()
    assert np.isnan(kr.brier_loss(P, y)[1]).all()


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_zero_one_loss_labels(dtype):
    rng = np.random.default_rng(1)
    Yhat = rng.integers(0, 3, (5, 30)).astype(dtype)
    y = rng.integers(0, 3, 30)
    _allclose(kr.zero_one_loss_labels(Yhat, y), (Yhat != y).astype(float))
    _allclose(kr.zero_one_loss_labels(Yhat[:, ::2], y[::2]), (Yhat[:, ::2] != y[::2]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_regression_losses(dtype, layout):
    rng = np.random.default_rng(2)
    F = _layout(rng.normal(size=(7, 25)).astype(dtype), layout)
    y = rng.normal(size=25)
    F64 = np.asarray(F, dtype=np.float64)
    _allclose(kr.squared_loss(F, y, 0.5), 0.5 * (F64 - y) ** 2)
    _allclose(kr.absolute_loss(F, y, 2.0), 2.0 * np.abs(F64 - y))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_zero_one_loss(dtype):
    D = np.array([[1.0, -2.0, 0.0, np.nan], [-0.5, 3.0, 0.0, 1.0]], dtype=dtype)
    y = np.array([1, 1, 0, 0])
    expected = np.array([[0.0, 1.0, 0.5, np.nan], [1.0, 0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(kr.pairwise_zero_one_loss(D, y), expected)
    rng = np.random.default_rng(3)
    D = rng.normal(size=(4, 50)).astype(dtype)[:, ::2]
    y = rng.integers(0, 2, 25)
    _allclose(kr.pairwise_zero_one_loss(D, y), ((D > 0) != (y == 1)).astype(float))


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------
@pytest.mark.parametrize("T", [1e-3, 0.5, 1.0, 30.0])
def test_log_softmax_weights_matches_scipy(T):
    rng = np.random.default_rng(4)
    L = rng.random(9) * 10
    lp = log_softmax(rng.normal(size=9))
    _allclose(kr.log_softmax_weights(L, T, lp), log_softmax(-L / T + lp))
    logw, w = np.empty(9), np.empty(9)
    assert kr.softmax_weights(L, T, lp, logw, w)
    _allclose(logw, log_softmax(-L / T + lp))
    _allclose(w, np.exp(log_softmax(-L / T + lp)))


def test_log_softmax_weights_special_values():
    lp = np.full(4, -np.log(4))
    # NaN and +inf members get -inf; the rest as usual
    out = kr.log_softmax_weights(np.array([1.0, np.nan, np.inf, 2.0]), 1.0, lp)
    assert out[1] == out[2] == -np.inf
    _allclose(np.exp(out[[0, 3]]), np.exp(log_softmax([-1.0, -2.0])))
    # temperature inf: the prior over the finite members
    _allclose(np.exp(kr.log_softmax_weights(np.array([0.0, 5.0, 1e300, 3.0]), np.inf, lp)), 0.25)
    # every usable member +inf: tie by the prior; NaN stays out
    out = kr.log_softmax_weights(np.array([np.inf, np.inf, np.nan, np.inf]), 1.0, lp)
    _allclose(np.exp(out), [1 / 3, 1 / 3, 0.0, 1 / 3])
    # zero prior: weight 0 even with the lowest loss
    lp0 = np.array([-np.inf, 0.0, 0.0, 0.0]) - np.log(3)
    out = kr.log_softmax_weights(np.array([-10.0, 0.0, 0.0, 0.0]), 1.0, lp0)
    assert out[0] == -np.inf
    _allclose(np.exp(out[1:]), 1 / 3)
    # nothing left: all -inf, and softmax_weights says so
    logw, w = np.empty(2), np.empty(2)
    assert not kr.softmax_weights(np.array([np.nan, np.nan]), 1.0, np.zeros(2), logw, w)
    assert np.all(logw == -np.inf) and np.all(w == 0)
    # huge losses: exact after the shift by the minimum
    big = np.array([1e300, 1e300 + 1e285])
    d = (big[1] - big[0]) / 1e285  # about 1, as far as float64 resolves it
    _allclose(
        np.exp(kr.log_softmax_weights(big, 1e285, np.zeros(2))), np.exp(log_softmax([0.0, -d]))
    )


def test_update_cumulative_loss():
    rng = np.random.default_rng(5)
    K, n = 7, 11
    cum = rng.random(K)
    losses = rng.random((K, n))
    lp = np.full(K, -np.log(K))
    new, logw, w = np.empty(K), np.empty(K), np.empty(K)
    assert kr.update_cumulative_loss(cum, losses, 1.0, lp, new, logw, w) == (0, 0, 0)
    expected = cum.copy()
    for j in range(n):  # in order, one example at a time
        expected = expected + losses[:, j]
    np.testing.assert_array_equal(new, expected)
    _allclose(w, np.exp(log_softmax(-expected)))
    # Fortran-ordered losses: same result
    kr.update_cumulative_loss(cum, np.asfortranarray(losses), 1.0, lp, new, logw, w)
    np.testing.assert_array_equal(new, expected)
    bad = losses.copy()
    bad[3, 4] = -np.inf
    assert kr.update_cumulative_loss(cum, bad, 1.0, lp, new, logw, w)[0] == 1
    bad[3, 4] = np.nan
    bad[5, 0] = np.nan
    assert kr.update_cumulative_loss(cum, bad, 1.0, lp, new, logw, w) == (0, 2, 0)
    assert w[3] == w[5] == 0.0
    bad[1, 2] = np.inf  # members 1 (+inf) and 6 (finite losses summing past -1.8e308)
    bad[6, :2] = -1.7e308
    # (status 2 here: a -inf cumulative loss leaves no weights; the caller names it first)
    assert kr.update_cumulative_loss(cum, bad, 1.0, lp, new, logw, w)[1:] == (2, 2)
    assert np.isposinf(new[1]) and np.isneginf(new[6])
    assert kr.update_cumulative_loss(cum, np.full((K, 1), np.nan), 1.0, lp, new, logw, w)[0] == 2


# --------------------------------------------------------------------------
# pool scoring
# --------------------------------------------------------------------------
def test_xlogx_matches_xlogy_to_a_few_ulp():
    rng = np.random.default_rng(6)
    x = np.concatenate(
        [
            rng.random(20000),
            np.exp(rng.uniform(-700, 0, 20000)),
            1 + rng.uniform(-1e-6, 1e-6, 2000),
            [0.0, 1.0, 0.5, 1.001, 2.0, 1e-300, 2.0**-1022, math.sqrt(0.5), math.sqrt(2)],
        ]
    )
    got = x.copy()
    kr._xlogx_inplace(got, np.empty(x.size, np.int64), np.empty(x.size))
    ref = xlogy(x, x)
    ulps = np.abs(got - ref) / np.spacing(np.abs(ref))
    assert ulps[ref != 0].max() <= 4
    assert got[x == 0].tolist() == [0.0] and got[x == 1].tolist() == [0.0]
    neg = np.array([-0.0, -1e-9, -0.5, np.nan])  # <= 0 and NaN count as 0 (xlogy(0, 0) = 0)
    kr._xlogx_inplace(neg, np.empty(4, np.int64), np.empty(4))
    np.testing.assert_array_equal(neg, 0.0)
    sub = np.array([5e-324, 1e-310])  # subnormal: x log x is below 1e-305 either way
    kr._xlogx_inplace(sub, np.empty(2, np.int64), np.empty(2))
    assert np.all(np.abs(sub) < 1e-305)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pool_kernels(dtype, layout):
    rng = np.random.default_rng(7)
    K, n, C = 9, 300, 3
    P = make_proba(rng, K, n, C, dtype, layout)
    w = make_weights(rng, K)
    Hm_ref = ref_entropy(P)
    Hm = kr.member_entropies(P)
    assert Hm.shape == (K, n) and Hm.dtype == np.float64
    _allclose(Hm, Hm_ref)
    M = ref_mixture(P, w)
    _allclose(kr.mixture(P, w), M)
    _allclose(kr.entropy_scores(P, w), ref_entropy(M))
    _allclose(kr.bald_scores(P, w, Hm_ref), np.maximum(ref_entropy(M) - w @ Hm_ref, 0.0))


@pytest.mark.parametrize(("dtype", "layout"), [(np.float32, "C"), (np.float64, "strided")])
def test_pool_kernels_both_drivers(driver, dtype, layout):
    rng = np.random.default_rng(8)
    K, n, C = 11, 2000, 5  # n is not a multiple of the block size
    P = make_proba(rng, K, n, C, dtype, layout)
    w = make_weights(rng, K)
    Hm = ref_entropy(P)
    M = ref_mixture(P, w)
    _allclose(kr.member_entropies(P), Hm)
    _allclose(kr.mixture(P, w), M)
    _allclose(kr.entropy_scores(P, w), ref_entropy(M))
    _allclose(kr.bald_scores(P, w, Hm), np.maximum(ref_entropy(M) - w @ Hm, 0.0))
    F = _layout(rng.normal(3.0, 2.0, size=(K, n)).astype(dtype), layout)
    mean, std = kr.weighted_mean_std(F, w)
    F64 = np.asarray(F, dtype=np.float64)
    _allclose(mean, w @ F64)
    _allclose(std, np.sqrt(w @ (F64 - w @ F64) ** 2))
    assert kr.proba_problems(P, 1e-3) == (0, 0, 0)


def test_bald_is_clamped_at_zero_and_entropy_of_agreeing_members():
    P = np.tile(np.array([0.2, 0.3, 0.5]), (4, 6, 1))  # members agree everywhere
    w = np.full(4, 0.25)
    Hm = kr.member_entropies(P)
    np.testing.assert_array_equal(kr.bald_scores(P, w, Hm), 0.0)
    _allclose(kr.entropy_scores(P, w), ref_entropy(P[0]))
    one_hot = np.zeros((2, 3, 2))
    one_hot[0, :, 0] = one_hot[1, :, 1] = 1.0  # members certain and opposed
    _allclose(
        kr.bald_scores(one_hot, np.array([0.5, 0.5]), kr.member_entropies(one_hot)), np.log(2)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_weighted_mean_std_and_variance(dtype, layout):
    rng = np.random.default_rng(9)
    K, n = 13, 150
    F = _layout((1e3 + rng.normal(size=(K, n))).astype(dtype), layout)  # large mean, unit spread
    w = make_weights(rng, K)
    F64 = np.asarray(F, dtype=np.float64)
    mean = w @ F64
    var = w @ (F64 - mean) ** 2
    got_mean, got_std = kr.weighted_mean_std(F, w)
    _allclose(got_mean, mean)
    np.testing.assert_allclose(got_std, np.sqrt(var), rtol=1e-9)
    np.testing.assert_allclose(kr.variance_scores(F, w), var, rtol=1e-9)
    one = np.zeros(K)
    one[4] = 1.0  # a single member: zero variance, its own prediction
    m1, s1 = kr.weighted_mean_std(F, one)
    _allclose(m1, F64[4])
    np.testing.assert_array_equal(s1, 0.0)


# --------------------------------------------------------------------------
# sequential selection: a plain NumPy loop re-scoring from scratch each step
# --------------------------------------------------------------------------
def ref_select_proba(P, y, T, n_queries, criterion, loss, exclude, eps=1e-15, L0=None):
    K, _n, C = P.shape
    P64 = np.asarray(P, dtype=np.float64)
    L = np.zeros(K) if L0 is None else L0.astype(float).copy()
    taken = exclude.copy()
    Hm = ref_entropy(P64)
    picked = []
    for _ in range(n_queries):
        w = np.exp(log_softmax(-(L - L.min()) / T)) if np.isfinite(T) else np.full(K, 1 / K)
        M = ref_mixture(P64, w)
        s = ref_entropy(M)
        if criterion == "bald":
            s = np.maximum(s - w @ Hm, 0.0)
        s = np.where(taken, -np.inf, s)
        i = int(np.argmax(s))  # the first maximum
        picked.append(i)
        taken[i] = True
        row = P64[:, i]
        if loss == "zero_one":
            L += ref_zero_one(row[:, None], y[i : i + 1])[:, 0]
        elif loss == "log_loss":
            L += -np.log(np.maximum(row[:, y[i]], eps))
        else:
            L += ((row - np.eye(C)[y[i]]) ** 2).sum(-1)
    return np.array(picked), L


_LOSS = {"zero_one": kr.LOSS_ZERO_ONE, "log_loss": kr.LOSS_LOG, "brier": kr.LOSS_BRIER}


def _run_select_proba(P, y, T, n_queries, criterion, loss, exclude, resum_every=8, L0=None):
    """The sequential rule (skhyre._selection) over an in-memory pool, on the kernels."""
    K = P.shape[0]
    return run_sequential(
        P, y, np.zeros(K) if L0 is None else L0, np.full(K, -np.log(K)), T, n_queries,
        criterion, _LOSS[loss], exclude, eps=1e-15, resum_every=resum_every,
    )  # fmt: skip


@pytest.mark.parametrize("criterion", ["entropy", "bald"])
@pytest.mark.parametrize("T", [1.0, 3.0, np.inf])
@pytest.mark.parametrize("loss", ["zero_one", "log_loss", "brier"])
def test_select_sequential_proba_matches_numpy_loop(criterion, T, loss):
    rng = np.random.default_rng(10)
    K, n, C = 24, 400, 3
    P = make_proba(rng, K, n, C, np.float32)
    y = rng.integers(0, C, n)
    exclude = np.zeros(n, dtype=bool)
    exclude[rng.permutation(n)[:50]] = True
    picked, L = _run_select_proba(P, y, T, 20, criterion, loss, exclude)
    ref_picked, ref_L = ref_select_proba(P, y, T, 20, criterion, loss, exclude)
    np.testing.assert_array_equal(picked, ref_picked)
    _allclose(L, ref_L)
    assert not exclude[picked].any() and np.unique(picked).size == picked.size


@pytest.mark.parametrize("layout", ["strided", "F"])
def test_select_sequential_proba_layouts_and_drivers(driver, layout):
    rng = np.random.default_rng(11)
    K, n, C = 16, 700, 4
    P = make_proba(rng, K, n, C, np.float64, layout)
    y = rng.integers(0, C, n)
    exclude = np.zeros(n, dtype=bool)
    L0 = rng.random(K) * 3
    for resum_every in (1, 3, 100):
        picked, L = _run_select_proba(P, y, 0.3, 25, "bald", "zero_one", exclude, resum_every, L0)
        ref_picked, ref_L = ref_select_proba(P, y, 0.3, 25, "bald", "zero_one", exclude, L0=L0)
        np.testing.assert_array_equal(picked, ref_picked)
        _allclose(L, ref_L)


def ref_replay_scores(P, y, T, picked, criterion, loss, exclude, eps=1e-15, L0=None):
    """Reference scores at every step of a given pick sequence, and the final losses."""
    K, _n, C = P.shape
    P64 = np.asarray(P, dtype=np.float64)
    L = np.zeros(K) if L0 is None else L0.astype(float).copy()
    taken = exclude.copy()
    Hm = ref_entropy(P64)
    steps = []
    for i in picked:
        w = np.exp(log_softmax(-(L - L.min()) / T))
        M = ref_mixture(P64, w)
        s = ref_entropy(M)
        if criterion == "bald":
            s = np.maximum(s - w @ Hm, 0.0)
        steps.append((np.where(taken, -np.inf, s), i))
        taken[i] = True
        row = P64[:, i]
        if loss == "zero_one":
            L += ref_zero_one(row[:, None], y[i : i + 1])[:, 0]
        elif loss == "log_loss":
            L += -np.log(np.maximum(row[:, y[i]], eps))
        else:
            L += ((row - np.eye(C)[y[i]]) ** 2).sum(-1)
    return steps, L


@pytest.mark.parametrize("criterion", ["entropy", "bald"])
@pytest.mark.parametrize("T", [0.05, 0.3])
@pytest.mark.parametrize("loss", ["zero_one", "log_loss", "brier"])
def test_select_sequential_proba_low_temperature_picks_are_optimal(criterion, T, loss):
    """At a low temperature one member soon holds all the weight and many scores tie.

    BALD is then 0 up to rounding everywhere, so which of the tied rows comes
    first is rounding noise: every pick must be a best row under the
    reference scores (to 1e-12), with the losses of the picks as reference.
    """
    rng = np.random.default_rng(17)
    K, n, C = 24, 400, 3
    P = make_proba(rng, K, n, C, np.float32)
    y = rng.integers(0, C, n)
    exclude = np.zeros(n, dtype=bool)
    exclude[::7] = True
    picked, L = _run_select_proba(P, y, T, 25, criterion, loss, exclude)
    assert not exclude[picked].any() and np.unique(picked).size == picked.size
    steps, ref_L = ref_replay_scores(P, y, T, picked, criterion, loss, exclude)
    for scores, i in steps:
        assert scores[i] >= scores.max() - 1e-12
    _allclose(L, ref_L)


def test_select_sequential_proba_member_weight_returns_from_underflow():
    """A member whose weight underflowed to 0 comes back when the others err.

    Member 1 starts 750 temperatures behind (``exp(-750) == 0``) but labels
    every row right; the others err and fall behind it within a few picks.
    The first version of the kernel left such a member out of the
    incrementally updated mixture, and amplified rounding errors by huge
    renormalisation factors (the picks went wrong from the third label on).
    """
    for seed in range(3):
        rng = np.random.default_rng(seed)
        K, n, C = 8, 300, 3
        P = rng.dirichlet(np.ones(C), size=(K, n))
        y = P[1].argmax(-1)
        T = 0.02
        L0 = rng.random(K) * 0.1
        L0[1] = 15.0
        exclude = np.zeros(n, dtype=bool)
        picked, L = _run_select_proba(P, y, T, 40, "entropy", "zero_one", exclude, 100, L0)
        ref_picked, ref_L = ref_select_proba(P, y, T, 40, "entropy", "zero_one", exclude, L0=L0)
        np.testing.assert_array_equal(picked, ref_picked)
        _allclose(L, ref_L)
        assert np.exp(log_softmax(-L / T))[1] > 0.99  # member 1 did come back


def ref_select_regression(F, y, T, n_queries, loss, scale, exclude):
    K = F.shape[0]
    F64 = np.asarray(F, dtype=np.float64)
    L = np.zeros(K)
    taken = exclude.copy()
    picked = []
    for _ in range(n_queries):
        w = np.exp(log_softmax(-(L - L.min()) / T))
        var = w @ (F64 - w @ F64) ** 2
        i = int(np.argmax(np.where(taken, -np.inf, var)))
        picked.append(i)
        taken[i] = True
        d = F64[:, i] - y[i]
        L += scale * (d * d if loss == "squared" else np.abs(d))
    return np.array(picked), L


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_select_sequential_regression_matches_numpy_loop(dtype, layout, loss):
    rng = np.random.default_rng(13)
    K, n = 15, 200
    F = _layout(rng.normal(size=(K, n)).astype(dtype), layout)
    y = rng.normal(size=n)
    exclude = np.zeros(n, dtype=bool)
    exclude[:10] = True
    code = kr.LOSS_SQUARED if loss == "squared" else kr.LOSS_ABSOLUTE
    picked, L = run_sequential(
        F, y, np.zeros(K), np.full(K, -np.log(K)), 0.7, 12, "variance", code, exclude, scale=0.5
    )
    ref_picked, ref_L = ref_select_regression(F, y, 0.7, 12, loss, 0.5, exclude)
    np.testing.assert_array_equal(picked, ref_picked)
    _allclose(L, ref_L)


def test_select_sequential_kernels_do_not_modify_inputs():
    rng = np.random.default_rng(14)
    P = make_proba(rng, 5, 50, 3)
    y = rng.integers(0, 3, 50)
    L0, lp, ex = np.zeros(5), np.full(5, -np.log(5)), np.zeros(50, dtype=bool)
    copies = [a.copy() for a in (P, y, L0, lp, ex)]
    _run_select_proba(P, y, 1.0, 10, "bald", "zero_one", ex, 8, L0)
    for a, b in zip((P, y, L0, lp, ex), copies):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------
# leave-one-out weights and probability checks
# --------------------------------------------------------------------------
def test_loo_log_weights():
    rng = np.random.default_rng(15)
    K, n = 5, 7
    losses = rng.random((K, n)) * 3
    losses[2, 3] = np.inf
    temps = np.array([0.1, 1.0, np.inf])
    lp = log_softmax(rng.normal(size=K))
    out = kr.loo_log_weights(losses, temps, lp)
    assert out.shape == (3, n, K)
    for g, T in enumerate(temps):
        for i in range(n):
            Li = np.delete(losses, i, axis=1).sum(1)
            _allclose(out[g, i], kr.log_softmax_weights(Li, T, lp))
            if np.isfinite(T) and np.isfinite(Li).all():
                _allclose(out[g, i], log_softmax(-Li / T + lp))
    assert np.all(out[:, np.arange(n) != 3, 2] == -np.inf)  # the +inf example counts, even at T=inf
    assert np.all(np.isfinite(out[:, 3, :]))  # ...except when it is the one left out


def _ref_loo_log_weights(losses, temps, lp):
    """Plain-NumPy leave-one-out log-weights with the rules of log_softmax_weights.

    Sums are taken left to right over every column but ``i``, as the old
    O(n^2 K) kernel did; the log-softmax is written out here (NaN or +inf
    loss, or -inf prior: -inf; all usable members +inf: the prior).
    """
    K, n = losses.shape
    out = np.empty((temps.size, n, K))
    for i in range(n):
        Li = np.zeros(K)
        for j in range(n):
            if j != i:
                Li = Li + losses[:, j]
        usable = ~np.isnan(Li) & (lp > -np.inf)
        finite = usable & (Li < np.inf)
        for g, T in enumerate(temps):
            a = np.full(K, -np.inf)
            if not usable.any():
                out[g, i] = a
                continue
            if not finite.any():
                a[usable] = lp[usable]
            elif T == np.inf:
                a[finite] = lp[finite]
            else:
                a[finite] = -(Li[finite] - Li[finite].min()) / T + lp[finite]
            out[g, i] = a - np.logaddexp.reduce(a)
    return out


def _loo_case(rng, case):
    K, n = int(rng.integers(1, 9)), int(rng.integers(1, 12))
    losses = rng.random((K, n)) * 3
    if case == "huge":
        losses *= 1e300
    elif case == "scaled":
        losses = rng.exponential(size=(K, n)) * 10.0 ** rng.uniform(-5, 5)
    elif case in ("inf_nan", "nan_members"):
        u = rng.random((K, n))
        losses[u < 0.1] = np.inf
        losses[(u >= 0.1) & (u < 0.2)] = np.nan
        if case == "nan_members":
            losses[rng.random(K) < 0.5] = np.nan
    lp = log_softmax(rng.normal(size=K))
    if rng.random() < 0.3:
        lp[rng.random(K) < 0.4] = -np.inf
    return losses, lp


@pytest.mark.parametrize("case", ["plain", "huge", "scaled", "inf_nan", "nan_members"])
def test_loo_weights_against_reference(case, driver):
    """Prefix + suffix sums give the old kernel's log-weights up to rounding (extremes too)."""
    rng = np.random.default_rng(["plain", "huge", "scaled", "inf_nan", "nan_members"].index(case))
    temps = np.array([1e-6, 1e-3, 0.1, 1.0, 30.0, 1e300, np.inf])
    for _ in range(25):
        losses, lp = _loo_case(rng, case)
        ref = _ref_loo_log_weights(losses, temps, lp)
        out = kr.loo_log_weights(losses, temps, lp)
        assert out.shape == ref.shape
        np.testing.assert_array_equal(np.isneginf(out), np.isneginf(ref))
        fin = np.isfinite(ref)
        assert np.isfinite(out[fin]).all()
        np.testing.assert_allclose(out[fin], ref[fin], rtol=1e-9, atol=1e-12)
        W = kr.loo_weights(losses, temps, lp)
        dead = np.isneginf(ref).all(axis=2)  # no member left: NaN rows, as 0 / 0 gives
        assert np.isnan(W[dead]).all() and not np.isnan(W[~dead]).any()
        np.testing.assert_allclose(W[~dead], np.exp(ref[~dead]), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(W[~dead].sum(-1), 1.0, rtol=1e-12)


def test_loo_sums_are_exact_for_inf_and_nan():
    losses = np.array([[1.0, np.inf, 2.0, 3.0], [np.nan, 1.0, 2.0, 4.0], [1e300, 1e300, 0.0, 1.0]])
    S = kr._loo_sums(losses)
    for i in range(4):
        np.testing.assert_array_equal(S[i], np.delete(losses, i, axis=1).sum(1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_proba_problems(dtype, layout):
    rng = np.random.default_rng(16)
    P = make_proba(rng, 4, 30, 3, np.float64)
    P[1, 2] = [np.nan, 0.5, 0.5]
    P[3, 7] = [np.inf, 0.0, 0.0]
    P[0, 5] = [1.2, -0.2, 0.0]  # sums to 1 but outside [0, 1]
    P[2, 9] = [0.5, 0.6, 0.0]  # in range, sums to 1.1
    P[1, 9] = [0.5, 0.6, 0.0]  # the same row again: counted once
    P[0, 11] = [0.3, 0.3, 0.4 + 5e-4]  # off by less than the tolerance
    P = _layout(P.astype(dtype), layout)
    assert kr.proba_problems(P, 1e-3) == (2, 1, 1)
    assert kr.proba_problems(P, 1e-6) == (2, 1, 2)
