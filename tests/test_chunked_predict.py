"""Weighted predictions are computed chunk by chunk of rows.

``predict``/``predict_proba`` of the torch estimators mix the members one
forward chunk at a time, so a large X never holds the whole ``(K, n, C)``
member matrix; the result must be exactly the mixture of ``predict_members``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skhyre import HyReClassifier, HyReRegressor, HyReRewardModel, _kernels
from skhyre._proba import as_probabilities

FAST = dict(n_members=5, hidden_layer_sizes=(8,), max_epochs=2, batch_size=64, random_state=0)
N = 2 * 8192 + 37  # three forward chunks, the last one short


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, n_features))
    return X, X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=N)


def test_classifier_predict_proba_is_the_mixture_of_the_members():
    X, y = _data()
    labels = np.where(y > 0, "up", "down")
    clf = HyReClassifier(**FAST).fit(X[:300], labels[:300])
    clf.adapt(X[300:340], labels[300:340])
    P = clf.predict_proba(X)
    assert_array_equal(P, as_probabilities(_kernels.mixture(clf.predict_members(X), clf.weights_)))
    assert_array_equal(clf.predict(X), clf.classes_[np.argmax(P, axis=1)])


def test_regressor_predict_is_the_weighted_mean_of_the_members():
    X, y = _data()
    reg = HyReRegressor(**FAST).fit(X[:300], 1e3 + 50 * y[:300])
    reg.adapt(X[300:340], 1e3 + 50 * y[300:340])
    mean, std = reg.predict(X, return_std=True)
    F = reg._member_matrix(X)
    want_mean, want_std = _kernels.weighted_mean_std(F, reg.weights_)
    assert_array_equal(mean, reg._to_original(want_mean))
    assert_array_equal(std, want_std * reg.y_scale_)


def test_reward_model_predict_proba_is_the_mixture_of_the_members():
    X, y = _data(n_features=4)
    pref = (y > 0).astype(int)
    rm = HyReRewardModel(**FAST).fit(X[:300], pref[:300])
    rm.adapt(X[300:340], pref[300:340])
    P = rm.predict_proba(X)
    assert_array_equal(P, as_probabilities(_kernels.mixture(rm.predict_members(X), rm.weights_)))
