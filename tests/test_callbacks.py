"""skorch callbacks and ``train_split`` on the torch estimators."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from conftest import fast
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, LRScheduler
from skorch.dataset import ValidSplit

from skhyre import HyReClassifier, HyReRegressor, HyReRewardModel

TINY = fast(n_members=4, max_epochs=5)


class EpochCounter(Callback):
    """Counts the epochs it saw (state that a fit must not leak into the parameter)."""

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 3))
    return X, X[:, 0] + 0.1 * rng.normal(size=240)


def _names(est):
    return [name for name, _ in est.net_.callbacks_]


def test_early_stopping_on_a_held_out_split_stops_the_fit(data):
    X, y = data
    reg = HyReRegressor(
        **{**TINY, "max_epochs": 300},
        callbacks=[EarlyStopping(patience=2)],
        train_split=ValidSplit(0.2),
    ).fit(X, y)
    history = reg.net_.history
    assert len(history) < 300
    losses = np.array(history[:, "valid_loss"])
    # stopped after `patience` epochs that did not beat the best before them by
    # EarlyStopping's relative threshold (1e-4)
    assert losses[-2:].min() > losses[:-2].min() * (1 - 1e-4)
    assert (losses[1:-2] < np.minimum.accumulate(losses[:-3]) * (1 - 1e-4)).any()
    assert "EarlyStopping" in _names(reg)


def test_fit_trains_with_clones_and_leaves_the_parameter_alone(data):
    X, y = data
    counter = EpochCounter().initialize()
    callbacks = [("count", counter)]
    reg = HyReRegressor(**TINY, callbacks=callbacks)
    before = joblib.hash(reg.get_params())
    reg.fit(X, y)
    assert joblib.hash(reg.get_params()) == before
    assert counter.epochs_ == 0 and reg.callbacks[0][1] is counter
    fitted = dict(reg.net_.callbacks_)["count"]
    assert fitted is not counter and fitted.epochs_ == TINY["max_epochs"]
    reg.fit(X, y)  # a refit starts fresh
    assert dict(reg.net_.callbacks_)["count"].epochs_ == TINY["max_epochs"]


def test_partial_fit_carries_on_with_the_fitted_callbacks(data):
    X, y = data
    reg = HyReRegressor(**TINY, callbacks=[("count", EpochCounter())]).fit(X, y)
    reg.partial_fit(X[:50], y[:50])
    assert dict(reg.net_.callbacks_)["count"].epochs_ == 2 * TINY["max_epochs"]


def test_partial_fit_takes_a_new_train_split(data):
    X, y = data
    reg = HyReRegressor(**TINY).fit(X, y)
    assert "valid_loss" not in reg.net_.history[-1]
    reg.set_params(train_split=ValidSplit(0.25)).partial_fit(X, y)
    assert "valid_loss" in reg.net_.history[-1]
    assert reg.net_.history[-1]["valid_batch_count"] == 2  # 60 of 240 rows, batches of 32


def test_a_learning_rate_schedule_reaches_the_optimizer(data):
    X, y = data
    sched = LRScheduler("StepLR", step_size=1, gamma=0.5)
    reg = HyReRegressor(**TINY, callbacks=[sched]).fit(X, y)
    lr = reg.net_.optimizer_.param_groups[0]["lr"]
    assert lr == pytest.approx(1e-3 * 0.5 ** TINY["max_epochs"])


def test_clone_grid_search_and_pickle(data):
    X, y = data
    reg = HyReRegressor(**TINY, callbacks=[EarlyStopping(monitor="train_loss", patience=1)])
    copy = clone(reg)
    assert copy.callbacks[0] is not reg.callbacks[0]
    assert copy.callbacks[0].get_params() == reg.callbacks[0].get_params()
    search = GridSearchCV(reg, {"lr": [1e-3, 1e-2]}, cv=2).fit(X, y)
    best = search.best_estimator_
    loaded = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(loaded.predict(X[:5]), best.predict(X[:5]))
    assert _names(loaded) == _names(best)


def test_annotator_aware_training_with_a_held_out_split(data):
    X, y = data
    groups = np.arange(len(y)) % 3
    reg = HyReRegressor(**TINY, training="by_group", train_split=ValidSplit(0.2)).fit(
        X, y, groups=groups
    )
    assert np.isfinite(reg.net_.history[-1]["valid_loss"])
    assert reg.predict_members(X[:4]).shape == (4, 4)


def test_classifier_and_reward_model_take_callbacks(data):
    X, y = data
    labels = (y > 0).astype(int)
    clf = HyReClassifier(
        **TINY,
        train_split=ValidSplit(0.2, stratified=True),
        callbacks=[EarlyStopping(patience=1)],
    ).fit(X, labels)
    assert "valid_loss" in clf.net_.history[-1]
    pairs = np.hstack([X[:120], X[120:]])
    rm = HyReRewardModel(**TINY, callbacks=[("count", EpochCounter())]).fit(
        pairs, (y[:120] > y[120:]).astype(int)
    )
    assert dict(rm.net_.callbacks_)["count"].epochs_ == TINY["max_epochs"]


def test_a_scoring_callback_sees_the_members(data):
    """Scoring callbacks score the internal net: its ``predict`` gives every member."""
    X, y = data

    def member_mse(net, X, y):
        out = net.predict(X)  # (n, K, 1) standardized member outputs
        assert out.shape[1:] == (TINY["n_members"], 1)
        return float(np.mean((out[..., 0].mean(axis=1) - y) ** 2))

    reg = HyReRegressor(
        **TINY, train_split=ValidSplit(0.2), callbacks=[EpochScoring(member_mse, name="mse")]
    ).fit(X, y)
    assert np.isfinite(reg.net_.history[-1]["mse"])


@pytest.mark.parametrize(
    ("name", "value"),
    [("callbacks", EarlyStopping()), ("callbacks", "disable"), ("train_split", 0.2)],
)
def test_invalid_values_are_named(data, name, value):
    X, y = data
    with pytest.raises(InvalidParameterError, match=name):
        HyReRegressor(**TINY, **{name: value}).fit(X, y)
