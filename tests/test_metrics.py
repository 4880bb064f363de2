"""adapted_scorer: model selection that rewards adaptability."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from conftest import fast
from numpy.testing import assert_array_equal
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhyre import HyReClassifier, HyReRegressor
from skhyre.metrics import adapted_scorer

FAST = fast(n_members=6, max_epochs=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def reg_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    return X, X[:, 0] - X[:, 2] + 0.1 * rng.normal(size=120)


@pytest.fixture(scope="module")
def reg(reg_data):
    X, y = reg_data
    return HyReRegressor(**{**FAST, "temperature": 0.2, "prior_scale": 3.0}).fit(X[:60], y[:60])


def _state(est):
    return (
        est.weights_.copy(),
        est.cumulative_loss_.copy(),
        est.n_adapt_samples_,
        est.temperature_,
    )


def _unspecified_direction_task():
    """Training data leave the x1 direction open; validation folds disagree on it.

    Training: x1 is almost constant and y = x0, so members may do anything
    along x1. Fold A: y = x0 + x1; fold B: y = x0 - x1 (two users). The
    uniform ensemble cannot serve both, and any random slope it takes from
    the frozen priors costs R² on average over the folds, so the default
    scorer prefers ``prior_scale=0``; the diverse ensemble holds members for
    each fold that a few labels find, so the adapted scorer prefers a large
    prior.
    """
    rng = np.random.default_rng(0)
    n_train, n_fold = 300, 120
    X_train = np.column_stack([rng.normal(size=n_train), 0.05 * rng.normal(size=n_train)])
    X_a = rng.normal(size=(n_fold, 2))
    X_b = rng.normal(size=(n_fold, 2))
    X = np.vstack([X_train, X_a, X_b])
    y = np.concatenate([X_train[:, 0], X_a[:, 0] + X_a[:, 1], X_b[:, 0] - X_b[:, 1]])
    train = np.arange(n_train)
    cv = [(train, n_train + np.arange(n_fold)), (train, n_train + n_fold + np.arange(n_fold))]
    return X, y, cv


def test_prefers_a_diverse_prior_where_the_default_scorer_does_not():
    X, y, cv = _unspecified_direction_task()
    reg = HyReRegressor(
        n_members=16,
        hidden_layer_sizes=(32,),
        max_epochs=30,
        batch_size=64,
        lr=1e-2,
        random_state=1,
    )
    search = GridSearchCV(
        reg,
        param_grid={"prior_scale": [0.0, 10.0]},
        scoring={
            "uniform": "r2",
            "adapted": adapted_scorer(n_adapt=16, random_state=0),
            "active": adapted_scorer(n_adapt=16, criterion="variance"),
        },
        cv=cv,
        refit=False,
    ).fit(X, y)
    res = search.cv_results_
    assert_array_equal(res["param_prior_scale"], [0.0, 10.0])
    uniform, adapted, active = (res[f"mean_test_{k}"] for k in ("uniform", "adapted", "active"))
    assert uniform.argmax() == 0, uniform  # the default scorer picks no prior...
    assert adapted.argmax() == 1, adapted  # ...the adapted scorer the diverse prior
    assert active.argmax() == 1, active
    assert adapted[1] > uniform[0] + 0.1  # adaptation pays for itself
    # with no prior the members agree, so adaptation changes little
    assert abs(adapted[0] - uniform[0]) < abs(adapted[1] - uniform[1])


def test_estimator_is_untouched(reg, reg_data):
    X, y = reg_data
    est = copy.deepcopy(reg).adapt(X[60:64], y[60:64])
    before, pred = _state(est), est.predict(X)
    for criterion in ("random", "auto", "variance"):
        score = adapted_scorer(n_adapt=8, criterion=criterion, random_state=0)(est, X[60:], y[60:])
        assert np.isfinite(score)
        for a, b in zip(_state(est), before):
            assert_array_equal(a, b)
        assert_array_equal(est.predict(X), pred)
        assert not hasattr(est, "queried_indices_")


def test_score_equals_manual_adaptation(reg, reg_data):
    X, y = reg_data
    Xv, yv = X[60:], y[60:]
    picked = np.sort(np.random.RandomState(4).choice(60, size=10, replace=False))
    rest = np.setdiff1d(np.arange(60), picked)
    manual = copy.deepcopy(reg).adapt(Xv[picked], yv[picked])
    expected = manual.score(Xv[rest], yv[rest])
    assert adapted_scorer(n_adapt=10, random_state=4)(reg, Xv, yv) == pytest.approx(expected)
    # a scorer name and a callable score the same rows
    neg_mse = adapted_scorer(n_adapt=10, random_state=4, scoring="neg_mean_squared_error")
    assert neg_mse(reg, Xv, yv) == pytest.approx(
        -mean_squared_error(yv[rest], manual.predict(Xv[rest]))
    )
    called = {}

    def scorer(est, X_rest, y_rest):
        called["n"] = len(y_rest)
        called["n_adapt"] = est.n_adapt_samples_
        return 1.5

    assert adapted_scorer(n_adapt=10, scoring=scorer)(reg, Xv, yv) == 1.5
    assert called == {"n": 50, "n_adapt": 10}
    # a fixed int seed draws the same examples every time; adaptation changes the score
    s1 = adapted_scorer(n_adapt=10, random_state=4)
    assert s1(reg, Xv, yv) == s1(reg, Xv, yv)
    assert s1(reg, Xv, yv) != pytest.approx(reg.score(Xv[rest], yv[rest]))


def test_active_criterion_uses_active_adapt(reg, reg_data):
    X, y = reg_data
    Xv, yv = X[60:], y[60:]
    manual = copy.deepcopy(reg).active_adapt(Xv, yv, n_queries=8, criterion="variance")
    rest = np.setdiff1d(np.arange(60), manual.queried_indices_)
    expected = manual.score(Xv[rest], yv[rest])
    assert adapted_scorer(n_adapt=8, criterion="variance")(reg, Xv, yv) == pytest.approx(expected)
    assert adapted_scorer(n_adapt=8, criterion="auto")(reg, Xv, yv) == pytest.approx(expected)


def test_classifier_and_pipeline():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 3)) * [1.0, 100.0, 0.01]
    y = np.where(X[:, 0] > 0, "yes", "no")
    pipe = make_pipeline(StandardScaler(), HyReClassifier(**FAST)).fit(X[:90], y[:90])
    for criterion in ("random", "bald", "entropy", "auto"):
        score = adapted_scorer(n_adapt=10, criterion=criterion, random_state=0)(
            pipe, X[90:], y[90:]
        )
        assert 0.0 <= score <= 1.0
    assert pipe[-1].n_adapt_samples_ == 0
    with pytest.raises(ValueError, match="criterion='variance' does not fit HyReClassifier"):
        adapted_scorer(n_adapt=10, criterion="variance")(pipe, X[90:], y[90:])


def test_picklable_for_parallel_search(reg, reg_data):
    X, y = reg_data
    scorer = adapted_scorer(n_adapt=8, random_state=1)
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone(reg, X[60:], y[60:]) == scorer(reg, X[60:], y[60:])
    assert "n_adapt=8" in repr(scorer)


def test_errors(reg, reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match=r"validation fold has 32 rows.*needs more than 32"):
        adapted_scorer()(reg, X[:32], y[:32])
    with pytest.raises(ValueError, match="validation fold has 10 rows"):
        adapted_scorer(n_adapt=12)(reg, X[:10], y[:10])
    with pytest.raises(ValueError, match="X has 20 rows but y has 19"):
        adapted_scorer(n_adapt=4)(reg, X[:20], y[:19])
    with pytest.raises(TypeError, match=r"does not take score parameters, got \['sample_weight'\]"):
        adapted_scorer(n_adapt=4)(reg, X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="needs the validation labels"):
        adapted_scorer(n_adapt=4)(reg, X, None)
    with pytest.raises(TypeError, match="needs a HyRe estimator"):
        adapted_scorer(n_adapt=4)(Ridge().fit(X, y), X, y)
    for bad in (0, -3, 2.5, True, None):
        with pytest.raises(ValueError, match="n_adapt must be a positive integer"):
            adapted_scorer(n_adapt=bad)
    with pytest.raises(ValueError, match="criterion='bold' is not valid"):
        adapted_scorer(criterion="bold")
    with pytest.raises(TypeError, match="criterion must be a string"):
        adapted_scorer(criterion=3)
    with pytest.raises(ValueError, match="not a valid scoring value"):
        adapted_scorer(scoring="accuracyy")
    with pytest.raises(TypeError, match="scoring must be None"):
        adapted_scorer(scoring=3)
    with pytest.raises(ValueError, match="criterion='bald' does not fit HyReRegressor"):
        adapted_scorer(n_adapt=4, criterion="bald")(reg, X, y)


def test_power_sampling_equals_manual_active_adapt(reg, reg_data):
    X, y = reg_data
    Xv, yv = X[60:], y[60:]
    manual = copy.deepcopy(reg).active_adapt(
        Xv, yv, n_queries=8, criterion="variance", random_state=3, sampling="power"
    )
    rest = np.setdiff1d(np.arange(60), manual.queried_indices_)
    expected = manual.score(Xv[rest], yv[rest])
    scorer = adapted_scorer(n_adapt=8, criterion="variance", random_state=3, sampling="power")
    assert scorer(reg, Xv, yv) == pytest.approx(expected)
    assert "sampling='power'" in repr(scorer)
    assert pickle.loads(pickle.dumps(scorer))(reg, Xv, yv) == pytest.approx(expected)
    # a scorer pickled before sampling existed takes the top rows
    old = pickle.loads(pickle.dumps(scorer))
    del old.__dict__["sampling"]
    top = adapted_scorer(n_adapt=8, criterion="variance")(reg, Xv, yv)
    assert pickle.loads(pickle.dumps(old))(reg, Xv, yv) == pytest.approx(top)
    for bad in ("greedy", None):
        with pytest.raises(ValueError, match=r"sampling=.* is not valid"):
            adapted_scorer(sampling=bad)
