"""Extreme and malformed inputs: a clear error naming the problem, never a silent answer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from skhyre import HypothesisWeights, HyReEnsemble, HyReRegressor, HyReRewardModel
from skhyre import acquisition as acq
from skhyre.datasets import make_gp_functions, make_preference_labelers
from skhyre.decomposition import EnsemblePCA
from skhyre.reweighting import auto_temperature, evidence_temperature, loo_temperature

BIG = np.finfo(np.float64).max
TINY = dict(n_members=4, hidden_layer_sizes=(8,), max_epochs=3, random_state=0)


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, 2.0, -1.0] + rng.normal(size=100)
    return X, y, HyReRegressor(**TINY).fit(X, y)


# --------------------------------------------------------------------------- +inf losses


@pytest.mark.parametrize("temperature", [1.0, "auto", "evidence"])
def test_a_label_that_makes_every_loss_infinite_is_refused(regression, temperature):
    """A tie at +inf would reset the weights to uniform for good: refused, state kept."""
    X, y, reg = regression
    reg.set_params(temperature=temperature).adapt(X[:20], y[:20])
    before = reg.weights_.copy(), reg.cumulative_loss_.copy(), reg.n_adapt_samples_
    with pytest.raises(ValueError, match=r"Every member's squared loss is now \+inf"):
        reg.partial_adapt(X[20:21], [BIG])
    assert_array_equal(reg.weights_, before[0])
    assert_array_equal(reg.cumulative_loss_, before[1])
    assert reg.n_adapt_samples_ == before[2]
    # later labels still move the weights from where they were
    reg.partial_adapt(X[20:22], y[20:22])
    assert reg.n_adapt_samples_ == 22


def test_active_adapt_with_an_overflowing_oracle_is_refused(regression):
    X, y, reg = regression
    reg.set_params(temperature=1.0).adapt(X[:5], y[:5])
    w = reg.weights_.copy()
    with pytest.raises(ValueError, match=r"\+inf"):
        reg.active_adapt(X, np.full(X.shape[0], BIG), n_queries=3)
    assert_array_equal(reg.weights_, w)
    assert reg.n_adapt_samples_ == 5


def test_hypothesis_weights_overflow_to_plus_inf_is_named():
    hw = HypothesisWeights(2).update([0.0, 5.0]).update([1e308, 1e308])
    with pytest.raises(ValueError, match=r"overflowed to \+inf"):
        hw.update([1e308, 1e308])
    assert np.isfinite(hw.cumulative_loss).all()  # nothing changed
    # a genuinely infinite loss for every member is still a documented tie
    assert_array_equal(HypothesisWeights(2).update([np.inf, np.inf]).weights, [0.5, 0.5])
    # and one member overflowing while another stays finite is an answer, not an error
    hw = HypothesisWeights(2).update([1e308, 1.0]).update([1e308, 1.0])
    assert_array_equal(hw.weights, [0.0, 1.0])


def test_select_sequential_overflow_is_named():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(4, 30))
    with pytest.raises(ValueError, match=r"cumulative squared loss became \+inf"):
        acq.select_sequential(F, np.full(30, BIG), 3)
    with pytest.raises(ValueError, match=r"\+inf"):
        acq.select_sequential(F, np.full(30, BIG), 3, criterion="random", random_state=0)


# --------------------------------------------------------------------------- HyReEnsemble


def test_hyre_ensemble_refuses_a_target_whose_variance_overflows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, 2.0, 3.0]
    members = [("lr", LinearRegression()), ("ridge", Ridge(alpha=30.0))]
    ens = HyReEnsemble(members).fit(X, y * 1e150)  # large, but its variance is finite
    assert np.isclose(ens.y_scale_, np.std(y) * 1e150)
    with pytest.raises(ValueError, match=r"standard deviation .* squared overflows float64"):
        HyReEnsemble(members).fit(X, y * 1e160)


class _NaNOnSomeRows(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        P = np.full((len(X), 2), 0.5)
        P[::3] = np.nan
        return P

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def test_hyre_ensemble_classifier_names_nan_probabilities_instead_of_class_0():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    ens = HyReEnsemble([("lr", LogisticRegression()), ("broken", _NaNOnSomeRows())]).fit(X, y)
    with pytest.raises(ValueError, match=r"NaN on 20 of 60 rows: member\(s\) \['broken'\]"):
        ens.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the NaN member's warning
        ens.adapt(X[:6], y[:6])  # row 0 and 3 are NaN for it: weight 0
    assert ens.weights_[1] == 0
    assert ens.score(X, y) > 0.9


# --------------------------------------------------------------------------- reward model


def test_reward_checks_the_float32_range():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    y = (X[:, 0] > X[:, 2]).astype(int)
    rm = HyReRewardModel(**{**TINY, "max_epochs": 2}).fit(X, y)
    for method in (rm.reward, rm.reward_members):
        with pytest.raises(ValueError, match="too large for float32"):
            method(np.array([[1e39, 2.0]]))


# --------------------------------------------------------------------------- generators, PCA


def test_one_feature_labelers_at_half_agreement_are_all_valid():
    data = make_preference_labelers(n_features=1, agreement=0.5, random_state=0)
    for W in (data.labeler_weights, data.test_labeler_weights):
        assert np.isfinite(W).all()
        assert_array_equal(np.abs(W), 1.0)  # unit normals in one dimension


def test_gp_functions_with_a_vanishing_length_scale_are_white_noise():
    g = make_gp_functions(length_scale=1e-300, random_state=0)
    assert np.isfinite(g.F).all()
    assert_array_equal(g.cov, np.eye(g.cov.shape[0]))


def test_ensemble_pca_names_overflow_and_bool_components():
    M = np.random.default_rng(0).normal(size=(5, 10))
    with pytest.raises(ValueError, match="variance overflows float64"):
        EnsemblePCA().fit(M * 1e200)
    with pytest.raises(ValueError, match="n_components must be an int or None, got True"):
        EnsemblePCA(n_components=True).fit(M)


# --------------------------------------------------------------------------- small things


def test_random_scores_need_a_valid_pool_size():
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        acq.random(-1)
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        acq.random(2.5)
    assert acq.random(0).shape == (0,)


def test_temperature_searches_need_a_member():
    L = np.zeros((0, 3))

    def mixture_loss(W):
        return np.zeros(W.shape[:2])

    for who, call in [
        ("loo_temperature", lambda: loo_temperature(L, mixture_loss)),
        ("auto_temperature", lambda: auto_temperature(L, mixture_loss)),
        ("evidence_temperature", lambda: evidence_temperature(L, "squared")),
    ]:
        with pytest.raises(ValueError, match=f"{who} needs at least one member"):
            call()
