"""``temperature="evidence"``: the empirical-Bayes temperature.

:func:`skhyre.reweighting.evidence_temperature` against a plain NumPy
reference (the full likelihood of every noise model, constants included),
its properties (member permutation, extreme losses, no evidence), and the
estimators' ``temperature="evidence"`` (weights, history, active loop,
bad losses).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from skhyre import HyReRegressor
from skhyre.reweighting import EVIDENCE_TEMPERATURE_GRID, evidence_temperature

GRID = np.logspace(-3, 3, 49)


def reference_log_evidence(
    L: np.ndarray, loss: str, temps: np.ndarray, log_prior: np.ndarray | None = None
) -> np.ndarray:
    """log( sum_k prior_k prod_i p(y_i | member k) ) with every constant, per temperature
    (a uniform prior without ``log_prior``)."""
    prior = np.full(L.shape[0], 1.0 / L.shape[0]) if log_prior is None else np.exp(log_prior)
    out = []
    for T in temps:
        if loss == "squared":  # Gaussian, variance T / 2: density (pi T)^-1/2 exp(-l / T)
            per = -0.5 * np.log(np.pi * T) - L / T
        elif loss == "absolute":  # Laplace, scale T: density exp(-l / T) / (2 T)
            per = -np.log(2 * T) - L / T
        else:  # zero_one: a label is flipped with probability eps
            log_eps = -np.logaddexp(0.0, 1.0 / T)  # log(1 / (1 + e^(1/T))), no underflow
            log_keep = -np.logaddexp(0.0, -1.0 / T)  # log(1 - eps)
            per = np.where(L > 0.5, log_eps, log_keep)
        member = per.sum(axis=1)
        m = member.max()
        out.append(m + np.log(np.sum(prior * np.exp(member - m))))
    return np.array(out)


def _random_losses(rng, loss: str, K: int, n: int) -> np.ndarray:
    """(K, n) losses of members of different quality: flips at 0-1 loss, else noise."""
    if loss == "zero_one":
        return (rng.random((K, n)) < rng.uniform(0.05, 0.6, size=(K, 1))).astype(float)
    y = rng.normal(size=n)
    F = y + rng.normal(scale=rng.uniform(0.2, 2.0, size=(K, 1)), size=(K, n))
    return (F - y) ** 2 if loss == "squared" else np.abs(F - y)


@pytest.mark.parametrize("loss", ["squared", "absolute", "zero_one"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy_reference(loss, seed):
    rng = np.random.default_rng(seed)
    L = _random_losses(rng, loss, K=7, n=15)
    T, log_ev = evidence_temperature(L, loss, grid=GRID)
    ref = reference_log_evidence(L, loss, GRID)
    # equal up to one constant per loss (the normalizers' constants are dropped)
    diff = log_ev - ref
    assert_allclose(diff, diff[0], atol=1e-8)
    # a temperature of (numerically) maximal evidence; on a plateau (a perfect member
    # at 0-1 loss) the function takes the highest, the reference argmax the lowest
    near_best = GRID[ref >= ref.max() - 1e-9 * max(1.0, abs(ref.max()))]
    assert T in near_best


def test_log_loss_is_the_exact_posterior():
    T, log_ev = evidence_temperature(np.array([[0.1, 3.0], [0.5, 0.5]]), "log_loss")
    assert T == 1.0 and log_ev.shape == (EVIDENCE_TEMPERATURE_GRID.size,)


def test_recovers_the_noise_scale():
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    F = np.stack([y + rng.normal(scale=0.3, size=2000), y + 5.0])
    T, _ = evidence_temperature((F - y) ** 2, "squared")
    assert T / 2 == pytest.approx(0.09, rel=0.15)  # Gaussian variance T / 2
    T, _ = evidence_temperature(np.abs(F - y), "absolute")
    assert T == pytest.approx(0.3 * np.sqrt(2 / np.pi), rel=0.15)  # Laplace MLE: mean |r|


def test_coin_flip_members_give_uniform_weights():
    L = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0]], dtype=float)  # all at 50%
    T, _ = evidence_temperature(L, "zero_one")
    assert T == np.inf


def test_noisy_labels_keep_weights_flat_and_clean_labels_sharpen():
    rng = np.random.default_rng(3)
    n = 32
    F = rng.normal(scale=0.05, size=(20, 1)) + np.zeros((20, n))  # members differ by ~0.05
    clean = np.zeros(n)
    noisy = rng.normal(scale=1.0, size=n)
    T_clean, _ = evidence_temperature((F - clean) ** 2, "squared")
    T_noisy, _ = evidence_temperature((F - noisy) ** 2, "squared")
    assert T_noisy > 100 * T_clean


@settings(max_examples=60, deadline=None)
@given(
    L=arrays(np.float64, (5, 6), elements=st.floats(0, 50)),
    perm=st.permutations(range(5)),
    loss=st.sampled_from(["squared", "absolute"]),
)
def test_member_permutation_invariance(L, perm, loss):
    T1, e1 = evidence_temperature(L, loss, grid=GRID)
    T2, e2 = evidence_temperature(L[list(perm)], loss, grid=GRID)
    assert T1 == T2
    assert_allclose(e1, e2, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    L=arrays(np.float64, (4, 5), elements=st.floats(0, 1e300)),
    loss=st.sampled_from(["squared", "absolute", "zero_one"]),
)
def test_extreme_losses_stay_finite(L, loss):
    if loss == "zero_one":
        L = (L > 1e150).astype(float)
    T, log_ev = evidence_temperature(L, loss)
    assert T > 0 and not np.isnan(T)
    assert not np.isnan(log_ev).any()


def test_infinite_and_nan_members():
    L = np.array([[0.1, 0.2, 0.1], [np.inf, 0.0, 0.0], [np.nan, 0.1, 0.1], [0.3, 0.2, 0.4]])
    T, _log_ev = evidence_temperature(L, "squared")
    T_clean, _ = evidence_temperature(L[[0, 3]], "squared")
    assert T == T_clean  # the inf member adds no evidence, the NaN member is left out
    with pytest.raises(ValueError, match="NaN"):
        evidence_temperature(np.full((2, 3), np.nan), "squared")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(losses=np.zeros((2, 3)), loss="brier"), "noise model"),
        (dict(losses=np.zeros(3), loss="squared"), r"\(K, n\)"),
        (dict(losses=np.zeros((2, 0)), loss="squared"), "at least one"),
        (dict(losses=np.zeros((2, 3)), loss="squared", grid=[1.0, -1.0]), "temperature"),
        (dict(losses=-np.full((2, 3), np.inf), loss="squared"), "-inf"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        evidence_temperature(**kwargs)


# ---------------------------------------------------------------- estimators
@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_regressor_weights_at_the_evidence_temperature(temperature_regressor, loss):
    est, Xp, yp = copy.deepcopy(temperature_regressor)
    est.set_params(temperature="evidence", adapt_loss=loss).adapt(Xp[:20], yp[:20])
    F = est.predict_members(Xp[:20]).astype(np.float64)
    r = (F - yp[:20]) / est.y_scale_
    L = r**2 if loss == "squared" else np.abs(r)
    T, _ = evidence_temperature(L, loss)
    assert est.temperature_ == pytest.approx(T)
    z = -L.sum(axis=1) / T
    w = np.exp(z - z.max())
    assert_allclose(est.weights_, w / w.sum(), rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("loss, expected", [("zero_one", None), ("log_loss", 1.0)])
def test_classifier_evidence(temperature_classifier, loss, expected):
    est, Xp, yp = copy.deepcopy(temperature_classifier)
    est.set_params(temperature="evidence", adapt_loss=loss).adapt(Xp[:20], yp[:20])
    if expected is not None:
        assert est.temperature_ == expected
    else:
        P = est.predict_members(Xp[:20])
        wrong = (est.classes_[P.argmax(axis=2)] != yp[:20]).astype(float)
        assert est.temperature_ == evidence_temperature(wrong, "zero_one")[0]


def test_evidence_history_and_active_loop(temperature_regressor):
    est, Xp, yp = copy.deepcopy(temperature_regressor)
    est.set_params(temperature="evidence")
    est.adapt(Xp[:6], yp[:6]).partial_adapt(Xp[6:15], yp[6:15])
    ref = copy.deepcopy(est).adapt(Xp[:15], yp[:15])
    assert est.temperature_ == ref.temperature_
    assert_allclose(est.weights_, ref.weights_, rtol=1e-6, atol=1e-12)
    # the sequential loop re-chooses the temperature after every label
    est.reset_weights().active_adapt(Xp, yp, n_queries=8)
    idx = est.queried_indices_
    again = copy.deepcopy(est).adapt(Xp[idx], yp[idx])
    assert est.temperature_ == again.temperature_
    assert_allclose(est.weights_, again.weights_, rtol=1e-6, atol=1e-12)


def test_evidence_rejects_losses_without_a_noise_model(temperature_regressor, temperature_classifier):
    est, Xp, yp = copy.deepcopy(temperature_classifier)
    est.set_params(temperature="evidence", adapt_loss="brier")
    before = est.weights_.copy()
    with pytest.raises(ValueError, match="noise model"):
        est.adapt(Xp[:5], yp[:5])
    assert_allclose(est.weights_, before)  # nothing changed
    reg, Xp, yp = copy.deepcopy(temperature_regressor)
    reg.set_params(temperature="evidence", adapt_loss=lambda F, y: (F - y) ** 2)
    with pytest.raises(ValueError, match="a callable"):
        reg.adapt(Xp[:5], yp[:5])
    with pytest.raises(ValueError, match="'evidence'"):
        reg.set_params(temperature="bayes", adapt_loss=None).adapt(Xp[:5], yp[:5])


def test_fit_rejects_evidence_with_a_loss_without_noise_model():
    from sklearn.linear_model import LinearRegression

    from skhyre import HyReEnsemble, HyReRewardModel

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    with pytest.raises(ValueError, match="noise model"):
        HyReRegressor(n_members=2, max_epochs=1, temperature="evidence", adapt_loss="gaussian_nll").fit(X, y)
    with pytest.raises(ValueError, match="noise model"):
        HyReRewardModel(n_members=2, max_epochs=1, temperature="evidence",
                        adapt_loss="brier").fit(np.hstack([X, X]), (y > 0).astype(int))
    members = [("a", LinearRegression()), ("b", LinearRegression(fit_intercept=False))]
    with pytest.raises(ValueError, match="a callable"):
        HyReEnsemble(members, temperature="evidence", adapt_loss=lambda F, t: (F - t) ** 2).fit(X, y)
    hyre = HyReEnsemble(members, temperature="evidence").fit(X, y).adapt(X[:10], y[:10])
    F = np.stack([m.predict(X[:10]) for m in hyre.estimators_])
    L = (F - y[:10]) ** 2 / hyre.y_scale_**2 if hasattr(hyre, "y_scale_") else (F - y[:10]) ** 2
    assert 0 < hyre.temperature_ < np.inf
    assert hyre.temperature_ == pytest.approx(evidence_temperature(L, "squared")[0])


def test_streamed_active_loop_matches_in_memory(temperature_regressor):
    est, Xp, yp = temperature_regressor
    est = copy.deepcopy(est).set_params(temperature="evidence")
    streamed = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=6, pool_memory_budget=0)
    cached = copy.deepcopy(est).active_adapt(Xp, yp, n_queries=6)
    np.testing.assert_array_equal(streamed.queried_indices_, cached.queried_indices_)
    assert streamed.temperature_ == cached.temperature_
    assert_allclose(streamed.weights_, cached.weights_, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("C", [2, 4, 10])
def test_zero_one_noise_model_counts_the_classes(C):
    # one member, wrong on exactly 20% of the labels: the maximum of the evidence is
    # the temperature at which the C-class model's error rate is 20%, i.e. where
    # exp(-1 / T), the weight ratio of one more mistake, is the posterior's
    # (0.2 / (C - 1)) / 0.8; the grid (20 points a decade) finds it within a step
    wrong = np.zeros((1, 2000))
    wrong[0, ::5] = 1.0
    T, _ = evidence_temperature(wrong, "zero_one", n_classes=C)
    T_true = 1.0 / np.log(0.8 * (C - 1) / 0.2)
    assert abs(np.log10(T) - np.log10(T_true)) <= 0.05 + 1e-12
    # members right at chance (1 / C) keep the weights uniform
    rng = np.random.default_rng(C)
    L = (rng.random((3, 4000)) >= 1.0 / C).astype(float)
    assert evidence_temperature(L, "zero_one", n_classes=C)[0] > 10
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        evidence_temperature(wrong, "zero_one", n_classes=1)


def test_classifier_evidence_uses_its_number_of_classes():
    from sklearn.tree import DecisionTreeClassifier

    from skhyre import HyReEnsemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X[:, 0], [-1, 0, 1])  # 4 classes
    members = [(f"t{d}", DecisionTreeClassifier(max_depth=d, random_state=0)) for d in (1, 2, 4)]
    hyre = HyReEnsemble(members, temperature="evidence").fit(X[:200], y[:200])
    hyre.adapt(X[200:230], y[200:230])
    L = (hyre.predict_members(X[200:230]).argmax(axis=2) != y[200:230]).astype(float)
    assert hyre.temperature_ == evidence_temperature(L, "zero_one", n_classes=4)[0]
    assert hyre.temperature_ != evidence_temperature(L, "zero_one", n_classes=2)[0]


@pytest.mark.parametrize("loss", ["squared", "absolute", "zero_one"])
def test_log_prior_matches_numpy_reference(loss):
    """A non-uniform prior enters the evidence as log sum_k prior_k prod_i p(y_i | k)."""
    rng = np.random.default_rng(5)
    K = 5
    L = _random_losses(rng, loss, K=K, n=12)
    log_prior = np.log(rng.dirichlet(np.full(K, 0.3)))
    _, log_ev = evidence_temperature(L, loss, grid=GRID, log_prior=log_prior)
    ref = reference_log_evidence(L, loss, GRID, log_prior=log_prior)
    diff = log_ev - ref
    assert_allclose(diff, diff[0], atol=1e-8)
    _, uniform = evidence_temperature(L, loss, grid=GRID)
    assert not np.allclose(log_ev - uniform, (log_ev - uniform)[0])  # the prior matters


def test_ties_go_to_the_higher_temperature():
    # one member, zero loss: the likelihood of the labels grows without bound as
    # T shrinks for squared loss, but for 0-1 loss with a perfect member every
    # small temperature is (numerically) equally good: the highest of them wins
    L = np.zeros((2, 6))
    T, log_ev = evidence_temperature(L, "zero_one", grid=GRID)
    best = GRID[log_ev >= log_ev.max() - 1e-12]
    assert best.size > 1 and T == best.max()
