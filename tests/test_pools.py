"""Pools beyond memory: streamed query / active_adapt equal the in-memory path exactly.

Two kinds of estimators:

- ``HyReEnsemble`` over small random forests: trees predict each row on its
  own, so streamed blocks can be tiny (many blocks, many merges), and leaf
  probabilities give many exactly tied scores (tie-breaking is exercised);
- tiny torch ``HyReClassifier`` / ``HyReRegressor``: their forward pass is
  batched by 8192 rows, so the pools are a little over two such batches.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from skhyre import HyReClassifier, HyReEnsemble, HyReRegressor, acquisition, pools
from skhyre.acquisition import select_top
from skhyre.pools import config_context, get_config, set_config
from skhyre.reweighting import NaNMemberWarning

torch.set_num_threads(1)

N_TORCH = 2 * 8192 + 1237  # three forward batches, the last one partial
STREAM = {"memory_budget": 0, "block_rows": 8192}


def _chunks(X, sizes):
    """Split rows into consecutive chunks of the given (cycled) sizes."""
    out, i, j = [], 0, 0
    while i < len(X):
        out.append(X[i : i + sizes[j % len(sizes)]])
        i += sizes[j % len(sizes)]
        j += 1
    return out


def _state(est):
    return (
        est.queried_indices_.copy(),
        est.weights_.copy(),
        est.cumulative_loss_.copy(),
        est.n_adapt_samples_,
        est.temperature_,
    )


def _assert_same_state(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])  # bit-identical, not approximately
    np.testing.assert_array_equal(a[2], b[2])
    assert a[3] == b[3]
    assert a[4] == b[4] or (np.isinf(a[4]) and np.isinf(b[4]))


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def forest_clf():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    est = HyReEnsemble(RandomForestClassifier(n_estimators=6, max_depth=3, random_state=0))
    est.fit(X, y)
    Xp = rng.normal(size=(503, 3))
    yp = (Xp[:, 0] > 0).astype(int) + (Xp[:, 1] > 0.5)
    return est, Xp, yp


@pytest.fixture(scope="module")
def forest_reg():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, -2.0, 0.5]
    est = HyReEnsemble(RandomForestRegressor(n_estimators=6, max_depth=3, random_state=0))
    est.fit(X, y)
    Xp = rng.normal(size=(401, 3))
    return est, Xp, Xp @ [1.0, -2.0, 0.5]


@pytest.fixture(scope="module")
def torch_clf():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    est = HyReClassifier(n_members=6, hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
    est.fit(X, y)
    Xp = rng.normal(size=(N_TORCH, 4))
    yp = (Xp[:, 0] > 0).astype(int) + (Xp[:, 1] > 1)
    return est, Xp, yp


@pytest.fixture(scope="module")
def torch_reg():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(200, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0]
    est = HyReRegressor(n_members=6, hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
    est.fit(X, y)
    Xp = rng.normal(size=(N_TORCH, 4))
    return est, Xp, Xp @ [1.0, -2.0, 0.5, 0.0]


def _pool_forms(Xp, sizes):
    """Every streamed form of the same pool (name, factory of a fresh pool)."""
    parts = _chunks(Xp, sizes)
    return [
        ("array", lambda: Xp),
        ("list", lambda: list(parts)),
        ("generator", lambda: (c for c in parts)),
        ("callable", lambda: lambda: iter(parts)),
    ]


# -------------------------------------------------------------------- query
@pytest.mark.parametrize("criterion", ["bald", "entropy", "random"])
@pytest.mark.parametrize(
    "exclude",
    [None, [0, 5, -1, -7], "mask"],
    ids=["none", "indices", "mask"],
)
def test_query_streamed_equals_in_memory_forest(forest_clf, criterion, exclude):
    est, Xp, _ = forest_clf
    if exclude == "mask":
        exclude = np.arange(len(Xp)) % 3 == 0
    want = est.query(Xp, n_queries=9, criterion=criterion, exclude=exclude, random_state=4)
    with config_context(memory_budget=0, block_rows=17):
        for name, make in _pool_forms(Xp, [40, 3, 101]):
            got = est.query(
                make(), n_queries=9, criterion=criterion, exclude=exclude, random_state=4
            )
            np.testing.assert_array_equal(got, want, err_msg=name)
            assert got.dtype == np.int64


def test_query_ties_go_to_the_lower_index(forest_clf):
    est, Xp, _ = forest_clf
    # duplicated rows tie exactly; the first copy sits in a later block
    pool = np.concatenate([Xp[:50], Xp[:50]])[::-1]
    scores = acquisition.score_pool(est._member_matrix(pool), est.weights_, "bald")
    assert len(np.unique(scores)) < len(scores) // 2  # many exact ties
    want = select_top(scores, 30)
    with config_context(memory_budget=0, block_rows=7):
        got = est.query(iter(_chunks(pool, [11])), n_queries=30, criterion="bald")
    np.testing.assert_array_equal(got, want)


def test_query_regression_streamed(forest_reg, torch_reg):
    for est, Xp, _ in (forest_reg, torch_reg):
        want = est.query(Xp, n_queries=5)
        with config_context(memory_budget=0, block_rows=13):
            got = est.query((c for c in _chunks(Xp, [999, 5000])), n_queries=5)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("criterion", ["bald", "entropy", "random"])
def test_query_streamed_equals_in_memory_torch(torch_clf, criterion):
    est, Xp, _ = torch_clf
    want = est.query(Xp, n_queries=6, criterion=criterion, exclude=[-1, 2], random_state=0)
    with config_context(**STREAM):
        for name, make in _pool_forms(Xp, [3001, 777]):
            got = est.query(
                make(), n_queries=6, criterion=criterion, exclude=[-1, 2], random_state=0
            )
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_streamed_blocks_are_bounded_and_aligned(torch_clf, monkeypatch):
    est, Xp, _ = torch_clf
    est = copy.deepcopy(est)
    seen = []
    original = type(est)._member_matrix

    def spy(self, X):
        seen.append(len(X))
        return original(self, X)

    monkeypatch.setattr(type(est), "_member_matrix", spy)
    with config_context(memory_budget="1KiB", block_rows=1):  # rounded up to 8192
        est.query(iter(_chunks(Xp, [100, 9000])), n_queries=2)
    assert seen == [8192, 8192, N_TORCH - 2 * 8192]
    with config_context(block_rows=1):
        seen.clear()
        est.query(Xp, n_queries=2)  # fits the default budget: the whole pool at once
        assert seen == [N_TORCH]
        seen.clear()
        est.query(Xp, n_queries=2, pool_memory_budget=0)  # per call beats the config
        assert seen == [8192, 8192, N_TORCH - 2 * 8192]


# ------------------------------------------------------------- active_adapt
def _active_pair(est, Xp, oracle, make_pool, budget=0, block_rows=8192, **kw):
    a = copy.deepcopy(est).active_adapt(Xp, oracle, **kw)
    b = copy.deepcopy(est)
    with config_context(memory_budget=budget, block_rows=block_rows):
        b.active_adapt(make_pool(), oracle, **kw)
    return _state(a), _state(b)


@pytest.mark.parametrize("criterion", ["bald", "entropy", "random"])
@pytest.mark.parametrize("oracle_kind", ["array", "callable"])
def test_active_adapt_streamed_forest(forest_clf, criterion, oracle_kind):
    est, Xp, yp = forest_clf
    oracle = yp if oracle_kind == "array" else (lambda idx: yp[idx])
    for name, make in _pool_forms(Xp, [60, 7]):
        if name in ("generator", "array"):
            continue  # one-shot: see test_one_shot_iterator_needing_several_passes_raises
        a, b = _active_pair(
            est,
            Xp,
            oracle,
            make,
            block_rows=41,
            n_queries=6,
            criterion=criterion,
            exclude=[1, -2],
            random_state=5,  # HyReEnsemble has no random_state of its own
        )
        assert a[0].shape == (6,)
        _assert_same_state(a, b)


@pytest.mark.parametrize("criterion", ["bald", "entropy"])
@pytest.mark.parametrize("loss", ["zero_one", "log_loss", "brier"])
def test_active_adapt_streamed_compiled_torch(torch_clf, criterion, loss):
    """The compiled loop (array oracle, fixed temperature) replayed block by block."""
    est, Xp, yp = torch_clf
    est = copy.deepcopy(est).set_params(adapt_loss=loss, temperature=0.3)
    a, b = _active_pair(est, Xp, yp, lambda: _chunks(Xp, [5000]), n_queries=10, criterion=criterion)
    _assert_same_state(a, b)


@pytest.mark.parametrize("variant", ["callable_oracle", "auto_temperature", "custom_loss"])
def test_active_adapt_streamed_python_loop_torch(torch_clf, variant):
    est, Xp, yp = torch_clf
    est = copy.deepcopy(est)
    oracle = yp
    if variant == "callable_oracle":
        oracle = lambda idx: yp[idx]  # noqa: E731
    elif variant == "auto_temperature":
        est.set_params(temperature="auto")
    else:
        est.set_params(adapt_loss=lambda M, y: 1.0 - M[:, np.arange(len(y)), y])
    a, b = _active_pair(est, Xp, oracle, lambda: lambda: iter(_chunks(Xp, [4099])), n_queries=5)
    _assert_same_state(a, b)


@pytest.mark.parametrize("criterion", ["variance", "random"])
@pytest.mark.parametrize("loss", ["squared", "absolute", "gaussian_nll"])
def test_active_adapt_streamed_regressor(torch_reg, criterion, loss):
    est, Xp, yp = torch_reg
    est = copy.deepcopy(est).set_params(adapt_loss=loss)
    a, b = _active_pair(est, Xp, yp, lambda: Xp, n_queries=6, criterion=criterion)
    _assert_same_state(a, b)
    a, b = _active_pair(
        est, Xp, lambda i: yp[i], lambda: _chunks(Xp, [8000]), n_queries=4, criterion=criterion
    )
    _assert_same_state(a, b)


def test_active_adapt_continues_from_current_weights(torch_clf):
    est, Xp, yp = torch_clf
    est = copy.deepcopy(est).adapt(Xp[:5], yp[:5])
    a, b = _active_pair(est, Xp, yp, lambda: Xp, n_queries=7, exclude=np.arange(5))
    _assert_same_state(a, b)


def test_active_adapt_caches_what_fits_and_reads_a_generator_once(torch_clf):
    est, Xp, yp = torch_clf
    reads = []

    def gen():
        for c in _chunks(Xp, [6000]):
            reads.append(len(c))
            yield c

    # within the budget, one pass caches the matrix and a one-shot iterator is enough
    a, b = _active_pair(est, Xp, yp, gen, budget="1GiB", n_queries=6)
    _assert_same_state(a, b)
    assert sum(reads) == N_TORCH


def test_one_shot_iterator_needing_several_passes_raises(torch_clf):
    est, Xp, yp = torch_clf
    est = copy.deepcopy(est)
    before = est.weights_.copy()
    with config_context(**STREAM):
        with pytest.raises(ValueError, match="one-shot iterator"):
            est.active_adapt(iter(_chunks(Xp, [5000])), yp, n_queries=2)
        np.testing.assert_array_equal(est.weights_, before)
        # one label needs one pass only
        a = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=1, pool_memory_budget="1GiB")
        est.active_adapt(iter(_chunks(Xp, [5000])), yp, n_queries=1)
    _assert_same_state(_state(a), _state(est))


def test_forest_regressor_active_streamed(forest_reg):
    est, Xp, yp = forest_reg
    a, b = _active_pair(
        est, Xp, yp, lambda: _chunks(Xp, [33]), block_rows=10, n_queries=8, exclude=[0]
    )
    _assert_same_state(a, b)


# ------------------------------------------------------------------- errors
def test_stream_errors_match_in_memory(forest_clf):
    est, Xp, yp = forest_clf
    n = len(Xp)
    with config_context(memory_budget=0, block_rows=50):
        cases = [
            dict(exclude=np.zeros(n + 1, dtype=bool)),
            dict(exclude=[n + 3]),
            dict(exclude=[-n - 1]),
            dict(exclude=[0.5]),
            dict(n_queries=n + 1),
            dict(n_queries=0),
        ]
        for kw in cases:
            with pytest.raises(ValueError) as in_memory:
                est.query(Xp, pool_memory_budget=np.inf, **kw)
            with pytest.raises(ValueError) as streamed:
                est.query(iter(_chunks(Xp, [70])), **kw)
            assert str(streamed.value) == str(in_memory.value), kw
        with pytest.raises(ValueError, match="oracle labels have"):
            est.active_adapt(_chunks(Xp, [70]), yp[:-1], n_queries=2)


def test_bad_chunks_raise(forest_clf):
    est, Xp, _ = forest_clf
    with config_context(memory_budget=0):
        with pytest.raises(ValueError, match="chunk 1 must be 2-D"):
            est.query(iter([Xp[:5], Xp[5]]))
        with pytest.raises(ValueError, match="chunk 1 has 2 columns"):
            est.query(iter([Xp[:5], Xp[5:9, :2]]))
        with pytest.raises(ValueError, match="pool is empty"):
            est.query(iter([]))
        with pytest.raises(ValueError, match=r"list mixing 2-D chunks .*item 1 is a list"):
            est.query([Xp[:5], Xp[5:9].tolist()])  # an iterator of these works; a list is ambiguous
        with pytest.raises(ValueError, match="features"):
            est.query(iter([Xp[:5, :2]]), criterion="random")
        with pytest.raises(TypeError, match="callable pool must return"):
            est.query(lambda: 3)
        calls = []

        def shrinking():
            calls.append(1)
            return iter(_chunks(Xp[: len(Xp) - len(calls)], [100]))

        with pytest.raises(ValueError, match="fresh iterator over the same rows"):
            est.active_adapt(shrinking, lambda i: np.zeros(len(i), dtype=int), n_queries=3)
        once = iter(_chunks(Xp, [100]))  # the same iterator each call: empty on a later pass
        with pytest.raises(ValueError, match=f"gave 0 rows on a later pass but {len(Xp)}"):
            est.active_adapt(lambda: once, lambda i: np.zeros(len(i), dtype=int), n_queries=3)


def test_config_validation_and_context():
    default = get_config()
    assert default == {"memory_budget": pools.DEFAULT_MEMORY_BUDGET, "block_rows": "auto"}
    with config_context(memory_budget="1.5GB", block_rows=100):
        assert get_config() == {"memory_budget": 1.5e9, "block_rows": 100}
        with config_context(memory_budget=10):
            assert get_config()["memory_budget"] == 10
        assert get_config()["memory_budget"] == 1.5e9
    assert get_config() == default
    with pytest.raises(ValueError, match="not a memory size"):
        set_config(memory_budget="lots")
    with pytest.raises(ValueError, match=">= 0"):
        set_config(memory_budget=-1)
    with pytest.raises(TypeError, match="number of bytes"):
        set_config(memory_budget=True)
    with pytest.raises(ValueError, match="block_rows"):
        set_config(block_rows=0)
    assert get_config() == default


def test_bad_per_call_budget(forest_clf):
    est, Xp, yp = forest_clf
    with pytest.raises(ValueError, match="pool_memory_budget"):
        est.query(Xp, pool_memory_budget="huge")
    with pytest.raises(ValueError, match="pool_memory_budget"):
        est.active_adapt(Xp, yp, n_queries=1, pool_memory_budget=-5)


def test_in_memory_path_untouched(torch_clf, monkeypatch):
    """Arrays within the budget are never streamed: their member matrix is predicted once."""
    est, Xp, yp = torch_clf

    def boom(*a, **k):
        raise AssertionError("streamed")

    monkeypatch.setattr(pools._blocks.Pool, "blocks", boom)
    monkeypatch.setattr(pools._blocks.Pool, "scan", boom)
    est.query(Xp[:1000], n_queries=2)
    copy.deepcopy(est).active_adapt(Xp[:1000], yp[:1000], n_queries=2)


def test_dask_is_imported_lazily():
    code = (
        "import sys, numpy as np; from skhyre import pools; "
        "assert pools._blocks.pool_kind(iter([np.zeros((2, 2))])) == 'iterator'; "
        "assert pools._blocks.pool_kind(np.zeros((2, 2))) == 'array'; "
        "assert not any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class _NaNOnSomeRows(ClassifierMixin, BaseEstimator):
    """A broken member: uniform probabilities, NaN on rows with ``x0 > threshold``."""

    def __init__(self, threshold=1.0):
        self.threshold = threshold

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict_proba(self, X):
        X = np.asarray(X)
        P = np.full((X.shape[0], self.classes_.size), 1.0 / self.classes_.size)
        P[X[:, 0] > self.threshold] = np.nan
        return P

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _with_nan_member(threshold):
    forests = [
        (f"forest{s}", RandomForestClassifier(n_estimators=6, max_depth=3, random_state=s))
        for s in range(2)
    ]
    return HyReEnsemble([*forests, ("nan", _NaNOnSomeRows(threshold))]).fit(*_train_set())


@pytest.mark.parametrize("criterion", ["entropy", "bald"])
def test_streamed_pool_names_nan_rows_as_in_memory(forest_clf, criterion):
    """Rows a weighted member predicts NaN on score NaN (ranked last) in both paths, the
    warning counts the same candidates, and a pool of only such rows is refused."""
    _, Xp, _ = forest_clf
    est = _with_nan_member(1.0)
    bad = Xp[:, 0] > 1.0
    n = Xp.shape[0]
    n_good = int((~bad).sum())
    excl = np.flatnonzero(bad)[:10]
    excl = np.append(excl[:-1], excl[-1] - n)  # one given as a negative index
    pools_ = {
        "memory": lambda: Xp,
        "chunks": lambda: _chunks(Xp, [64]),
        "callable": lambda: lambda: iter(_chunks(Xp, [64, 37])),  # size unknown up front
    }
    got = {}
    for name, make in pools_.items():
        with config_context(memory_budget=0 if name != "memory" else "1GiB", block_rows=50):
            with pytest.warns(NaNMemberWarning, match=f"on {int(bad.sum())} of {n} candidate"):
                top = est.query(make(), n_queries=n_good + 2, criterion=criterion)
            with pytest.warns(NaNMemberWarning, match=f"on {int(bad.sum()) - 10} of {n - 10} "):
                est.query(make(), n_queries=3, criterion=criterion, exclude=excl)
        assert not bad[top[:n_good]].any()  # every good row before any NaN one
        assert bad[top[n_good:]].all()
        got[name] = top
    np.testing.assert_array_equal(got["chunks"], got["memory"])
    np.testing.assert_array_equal(got["callable"], got["memory"])
    broken = _with_nan_member(-np.inf)  # NaN everywhere: any answer would be arbitrary
    for name, make in pools_.items():
        with config_context(memory_budget=0 if name != "memory" else "1GiB", block_rows=50):
            with pytest.raises(ValueError, match="predict NaN or inf on every candidate"):
                broken.query(make(), n_queries=2, criterion=criterion)


@pytest.mark.parametrize("criterion", ["entropy", "bald"])
def test_streamed_active_adapt_names_nan_rows_as_in_memory(forest_clf, criterion):
    _, Xp, yp = forest_clf
    est = _with_nan_member(1.0)
    n_bad = int((Xp[:, 0] > 1.0).sum())
    states = []
    for budget, oracle in [("1GiB", yp), (0, yp), ("1GiB", yp.__getitem__), (0, yp.__getitem__)]:
        e = copy.deepcopy(est)
        with config_context(memory_budget=budget, block_rows=50):
            with pytest.warns(
                NaNMemberWarning, match=f"on {n_bad} of {Xp.shape[0]} .*active_adapt"
            ):
                e.active_adapt(_chunks(Xp, [64]), oracle, n_queries=4, criterion=criterion)
        states.append(_state(e))
    _assert_same_state(states[0], states[1])
    _assert_same_state(states[2], states[3])


def _train_set():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)


def test_streamed_blocks_follow_a_wide_ensembles_smaller_forward_chunk():
    # K x width large: the forward chunk shrinks below 8192 rows (skhyre._net.chunk_rows),
    # and streamed blocks must start where the in-memory forward chunks do
    from skhyre._net import chunk_rows

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -1.0, 0.5, 0.0] + 0.1 * rng.normal(size=300)
    reg = HyReRegressor(n_members=16, hidden_layer_sizes=(200,), max_epochs=3, random_state=0)
    reg.fit(X, y)
    chunk = chunk_rows(reg.net_.module_, reg.batch_size)
    assert chunk < 8192 and reg._pool_members().align == chunk
    pool = rng.normal(size=(8193, 4))
    labels = pool @ [0.0, 1.0, 0.5, 1.0]
    tail = np.ones(len(pool), dtype=bool)
    tail[-3:] = False  # candidates in the last forward chunk of either alignment
    memory = copy.deepcopy(reg).active_adapt(pool, labels, 3, exclude=tail)
    with config_context(memory_budget=0, block_rows=1):
        streamed = copy.deepcopy(reg).active_adapt(pool, labels, 3, exclude=tail)
    _assert_same_state(_state(memory), _state(streamed))


# ---------------------------------------------------------- power sampling
@pytest.mark.parametrize("criterion", ["bald", "entropy"])
def test_power_query_streamed_equals_in_memory(forest_clf, torch_reg, criterion):
    est, Xp, _ = forest_clf
    kw = dict(n_queries=9, criterion=criterion, exclude=[0, -1], random_state=4, sampling="power")
    want = est.query(Xp, **kw)
    assert not np.array_equal(want, est.query(Xp, **{**kw, "sampling": "top"}))
    with config_context(memory_budget=0, block_rows=17):
        for name, make in _pool_forms(Xp, [40, 3, 101]):
            np.testing.assert_array_equal(est.query(make(), **kw), want, err_msg=name)
    reg, Xr, _ = torch_reg
    want = reg.query(Xr, n_queries=5, sampling="power")  # the estimator's random_state
    with config_context(**STREAM):
        got = reg.query(iter(_chunks(Xr, [3001, 777])), n_queries=5, sampling="power")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("temperature", [0.3, "auto"])
@pytest.mark.parametrize("oracle_kind", ["array", "callable"])
def test_power_active_adapt_streamed_equals_in_memory(torch_reg, temperature, oracle_kind):
    est, Xp, yp = torch_reg
    est = copy.deepcopy(est).set_params(temperature=temperature)
    oracle = yp if oracle_kind == "array" else (lambda i: yp[i])
    kw = dict(n_queries=6, sampling="power", exclude=[3])
    a, b = _active_pair(est, Xp, oracle, lambda: _chunks(Xp, [8000]), **kw)
    _assert_same_state(a, b)
    # a random state the caller owns: the streamed path starts from the same state
    rs_a, rs_b = np.random.RandomState(9), np.random.RandomState(9)
    a = copy.deepcopy(est).active_adapt(Xp, oracle, random_state=rs_a, **kw)
    with config_context(**STREAM):
        b = copy.deepcopy(est).active_adapt(Xp, oracle, random_state=rs_b, **kw)
    _assert_same_state(_state(a), _state(b))
    assert rs_a.randint(10**9) == rs_b.randint(10**9)


def test_power_active_adapt_fits_the_budget_after_the_first_pass(forest_clf):
    """A streamed pool whose matrix fits is cached and replayed in memory: same draws."""
    est, Xp, yp = forest_clf
    kw = dict(n_queries=5, criterion="bald", random_state=np.random.RandomState(2))
    a = copy.deepcopy(est).active_adapt(Xp, yp, sampling="power", **kw)
    kw["random_state"] = np.random.RandomState(2)
    b = copy.deepcopy(est).active_adapt(
        (c for c in _chunks(Xp, [60, 7])), yp, sampling="power", **kw
    )
    _assert_same_state(_state(a), _state(b))
