"""BatchBALD over the K weighted members: against a brute-force reference, properties,
bad input, and the estimators' ``query(criterion="batchbald")``."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import xlogy
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from skhyre import HyReEnsemble, acquisition
from skhyre import _kernels as kern
from skhyre import _querying as querying
from skhyre.acquisition import bald, batchbald, select_top
from skhyre.pools import config_context


# --------------------------------------------------------------------------
# the reference: every label configuration enumerated, every candidate scored
# --------------------------------------------------------------------------
def ref_batch_mi(P, w, batch):
    """I(y_batch; member) from the joint over all C ** b label configurations."""
    P = np.asarray(P, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    Q = P[:, list(batch), :]  # (K, b, C)
    _K, b, C = Q.shape
    joint = np.zeros(C**b)
    for j, ys in enumerate(itertools.product(range(C), repeat=b)):
        joint[j] = w @ np.prod(Q[:, np.arange(b), list(ys)], axis=1)
    member_entropies = -xlogy(Q, Q).sum(axis=2)  # (K, b)
    return -xlogy(joint, joint).sum() - (w @ member_entropies).sum()


def ref_greedy(P, w, b, exclude=()):
    """Greedy BatchBALD by brute force: the first candidate (lowest index) of the largest MI."""
    batch, mis = [], []
    for _ in range(b):
        best, pick = -np.inf, -1
        for x in range(P.shape[1]):
            if x in batch or x in exclude:
                continue
            mi = ref_batch_mi(P, w, [*batch, x])
            if mi > best:
                best, pick = mi, x
        batch.append(pick)
        mis.append(best)
    return np.array(batch), np.array(mis)


def dirichlet_pool(rng, K, n, C, alpha=0.6, dtype=np.float64):
    P = rng.dirichlet(np.full(C, alpha), size=(K, n))
    return P.astype(dtype)


def random_weights(rng, K):
    w = rng.random(K) + 0.05
    return w / w.sum()


def entropy_of(w):
    return float(-xlogy(w, w).sum())


# --------------------------------------------------------------------------
# exact enumeration: the brute force's picks and mutual information
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "seed, K, n, C, b",
    [(0, 3, 8, 2, 5), (1, 5, 9, 3, 4), (2, 4, 7, 4, 3), (3, 6, 10, 2, 6), (4, 2, 6, 5, 3)],
)
def test_matches_the_brute_force_reference(seed, K, n, C, b):
    rng = np.random.default_rng(seed)
    P = dirichlet_pool(rng, K, n, C)
    w = random_weights(rng, K)
    ref_idx, ref_mi = ref_greedy(P, w, b)
    idx, mi = batchbald(P, w, b, max_configurations=C ** (b - 1))  # enumerated to the end
    assert_array_equal(idx, ref_idx)
    assert_allclose(mi, ref_mi, rtol=0, atol=1e-10)
    assert idx.dtype == np.int64 and mi.dtype == np.float64


def test_matches_the_reference_with_exclusions_and_zero_probabilities():
    rng = np.random.default_rng(5)
    P = dirichlet_pool(rng, 4, 9, 3)
    P[P < 0.1] = 0.0  # exact zeros: configurations of probability 0 are dropped
    P /= P.sum(axis=2, keepdims=True)
    w = random_weights(rng, 4)
    exclude = [0, 4]
    ref_idx, ref_mi = ref_greedy(P, w, 4, exclude=exclude)
    idx, mi = batchbald(P, w, 4, exclude=exclude)
    assert_array_equal(idx, ref_idx)
    assert_allclose(mi, ref_mi, rtol=0, atol=1e-10)


def test_float32_pool_matches_the_reference_to_float32_rounding():
    rng = np.random.default_rng(6)
    P = dirichlet_pool(rng, 5, 8, 3, dtype=np.float32)
    w = random_weights(rng, 5)
    ref_idx, ref_mi = ref_greedy(P, w, 4)
    idx, mi = batchbald(P, w, 4)
    assert_array_equal(idx, ref_idx)
    # float32 rows sum to 1 only to about 1e-7, which the joint entropy sees
    assert_allclose(mi, ref_mi, rtol=0, atol=1e-6)


def test_lazy_evaluation_gives_the_picks_of_evaluating_everything():
    """The kernel with one candidate per round (laziest) and with every candidate per round."""
    rng = np.random.default_rng(7)
    P = dirichlet_pool(rng, 8, 300, 3)
    w = random_weights(rng, 8)
    mask = np.zeros(300, dtype=bool)
    runs = [
        kern.batchbald_select(P, w, 6, mask, 10**4, np.random.RandomState(0), chunk=c)
        for c in (1, 300)
    ]
    assert_array_equal(runs[0][0], runs[1][0])
    assert_allclose(runs[0][1], runs[1][1], rtol=0, atol=1e-12)
    assert runs[0][2][1:].sum() < runs[1][2][1:].sum()  # fewer gains computed


def test_first_pick_is_the_bald_argmax_and_batch_of_one_is_bald():
    rng = np.random.default_rng(8)
    P = dirichlet_pool(rng, 6, 50, 4, dtype=np.float32)
    w = random_weights(rng, 6)
    scores = bald(P, w)
    idx, mi = batchbald(P, w, 1)
    assert idx[0] == select_top(scores, 1)[0]
    assert mi[0] == scores[idx[0]]


def test_bald_without_cached_entropies_is_bitwise_the_cached_path():
    rng = np.random.default_rng(9)
    P = dirichlet_pool(rng, 9, 500, 5, dtype=np.float32)
    w = random_weights(rng, 9)
    w[2] = 0.0
    w /= w.sum()
    direct = bald(P, w)
    cached = bald(P, w, member_entropies=kern.member_entropies(P))
    assert_array_equal(direct, cached)


def test_a_copy_of_a_certain_row_gains_nothing():
    P = np.array(
        [
            [[1.0, 0.0], [1.0, 0.0], [0.9, 0.1]],
            [[0.0, 1.0], [0.0, 1.0], [0.5, 0.5]],
            [[1.0, 0.0], [1.0, 0.0], [0.1, 0.9]],
        ]
    )
    w = np.full(3, 1 / 3)
    idx, mi = batchbald(P, w, 3)
    assert_array_equal(idx, [0, 2, 1])
    assert mi[2] == pytest.approx(mi[1], abs=1e-15)  # the copy adds nothing


# --------------------------------------------------------------------------
# sampled configurations
# --------------------------------------------------------------------------
def test_sampled_configurations_estimate_the_mutual_information():
    rng = np.random.default_rng(10)
    P = dirichlet_pool(rng, 6, 12, 3)
    w = random_weights(rng, 6)
    b = 6
    exact_idx, exact_mi = batchbald(P, w, b, max_configurations=3 ** (b - 1))
    # the 4th pick is scored over the 3 ** 3 = 27 configurations of 3 labels > 20: sampled
    idx, mi = batchbald(P, w, b, max_configurations=20, random_state=0)
    assert_array_equal(idx[:3], exact_idx[:3])  # enumerated up to there
    assert_allclose(mi[:3], exact_mi[:3], rtol=0, atol=1e-12)
    # the sampled estimate of the picked batch's MI is close to its exact value
    assert abs(mi[-1] - ref_batch_mi(P, w, idx)) < 0.05
    # and the batch is about as informative as the exact greedy batch
    assert ref_batch_mi(P, w, idx) > exact_mi[-1] - 0.05
    assert mi[-1] <= entropy_of(w) + 1e-9


def test_sampled_configurations_are_reproducible_and_seeded():
    rng = np.random.default_rng(11)
    P = dirichlet_pool(rng, 12, 200, 4, dtype=np.float32)
    w = random_weights(rng, 12)
    a = batchbald(P, w, 8, max_configurations=64, random_state=3)
    b = batchbald(P, w, 8, max_configurations=64, random_state=3)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    c = batchbald(P, w, 8, max_configurations=64, random_state=np.random.RandomState(4))
    assert not np.array_equal(a[1], c[1])  # another draw of configurations
    # enumerated to the end: the seed plays no part
    e1 = batchbald(P, w, 3, random_state=1)
    e2 = batchbald(P, w, 3, random_state=2)
    assert_array_equal(e1[0], e2[0])
    assert_array_equal(e1[1], e2[1])


def test_more_configurations_than_the_sample_needs_is_harmless():
    """max_configurations=1: one sampled configuration, every gain its BALD under one posterior."""
    rng = np.random.default_rng(12)
    P = dirichlet_pool(rng, 5, 40, 3)
    w = random_weights(rng, 5)
    idx, mi = batchbald(P, w, 6, max_configurations=1, random_state=0)
    assert np.unique(idx).size == 6
    assert np.all(np.diff(mi) >= 0) and np.isfinite(mi).all()


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------
@st.composite
def pools(draw, max_K=6, max_n=14, max_C=4):
    K = draw(st.integers(1, max_K))
    n = draw(st.integers(2, max_n))
    C = draw(st.integers(2, max_C))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    alpha = draw(st.sampled_from([0.2, 0.6, 2.0]))
    P = dirichlet_pool(rng, K, n, C, alpha=alpha)
    w = random_weights(rng, K)
    b = draw(st.integers(1, min(n, 5)))
    return P, w, b, rng


def _gains(mi):
    return np.diff(mi, prepend=0.0)


def _near_tie(P, w, idx, mi, tol=1e-9):
    """Whether some step's best gain is within ``tol`` of another candidate's (picks may differ)."""
    for t in range(1, len(idx) + 1):
        best = ref_batch_mi(P, w, idx[:t])
        for x in range(P.shape[1]):
            if x not in idx[:t] and abs(ref_batch_mi(P, w, [*idx[: t - 1], x]) - best) < tol:
                return True
    return False


@settings(max_examples=40, deadline=None)
@given(pools())
def test_properties(case):
    P, w, b, rng = case
    idx, mi = batchbald(P, w, b)
    K, n, C = P.shape
    assert np.unique(idx).size == b  # distinct
    assert idx[0] == select_top(bald(P, w), 1)[0]  # the BALD argmax first
    gains = _gains(mi)
    assert np.all(gains >= 0.0) and np.all(gains[1:] <= gains[:-1] + 1e-9)  # submodular
    assert mi[-1] <= entropy_of(w) + 1e-9  # never more than the member's entropy
    assert mi[-1] <= b * np.log(C) + 1e-9

    # members permuted with their weights: the same batch (up to rounding ties)
    perm = rng.permutation(K)
    idx_p, mi_p = batchbald(P[perm], w[perm], b)
    assert_allclose(mi_p, mi, rtol=0, atol=1e-9)
    if not np.array_equal(idx_p, idx):
        assert _near_tie(P, w, idx, mi)

    # members of weight 0 are never read: anything there, the same bits
    extra = dirichlet_pool(rng, 2, n, C)
    P0 = np.concatenate([P[:1], extra, P[1:]])
    w0 = np.concatenate([w[:1], [0.0, 0.0], w[1:]])
    idx_0, mi_0 = batchbald(P0, w0, b)
    assert_array_equal(idx_0, idx)
    assert_array_equal(mi_0, mi)


# --------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------
def test_bad_input():
    rng = np.random.default_rng(13)
    P = dirichlet_pool(rng, 3, 5, 2)
    w = np.full(3, 1 / 3)
    for bad in (0, -1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="max_configurations must be a positive integer"):
            batchbald(P, w, 2, max_configurations=bad)
    with pytest.raises(ValueError, match="larger than the 3 selectable"):
        batchbald(P, w, 4, exclude=[0, 1])
    with pytest.raises(ValueError, match="n_queries must be a positive integer"):
        batchbald(P, w, 0)
    with pytest.raises(ValueError, match="weights must"):
        batchbald(P, [0.5, 0.5], 1)
    with pytest.raises(ValueError, match="shape \\(K, n, C\\)"):
        batchbald(P[0], w, 1)
    with pytest.raises(ValueError, match="do not sum to 1"):
        batchbald(P * 0.5, w, 1)


def test_input_untouched_read_only_and_lists_accepted():
    rng = np.random.default_rng(14)
    P = dirichlet_pool(rng, 4, 20, 3, dtype=np.float32)
    w = random_weights(rng, 4)
    P0, w0 = P.copy(), w.copy()
    P.setflags(write=False)
    w.setflags(write=False)
    idx, _mi = batchbald(P, w, 5, exclude=np.arange(20) < 3, random_state=0)
    assert_array_equal(P, P0)
    assert_array_equal(w, w0)
    assert not np.isin(idx, [0, 1, 2]).any()
    idx_l, _mi_l = batchbald(P.tolist(), w.tolist(), 5, exclude=[0, 1, 2], random_state=0)
    assert_array_equal(idx_l[:1], idx[:1])  # a float64 copy: the same first pick
    # the whole pool
    idx_all, _ = batchbald(P, w, 20)
    assert_array_equal(np.sort(idx_all), np.arange(20))


def test_nan_rows_are_picked_last_without_input_checks():
    rng = np.random.default_rng(15)
    P = dirichlet_pool(rng, 4, 10, 3)
    w = random_weights(rng, 4)
    P[1, 3] = np.nan
    idx, mi = batchbald(P, w, 10, check_input=False)
    assert idx[-1] == 3 and np.isnan(mi[-1]) and np.isfinite(mi[:-1]).all()
    with pytest.raises(ValueError, match="NaN"):
        batchbald(P, w, 2)
    w0 = w.copy()
    w0[1] = 0.0
    w0 /= w0.sum()
    _idx0, mi0 = batchbald(P, w0, 10, check_input=False)  # the NaN member has weight 0
    assert np.isfinite(mi0).all()


def test_criteria_lists_batchbald_for_classification_only():
    assert "batchbald" in acquisition.CRITERIA["classification"]
    assert acquisition.CRITERIA["classification"][0] == "bald"  # still "auto"
    assert "batchbald" not in acquisition.CRITERIA["regression"]


def test_select_sequential_treats_batchbald_as_bald():
    rng = np.random.default_rng(16)
    P = dirichlet_pool(rng, 5, 40, 3)
    y = rng.integers(0, 3, 40)
    a = acquisition.select_sequential(P, y, 6, criterion="batchbald")
    b = acquisition.select_sequential(P, y, 6, criterion="bald")
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="does not fit a regression"):
        acquisition.select_sequential(P[..., 0], y.astype(float), 2, criterion="batchbald")


# --------------------------------------------------------------------------
# the estimators: query(criterion="batchbald") goes through acquisition.batchbald
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ensemble():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(300, 4))
    y = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.4)]
    members = [
        (f"tree{i}", DecisionTreeClassifier(max_depth=3, random_state=i)) for i in range(4)
    ] + [("logreg", LogisticRegression(max_iter=500))]
    est = HyReEnsemble(members).fit(X[:150], y[:150])
    return est, X[150:], y[150:]


def test_query_batchbald_is_acquisition_batchbald(ensemble):
    base, X_pool, y_pool = ensemble
    est = copy.deepcopy(base).set_params(temperature=0.5).adapt(X_pool[:5], y_pool[:5])
    got = est.query(X_pool, n_queries=6, criterion="batchbald", exclude=np.arange(5))
    M = est.predict_members(X_pool)
    want, _ = batchbald(M, est.weights_, 6, exclude=np.arange(5))
    assert_array_equal(got, want)
    assert got[0] == est.query(X_pool, criterion="bald", exclude=np.arange(5))[0]


def test_query_batchbald_refuses_power_sampling(ensemble):
    est, X_pool, _ = ensemble
    with pytest.raises(ValueError, match="sampling='power' does not apply"):
        est.query(X_pool, n_queries=2, criterion="batchbald", sampling="power")


def _adapted(ensemble):
    base, X_pool, y_pool = ensemble
    return copy.deepcopy(base).set_params(temperature=0.5).adapt(X_pool[:3], y_pool[:3])


@pytest.mark.parametrize(
    "form",
    ["budget", "iterator", "chunks", "factory"],
)
@pytest.mark.parametrize("exclude", [None, [0, 1, -1]])
def test_query_batchbald_on_a_streamed_pool_equals_in_memory(ensemble, form, exclude):
    est = _adapted(ensemble)
    X_pool = ensemble[1]
    want = est.query(X_pool, n_queries=6, criterion="batchbald", exclude=exclude)
    pieces = [X_pool[:70], X_pool[70:]]
    pool, budget = {
        "budget": (X_pool, 100),
        "iterator": (iter(pieces), None),
        "chunks": (pieces, None),
        "factory": (lambda: iter(pieces), None),
    }[form]
    with config_context(memory_budget=0):
        got = est.query(
            pool, n_queries=6, criterion="batchbald", exclude=exclude, pool_memory_budget=budget
        )
    assert_array_equal(got, want)


def test_query_batchbald_streamed_reads_more_rows_when_the_batch_is_not_among_them(monkeypatch):
    """Copies of the best row by BALD add nothing to a batch: BatchBALD passes over
    them for rows ranked far below, which a second, wider pass finds."""
    rng = np.random.default_rng(19)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    trees = [  # fully grown: one-hot members, so a copy's label is known given the first
        (f"tree{i}", DecisionTreeClassifier(max_features=1, random_state=i)) for i in range(6)
    ]
    est = HyReEnsemble(trees).fit(X[:150], y[:150])
    X_pool = X[150:]
    best = est.query(X_pool, criterion="bald")[0]
    pool = np.concatenate([np.repeat(X_pool[[best]], 30, axis=0), X_pool])
    want = est.query(pool, n_queries=4, criterion="batchbald")
    assert (want >= 30).sum() >= 2  # most of the batch lies beyond the copies
    monkeypatch.setattr(querying, "BATCHBALD_STREAM_CANDIDATES", 1)  # 16 rows first
    passes = []
    chunks = [pool[:100], pool[100:]]

    def factory():
        passes.append(1)
        return iter(chunks)

    got = est.query(factory, n_queries=4, criterion="batchbald")
    assert_array_equal(got, want)
    assert len(passes) >= 2
    with pytest.raises(ValueError, match="one-shot iterator"):
        est.query(iter(chunks), n_queries=4, criterion="batchbald")


def test_query_batchbald_on_a_dask_pool_equals_in_memory(ensemble):
    da = pytest.importorskip("dask.array")
    est = _adapted(ensemble)
    X_pool = ensemble[1]
    want = est.query(X_pool, n_queries=5, criterion="batchbald")
    got = est.query(da.from_array(X_pool, chunks=50), n_queries=5, criterion="batchbald")
    assert_array_equal(got, want)


def test_active_adapt_batchbald_is_bald(ensemble):
    base, X_pool, y_pool = ensemble
    a = copy.deepcopy(base).set_params(temperature=0.5)
    b = copy.deepcopy(base).set_params(temperature=0.5)
    a.active_adapt(X_pool, y_pool, n_queries=5, criterion="batchbald")
    b.active_adapt(X_pool, y_pool, n_queries=5, criterion="bald")
    assert_array_equal(a.queried_indices_, b.queried_indices_)
    assert_array_equal(a.weights_, b.weights_)


def test_regressor_refuses_batchbald():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(60, 2))
    from sklearn.linear_model import Ridge

    est = HyReEnsemble([("a", Ridge(alpha=1.0)), ("b", Ridge(alpha=10.0))]).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="criterion='batchbald' does not fit"):
        est.query(X, n_queries=2, criterion="batchbald")
