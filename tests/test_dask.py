"""Dask pools on a real 2-worker ``dask.distributed`` cluster, and GridSearchCV on Dask.

Marked ``dask`` (optional extra ``dask``: ``dask[array]`` and ``distributed``);
run with ``pytest -m dask tests/test_dask.py``. One ``LocalCluster`` of two
single-threaded worker processes is shared by the module.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from skhyre import HyReClassifier, HyReRegressor, pools  # noqa: E402
from skhyre.pools import config_context  # noqa: E402

pytestmark = pytest.mark.dask

torch.set_num_threads(1)

N = 2 * 8192 + 1237  # three forward batches of the torch estimators


def _warm_worker():
    import torch

    torch.set_num_threads(1)
    import skhyre.pools  # noqa: F401
    from skhyre import HyReClassifier  # noqa: F401

    return True


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        c.run(_warm_worker)
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def clf():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    est = HyReClassifier(n_members=6, hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
    est.fit(X, y)
    Xp = rng.normal(size=(N, 4))
    return est, Xp, (Xp[:, 0] > 0).astype(int) + (Xp[:, 1] > 1)


@pytest.fixture(scope="module")
def reg():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 4))
    est = HyReRegressor(n_members=6, hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
    est.fit(X, X @ [1.0, -2.0, 0.5, 0.0])
    Xp = rng.normal(size=(N, 4))
    return est, Xp, Xp @ [1.0, -2.0, 0.5, 0.0]


def _estimator_copies_on_workers(client) -> int:
    counts = client.run(lambda: len(__import__("skhyre.pools").pools._dask._WORKER_CACHE))
    return sum(counts.values())


def test_query_on_workers_equals_in_memory(client, clf, reg):
    est, Xp, _ = clf
    Xd = da.from_array(Xp, chunks=(3001, 4))  # rechunked to aligned blocks
    exclude = np.arange(N) % 5 == 0
    with config_context(block_rows=8192):
        for criterion in ("bald", "entropy", "random"):
            for ex in (None, [4, -1], exclude):
                kw = dict(n_queries=5, criterion=criterion, exclude=ex, random_state=3)
                np.testing.assert_array_equal(est.query(Xd, **kw), est.query(Xp, **kw))
        r, Xr, _ = reg
        Xrd = da.from_array(Xr, chunks=(10000, 4))
        np.testing.assert_array_equal(r.query(Xrd, n_queries=4), r.query(Xr, n_queries=4))
    assert _estimator_copies_on_workers(client) >= 1  # scored on the workers
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        est.query(Xd[Xd[:, 0] > 0])


@pytest.mark.parametrize("budget", [0, "1GiB"], ids=["streamed", "gathered"])
def test_active_adapt_on_workers_equals_in_memory(client, clf, reg, budget):
    est, Xp, yp = clf
    Xd = da.from_array(Xp, chunks=(5000, 4))
    with config_context(block_rows=8192):
        cases = [
            (est, Xp, yp, dict(n_queries=9, criterion="bald")),  # compiled loop
            (est, Xp, lambda i: yp[i], dict(n_queries=3, criterion="entropy", exclude=[0])),
            (est, Xp, yp, dict(n_queries=3, criterion="random")),
        ]
        r, Xr, yr = reg
        cases.append((r, Xr, yr, dict(n_queries=4)))
        for e, X, oracle, kw in cases:
            a = copy.deepcopy(e).active_adapt(X, oracle, **kw)
            b = copy.deepcopy(e).active_adapt(
                da.from_array(X, chunks=(5000, 4)), oracle, pool_memory_budget=budget, **kw
            )
            np.testing.assert_array_equal(a.queried_indices_, b.queried_indices_)
            np.testing.assert_array_equal(a.weights_, b.weights_)
            np.testing.assert_array_equal(a.cumulative_loss_, b.cumulative_loss_)
    assert Xd.chunks[0][0] == 5000  # the caller's array is left as it was


def test_grid_search_on_dask_backend(client):
    joblib = pytest.importorskip("joblib")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    base = HyReClassifier(n_members=4, hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    grid = {"prior_scale": [0.5, 2.0], "lr": [1e-3, 1e-2]}
    local = GridSearchCV(base, grid, cv=2).fit(X, y)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = GridSearchCV(base, grid, cv=2, n_jobs=2).fit(X, y)
    assert len(tasks.data) >= 4  # the 2 x 4 fits ran as tasks on the cluster
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_
    assert isinstance(remote.best_estimator_, HyReClassifier)


def test_pools_module_has_no_eager_dask():
    assert pools._blocks.pool_kind(da.zeros((4, 2), chunks=2)) == "dask"


def test_empty_chunks_are_reblocked(client, reg):
    """Boolean indexing can leave 0-row chunks, even first: the pool re-blocks them."""
    r, Xr, yr = reg
    keep = Xr[:, 0] > 1.0
    n = int(keep.sum())
    sub = da.from_array(Xr[keep], chunks=((0, n), (4,)))
    assert sub.chunks[0][0] == 0  # what the default block_rows="auto" used to keep
    want = r.query(Xr[keep], n_queries=4)
    np.testing.assert_array_equal(r.query(sub, n_queries=4), want)
    got = copy.deepcopy(r).active_adapt(sub, yr[keep], n_queries=3)
    ref = copy.deepcopy(r).active_adapt(Xr[keep], yr[keep], n_queries=3)
    np.testing.assert_array_equal(got.queried_indices_, ref.queried_indices_)
    np.testing.assert_allclose(got.weights_, ref.weights_)


def test_nan_rows_are_named_as_in_memory(client):
    """A member predicting NaN on some rows: same picks, warning and refusal on workers."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.ensemble import RandomForestClassifier

    from skhyre import HyReEnsemble
    from skhyre.reweighting import NaNMemberWarning

    class NaNOnSomeRows(ClassifierMixin, BaseEstimator):  # local: shipped by value
        def __init__(self, threshold=1.0):
            self.threshold = threshold

        def fit(self, X, y):
            self.classes_ = np.unique(y)
            self.n_features_in_ = X.shape[1]
            return self

        def predict_proba(self, X):
            P = np.full((X.shape[0], self.classes_.size), 1.0 / self.classes_.size)
            P[np.asarray(X)[:, 0] > self.threshold] = np.nan
            return P

        def predict(self, X):
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    Xp = rng.normal(size=(1000, 3))
    yp = (Xp[:, 0] > 0).astype(int)
    n_bad = int((Xp[:, 0] > 1.0).sum())

    def make(threshold):
        forest = RandomForestClassifier(n_estimators=6, max_depth=3, random_state=0)
        return HyReEnsemble([("forest", forest), ("nan", NaNOnSomeRows(threshold))]).fit(X, y)

    est = make(1.0)
    pool = da.from_array(Xp, chunks=(256, 3))
    match = f"on {n_bad} of 1000 candidate"
    with pytest.warns(NaNMemberWarning, match=match):
        want = est.query(Xp, n_queries=5)
    with config_context(memory_budget=0), pytest.warns(NaNMemberWarning, match=match):
        np.testing.assert_array_equal(est.query(pool, n_queries=5), want)
    with pytest.warns(NaNMemberWarning, match=match):
        ref = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=3)
    with config_context(memory_budget=0), pytest.warns(NaNMemberWarning, match=match):
        got = copy.deepcopy(est).active_adapt(pool, yp, n_queries=3)
    np.testing.assert_array_equal(got.queried_indices_, ref.queried_indices_)
    np.testing.assert_array_equal(got.weights_, ref.weights_)
    with config_context(memory_budget=0):
        with pytest.raises(ValueError, match="predict NaN or inf on every candidate"):
            make(-np.inf).query(pool, n_queries=2)


def test_power_sampling_on_workers_equals_in_memory(client, clf, reg):
    est, Xp, _ = clf
    Xd = da.from_array(Xp, chunks=(5000, 4))
    with config_context(block_rows=8192):
        kw = dict(n_queries=5, criterion="bald", random_state=3, sampling="power")
        np.testing.assert_array_equal(est.query(Xd, **kw), est.query(Xp, **kw))
        r, Xr, yr = reg
        for budget in (0, "1GiB"):
            a = copy.deepcopy(r).active_adapt(Xr, yr, n_queries=4, sampling="power")
            b = copy.deepcopy(r).active_adapt(
                da.from_array(Xr, chunks=(5000, 4)),
                yr,
                n_queries=4,
                sampling="power",
                pool_memory_budget=budget,
            )
            np.testing.assert_array_equal(a.queried_indices_, b.queried_indices_)
            np.testing.assert_array_equal(a.weights_, b.weights_)
