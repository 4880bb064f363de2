"""Non-finite numbers never become an answer: diverged fits, NaN member outputs,
labels past float64's resolution, complex labels (issue #24, items 2, 6, 9, 10)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from skorch.callbacks import Callback

from skhyre import HyReClassifier, HyReEnsemble, HyReRegressor, HyReRewardModel
from skhyre.ensembles import EnsembleModule
from skhyre.reweighting import NaNMemberWarning

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(n_members=4, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, random_state=0)
#: One row that every network turns into inf - inf: finite, and inside float32's range.
EXTREME = np.array([[3e38, -3e38, 3e38]])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, X[:, 0] - 0.5 * X[:, 1], (X[:, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def reg(data):
    X, y, _ = data
    return HyReRegressor(**TINY).fit(X, y)


@pytest.fixture(scope="module")
def clf(data):
    X, _, c = data
    return HyReClassifier(**TINY).fit(X, c)


@pytest.fixture(scope="module")
def reward(data):
    X, _, _ = data
    pairs = np.hstack([X, X[::-1]])
    return HyReRewardModel(**TINY).fit(pairs, (pairs[:, 0] > pairs[:, 3]).astype(int)), pairs


class _BreakMember(Callback):
    """At the end of training, set member ``k``'s own parameters (its head) to NaN."""

    def __init__(self, k=1):
        self.k = k

    def on_train_end(self, net, **kwargs):
        with torch.no_grad():
            for module in net.module_.modules():
                if isinstance(module, EnsembleModule):
                    for _, view in module.member_parameters():
                        view[self.k] = float("nan")


# ------------------------------------------------------------- item 2: fit


@pytest.mark.parametrize("Est", [HyReClassifier, HyReRegressor])
def test_a_fit_that_diverges_entirely_is_refused_by_name(data, Est):
    X, y, c = data
    est = Est(**{**TINY, "lr": 1e30})
    with pytest.raises(ValueError, match=r"fit diverged.*training loss is NaN or inf from epoch"):
        est.fit(X, c if Est is HyReClassifier else y)
    assert not hasattr(est, "net_")  # nothing half-fitted is left


def test_a_regressor_fitted_on_huge_x_is_refused_not_nan(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"fit diverged.*every member outputs NaN or inf"):
        HyReRegressor(**TINY).fit(X * 1e20, y)


def test_a_partly_diverged_regressor_fit_warns_and_keeps_a_finite_noise_variance(data):
    X, y, _ = data
    est = HyReRegressor(**TINY, callbacks=[_BreakMember(1)])
    with pytest.warns(
        NaNMemberWarning, match=r"1 of 4 member\(s\) \[1\] output NaN or inf on the training data"
    ):
        est.fit(X, y)
    # estimated from the members that are finite, not NaN for all
    assert np.isfinite(est.noise_variance_)
    # the uniform ensemble includes member 1: its NaN predictions are named, not silent
    with pytest.warns(NaNMemberWarning, match=r"NaN or inf on 5 of 5 rows"):
        assert np.isnan(est.predict(X[:5])).all()
    with pytest.warns(NaNMemberWarning, match="gave NaN losses"):
        est.set_params(adapt_loss="gaussian_nll").adapt(X[:5], y[:5])
    assert est.weights_[1] == 0 and np.isfinite(est.weights_).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(est.predict(X)).all()


def test_a_partly_diverged_classifier_fit_warns_and_predict_refuses_until_adapted(data):
    X, _, c = data
    est = HyReClassifier(**TINY, callbacks=[_BreakMember(2)])
    with pytest.warns(NaNMemberWarning, match=r"member\(s\) \[2\] output NaN or inf"):
        est.fit(X, c)
    with pytest.raises(ValueError, match=r"NaN on 60 of 60 rows: member\(s\) \[2\]"):
        est.predict(X)
    with pytest.warns(NaNMemberWarning, match="gave NaN losses"):
        est.adapt(X[:4], c[:4])
    assert est.weights_[2] == 0
    assert np.isfinite(est.predict_proba(X)).all()
    assert 0 <= est.score(X, c) <= 1


# ----------------------------------------------------------- item 2: predict


def test_classifier_predict_and_score_never_call_nan_probabilities_a_class(clf, data):
    X, _, c = data
    assert np.isnan(clf.predict_proba(EXTREME)).all()  # the probabilities stay honest
    Xb = np.vstack([X[:9], EXTREME])
    with pytest.raises(ValueError, match=r"NaN on 1 of 10 rows: member\(s\) \[0, 1, 2, 3\]"):
        clf.predict(Xb)
    with pytest.raises(ValueError, match=r"NaN on 1 of 10 rows"):
        clf.score(Xb, np.append(c[:9], 0))


def test_reward_model_predict_never_calls_nan_probabilities_a_preference(reward):
    rm, pairs = reward
    bad = np.hstack([EXTREME, EXTREME])  # r(A) - r(B) = inf - inf
    with pytest.raises(ValueError, match=r"NaN on 1 of 3 rows"):
        rm.predict(np.vstack([pairs[:2], bad]))
    with pytest.raises(ValueError, match=r"NaN on 1 of 1 rows"):
        rm.score(bad, [1])
    with pytest.warns(NaNMemberWarning, match=r"rewards are NaN or inf on 1 of 2 rows"):
        rm.reward(np.vstack([pairs[:1, :3], EXTREME]))


def test_regressor_predict_warns_when_it_returns_nan(reg, data):
    X, _, _ = data
    with pytest.warns(NaNMemberWarning, match=r"NaN or inf on 1 of 4 rows"):
        pred = reg.predict(np.vstack([X[:3], EXTREME]))
    assert np.isfinite(pred[:3]).all() and not np.isfinite(pred[3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.predict(X)  # finite predictions: no warning


class _NaNRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        return self

    def predict(self, X):
        out = np.zeros(len(X))
        out[::2] = np.nan
        return out


def test_hyre_ensemble_regression_predict_warns_when_it_returns_nan(data):
    X, y, _ = data
    ens = HyReEnsemble([("lr", LinearRegression()), ("nan", _NaNRegressor())]).fit(X, y)
    with pytest.warns(NaNMemberWarning, match=r"NaN or inf on 3 of 6 rows"):
        ens.predict(X[:6])


# ------------------------------------------------- item 6: float64 rounding ties


@pytest.mark.parametrize("loss", ["squared", "absolute", "gaussian_nll"])
@pytest.mark.parametrize("temperature", [1.0, "auto"])
def test_labels_past_float64_resolution_are_refused_not_a_uniform_answer(
    reg, data, loss, temperature
):
    X, y, _ = data
    reg = copy.deepcopy(reg).set_params(adapt_loss=loss, temperature=temperature)
    reg.adapt(X[:5], y[:5])
    before = reg.weights_.copy(), reg.n_adapt_samples_
    with pytest.raises(ValueError, match=r"loss is now the same number.*float64 rounds"):
        reg.partial_adapt(X[5:15], y[5:15] + 1e150)
    with pytest.raises(ValueError, match=r"float64 rounds"):
        reg.adapt(X[5:15], y[5:15] + 1e150)
    assert_array_equal(reg.weights_, before[0])  # nothing changed
    assert reg.n_adapt_samples_ == before[1]


def test_hyre_ensemble_labels_past_float64_resolution_are_refused(data):
    X, y, _ = data
    ens = HyReEnsemble([("a", LinearRegression()), ("b", DummyRegressor())]).fit(X, y)
    with pytest.raises(ValueError, match=r"float64 rounds"):
        ens.adapt(X[:5], y[:5] + 1e150)


def test_genuine_ties_are_not_rounding_ties():
    X = np.zeros((4, 1))
    # members 0 and 2, label 1: equal losses by symmetry
    ens = HyReEnsemble(
        [
            ("zero", DummyRegressor(strategy="constant", constant=0.0)),
            ("two", DummyRegressor(strategy="constant", constant=2.0)),
        ],
        prefit=False,
    ).fit(X, [0.0, 1.0, 2.0, 1.0])
    ens.adapt(X[:1], [1.0])
    assert_array_equal(ens.weights_, [0.5, 0.5])
    # members that differ by rounding alone: float64 rounds their residuals to
    # one value (-4), but what it rounds away is no information
    ens = HyReEnsemble(
        [
            ("a", DummyRegressor(strategy="constant", constant=1.0)),
            ("b", DummyRegressor(strategy="constant", constant=1.0 + 2.0**-52)),
        ]
    ).fit(X, [0.0, 1.0, 2.0, 1.0])
    assert (1.0 + 2.0**-52) - 5.0 == 1.0 - 5.0
    ens.adapt(X[:1], [5.0])
    assert_array_equal(ens.weights_, [0.5, 0.5])


# --------------------------------------------- item 9: non-finite member outputs


def test_adapting_on_a_row_the_members_output_inf_on_names_the_outputs(reg, data):
    X, _, _ = data
    reg = copy.deepcopy(reg).set_params(adapt_loss=None, temperature=1.0)
    with pytest.raises(
        ValueError,
        match=r"not finite \(NaN or inf\) on 1 of the 3 adaptation row\(s\), \[2\]: 4 of 4 member",
    ) as info:
        reg.adapt(np.vstack([X[:2], EXTREME]), [0.0, 0.0, 1.0])
    assert "label far outside" not in str(info.value)


def test_adapting_a_classifier_on_nan_outputs_names_the_outputs(clf, data):
    with pytest.raises(
        ValueError, match=r"loss is now NaN \(the members' outputs are not finite.*\[0\]: 4 of 4"
    ):
        clf.adapt(EXTREME, [1])


# ---------------------------------------------------------- item 10: complex labels


@pytest.fixture(scope="module")
def ensembles(data):
    X, y, c = data
    return (
        HyReEnsemble([("a", LinearRegression()), ("b", DummyRegressor())]).fit(X, y),
        HyReEnsemble([("a", LogisticRegression()), ("b", LogisticRegression(C=0.01))]).fit(X, c),
    )


@pytest.mark.parametrize("which", ["regressor", "classifier", "reward", "ens_reg", "ens_clf"])
def test_complex_labels_are_refused_as_fit_refuses_them(which, reg, clf, reward, ensembles, data):
    X, y, c = data
    est, Xa, ya = {
        "regressor": (reg, X, y),
        "classifier": (clf, X, c),
        "reward": (reward[0], reward[1], (reward[1][:, 0] > reward[1][:, 3]).astype(int)),
        "ens_reg": (ensembles[0], X, y),
        "ens_clf": (ensembles[1], X, c),
    }[which]
    with pytest.raises(ValueError, match="Complex data not supported"):
        clone(est).fit(Xa, ya + 0j)  # what fit says, for reference
    est = copy.deepcopy(est).set_params(adapt_loss=None, temperature=1.0)
    est.adapt(Xa[:4], ya[:4])
    before = est.weights_.copy()
    yc = ya.astype(np.complex128)  # an imaginary part of 0 is refused too
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: an error instead
        for call in (
            lambda: est.adapt(Xa[:4], yc[:4] + 1j),
            lambda: est.partial_adapt(Xa[:4], yc[:4]),
            lambda: est.active_adapt(Xa, yc, n_queries=2),
            lambda: est.active_adapt(Xa, lambda i: yc[i], n_queries=2),
            lambda: est.adapt(Xa[:2], np.array(list(yc[:2]), dtype=object)),
        ):
            with pytest.raises(ValueError, match="Complex data not supported"):
                call()
    assert_array_equal(est.weights_, before)
