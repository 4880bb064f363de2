"""The adaptation contract of HyReRegressor and HyReClassifier.

fit leaves uniform weights; adapt resets then reweights; partial_adapt is
coherent; temperature="auto"; set_params; query / active_adapt (compiled and
Python paths); failures leave the adaptation state untouched.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from conftest import TEMPERATURE_FAST
from numpy.testing import assert_allclose, assert_array_equal

from skhyre import HyReClassifier, HyReRegressor, acquisition

K = 8
FAST = TEMPERATURE_FAST  # K members
STATE = ("weights_", "log_weights_", "cumulative_loss_", "n_adapt_samples_", "temperature_")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=200)
    return X, y


def _classification():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + 0.3 * X[:, 2] > 0, "yes", "no")
    return X, y


@pytest.fixture(scope="module", params=["regressor", "classifier"])
def fitted(request):
    """(fitted estimator, X_train, y_train, X_pool, y_pool) for each task."""
    if request.param == "regressor":
        X, y = _regression()
        est = HyReRegressor(**FAST)
    else:
        X, y = _classification()
        est = HyReClassifier(**FAST)
    est.fit(X[:120], y[:120])
    return est, X[:120], y[:120], X[120:], y[120:]


@pytest.fixture
def setup(fitted):
    est, X, y, Xp, yp = fitted
    return copy.deepcopy(est), X, y, Xp, yp


def _state(est):
    return {k: copy.deepcopy(getattr(est, k)) for k in STATE}


def _assert_state_equal(est, state):
    for k, v in state.items():
        assert_array_equal(getattr(est, k), v, err_msg=k)


def _assert_uniform(est):
    assert_array_equal(est.weights_, np.full(K, 1 / K))
    assert_allclose(est.log_weights_, np.full(K, -np.log(K)))
    assert_array_equal(est.cumulative_loss_, np.zeros(K))
    assert est.n_adapt_samples_ == 0


def _weights_differ(a, b):
    return not np.allclose(a, b, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ weights
def test_fit_leaves_weights_uniform(setup):
    est, X, y, Xp, yp = setup
    _assert_uniform(est)
    assert est.temperature_ == 1.0
    est.adapt(Xp[:10], yp[:10])
    assert _weights_differ(est.weights_, np.full(K, 1 / K))
    est.fit(X, y)  # refitting starts from the prior again
    _assert_uniform(est)


def test_adapt_resets_then_reweights(setup):
    est, _, _, Xp, yp = setup
    fresh = copy.deepcopy(est).adapt(Xp[10:25], yp[10:25])
    est.adapt(Xp[:10], yp[:10]).adapt(Xp[10:25], yp[10:25])
    _assert_state_equal(est, _state(fresh))
    assert est.n_adapt_samples_ == 15
    assert_allclose(est.weights_.sum(), 1.0)
    assert_allclose(np.exp(est.log_weights_), est.weights_, rtol=1e-12)


def test_partial_adapt_batch_equals_one_by_one(setup):
    est, _, _, Xp, yp = setup
    batch = copy.deepcopy(est).partial_adapt(Xp[:20], yp[:20])
    for i in range(20):
        est.partial_adapt(Xp[i : i + 1], yp[i : i + 1])
    assert est.n_adapt_samples_ == batch.n_adapt_samples_ == 20
    assert _weights_differ(batch.weights_, np.full(K, 1 / K))
    if isinstance(est, HyReClassifier):
        # 0-1 losses are integers: coherence holds to the last bit
        assert_array_equal(est.cumulative_loss_, batch.cumulative_loss_)
        assert_array_equal(est.weights_, batch.weights_)
    else:
        # a one-row forward pass may differ from a batched one in the last
        # float32 bit; the reweighting itself adds nothing
        assert_allclose(est.cumulative_loss_, batch.cumulative_loss_, rtol=1e-5)
        assert_allclose(est.weights_, batch.weights_, rtol=1e-4, atol=1e-9)


def test_partial_adapt_after_adapt_accumulates(setup):
    est, _, _, Xp, yp = setup
    both = copy.deepcopy(est).adapt(Xp[:16], yp[:16])
    est.adapt(Xp[:6], yp[:6]).partial_adapt(Xp[6:16], yp[6:16])
    assert est.n_adapt_samples_ == 16
    assert_allclose(est.cumulative_loss_, both.cumulative_loss_, rtol=1e-5)
    assert_allclose(est.weights_, both.weights_, rtol=1e-4, atol=1e-9)


def test_reset_weights(setup):
    est, _, _, Xp, yp = setup
    before = est.predict(Xp)
    assert est.adapt(Xp[:15], yp[:15]).reset_weights() is est
    _assert_uniform(est)
    assert_array_equal(est.predict(Xp), before)
    # and the history is gone: partial_adapt now equals adapt
    est.partial_adapt(Xp[15:20], yp[15:20])
    ref = copy.deepcopy(est).adapt(Xp[15:20], yp[15:20])
    _assert_state_equal(est, _state(ref))


def test_set_params_temperature_applies_at_next_adapt(setup):
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:20], yp[:20])
    before = _state(est)
    est.set_params(temperature=0.05)
    _assert_state_equal(est, before)  # nothing recomputed by set_params
    est.adapt(Xp[:20], yp[:20])
    assert est.temperature_ == 0.05
    assert_array_equal(est.cumulative_loss_, before["cumulative_loss_"])
    assert _weights_differ(est.weights_, before["weights_"])
    logits = -est.cumulative_loss_ / 0.05
    w = np.exp(logits - logits.max())
    assert_allclose(est.weights_, w / w.sum(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("change", [dict(temperature=0.05), dict(temperature="auto")])
# nearly all the weight on one member: later picks tie, and a TiedScoresWarning says so
@pytest.mark.filterwarnings("ignore::skhyre.reweighting.TiedScoresWarning")
def test_active_adapt_applies_a_changed_temperature_before_its_first_pick(setup, change):
    """Array oracles (compiled loop), callable oracles and streamed pools agree."""
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:6], yp[:6]).set_params(**change)
    synced = copy.deepcopy(est).adapt(Xp[:6], yp[:6])  # the seen examples at the new setting
    first = synced.query(Xp, exclude=np.arange(6))[0]
    picks = [
        copy.deepcopy(est).active_adapt(Xp, yp, 2, exclude=np.arange(6)).queried_indices_,
        copy.deepcopy(est)
        .active_adapt(Xp, lambda i: yp[i], 2, exclude=np.arange(6))
        .queried_indices_,
        copy.deepcopy(est)
        .active_adapt([Xp[:50], Xp[50:]], yp, 2, exclude=np.arange(6), pool_memory_budget=0)
        .queried_indices_,
    ]
    assert all(p[0] == first for p in picks), (first, picks)
    # the second picks are the best row under the weights after the first label;
    # where scores tie to rounding (one member holding nearly all the weight, as
    # temperature=0.05 can make it on some CPUs) the loops may take different
    # rows of the tie (documented in active_adapt)
    after = copy.deepcopy(synced).partial_adapt(Xp[[first]], yp[[first]])
    M = after.predict_members(Xp).astype(np.float64)
    scores = acquisition.score_pool(M, after.weights_, after._check_criterion("auto"))
    scores[[*range(6), first]] = -np.inf
    for p in picks:
        assert_allclose(scores[p[1]], scores.max(), rtol=0, atol=1e-12)
    if np.sort(scores)[-2] < scores.max() - 1e-9:  # no tie: the very same row
        assert picks[0][1] == picks[1][1] == picks[2][1]


# ------------------------------------------------------- temperature="auto"
def _loo_criterion(M, y_idx_or_val, T, loss):
    """Mean held-out loss of the leave-one-out weighted prediction (NumPy reference)."""
    L = loss(M, y_idx_or_val)  # (K, n)
    n = L.shape[1]
    total = L.sum(axis=1)
    out = []
    for i in range(n):
        rest = total - L[:, i]
        if np.isinf(T):
            w = np.full(L.shape[0], 1 / L.shape[0])
        else:
            z = -rest / T
            w = np.exp(z - z.max())
            w /= w.sum()
        mix = np.tensordot(w, M[:, i : i + 1], axes=1)[None]
        out.append(loss(mix, y_idx_or_val[i : i + 1])[0, 0])
    return float(np.mean(out))


def test_temperature_auto_beats_uniform_on_loo(setup):
    est, _, _, Xp, _ = setup
    est.set_params(temperature="auto")
    if isinstance(est, HyReRegressor):
        M = est.predict_members(Xp[:24]).astype(np.float64)
        y_obvious = M[3] + 0.01 * est.y_scale_ * np.sin(np.arange(24))  # member 3 is right
        scale = 1.0 / est.y_scale_**2

        def loss(F, t):
            return scale * (F - t) ** 2

        target = y_obvious
    else:
        M = est.predict_members(Xp[:24]).astype(np.float64)
        labels = M[3].argmax(axis=1)  # member 3 is right
        agree = (M.argmax(axis=2) == labels).all(axis=0)
        assert not agree.all(), "the members never disagree on this pool"
        y_obvious = est.classes_[labels]

        def loss(P, t):
            return (P.argmax(axis=-1) != t).astype(float)

        target = labels
    est.adapt(Xp[:24], y_obvious)
    T = est.temperature_
    assert np.isfinite(T) and T > 0
    auto_loo = _loo_criterion(M, target, T, loss)
    uniform_loo = _loo_criterion(M, target, np.inf, loss)
    assert auto_loo < uniform_loo
    assert est.weights_.argmax() == 3 or est.cumulative_loss_[est.weights_.argmax()] == 0
    logits = -est.cumulative_loss_ / T
    w = np.exp(logits - logits.max())
    assert_allclose(est.weights_, w / w.sum(), rtol=1e-6, atol=1e-12)


def test_temperature_auto_falls_back_to_uniform_without_evidence(setup):
    est, _, _, Xp, yp = setup
    est.set_params(temperature="auto").adapt(Xp[:1], yp[:1])
    assert est.temperature_ == np.inf  # one example: no held-out evidence
    assert_allclose(est.weights_, 1 / K)


def test_temperature_auto_sees_history_after_switching(setup):
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:12], yp[:12])
    est.set_params(temperature="auto").partial_adapt(Xp[12:20], yp[12:20])
    ref = copy.deepcopy(est).adapt(Xp[:20], yp[:20])
    assert est.temperature_ == ref.temperature_
    assert est.n_adapt_samples_ == 20
    assert_allclose(est.weights_, ref.weights_, rtol=1e-4, atol=1e-9)


# -------------------------------------------------------------------- query
def test_query_shapes_distinct_and_exclude(setup):
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:5], yp[:5])
    n = len(Xp)
    picks = est.query(Xp, n_queries=n)
    assert_array_equal(np.sort(picks), np.arange(n))
    assert est.query(Xp).shape == (1,)
    first = est.query(Xp, n_queries=5)
    assert first[0] == est.query(Xp)[0]
    mask = np.zeros(n, dtype=bool)
    mask[first] = True
    for exclude in (mask, first, first.tolist()):
        picks = est.query(Xp, n_queries=10, exclude=exclude)
        assert len(set(picks.tolist())) == 10
        assert not set(picks.tolist()) & set(first.tolist())
    assert_array_equal(
        np.sort(est.query(Xp, n_queries=n - 5, exclude=first)), np.setdiff1d(np.arange(n), first)
    )
    with pytest.raises(ValueError, match=r"n_queries=6 is larger than the 5 selectable"):
        est.query(Xp[:10], n_queries=6, exclude=np.arange(5))
    with pytest.raises(ValueError, match="n_queries must be a positive integer"):
        est.query(Xp, n_queries=0)
    with pytest.raises(ValueError, match="exclude has indices outside the pool"):
        est.query(Xp, exclude=[n + 3])
    with pytest.raises(ValueError, match="boolean exclude mask must have shape"):
        est.query(Xp, exclude=np.zeros(n + 1, dtype=bool))
    with pytest.raises(ValueError, match="criterion='foo'"):
        est.query(Xp, criterion="foo")
    _assert_state_equal(est, _state(copy.deepcopy(est).adapt(Xp[:5], yp[:5])))


def _criteria(est):
    return ("variance",) if isinstance(est, HyReRegressor) else ("bald", "entropy")


def test_active_adapt_array_and_callable_oracles_agree(setup):
    """Labels array (compiled loop) and callable oracle (Python loop) pick the same."""
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:3], yp[:3])
    for criterion in (*_criteria(est), "auto", "random"):
        asked = []

        def oracle(idx, asked=asked):
            asked.append(np.asarray(idx).tolist())
            return yp[idx]

        a = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=6, criterion=criterion)
        b = copy.deepcopy(est).active_adapt(Xp, oracle, n_queries=6, criterion=criterion)
        assert a.queried_indices_.shape == (6,)
        assert len(set(a.queried_indices_.tolist())) == 6
        assert_array_equal(a.queried_indices_, b.queried_indices_, err_msg=criterion)
        assert asked == [[i] for i in b.queried_indices_]  # one index at a time
        _assert_state_equal(a, _state(b))
        assert a.n_adapt_samples_ == 3 + 6
        # the adapted state equals partial_adapt on the picked examples
        ref = copy.deepcopy(est).partial_adapt(Xp[a.queried_indices_], yp[a.queried_indices_])
        assert_allclose(a.cumulative_loss_, ref.cumulative_loss_, rtol=1e-5)
        assert_allclose(a.weights_, ref.weights_, rtol=1e-4, atol=1e-9)


def test_active_adapt_compiled_equals_python_path(setup):
    """The compiled loop equals the Python loop forced by an equivalent callable loss."""
    est, _, _, Xp, yp = setup
    if isinstance(est, HyReRegressor):
        var = est.y_scale_**2

        def same_loss(M, y):
            return (M - y) ** 2 / var
    else:

        def same_loss(P, y):
            return (P.argmax(axis=-1) != y).astype(float)

    crit = _criteria(est)[0]
    a = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=8, criterion=crit)
    b = copy.deepcopy(est).set_params(adapt_loss=same_loss)
    b.active_adapt(Xp, yp, n_queries=8, criterion=crit)
    assert_array_equal(a.queried_indices_, b.queried_indices_)
    assert_allclose(a.weights_, b.weights_, rtol=1e-4, atol=1e-9)


def test_active_adapt_first_pick_is_query_and_respects_exclude(setup):
    est, _, _, Xp, yp = setup
    crit = _criteria(est)[0]
    first = est.query(Xp, criterion=crit)[0]
    est.active_adapt(Xp, yp, n_queries=4, criterion=crit, exclude=[0, 1, 2])
    picks = est.queried_indices_
    if first not in (0, 1, 2):
        assert picks[0] == first
    assert not {0, 1, 2} & set(picks.tolist())
    with pytest.raises(ValueError, match="larger than the"):
        est.active_adapt(Xp[:6], yp[:6], n_queries=4, exclude=[0, 1, 2])
    with pytest.raises(ValueError, match="oracle labels have 5 entries but the pool has 6"):
        est.active_adapt(Xp[:6], yp[:5], n_queries=2)


# ---------------------------------------------------------- atomic failures
def _bad_label(est):
    return np.nan if isinstance(est, HyReRegressor) else "zebra"


def _error(est):
    return "NaN or inf" if isinstance(est, HyReRegressor) else "never seen in fit"


def test_failed_adaptation_leaves_state_untouched(setup):
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:7], yp[:7])
    before = _state(est)
    twin = copy.deepcopy(est)
    bad_y = yp[7:12].astype(object)
    bad_y[2] = _bad_label(est)

    with pytest.raises(ValueError, match=_error(est)):
        est.adapt(Xp[7:12], bad_y)
    with pytest.raises(ValueError, match=_error(est)):
        est.partial_adapt(Xp[7:12], bad_y)
    with pytest.raises(ValueError, match=_error(est)):
        est.active_adapt(Xp[7:12], bad_y, n_queries=3)

    calls = []

    def flaky(idx):
        calls.append(idx)
        if len(calls) == 3:
            raise RuntimeError("oracle unavailable")
        return yp[idx]

    with pytest.raises(RuntimeError, match="oracle unavailable"):
        est.active_adapt(Xp, flaky, n_queries=5)
    assert len(calls) == 3

    def liar(idx):
        return np.array([_bad_label(est)], dtype=object) if idx[0] % 2 else yp[idx]

    with pytest.raises(ValueError, match=_error(est)):
        est.active_adapt(Xp, liar, n_queries=len(Xp), criterion="random")
    assert not hasattr(est, "queried_indices_")
    _assert_state_equal(est, before)
    # the hidden history is intact too: the next update equals the twin's
    est.partial_adapt(Xp[20:30], yp[20:30])
    twin.partial_adapt(Xp[20:30], yp[20:30])
    _assert_state_equal(est, _state(twin))


@pytest.mark.parametrize("sizes", [[1] * 100, [3, 1, 1, 7, 2, 40, 1, 1, 1, 5], [50, 1, 1, 1, 1]])
def test_history_blocks_stay_few_and_in_order(sizes):
    # partial_adapt one label at a time used to copy the whole history on every
    # call (O(n^2) in all); blocks that merge geometrically keep it O(n log n)
    from skhyre._adaptation import _append_history, _joined

    rng = np.random.default_rng(0)
    parts, Ms, ys = (), [], []
    for n in sizes:
        M, y = rng.normal(size=(4, n)), rng.normal(size=n)
        before = parts
        parts = _append_history(parts, M, y)
        Ms.append(M)
        ys.append(y)
        assert len(parts) <= np.log2(sum(len(y) for y in ys)) + 2
        sizes_now = [b[1].shape[0] for b in parts]
        assert all(a > 2 * b for a, b in itertools.pairwise(sizes_now))
        if before:
            assert _joined(before)[0].shape[1] == sum(sizes_now) - n  # the old tuple intact
    M_all, y_all = _joined(parts)
    assert_array_equal(M_all, np.concatenate(Ms, axis=1))
    assert_array_equal(y_all, np.concatenate(ys))


@pytest.mark.parametrize("temperature", [1.0, "auto"])
def test_partial_adapt_one_by_one_with_many_labels(setup, temperature):
    est, _, _, Xp, yp = setup
    est.set_params(temperature=temperature)
    one = copy.deepcopy(est).adapt(Xp, yp)
    for i in range(len(yp)):
        est.partial_adapt(Xp[i : i + 1], yp[i : i + 1])
    assert est.n_adapt_samples_ == len(yp)
    assert len(est._adapt_hist) <= np.log2(len(yp)) + 2
    assert est.temperature_ == one.temperature_
    # (a one-row forward pass may differ from a batched one in the last float32 bit)
    assert_allclose(est.weights_, one.weights_, rtol=1e-4, atol=1e-9)
    # the history is exact: a loss change re-measures every example seen
    loss = "absolute" if isinstance(est, HyReRegressor) else "brier"
    est.set_params(adapt_loss=loss)
    one.set_params(adapt_loss=loss)
    est.partial_adapt(Xp[:1], yp[:1])
    one.partial_adapt(Xp[:1], yp[:1])
    assert_allclose(est.cumulative_loss_, one.cumulative_loss_, rtol=1e-5)


def test_an_old_pickle_layout_keeps_adapting(setup):
    # pickles made before the history was kept in blocks hold _adapt_M/_adapt_y
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:10], yp[:10])
    new = copy.deepcopy(est).partial_adapt(Xp[10:20], yp[10:20])
    (M, y_hist), = est._adapt_hist
    del est.__dict__["_adapt_hist"]
    est._adapt_M, est._adapt_y = M, y_hist
    est.set_params(temperature="auto")  # re-weighs the old history first
    new.set_params(temperature="auto")
    est.partial_adapt(Xp[10:20], yp[10:20])
    new.partial_adapt(Xp[20:25], yp[20:25])
    est.partial_adapt(Xp[20:25], yp[20:25])
    assert "_adapt_M" not in est.__dict__ and est.n_adapt_samples_ == 25
    assert_array_equal(est.weights_, new.weights_)
    assert est.temperature_ == new.temperature_


def test_random_queries_follow_random_state_and_labels_seen():
    """criterion="random" without random_state: derived from the estimator's integer
    random_state and the number of examples adapted on, so each new label gives a
    new draw, and the same state gives the same one."""
    X, y = _regression()
    est = HyReRegressor(**FAST).fit(X, y)
    pool = X[:80]
    first = est.query(pool, n_queries=5, criterion="random")
    assert_array_equal(est.query(pool, n_queries=5, criterion="random"), first)
    expected = np.random.RandomState(FAST["random_state"]).random_sample(80)
    assert_array_equal(first, np.argsort(-expected, kind="stable")[:5])
    est.partial_adapt(X[80:81], y[80:81])
    after = est.query(pool, n_queries=5, criterion="random")
    expected = np.random.RandomState(FAST["random_state"] + 1).random_sample(80)
    assert_array_equal(after, np.argsort(-expected, kind="stable")[:5])


def test_nan_member_warning_counts_only_newly_nan_members():
    from skhyre.reweighting import NaNMemberWarning

    X, y = _regression()
    est = HyReRegressor(**FAST).fit(X, y)
    calls = iter([0, 1])

    def loss(M, yy):  # member 0 NaN on the first update, members 0 and 1 on the second
        L = (M - yy) ** 2
        L[: next(calls) + 1] = np.nan
        return L

    est.set_params(adapt_loss=loss)
    with pytest.warns(NaNMemberWarning, match=r"^1 member\(s\) gave NaN"):
        est.adapt(X[:2], y[:2])
    with pytest.warns(NaNMemberWarning, match=r"^1 member\(s\) gave NaN"):
        est.partial_adapt(X[2:4], y[2:4])
    assert (est.weights_[:2] == 0).all() and est.weights_[2:].sum() == pytest.approx(1.0)


# ------------------------------------------------------------ power sampling
@pytest.mark.filterwarnings("ignore::skhyre.reweighting.TiedScoresWarning")  # the top-10 query
def test_power_query_draws_in_proportion_to_the_scores(setup):
    """query(sampling="power")'s first pick follows score / sum(score), reproducibly."""
    est, _, _, Xp, _ = setup
    crit = "variance" if isinstance(est, HyReRegressor) else "bald"
    M = est._member_matrix(Xp)
    scores = acquisition.score_pool(M, est.weights_, crit)
    p = np.clip(scores, 0, None) / np.clip(scores, 0, None).sum()
    draws = 3000
    first = [int(est.query(Xp, sampling="power", random_state=r)[0]) for r in range(draws)]
    freq = np.bincount(first, minlength=p.size) / draws
    top = np.argsort(-p)[:5]  # the likeliest rows: 5 binomial standard errors
    assert np.all(np.abs(freq[top] - p[top]) <= 5 * np.sqrt(p[top] * (1 - p[top]) / draws))
    a = est.query(Xp, n_queries=10, sampling="power")  # the estimator's random_state
    assert_array_equal(a, est.query(Xp, n_queries=10, sampling="power"))
    assert len(set(a.tolist())) == 10
    assert not np.array_equal(a, est.query(Xp, n_queries=10))  # not the top 10


def test_power_active_adapt_oracles_agree_and_state_is_coherent(setup):
    est, _, _, Xp, yp = setup
    est.set_params(temperature=0.5)
    a = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=6, sampling="power")
    b = copy.deepcopy(est).active_adapt(Xp, lambda i: yp[i], n_queries=6, sampling="power")
    assert_array_equal(a.queried_indices_, b.queried_indices_)
    assert_allclose(a.weights_, b.weights_)
    # the weights are those of adapt on the picked rows, in order
    c = copy.deepcopy(est).adapt(Xp[a.queried_indices_], yp[a.queried_indices_])
    assert_allclose(a.weights_, c.weights_, rtol=1e-10)
    top = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=6)
    assert not np.array_equal(a.queried_indices_, top.queried_indices_)
    # the random criterion ignores sampling
    r1 = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=4, criterion="random", sampling="power")
    r2 = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=4, criterion="random")
    assert_array_equal(r1.queried_indices_, r2.queried_indices_)


@pytest.mark.parametrize("bad", ["greedy", None, 1, "Power"])
def test_bad_sampling_is_named_and_keeps_state(setup, bad):
    est, _, _, Xp, yp = setup
    est.adapt(Xp[:3], yp[:3])
    before = _state(est)
    with pytest.raises(ValueError, match=r"sampling=.*'top', 'power'"):
        est.query(Xp, sampling=bad)
    with pytest.raises(ValueError, match=r"sampling=.*'top', 'power'"):
        est.active_adapt(Xp, yp, n_queries=2, sampling=bad)
    _assert_state_equal(est, before)


def test_power_active_adapt_failure_keeps_state(setup):
    est, _, _, Xp, yp = setup

    def oracle(idx):
        if oracle.calls == 2:
            raise RuntimeError("labeller went home")
        oracle.calls += 1
        return yp[idx]

    oracle.calls = 0
    est.adapt(Xp[:3], yp[:3])
    before = _state(est)
    with pytest.raises(RuntimeError, match="went home"):
        est.active_adapt(Xp, oracle, n_queries=4, sampling="power")
    _assert_state_equal(est, before)


@pytest.mark.parametrize("temperature", [1.0, "auto"])
def test_weights_history_has_a_row_per_update_and_per_active_label(temperature):
    X, y = _regression()
    est = HyReRegressor(**{**FAST, "temperature": temperature}).fit(X[:120], y[:120])
    assert est.weights_history_.shape == (1, K) and est.labels_seen_.tolist() == [0]
    est.adapt(X[120:125], y[120:125]).partial_adapt(X[125:127], y[125:127])
    assert est.labels_seen_.tolist() == [0, 5, 7]
    assert_array_equal(est.weights_history_[-1], est.weights_)
    batch = copy.deepcopy(est).reset_weights().active_adapt(X[130:], y[130:], n_queries=4)
    assert batch.labels_seen_.tolist() == [0, 1, 2, 3, 4]
    assert_array_equal(batch.weights_history_[-1], batch.weights_)
    # each row is the weights after that many labels, one by one
    ref = copy.deepcopy(est).reset_weights()
    for j, i in enumerate(batch.queried_indices_):
        ref.partial_adapt(X[130:][[i]], y[130:][[i]])
        # (a row predicted alone differs from the pool batch in float32 last bits)
        np.testing.assert_allclose(batch.weights_history_[j + 1], ref.weights_, rtol=1e-5)
    plot_ready = batch.weights_history_
    assert np.allclose(plot_ready.sum(axis=1), 1.0)
