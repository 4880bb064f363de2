"""Acquisition functions: values, selection, bad input, and inputs left untouched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax, xlogy

from skhyre import acquisition as acq


def make_proba(rng, K, n, C, dtype=np.float64):
    """Dirichlet rows with exact zeros: small entries zeroed, member 0 one-hot on every 5th row.

    (Not every member one-hot on the same rows: rows whose mixtures are class
    permutations of each other tie exactly, and rounding then decides picks.)
    """
    P = rng.dirichlet(np.full(C, 0.7), size=(K, n))
    P[P < 0.05] = 0.0
    P[0, ::5] = np.eye(C)[rng.integers(0, C, len(range(0, n, 5)))]
    P /= P.sum(-1, keepdims=True)
    return P.astype(dtype)


def ref_entropy(M):
    M = np.asarray(M, dtype=np.float64)
    return -xlogy(M, M).sum(-1)


def ref_scores(P, w, criterion):
    P64 = np.asarray(P, dtype=np.float64)
    M = np.einsum("k,knc->nc", w, P64)
    h = ref_entropy(M)
    return np.maximum(h - w @ ref_entropy(P64), 0.0) if criterion == "bald" else h


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    K, n, C = 7, 60, 3
    P = make_proba(rng, K, n, C, np.float32)
    w = rng.random(K)
    w /= w.sum()
    y = rng.integers(0, C, n)
    return P, w, y


# --------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_entropy_bald_variance_match_numpy(dtype):
    rng = np.random.default_rng(1)
    P = make_proba(rng, 6, 80, 4, dtype)
    w = rng.random(6)
    w /= w.sum()
    np.testing.assert_allclose(acq.entropy(P, w), ref_scores(P, w, "entropy"), rtol=1e-10)
    np.testing.assert_allclose(acq.bald(P, w), ref_scores(P, w, "bald"), rtol=1e-10, atol=1e-12)
    Hm = ref_entropy(P)
    np.testing.assert_allclose(
        acq.bald(P, w, member_entropies=Hm, check_input=False),
        ref_scores(P, w, "bald"),
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(acq.entropy(P[:, ::3], w), ref_scores(P[:, ::3], w, "entropy"))
    F = rng.normal(size=(6, 80)).astype(dtype)
    F64 = F.astype(np.float64)
    np.testing.assert_allclose(acq.variance(F, w), w @ (F64 - w @ F64) ** 2, rtol=1e-10)
    np.testing.assert_allclose(
        acq.variance(np.asfortranarray(F), list(w)), w @ (F64 - w @ F64) ** 2, rtol=1e-10
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rows_a_weighted_member_breaks_score_nan(bad):
    """A NaN or inf prediction of a member of nonzero weight makes its row's entropy
    and BALD NaN (ranked last), not the 0 that ``x log x`` alone would give; a member
    of weight 0 changes nothing, and the compiled sequential loop picks such rows last."""
    rng = np.random.default_rng(3)
    P = make_proba(rng, 4, 30, 3)
    w = np.array([0.3, 0.3, 0.4, 0.0])
    P[1, [2, 7]] = bad  # weighted member: rows 2 and 7 break
    P[3, 11] = np.nan  # weight 0: row 11 is still scored
    ok = np.ones(30, dtype=bool)
    ok[[2, 7]] = False
    Hm = ref_entropy(np.where(np.isfinite(P), P, 0.5))
    for crit, got in [
        ("entropy", acq.entropy(P, w, check_input=False)),
        ("bald", acq.bald(P, w, member_entropies=Hm, check_input=False)),
    ]:
        assert np.isnan(got[~ok]).all()
        P_ok = P[:3][:, ok]
        np.testing.assert_allclose(got[ok], ref_scores(P_ok, w[:3], crit), rtol=1e-10, atol=1e-12)
    y = rng.integers(0, 3, 30)
    idx, _ = acq.select_sequential(
        P[:3], y, 28, criterion="entropy", loss="brier", check_input=False
    )
    assert set(idx) == set(np.flatnonzero(ok))  # the broken rows are left to the end


def test_scores_accept_lists_and_ints():
    P = [[[1, 0], [0, 1]], [[0, 1], [0, 1]]]  # integer probabilities
    np.testing.assert_allclose(acq.bald(P, [0.5, 0.5]), [np.log(2), 0.0])
    np.testing.assert_allclose(acq.entropy(P, [0.5, 0.5]), [np.log(2), 0.0])
    np.testing.assert_allclose(acq.variance([[0, 1], [2, 1]], [0.5, 0.5]), [1.0, 0.0])


def test_check_member_probabilities_keeps_float_storage():
    P32 = np.full((2, 3, 2), 0.5, dtype=np.float32)
    assert acq.check_member_probabilities(P32) is P32
    Pf = np.asfortranarray(np.full((2, 3, 2), 0.5))
    assert acq.check_member_probabilities(Pf) is Pf
    assert acq.check_member_probabilities(np.ones((1, 2, 1), dtype=int)).dtype == np.float64
    # within the tolerance: accepted as is
    P = np.array([[[0.5 + 4e-4, 0.5 - 4e-4 - 5e-4], [1.0 + 5e-4, -5e-4]]])
    assert acq.check_member_probabilities(P) is P
    assert np.isfinite(acq.entropy(P, [1.0])).all()


def test_random_scores():
    a = acq.random(50, random_state=3)
    np.testing.assert_array_equal(a, acq.random(50, random_state=3))
    assert a.shape == (50,) and np.all((a >= 0) & (a < 1))
    assert not np.array_equal(a, acq.random(50, random_state=4))


# --------------------------------------------------------------------------
# select_top
# --------------------------------------------------------------------------
def test_select_top():
    s = np.array([0.1, 0.9, np.nan, 0.9, 0.5, -np.inf])
    np.testing.assert_array_equal(acq.select_top(s, 3), [1, 3, 4])
    np.testing.assert_array_equal(acq.select_top(s, 2, exclude=[1, -3]), [4, 0])
    mask = np.zeros(6, dtype=bool)
    mask[[1, 3]] = True
    np.testing.assert_array_equal(acq.select_top(s, 2, exclude=mask), [4, 0])
    # NaN never before finite scores, but may fill the last places
    np.testing.assert_array_equal(acq.select_top(s, 6), [1, 3, 4, 0, 2, 5])
    out = acq.select_top([3.0], 1)
    assert out.dtype == np.int64 and out.tolist() == [0]
    np.testing.assert_array_equal(acq.select_top(s, 2, exclude=[]), [1, 3])


def test_select_top_refuses_an_integer_01_mask():
    """A 0/1 int mask would silently exclude only rows 0 and 1; it is named instead."""
    s = np.array([0.1, 0.9, 0.3, 0.9, 0.5, 0.2])
    int_mask = np.array([0, 1, 0, 1, 0, 0])
    with pytest.raises(ValueError, match=r"looks like a 0/1 mask.*boolean mask"):
        acq.select_top(s, 2, exclude=int_mask)
    # the same mask as bool, and index lists of other lengths, still work
    np.testing.assert_array_equal(acq.select_top(s, 2, exclude=int_mask.astype(bool)), [4, 2])
    np.testing.assert_array_equal(acq.select_top(s, 2, exclude=[0, 1]), [3, 4])
    np.testing.assert_array_equal(acq.select_top(s[:2], 1, exclude=[0, 1][:1]), [1])
    # a full-length index list is fine when it is not all 0s and 1s
    np.testing.assert_array_equal(acq.select_top(s, 2, exclude=[5, 4, 5, 4, 5, 0]), [1, 3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_queries": 0}, r"n_queries must be a positive integer, got 0"),
        ({"n_queries": 1.5}, "n_queries must be a positive integer"),
        ({"n_queries": True}, "n_queries must be a positive integer"),
        ({"n_queries": 5}, r"n_queries=5 is larger than the 4 selectable pool examples"),
        ({"n_queries": 3, "exclude": [0, 1]}, r"larger than the 2 selectable .*minus 2 excluded"),
        ({"exclude": [4]}, "exclude has indices outside the pool of 4"),
        ({"exclude": [-5]}, "exclude has indices outside the pool of 4"),
        ({"exclude": [0.5]}, "exclude must be a boolean mask or a 1-D array of integer"),
        ({"exclude": [[0]]}, "exclude must be a boolean mask or a 1-D array of integer"),
        ({"exclude": np.zeros(3, dtype=bool)}, r"boolean exclude mask must have shape \(4,\)"),
    ],
)
def test_select_top_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        acq.select_top(np.arange(4.0), **kwargs)


def test_select_top_bad_scores():
    with pytest.raises(ValueError, match="scores must be 1-D, got ndim=2"):
        acq.select_top(np.ones((2, 2)))


def _select_top_full_sort(scores, n_queries, exclude_mask):
    """The reference: a stable argsort of the whole pool (NaN ranks with -inf)."""
    s = np.asarray(scores, dtype=np.float64)
    key = np.where(np.isnan(s), -np.inf, s)
    candidates = np.flatnonzero(~exclude_mask)
    if n_queries > candidates.size:
        return None  # select_top raises
    return candidates[np.argsort(-key[candidates], kind="stable")[:n_queries]]


_TIED_SCORES = st.sampled_from([0.0, -0.0, 0.5, 0.5, 1.0, 2.0, np.nan, -np.inf, np.inf, -1.0])


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.one_of(_TIED_SCORES, st.floats(-3.0, 3.0)), min_size=1, max_size=40),
    data=st.data(),
)
def test_select_top_matches_a_full_stable_sort(scores, data):
    """Partial selection (argmax for one, partition + sort of the few above) = full stable sort."""
    n = len(scores)
    exclude = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    as_indices = data.draw(st.booleans())
    k = data.draw(st.integers(1, n + 1))
    want = _select_top_full_sort(scores, k, exclude)
    ex = np.flatnonzero(exclude) if as_indices else exclude
    if want is None:
        with pytest.raises(ValueError, match="selectable pool examples"):
            acq.select_top(scores, k, exclude=ex)
        return
    got = acq.select_top(scores, k, exclude=ex)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n_queries", [1, 2, 7, 500, 999, 1000])
def test_select_top_large_tied_pool(n_queries):
    """Many exact ties, NaN and -inf among excluded rows, k = 1 up to k = n."""
    rng = np.random.default_rng(n_queries)
    s = rng.integers(0, 5, 1000).astype(np.float64)
    s[rng.random(1000) < 0.2] = np.nan
    s[rng.random(1000) < 0.1] = -np.inf
    for exclude in (np.zeros(1000, dtype=bool), rng.random(1000) < 0.3):
        if n_queries > (~exclude).sum():
            continue
        want = _select_top_full_sort(s, n_queries, exclude)
        np.testing.assert_array_equal(acq.select_top(s, n_queries, exclude=exclude), want)
    # every selectable score NaN or -inf: a tie broken by index, excluded rows skipped
    s2 = np.full(10, np.nan)
    s2[::3] = -np.inf
    np.testing.assert_array_equal(acq.select_top(s2, 1, exclude=[0, 1]), [2])
    np.testing.assert_array_equal(acq.select_top(s2, 3, exclude=[0, 1]), [2, 3, 4])


# --------------------------------------------------------------------------
# select_sequential
# --------------------------------------------------------------------------
def ref_sequential(
    P, y, T, n_queries, criterion, loss, exclude, eps=1e-15, scale=1.0, L0=None, lp=0.0
):
    """A plain NumPy loop re-scoring from scratch after every label."""
    K = P.shape[0]
    P64 = np.asarray(P, dtype=np.float64)
    L = np.zeros(K) if L0 is None else np.array(L0, dtype=float)
    taken = exclude.copy()
    picked = []
    for _ in range(n_queries):
        w = np.exp(log_softmax(-(L - L.min()) / T + lp))
        if P64.ndim == 2:
            s = w @ (P64 - w @ P64) ** 2
        else:
            s = ref_scores(P64, w, criterion)
        i = int(np.argmax(np.where(taken, -np.inf, s)))
        picked.append(i)
        taken[i] = True
        if P64.ndim == 2:
            d = P64[:, i] - y[i]
            L += scale * (d * d if loss == "squared" else np.abs(d))
        elif loss == "zero_one":
            L += P64[:, i].argmax(-1) != y[i]
        elif loss == "log_loss":
            L += -np.log(np.maximum(P64[:, i, y[i]], eps))
        else:
            L += ((P64[:, i] - np.eye(P64.shape[2])[y[i]]) ** 2).sum(-1)
    return np.array(picked), L


@pytest.mark.parametrize("criterion", ["auto", "bald", "entropy"])
@pytest.mark.parametrize("loss", [None, "log_loss", "brier"])
def test_select_sequential_classification(pool, criterion, loss):
    P, _w, y = pool
    exclude = [0, 5, 17]
    idx, L = acq.select_sequential(
        P, y, 10, criterion=criterion, loss=loss, temperature=2.0, exclude=exclude
    )
    mask = np.zeros(P.shape[1], dtype=bool)
    mask[exclude] = True
    crit = "bald" if criterion == "auto" else criterion
    ref_idx, ref_L = ref_sequential(P, y, 2.0, 10, crit, loss or "zero_one", mask)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(L, ref_L, rtol=1e-12)
    assert idx.dtype == np.int64


@pytest.mark.parametrize("criterion", ["auto", "variance"])
@pytest.mark.parametrize("loss", [None, "absolute"])
def test_select_sequential_regression(criterion, loss):
    rng = np.random.default_rng(2)
    F = rng.normal(size=(9, 70))
    y = rng.normal(size=70)
    idx, L = acq.select_sequential(
        F, y, 8, criterion=criterion, loss=loss, temperature=0.5, loss_scale=0.25
    )
    ref_idx, ref_L = ref_sequential(
        F, y, 0.5, 8, "variance", loss or "squared", np.zeros(70, bool), scale=0.25
    )
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(L, ref_L, rtol=1e-12)


def test_select_sequential_starting_losses_and_prior(pool):
    P, _w, y = pool
    rng = np.random.default_rng(3)
    L0 = rng.random(7) * 2
    lp = log_softmax(rng.normal(size=7))
    idx, L = acq.select_sequential(P, y, 6, cumulative_loss=L0, log_prior=lp, temperature=0.8)
    ref_idx, ref_L = ref_sequential(
        P, y, 0.8, 6, "bald", "zero_one", np.zeros(60, bool), L0=L0, lp=lp
    )
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(L, ref_L, rtol=1e-12)
    np.testing.assert_allclose(L - L0, (P[:, idx].argmax(-1) != y[idx]).sum(1))


@pytest.mark.parametrize(("task", "crit"), [("classification", "random"), ("regression", "random")])
def test_select_sequential_random(pool, task, crit):
    P, _w, y = pool
    if task == "regression":
        P = P[:, :, 0].astype(np.float64)
        y = y.astype(float)
    idx, L = acq.select_sequential(P, y, 6, criterion=crit, random_state=0, exclude=[1, 2])
    idx2, L2 = acq.select_sequential(P, y, 6, criterion=crit, random_state=0, exclude=[1, 2])
    np.testing.assert_array_equal(idx, idx2)
    np.testing.assert_array_equal(L, L2)
    assert not np.isin(idx, [1, 2]).any() and np.unique(idx).size == 6
    if task == "classification":
        expected = (P[:, idx].argmax(-1) != y[idx]).sum(1)
    else:
        expected = ((P[:, idx] - y[idx]) ** 2).sum(1)
    np.testing.assert_allclose(L, expected, rtol=1e-6)


def test_select_sequential_whole_pool(pool):
    P, _w, y = pool
    idx, _ = acq.select_sequential(P, y, P.shape[1] - 2, exclude=[3, 4])
    assert sorted(idx.tolist()) == [i for i in range(P.shape[1]) if i not in (3, 4)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_queries": 61}, ValueError, r"n_queries=61 is larger than the 60 selectable"),
        ({"n_queries": 58, "exclude": [1, 2, 3]}, ValueError, r"57 selectable .*minus 3 excluded"),
        ({"n_queries": 0}, ValueError, "n_queries must be a positive integer"),
        ({"criterion": "variance"}, ValueError, r"criterion='variance' does not fit a classif"),
        ({"criterion": "bogus"}, ValueError, r"criterion='bogus' does not fit"),
        ({"loss": "squared"}, ValueError, r"loss='squared' is not valid for classification"),
        ({"temperature": 0.0}, ValueError, "temperature must be > 0"),
        ({"temperature": "hot"}, TypeError, "temperature must be a positive real number"),
        ({"cumulative_loss": np.zeros(6)}, ValueError, r"cumulative_loss must have shape \(7,\)"),
        ({"cumulative_loss": [-np.inf] + [0] * 6}, ValueError, "must not contain -inf"),
        ({"cumulative_loss": [np.nan] * 7}, ValueError, "NaN for every member"),
        ({"log_prior": np.zeros(3)}, ValueError, r"log_prior must have shape \(7,\)"),
        ({"resum_every": 0}, ValueError, "resum_every must be a positive integer"),
        ({"resum_every": 2.0}, ValueError, "resum_every must be a positive integer"),
        ({"eps": 0.0}, ValueError, r"eps must be a number in \(0, 1\)"),
        ({"eps": "a"}, ValueError, r"eps must be a number in \(0, 1\), got 'a'"),
        ({"loss_scale": None}, ValueError, r"loss_scale must be a finite number > 0, got None"),
        ({"loss_scale": -1.0}, ValueError, "loss_scale must be a finite number > 0"),
        ({"exclude": [60]}, ValueError, "exclude has indices outside the pool of 60"),
    ],
)
def test_select_sequential_bad_input(pool, kwargs, error, match):
    P, _w, y = pool
    kwargs = {"n_queries": 3, **kwargs}
    with pytest.raises(error, match=match):
        acq.select_sequential(P, y, **kwargs)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.zeros(59, dtype=int), r"y must have shape \(60,\) to match the pool, got \(59,\)"),
        (np.full(60, 0.5), "y must hold integer class indices"),
        (np.full(60, np.nan), "y must hold integer class indices"),
        (np.full(60, 3), r"y has class indices outside 0..2"),
        (np.full(60, -1), r"y has class indices outside 0..2"),
    ],
)
def test_select_sequential_bad_labels(pool, y, match):
    P, _w, _y = pool
    with pytest.raises(ValueError, match=match):
        acq.select_sequential(P, y, 2)


def test_select_sequential_bad_regression_input():
    F = np.zeros((3, 10))
    with pytest.raises(ValueError, match=r"criterion='bald' does not fit a regression pool"):
        acq.select_sequential(F, np.zeros(10), 2, criterion="bald")
    with pytest.raises(ValueError, match="loss='zero_one' is not valid for regression"):
        acq.select_sequential(F, np.zeros(10), 2, loss="zero_one")
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        acq.select_sequential(F, np.full(10, np.nan), 2)
    with pytest.raises(ValueError, match=r"predictions must be .* got ndim=1"):
        acq.select_sequential(np.zeros(10), np.zeros(10), 2)
    F[1, 4] = np.inf
    with pytest.raises(ValueError, match="F contains NaN or inf"):
        acq.select_sequential(F, np.zeros(10), 2)
    # float labels holding integers are fine for a probability pool
    P = np.full((2, 4, 2), 0.5)
    assert acq.select_sequential(P, np.array([0.0, 1.0, 1.0, 0.0]), 1)[0].shape == (1,)


# --------------------------------------------------------------------------
# bad pools and weights
# --------------------------------------------------------------------------
def _bad_pool(kind):
    P = np.full((3, 5, 2), 0.5)
    if kind == "nan":
        P[1, 2, 0] = np.nan
    elif kind == "inf":
        P[0, 4, 1] = np.inf
    elif kind == "range":
        P[2, 1] = [1.5, -0.5]
    elif kind == "sum":
        P[2, 3] = [0.7, 0.7]
    return P


@pytest.mark.parametrize(
    ("P", "match"),
    [
        (np.full((3, 5), 0.5), r"shape \(K, n, C\), got ndim=2"),
        (np.full((3, 0, 2), 0.5), r"P is empty \(shape \(3, 0, 2\)\)"),
        (_bad_pool("nan"), r"P contains NaN or inf in 1 pool row\(s\)"),
        (_bad_pool("inf"), r"P contains NaN or inf in 1 pool row\(s\)"),
        (_bad_pool("range"), r"probabilities outside \[0, 1\] in 1 pool row\(s\)"),
        (_bad_pool("sum"), r"do not sum to 1 \(tolerance 0.001\) in 1 pool row\(s\)"),
    ],
)
@pytest.mark.parametrize("fn", ["entropy", "bald", "select_sequential"])
def test_bad_pools(P, match, fn):
    if fn == "select_sequential" and P.ndim == 2:
        pytest.skip("a 2-D pool is a valid regression pool for select_sequential")
    with pytest.raises(ValueError, match=match):
        if fn == "select_sequential":
            acq.select_sequential(P, np.zeros(P.shape[1], dtype=int), 1)
        else:
            getattr(acq, fn)(P, np.full(3, 1 / 3))


@pytest.mark.parametrize(
    ("F", "match"),
    [
        (np.zeros((3, 4, 1)), r"shape \(K, n\), got ndim=3"),
        (np.zeros((3, 0)), "F is empty"),
        (np.array([[0.0, np.nan], [1, 1], [2, 2]]), "F contains NaN or inf"),
    ],
)
def test_bad_regression_pools(F, match):
    with pytest.raises(ValueError, match=match):
        acq.variance(F, np.full(3, 1 / 3))


@pytest.mark.parametrize(
    ("w", "match"),
    [
        (np.full(4, 0.25), r"weights must have shape \(3,\) to match K=3 members, got \(4,\)"),
        (np.full((3, 1), 1 / 3), r"weights must have shape \(3,\)"),
        ([0.5, 0.6, -0.1], "weights must be finite and non-negative"),
        ([0.5, np.nan, 0.5], "weights must be finite and non-negative"),
        ([0.5, 0.5, 0.5], "weights must sum to 1, got 1.5"),
    ],
)
@pytest.mark.parametrize("fn", ["entropy", "bald", "variance"])
def test_bad_weights(w, match, fn):
    P = np.full((3, 5, 2), 0.5)
    X = P[:, :, 0] if fn == "variance" else P
    with pytest.raises(ValueError, match=match):
        getattr(acq, fn)(X, w)


def test_bad_member_entropies():
    P = np.full((3, 5, 2), 0.5)
    with pytest.raises(ValueError, match=r"member_entropies must have shape \(3, 5\)"):
        acq.bald(P, np.full(3, 1 / 3), member_entropies=np.zeros((5, 3)))


# --------------------------------------------------------------------------
# inputs are never modified
# --------------------------------------------------------------------------
def _frozen(*arrays):
    out = []
    for a in arrays:
        a = np.array(a)
        a.flags.writeable = False  # any write would raise
        out.append(a)
    return out


def test_acquisition_functions_never_modify_their_input(pool):
    P, w, y = pool
    rng = np.random.default_rng(5)
    F = rng.normal(size=(7, 60))
    Hm = ref_entropy(P)
    mask = np.zeros(60, dtype=bool)
    mask[[2, 9]] = True
    L0 = rng.random(7)
    lp = log_softmax(rng.normal(size=7))
    originals = [P, w, y, F, Hm, mask, L0, lp]
    copies = [a.copy() for a in originals]
    acq.entropy(P, w)
    acq.bald(P, w)
    acq.bald(P, w, member_entropies=Hm)
    acq.variance(F, w)
    acq.select_top(acq.entropy(P, w), 3, exclude=mask)
    for crit in ("bald", "entropy", "random"):
        acq.select_sequential(
            P, y, 5, criterion=crit, cumulative_loss=L0, log_prior=lp, exclude=mask
        )
    acq.select_sequential(F, F[0], 5, cumulative_loss=L0, exclude=mask)
    for a, b in zip(originals, copies):
        np.testing.assert_array_equal(a, b)


def test_acquisition_functions_accept_read_only_input(pool):
    P, w, y = pool
    Pr, wr, yr, Fr, mr, Lr = _frozen(P, w, y, P[:, :, 0], np.arange(60) < 3, np.zeros(7))
    np.testing.assert_allclose(acq.entropy(Pr, wr), acq.entropy(P, w))
    np.testing.assert_allclose(acq.bald(Pr, wr), acq.bald(P, w))
    np.testing.assert_allclose(acq.variance(Fr, wr), acq.variance(P[:, :, 0].copy(), w))
    np.testing.assert_array_equal(
        acq.select_sequential(Pr, yr, 4, exclude=mr, cumulative_loss=Lr)[0],
        acq.select_sequential(P, y, 4, exclude=np.arange(60) < 3)[0],
    )
    np.testing.assert_array_equal(
        acq.select_top(Fr[0], 3, exclude=mr), acq.select_top(Fr[0], 3, exclude=[0, 1, 2])
    )


# ------------------------------------------------------------ power sampling
def _splitmix_uniforms(seed, start, rows):
    """Plain-Python SplitMix64 reference of the row-indexed uniforms."""
    out = []
    mask = 2**64 - 1
    for i in range(start, start + rows):
        z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append(((z >> 11) + 0.5) * 2.0**-53)
    return np.array(out)


def test_power_keys_match_a_plain_reference():
    from skhyre.acquisition import power_keys

    rng = np.random.default_rng(0)
    s = rng.exponential(size=50)
    s[[3, 7]] = 0.0
    s[9] = -1e-17  # BALD's rounding noise counts as 0
    s[11] = np.nan
    seed, start = 12345678901, 17
    u = _splitmix_uniforms(seed, start, s.size)
    g = -np.log(-np.log(u))
    for power in (0.5, 1.0, 3.0):
        with np.errstate(divide="ignore", invalid="ignore"):
            want = np.where(s > 0, power * np.log(np.where(s > 0, s, 1)), -1e9) + g
        want[11] = np.nan
        got = power_keys(s, seed, start=start, power=power)
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
        assert np.isnan(got[11]) and np.isfinite(np.delete(got, 11)).all()
        assert got[[3, 7, 9]].max() < np.delete(got, [3, 7, 9, 11]).min()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 60),
    st.integers(0, 2**62),
    st.integers(0, 10**6),
    st.data(),
)
def test_power_keys_of_a_block_are_those_of_the_whole_pool(n, seed, start, data):
    """Row i gets the same key whichever block it is scored in (streamed pools, Dask)."""
    from skhyre.acquisition import power_keys

    s = np.random.default_rng(seed % 1000).exponential(size=n)
    cut = data.draw(st.integers(0, n))
    whole = power_keys(s, seed, start=start)
    parts = np.concatenate(
        [power_keys(s[:cut], seed, start=start), power_keys(s[cut:], seed, start=start + cut)]
    )
    np.testing.assert_array_equal(parts, whole)


def test_sample_power_draws_in_proportion_to_the_scores():
    from skhyre.acquisition import sample_power

    scores = np.array([0.5, 1.0, 2.5, 0.0, 6.0])
    draws = 4000
    first = np.array([sample_power(scores, random_state=r)[0] for r in range(draws)])
    freq = np.bincount(first, minlength=scores.size) / draws
    p = scores / scores.sum()
    # 5 standard errors of a binomial proportion: fails only if the law is wrong
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / draws) + 1e-12), freq
    # without replacement: the second pick is proportional among the rest
    pairs = [tuple(sample_power(scores, 2, random_state=r)) for r in range(draws)]
    second_given_4 = np.bincount([b for a, b in pairs if a == 4], minlength=5)
    q = np.array([0.5, 1.0, 2.5, 0.0, 0.0]) / 4.0
    n4 = second_given_4.sum()
    assert np.all(np.abs(second_given_4 / n4 - q) <= 5 * np.sqrt(q * (1 - q) / n4) + 1e-12)


def test_sample_power_zero_scores_last_nan_after_them_exclusions_kept():
    from skhyre.acquisition import sample_power

    scores = np.array([0.0, 2.0, np.nan, 0.0, 1.0, 0.0])
    for r in range(30):
        got = sample_power(scores, 6, random_state=r)
        assert sorted(got.tolist()) == list(range(6))
        assert set(got[:2].tolist()) == {1, 4}
        assert set(got[2:5].tolist()) == {0, 3, 5}
        assert got[5] == 2
        got = sample_power(scores, 3, exclude=[1], random_state=r)
        assert got[0] == 4 and 1 not in got
    # zero-score rows come in random order, not by index
    assert len({tuple(sample_power(scores, 5, random_state=r)[2:]) for r in range(30)}) > 1
    np.testing.assert_array_equal(
        sample_power(scores, 4, random_state=3), sample_power(scores, 4, random_state=3)
    )


@pytest.mark.parametrize("power", [1e-9, 1.0, 1e6])
def test_zero_scores_come_after_the_tiniest_positive_at_any_power(power):
    from skhyre.acquisition import power_keys

    s = np.array([0.0, 5e-324, 0.0, 1e300, 0.0, 2.2e-308])  # denormal, huge, tiny
    for seed in range(1, 40):
        order = acq.select_top(power_keys(s, seed, power=power), 6)
        assert set(order[:3].tolist()) == {1, 3, 5}
    # and in random order among themselves
    tails = {tuple(acq.select_top(power_keys(s, seed, power=power), 6)[3:]) for seed in range(40)}
    assert len(tails) > 1


def test_power_zero_is_uniform_and_a_large_power_is_top():
    from skhyre.acquisition import power_keys

    scores = np.array([1.0, 100.0, 2.0, 50.0])
    firsts = [int(acq.select_top(power_keys(scores, s, power=0.0), 1)[0]) for s in range(400)]
    assert np.bincount(firsts, minlength=4).min() > 60  # each about 100
    np.testing.assert_array_equal(
        acq.select_top(power_keys(scores, 5, power=200.0), 4), acq.select_top(scores, 4)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(scores=np.ones((2, 2)), seed=1), "1-D"),
        (dict(scores=np.ones(3), seed=-1), "seed"),
        (dict(scores=np.ones(3), seed=1.5), "seed"),
        (dict(scores=np.ones(3), seed=1, power=-1.0), "power"),
        (dict(scores=np.ones(3), seed=1, power=np.inf), "power"),
        (dict(scores=np.ones(3), seed=1, power=2e6), "power"),
        (dict(scores=np.ones(3), seed=1, power=np.nan), "power"),
    ],
)
def test_power_keys_bad_input(kwargs, match):
    from skhyre.acquisition import power_keys

    with pytest.raises(ValueError, match=match):
        power_keys(**kwargs)


def test_sample_power_bad_input():
    from skhyre.acquisition import sample_power

    with pytest.raises(ValueError, match="1-D"):
        sample_power(np.ones((2, 2)))
    with pytest.raises(ValueError, match="larger than the 2 selectable"):
        sample_power(np.ones(3), 3, exclude=[0])
