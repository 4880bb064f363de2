"""Ctrl-C, or an error, inside training leaves the estimator as it was.

skorch's ``NeuralNet.partial_fit`` (and so ``fit``) catches ``KeyboardInterrupt``
and returns as if training had ended. For a real Ctrl-C (a SIGINT during
training) the estimators raise it again and keep their previous fitted and
adapted state (or stay unfitted); a callback raising ``KeyboardInterrupt`` is
skorch's way to stop training early (``EarlyStopping`` does it) and keeps
that meaning.
"""

from __future__ import annotations

import copy
import signal
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from skhyre import HyReClassifier, HyReRegressor, HyReRewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(n_members=4, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, random_state=0)


class RaiseAtEpoch(Callback):
    """At the end of the net's epoch number ``epoch`` (counted in its history), the
    user presses Ctrl-C (``error="ctrl-c"``: a real SIGINT) or ``error`` is raised."""

    def __init__(self, epoch=2, error="ctrl-c"):
        self.epoch = epoch
        self.error = error

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            if self.error == "ctrl-c":
                signal.raise_signal(signal.SIGINT)  # Python's handler raises KeyboardInterrupt
                raise AssertionError("SIGINT did not interrupt")
            raise self.error(f"stop at epoch {self.epoch}")


def _data(kind):
    rng = np.random.default_rng(0)
    if kind == "reward":
        X = rng.normal(size=(80, 4))
        return X, (X[:, 0] > X[:, 2]).astype(int)
    X = rng.normal(size=(80, 3))
    if kind == "classifier":
        return X, (X[:, 0] > 0).astype(int)
    return X, X[:, 0] + 0.1 * rng.normal(size=80)


ESTIMATORS = {"regressor": HyReRegressor, "classifier": HyReClassifier, "reward": HyReRewardModel}


def _fitted_and_adapted(kind, **params):
    X, y = _data(kind)
    est = ESTIMATORS[kind](**{**TINY, **params}).fit(X, y)
    est.adapt(X[:10], y[:10])
    return est, X, y


def _state(est):
    """Everything an interrupted call must leave as it was (copies)."""
    net = est.net_
    return {
        "dict_keys": sorted(est.__dict__),
        "net": net,
        "params": {k: v.detach().clone() for k, v in net.module_.state_dict().items()},
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "epochs": len(net.history),
        "weights": est.weights_.copy(),
        "cumulative_loss": est.cumulative_loss_.copy(),
        "n_adapt": est.n_adapt_samples_,
        "temperature": est.temperature_,
        "hist": est._adapt_hist,
    }


def _assert_same(est, before, X):
    after = _state(est)
    assert after["dict_keys"] == before["dict_keys"]
    assert after["net"] is before["net"]
    assert after["params"].keys() == before["params"].keys()
    for k, v in before["params"].items():
        assert torch.equal(after["params"][k], v), k
    assert repr(after["optimizer"]) == repr(before["optimizer"])
    assert after["epochs"] == before["epochs"]
    np.testing.assert_array_equal(after["weights"], before["weights"])
    np.testing.assert_array_equal(after["cumulative_loss"], before["cumulative_loss"])
    assert after["n_adapt"] == before["n_adapt"] == 10
    assert after["temperature"] == before["temperature"]
    assert after["hist"] is before["hist"]


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_keyboard_interrupt_in_fit_reraises_and_keeps_the_fitted_state(kind):
    est, X, y = _fitted_and_adapted(kind)
    before = _state(est)
    pred = est.predict(X)
    est.set_params(max_epochs=5, callbacks=[RaiseAtEpoch(epoch=2)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[::-1], y[::-1])
    _assert_same(est, before, X)
    np.testing.assert_array_equal(est.predict(X), pred)


def test_keyboard_interrupt_in_fit_leaves_an_unfitted_estimator_unfitted():
    X, y = _data("regressor")
    reg = HyReRegressor(**TINY, callbacks=[RaiseAtEpoch(epoch=2)])
    keys = sorted(reg.__dict__)
    with pytest.raises(KeyboardInterrupt):
        reg.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(reg)
    assert not hasattr(reg, "weights_") and not hasattr(reg, "net_")
    assert not hasattr(reg, "n_features_in_") and not hasattr(reg, "y_mean_")
    assert sorted(set(reg.__dict__) - {"_adapt_lock"}) == keys  # the lock fit took may stay
    with pytest.raises(KeyboardInterrupt):  # partial_fit on an unfitted estimator is fit
        reg.partial_fit(X, y)
    assert not hasattr(reg, "net_")


@pytest.mark.parametrize("error", ["ctrl-c", RuntimeError])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_interrupt_or_error_in_partial_fit_keeps_parameters_optimizer_and_weights(kind, error):
    # the callback is fitted with the net and fires in partial_fit's second epoch
    est, X, y = _fitted_and_adapted(kind, callbacks=[RaiseAtEpoch(epoch=5, error=error)])
    before = _state(est)
    pred = est.predict(X)
    with pytest.raises(KeyboardInterrupt if error == "ctrl-c" else error):
        est.partial_fit(X[:40], y[:40])
    _assert_same(est, before, X)
    np.testing.assert_array_equal(est.predict(X), pred)


def test_runtime_error_in_fit_keeps_the_fitted_state():
    est, X, y = _fitted_and_adapted("regressor")
    before = _state(est)
    est.set_params(callbacks=[RaiseAtEpoch(epoch=2, error=RuntimeError)])
    with pytest.raises(RuntimeError, match="stop at epoch 2"):
        est.fit(X, y)
    _assert_same(est, before, X)


def test_after_an_interrupt_the_estimator_trains_normally():
    est, X, y = _fitted_and_adapted("regressor")
    est.set_params(callbacks=[RaiseAtEpoch(epoch=2)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    est.set_params(callbacks=None).fit(X, y)
    assert len(est.net_.history) == TINY["max_epochs"]
    assert est.n_adapt_samples_ == 0


def test_the_sigint_handler_is_restored():
    handler = signal.getsignal(signal.SIGINT)
    est, X, y = _fitted_and_adapted("regressor")
    assert signal.getsignal(signal.SIGINT) is handler
    est.set_params(callbacks=[RaiseAtEpoch(epoch=2)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_callback_raising_keyboard_interrupt_still_stops_training_early():
    # skorch's convention (EarlyStopping raises KeyboardInterrupt): the result is kept
    est, X, y = _fitted_and_adapted("regressor")
    est.set_params(max_epochs=5, callbacks=[RaiseAtEpoch(epoch=2, error=KeyboardInterrupt)])
    net = est.net_
    with pytest.warns(UserWarning, match="model trained so far replaces the previous fit"):
        est.fit(X, y)
    assert est.net_ is not net and len(est.net_.history) == 2
    assert est.n_adapt_samples_ == 0


def test_skorchs_early_stopping_stops_quietly():
    from skorch.callbacks import EarlyStopping

    est, X, y = _fitted_and_adapted("regressor")
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=1e9)  # stops at once
    est.set_params(max_epochs=20, callbacks=[stop])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est.fit(X, y)
    assert len(est.net_.history) < 20
