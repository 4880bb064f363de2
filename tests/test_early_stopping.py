"""Early stopping on an internal split: the torch regressor's and classifier's default."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fast
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from skhyre import HyReClassifier, HyReRegressor, HyReRewardModel
from skhyre._stopping import CALLBACK_NAME

#: fast settings with early stopping on (FAST_BASE turns it off for the other tests)
ES = fast(n_members=4, lr=1e-2, early_stopping=True)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=120)
    return X, y


class _Counter(Callback):
    """A user callback (counts the epochs it saw)."""

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def _stopper(est):
    return dict(est.net_.callbacks_)[CALLBACK_NAME]


def test_defaults():
    """Chosen on the panel (benchmarks/results/training_budget.md): the regressor stops early,
    the classifier keeps 100 epochs (level, and separable tasks ran to the cap), the reward
    model too (no panel of its own)."""
    p = HyReRegressor().get_params()
    assert (p["early_stopping"], p["max_epochs"]) == (True, 1000)
    for cls in (HyReClassifier, HyReRewardModel):
        p = cls().get_params()
        assert (p["early_stopping"], p["max_epochs"]) == (False, 100)
    for cls in (HyReRegressor, HyReClassifier, HyReRewardModel):
        p = cls().get_params()
        assert (p["validation_fraction"], p["n_iter_no_change"], p["tol"]) == (0.1, 25, 1e-4)


def test_stops_when_the_held_out_loss_stalls_and_keeps_the_best_epoch(data):
    X, y = data
    reg = HyReRegressor(**{**ES, "max_epochs": 400, "n_iter_no_change": 3}).fit(X, y)
    hist = reg.net_.history
    n = len(hist)
    assert n < 400  # stopped
    stopper = _stopper(reg)
    best = stopper.best_epoch_
    # stopped n_iter_no_change epochs after the best one, which has the lowest valid loss
    assert n == best + 3
    losses = np.array(hist[:, "valid_loss"])
    assert losses[best - 1] == pytest.approx(losses.min())


def test_restored_network_is_the_best_epochs(data):
    """The stopped fit predicts as a fit of exactly best_epoch_ epochs on the same split."""
    X, y = data
    split = ValidSplit(0.1, stratified=False, random_state=3)
    es = HyReRegressor(**{**ES, "max_epochs": 300, "n_iter_no_change": 3}, train_split=split).fit(
        X, y
    )
    best = _stopper(es).best_epoch_
    assert best < len(es.net_.history)  # the weights were restored to an earlier epoch
    fixed = HyReRegressor(
        **{**ES, "early_stopping": False, "max_epochs": best}, train_split=split
    ).fit(X, y)
    np.testing.assert_array_equal(es.predict_members(X), fixed.predict_members(X))


def test_internal_split_holds_out_the_fraction(data):
    X, y = data
    reg = HyReRegressor(**{**ES, "max_epochs": 2, "validation_fraction": 0.25}).fit(X, y)
    assert isinstance(reg.net_.train_split, ValidSplit)
    assert reg.net_.train_split.cv == 0.25
    assert "valid_loss" in reg.net_.history[-1]
    # seeded by random_state: the same split and the same network twice
    again = clone(reg).fit(X, y)
    np.testing.assert_array_equal(reg.predict_members(X), again.predict_members(X))


def test_without_early_stopping_every_row_and_every_epoch(data):
    X, y = data
    reg = HyReRegressor(**{**ES, "early_stopping": False, "max_epochs": 7}).fit(X, y)
    assert len(reg.net_.history) == 7
    assert reg.net_.train_split is None
    assert "valid_loss" not in reg.net_.history[-1]
    assert CALLBACK_NAME not in dict(reg.net_.callbacks_)


def test_user_split_and_callbacks_are_kept(data):
    X, y = data
    split = ValidSplit(0.2, stratified=False, random_state=0)
    extra = _Counter()
    reg = HyReRegressor(**{**ES, "max_epochs": 3}, train_split=split, callbacks=[extra]).fit(X, y)
    assert reg.net_.train_split is split
    names = dict(reg.net_.callbacks_)
    assert "_Counter" in names and CALLBACK_NAME in names
    assert reg.callbacks == [extra]  # the parameter is not changed by fit


def test_classifier_stops_early(data):
    X, y = data
    clf = HyReClassifier(**{**ES, "max_epochs": 400, "n_iter_no_change": 2}).fit(X, y > 0)
    assert len(clf.net_.history) < 400
    assert clf.score(X, y > 0) > 0.8


def test_partial_fit_follows_the_current_setting(data):
    X, y = data
    reg = HyReRegressor(**{**ES, "max_epochs": 3}).fit(X, y)
    reg.set_params(early_stopping=False, max_epochs=2).partial_fit(X, y)
    assert len(reg.net_.history) == 5
    assert CALLBACK_NAME not in dict(reg.net_.callbacks_)
    assert "valid_loss" not in reg.net_.history[-1]
    reg.set_params(early_stopping=True, max_epochs=200, n_iter_no_change=2).partial_fit(X, y)
    assert CALLBACK_NAME in dict(reg.net_.callbacks_)
    assert 5 < len(reg.net_.history) < 205
    assert "valid_loss" in reg.net_.history[-1]


def test_too_few_rows_for_the_split():
    X, y = np.zeros((1, 2)), np.zeros(1)
    with pytest.raises(ValueError, match="early_stopping=True holds out"):
        HyReRegressor(**ES).fit(X, y)
    # a fit with early stopping off trains on the one row
    HyReRegressor(**{**ES, "early_stopping": False, "max_epochs": 1}).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"validation_fraction": 0.0},
        {"validation_fraction": 1.0},
        {"n_iter_no_change": 0},
        {"n_iter_no_change": True},
        {"tol": -1.0},
        {"early_stopping": "yes"},
    ],
)
def test_invalid_parameters(data, params):
    X, y = data
    with pytest.raises(InvalidParameterError):
        HyReRegressor(**{**ES, **params}).fit(X, y)


def test_pickle_from_before_early_stopping_keeps_its_training(data):
    """A pickle without the early-stopping parameters loads with them off: it was trained so."""
    X, y = data
    est = HyReRegressor(**{**ES, "early_stopping": False, "max_epochs": 2}).fit(X, y)
    state = dict(est.__getstate__())
    for name in ("early_stopping", "validation_fraction", "n_iter_no_change", "tol"):
        del state[name]
    old = HyReRegressor.__new__(HyReRegressor)
    old.__setstate__(state)
    p = old.get_params()
    assert p["early_stopping"] is False
    assert (p["validation_fraction"], p["n_iter_no_change"], p["tol"]) == (0.1, 10, 1e-4)
    old.partial_fit(X, y)  # carries on as before: every row, max_epochs epochs
    assert len(old.net_.history) == 4
