"""Thread safety of the adaptation state (the user guide's "Thread safety").

Adaptations (``adapt``, ``partial_adapt``, ``active_adapt``, ``reset_weights``)
are serialized by a per-estimator lock; ``active_adapt`` runs its loop on a
private copy of the adaptation state and publishes the result once, so a
thread predicting meanwhile sees the old weights or the new ones, never the
loop's intermediate (possibly rolled-back) ones. The interleavings are made
deterministic with events: the oracle (or a callable ``adapt_loss``) hands
control to another thread and waits for it.
"""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest
from conftest import Reader
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from skhyre import HyReEnsemble, losses

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: state an adaptation publishes
STATE = ("weights_", "log_weights_", "cumulative_loss_", "n_adapt_samples_", "temperature_")


@pytest.fixture(params=["torch", "meta"])
def setup(request, temperature_classifier):
    """A fitted classifier adapted on 3 labels, a pool with its labels and test rows."""
    if request.param == "torch":
        est, X, y = temperature_classifier
        est = copy.deepcopy(est)
    else:
        rng = np.random.default_rng(2)
        X = rng.normal(size=(200, 3))
        y = np.where(X[:, 0] + 0.3 * X[:, 2] > 0, "yes", "no")
        members = [
            (f"tree{d}", DecisionTreeClassifier(max_depth=d, random_state=d)) for d in (1, 2, 3)
        ] + [(f"lr{c}", LogisticRegression(C=c)) for c in (0.01, 1.0)]
        est = HyReEnsemble(members).fit(X[:120], y[:120])
        X, y = X[120:], y[120:]
    est.set_params(temperature=1.0)
    est.adapt(X[:3], y[:3])
    return est, X[3:50], y[3:50], X[50:]


def _state(est):
    return {k: copy.deepcopy(getattr(est, k)) for k in STATE}


def _assert_state(est, state):
    for k in STATE:
        np.testing.assert_array_equal(getattr(est, k), state[k], err_msg=k)


@pytest.mark.parametrize("pool", ["in_memory", "streamed"])
@pytest.mark.parametrize("temperature", [1.0, "auto"])
@pytest.mark.parametrize("oracle_fails", [False, True])
def test_a_reader_never_sees_the_weights_of_an_unfinished_active_adapt(
    setup, pool, temperature, oracle_fails
):
    est, X_pool, y_pool, X_test = setup
    est.set_params(temperature=temperature)
    if temperature == "auto":
        est.adapt(X_pool[:3], y_pool[:3])  # the examples so far under "auto"
    before = _state(est)
    proba_before = est.predict_proba(X_test)
    reader = Reader(lambda: (_state(est), est.predict_proba(X_test)))
    n_queries = 4
    calls = []

    def oracle(idx):
        calls.append(int(idx[0]))
        reader.read_now()  # another thread reads while the label is awaited
        if oracle_fails and len(calls) == n_queries:
            raise RuntimeError("the annotator left")
        return y_pool[idx]

    budget = 0 if pool == "streamed" else None
    try:
        if oracle_fails:
            with pytest.raises(RuntimeError, match="annotator left"):
                est.active_adapt(X_pool, oracle, n_queries=n_queries, pool_memory_budget=budget)
        else:
            est.active_adapt(X_pool, oracle, n_queries=n_queries, pool_memory_budget=budget)
    finally:
        reader.close()
    assert not reader.errors
    assert len(reader.seen) == n_queries
    for state, proba in reader.seen:  # every read: the state before the call, whole
        _assert_state(_Obj(state), before)
        np.testing.assert_array_equal(proba, proba_before)
    if oracle_fails:
        _assert_state(est, before)
        assert not hasattr(est, "queried_indices_")
    else:
        assert est.n_adapt_samples_ == before["n_adapt_samples_"] + n_queries
        assert est.queried_indices_.tolist() == calls
        assert not np.array_equal(est.cumulative_loss_, before["cumulative_loss_"])


class _Obj:
    def __init__(self, d):
        self.__dict__.update(d)


@pytest.mark.parametrize("pool", ["in_memory", "streamed"])
def test_a_partial_adapt_from_another_thread_during_active_adapt_is_not_lost(setup, pool):
    est, X_pool, y_pool, _ = setup
    reference = copy.deepcopy(est)
    X_b, y_b = X_pool[-10:], y_pool[-10:]
    n_before = est.n_adapt_samples_
    started, finished = threading.Event(), threading.Event()

    def other():
        started.set()
        est.partial_adapt(X_b, y_b)
        finished.set()

    thread = threading.Thread(target=other)
    calls = []

    def oracle(idx):
        calls.append(int(idx[0]))
        if len(calls) == 1:
            thread.start()
            assert started.wait(60)
            # it waits for active_adapt to finish; a lost update would finish here
            assert not finished.wait(0.5), "partial_adapt ran in the middle of active_adapt"
        return y_pool[idx]

    budget = 0 if pool == "streamed" else None
    est.active_adapt(X_pool[:-10], oracle, n_queries=5, pool_memory_budget=budget)
    thread.join(60)
    assert finished.is_set()
    assert est.n_adapt_samples_ == n_before + 5 + 10
    # serialized: exactly active_adapt, then partial_adapt
    reference.active_adapt(X_pool[:-10], lambda idx: y_pool[idx], n_queries=5)
    reference.partial_adapt(X_b, y_b)
    assert est.queried_indices_.tolist() == reference.queried_indices_.tolist() == calls
    _assert_state(est, _state(reference))


def test_concurrent_partial_adapts_are_serialized(setup):
    est, X_pool, y_pool, _ = setup
    n_before = est.n_adapt_samples_
    entry, units = losses.get(est._loss_task, "zero_one"), est._loss_units()

    def builtin(M, y):
        return entry.compute(M, y, units)

    first, b_started, b_done = threading.Event(), threading.Event(), threading.Event()

    def slow_loss(M, y):  # engine form: probabilities and class indices
        if not first.is_set():  # the first partial_adapt lets the second one start
            first.set()
            other.start()
            assert b_started.wait(60)
            assert not b_done.wait(0.5), "a second partial_adapt ran inside the first"
        return builtin(M, y)

    def b():
        b_started.set()
        est.partial_adapt(X_pool[10:14], y_pool[10:14])
        b_done.set()

    other = threading.Thread(target=b)
    est.set_params(adapt_loss=slow_loss)
    est.partial_adapt(X_pool[:1], y_pool[:1])
    other.join(60)
    assert b_done.is_set()
    assert est.n_adapt_samples_ == n_before + 1 + 4
    # every example seen counts once: the loss summed over the whole history
    hist_M = np.concatenate([M for M, _ in est._adapt_hist], axis=1)
    hist_y = np.concatenate([y for _, y in est._adapt_hist])
    assert hist_y.shape[0] == n_before + 5
    np.testing.assert_allclose(est.cumulative_loss_, builtin(hist_M, hist_y).sum(axis=1))


def test_reset_weights_waits_for_a_running_active_adapt(setup):
    est, X_pool, y_pool, _ = setup
    started, finished = threading.Event(), threading.Event()

    def other():
        started.set()
        est.reset_weights()
        finished.set()

    thread = threading.Thread(target=other)

    def oracle(idx):
        if not thread.is_alive() and not finished.is_set():
            thread.start()
            assert started.wait(60)
            assert not finished.wait(0.5), "reset_weights ran in the middle of active_adapt"
        return y_pool[idx]

    est.active_adapt(X_pool, oracle, n_queries=3)
    thread.join(60)
    # the reset came last: nothing seen (the picks stay on record)
    assert est.n_adapt_samples_ == 0 and est.queried_indices_.shape == (3,)
    np.testing.assert_array_equal(est.weights_, np.full(est.weights_.shape, 1 / est.weights_.size))


def test_pickle_deepcopy_clone_and_get_params_leave_the_lock_out(setup):
    est, X_pool, y_pool, X_test = setup
    est.active_adapt(X_pool, y_pool, n_queries=2)  # has taken its lock
    params = est.get_params()
    assert "lock" not in " ".join(params)
    assert all("lock" not in k for k in est.__getstate__())
    assert not [k for k in vars(est) if k.endswith("_") and "lock" in k]  # not fitted state
    for other in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est), copy.copy(est)):
        np.testing.assert_array_equal(other.predict_proba(X_test), est.predict_proba(X_test))
        other.partial_adapt(X_pool[:2], y_pool[:2])  # its own lock
        assert other.n_adapt_samples_ == est.n_adapt_samples_ + 2
    assert clone(est).get_params().keys() == params.keys()


def test_a_pickle_made_without_the_lock_loads_and_adapts(setup):
    est, X_pool, y_pool, _ = setup
    state = est.__getstate__()
    old = type(est).__new__(type(est))
    old.__setstate__(dict(state))  # as an older skhyre pickled it: no lock in the state
    old.active_adapt(X_pool, y_pool, n_queries=2)
    old.partial_adapt(X_pool[:2], y_pool[:2])
    assert old.n_adapt_samples_ == est.n_adapt_samples_ + 4
