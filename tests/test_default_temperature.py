"""The default temperature: ``"auto"`` capped by ``max_temperature=1`` (regressors,
classifiers), ``"auto"`` uncapped (``HyReEnsemble``).

Chosen on the shift panel and the zoo panel (user guide, "The default"); these
tests pin what the default and the cap do, not how well they adapt.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import TEMPERATURE_FAST
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression, Ridge

from skhyre import HyReClassifier, HyReEnsemble, HyReRegressor, HyReRewardModel


def test_the_defaults():
    for cls in (HyReRegressor, HyReClassifier):
        params = cls().get_params()
        assert params["temperature"] == "auto" and params["max_temperature"] == 1.0
    assert HyReRewardModel().get_params()["temperature"] == 1.0
    assert HyReRewardModel().get_params()["max_temperature"] is None
    ens = HyReEnsemble([("a", Ridge())])
    assert ens.temperature == "auto" and ens.max_temperature is None


def test_hyre_ensemble_default_is_uncapped_auto():
    """One label: uniform weights (no evidence); more: exactly ``temperature="auto",
    max_temperature=None``."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2))
    y = X[:, 0] + 0.3 * rng.normal(size=120)
    members = [(f"r{a}", Ridge(alpha=a)) for a in (0.1, 10.0, 1000.0)]
    ens = HyReEnsemble(members).fit(X[:80], y[:80])
    ens.adapt(X[80:81], y[80:81])
    assert ens.temperature_ == np.inf
    assert_array_equal(ens.weights_, np.full(3, 1 / 3))
    ens.adapt(X[80:], y[80:])
    same = HyReEnsemble(members, temperature="auto", max_temperature=None).fit(X[:80], y[:80])
    assert ens.temperature_ == same.adapt(X[80:], y[80:]).temperature_
    assert_allclose(ens.weights_, same.weights_, rtol=0, atol=0)


@pytest.fixture
def reg(temperature_regressor):
    est, X, y = temperature_regressor
    return copy.deepcopy(est), X, y


@pytest.mark.parametrize("rule", ["auto", "evidence"])
def test_the_cap_is_the_smaller_of_the_rule_and_the_cap(reg, rule):
    est, X, y = reg
    for n in (1, 3, 12):
        free = copy.deepcopy(est).set_params(temperature=rule, max_temperature=None)
        free.adapt(X[:n], y[:n])
        for cap in (1.0, 0.05):
            capped = copy.deepcopy(est).set_params(temperature=rule, max_temperature=cap)
            capped.adapt(X[:n], y[:n])
            assert capped.temperature_ == min(free.temperature_, cap)
            fixed = copy.deepcopy(est).set_params(temperature=capped.temperature_)
            assert_allclose(capped.weights_, fixed.adapt(X[:n], y[:n]).weights_, rtol=1e-12)


def test_one_example_gives_the_paper_rule_instead_of_uniform(reg):
    """Uncapped, one example is no evidence (uniform); capped, it is weighed at T=1."""
    est, X, y = reg
    free = copy.deepcopy(est).set_params(temperature="auto", max_temperature=None)
    assert free.adapt(X[:1], y[:1]).temperature_ == np.inf
    capped = copy.deepcopy(est).set_params(temperature="auto", max_temperature=1.0)
    assert capped.adapt(X[:1], y[:1]).temperature_ == 1.0
    t1 = copy.deepcopy(est).set_params(temperature=1.0).adapt(X[:1], y[:1])
    assert_array_equal(capped.weights_, t1.weights_)


def test_inf_cap_is_no_cap(reg):
    est, X, y = reg
    a = copy.deepcopy(est).set_params(temperature="auto", max_temperature=np.inf)
    b = copy.deepcopy(est).set_params(temperature="auto", max_temperature=None)
    assert_array_equal(a.adapt(X[:5], y[:5]).weights_, b.adapt(X[:5], y[:5]).weights_)


def test_the_cap_is_ignored_with_a_fixed_temperature(reg):
    est, X, y = reg
    a = copy.deepcopy(est).set_params(temperature=3.0, max_temperature=1.0).adapt(X[:5], y[:5])
    assert a.temperature_ == 3.0


def test_a_changed_cap_applies_before_active_adapts_first_pick(reg):
    """set_params(max_temperature=...) after adapting re-weights the history first,
    as a changed temperature does."""
    est, X, y = reg
    est.set_params(temperature="auto", max_temperature=None).adapt(X[:1], y[:1])
    assert est.temperature_ == np.inf
    est.set_params(max_temperature=1.0)
    synced = copy.deepcopy(est).adapt(X[:1], y[:1])
    first = synced.query(X, exclude=[0])[0]
    est.active_adapt(X, y, 1, exclude=[0])
    assert est.queried_indices_[0] == first


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, "1", True])
def test_bad_max_temperature_is_refused(reg, bad):
    est, X, y = reg
    est.set_params(max_temperature=bad)
    with pytest.raises(ValueError, match="max_temperature"):
        est.adapt(X[:3], y[:3])


def test_bad_max_temperature_is_refused_at_fit():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="max_temperature"):
        HyReRegressor(**{**TEMPERATURE_FAST, "max_temperature": -1.0}).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="max_temperature"):
        HyReEnsemble([("a", LinearRegression())], max_temperature=0).fit(X, X[:, 0])


def test_hyre_ensemble_caps_its_data_driven_temperature():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=80)
    members = [(f"r{a}", Ridge(alpha=a)) for a in (0.1, 10.0, 1000.0)]
    ens = HyReEnsemble(members, temperature="auto", max_temperature=0.5).fit(X[:60], y[:60])
    free = HyReEnsemble(members, temperature="auto").fit(X[:60], y[:60])
    ens.adapt(X[60:], y[60:])
    free.adapt(X[60:], y[60:])
    assert ens.temperature_ == min(free.temperature_, 0.5)
