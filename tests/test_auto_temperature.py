"""``temperature="auto"``: the leave-one-out search above the evidence floor.

:func:`skhyre.reweighting.auto_temperature` against a plain NumPy reference
(the empirical-Bayes floor from the full likelihood, then the leave-one-out
search written as loops), its properties (never below the floor, no floor
without a noise model, member permutation, extreme losses), and the
estimators' ``temperature="auto"`` (the floor for built-in losses, none for a
callable, the fallback to uniform with one example).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skhyre.reweighting import (
    DEFAULT_TEMPERATURE_GRID,
    EVIDENCE_TEMPERATURE_GRID,
    FLOORED_LOSSES,
    auto_temperature,
    evidence_temperature,
    loo_temperature,
)


def reference_evidence_floor(L: np.ndarray, loss: str, temps: np.ndarray) -> float:
    """argmax_T log(mean_k prod_i p(y_i | member k)), ties to the higher T (loops)."""
    best, best_t = -np.inf, None
    for T in np.sort(temps):
        if loss == "squared":  # Gaussian, variance T / 2
            per = -0.5 * np.log(np.pi * T) - L / T
        else:  # absolute: Laplace, scale T
            per = -np.log(2 * T) - L / T
        member = per.sum(axis=1)
        m = member.max()
        if not np.isfinite(m):
            continue
        ev = m + np.log(np.mean(np.exp(member - m)))
        if ev >= best - 1e-12 * max(1.0, abs(best)):
            best, best_t = max(ev, best), T
    return float(best_t)


def reference_auto(F: np.ndarray, y: np.ndarray, loss: str | None, grid: np.ndarray):
    """The floor, then leave-one-out over {floor} + grid above it + inf, as plain loops."""
    K, n = F.shape
    L = (F - y) ** 2 if loss in (None, "squared") else np.abs(F - y)
    temps = list(grid)
    if loss is not None:
        floor = reference_evidence_floor(L, loss, EVIDENCE_TEMPERATURE_GRID)
        temps = [floor] + [t for t in grid if t > floor]
    temps = sorted(set(temps) | {np.inf})
    scores = []
    for T in temps:
        total = 0.0
        for i in range(n):
            rest = np.delete(np.arange(n), i)
            cum = L[:, rest].sum(axis=1)
            if np.isinf(T) or rest.size == 0:
                w = np.full(K, 1.0 / K)
            else:
                z = -(cum - cum.min()) / T
                w = np.exp(z) / np.exp(z).sum()
            pred = w @ F[:, i]
            total += (pred - y[i]) ** 2 if loss in (None, "squared") else abs(pred - y[i])
        scores.append(total / n)
    scores = np.array(scores)
    winners = np.flatnonzero(scores <= scores.min() + 1e-12 * max(1.0, scores.min()))
    return float(temps[winners[-1]]), np.array(temps)


def _mixture(F, y, loss="squared"):
    def mixture_loss(W):
        pred = np.einsum("gik,ki->gi", W, F)
        return (pred - y) ** 2 if loss == "squared" else np.abs(pred - y)

    return mixture_loss


GRID = np.logspace(-3, 3, 25)


@pytest.mark.parametrize("loss", ["squared", "absolute", None])
@pytest.mark.parametrize("seed", range(6))
def test_matches_numpy_reference(loss, seed):
    rng = np.random.default_rng(seed)
    K, n = 6, 12
    y = rng.normal(size=n)
    F = y + rng.normal(scale=rng.uniform(0.1, 1.5, size=(K, 1)), size=(K, n))
    L = (F - y) ** 2 if loss in (None, "squared") else np.abs(F - y)
    mixture_loss = _mixture(F, y, loss or "squared")
    T, candidates, scores = auto_temperature(L, mixture_loss, loss, grid=GRID)
    T_ref, cand_ref = reference_auto(F, y, loss, GRID)
    # the floor comes from the evidence grid, the rest from GRID: the same sets
    np.testing.assert_allclose(candidates, cand_ref)
    assert T == pytest.approx(T_ref)
    assert scores.shape == candidates.shape


def test_the_floor_is_the_evidence_temperature():
    rng = np.random.default_rng(3)
    y = rng.normal(size=20)
    F = y + rng.normal(scale=[[0.2], [0.6], [1.0], [1.4]], size=(4, 20))
    L = (F - y) ** 2
    T_ev, _ = evidence_temperature(L, "squared")
    T, candidates, _ = auto_temperature(L, _mixture(F, y), "squared")
    assert candidates[0] == T_ev
    assert candidates[-1] == np.inf
    kept = DEFAULT_TEMPERATURE_GRID[DEFAULT_TEMPERATURE_GRID > T_ev]
    np.testing.assert_array_equal(candidates[1:-1], kept[np.isfinite(kept)])
    assert T >= T_ev


def test_without_a_noise_model_it_is_the_plain_search():
    rng = np.random.default_rng(4)
    y = rng.normal(size=15)
    F = y + rng.normal(scale=[[0.05], [0.8], [1.2]], size=(3, 15))
    L = (F - y) ** 2
    for loss in (None, "brier", "gaussian_nll"):
        T, candidates, scores = auto_temperature(L, _mixture(F, y), loss)
        T_plain, scores_plain = loo_temperature(L, _mixture(F, y))
        assert T == T_plain
        np.testing.assert_array_equal(scores, scores_plain)
        np.testing.assert_array_equal(candidates, np.unique(np.append(DEFAULT_TEMPERATURE_GRID, np.inf)))


def _offset_members(seed, K=10, n=12):
    """Members y + c_k + own noise, labels with noise shared by all members."""
    rng = np.random.default_rng(seed)
    c = rng.normal(scale=0.3, size=K)
    y = rng.normal(size=n)
    F = y + c[:, None] + rng.normal(scale=0.3, size=(K, n)) + rng.normal(scale=0.5, size=n)
    return F, y, c


def _weights(L, T):
    cum = L.sum(axis=1)
    if np.isinf(T):
        return np.full(cum.size, 1.0 / cum.size)
    z = np.exp(-(cum - cum.min()) / T)
    return z / z.sum()


def test_the_floor_stops_a_lucky_member():
    F, y, _ = _offset_members(19)
    L = (F - y) ** 2
    T_plain, _ = loo_temperature(L, _mixture(F, y))
    T, _, _ = auto_temperature(L, _mixture(F, y), "squared")
    T_ev, _ = evidence_temperature(L, "squared")
    assert T_plain < 0.01 < T_ev <= T  # the plain search puts the weight on one member
    assert _weights(L, T_plain).max() > 0.999  # all on one member
    assert _weights(L, T).max() < 0.95


def test_the_floor_lowers_the_expected_loss_on_new_points():
    """Over 200 problems, the true risk of auto's weights is below the plain search's.

    A member's error on a new point is ``c_k + e_k`` (own noise, sd 0.3) plus
    label noise shared by all (sd 0.5), so weights ``w`` have the exact risk
    ``(w @ c)^2 + 0.09 |w|^2 + 0.25``.
    """
    plain, floored = [], []
    for seed in range(200):
        F, y, c = _offset_members(seed)
        L = (F - y) ** 2
        for out, T in ((plain, loo_temperature(L, _mixture(F, y))[0]),
                       (floored, auto_temperature(L, _mixture(F, y), "squared")[0])):
            w = _weights(L, T)
            out.append((w @ c) ** 2 + 0.09 * (w**2).sum() + 0.25)
    assert np.mean(floored) < np.mean(plain)
    assert np.mean(np.array(floored) <= np.array(plain)) > 0.5


@pytest.mark.parametrize("loss", ["log_loss", "zero_one"])
def test_classification_losses_have_no_floor(loss):
    rng = np.random.default_rng(5)
    P = rng.dirichlet([1, 1], size=(4, 10))  # (K, n, C)
    y = rng.integers(0, 2, size=10)
    if loss == "log_loss":
        L = -np.log(P[:, np.arange(10), y])
    else:
        L = (P.argmax(axis=2) != y).astype(float)

    def mixture_loss(W):
        mix = np.einsum("gik,kic->gic", W, P)
        if loss == "log_loss":
            return -np.log(mix[:, np.arange(10), y])
        return (mix.argmax(axis=2) != y).astype(float)

    T, _, scores = auto_temperature(L, mixture_loss, loss)
    T_plain, scores_plain = loo_temperature(L, mixture_loss)
    assert T == T_plain
    np.testing.assert_array_equal(scores, scores_plain)
    assert loss not in FLOORED_LOSSES


@settings(max_examples=60, deadline=None)
@given(
    L=arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(2, 8)),
             elements=st.floats(0.0, 50.0)),
    data=st.data(),
)
def test_member_permutation_invariance(L, data):
    K, n = L.shape
    F = np.sqrt(L)  # squared error against y = 0
    y = np.zeros(n)
    perm = np.array(data.draw(st.permutations(range(K))))
    T, cand, scores = auto_temperature(L, _mixture(F, y), "squared")
    T_p, cand_p, scores_p = auto_temperature(L[perm], _mixture(F[perm], y), "squared")
    assert T == T_p
    np.testing.assert_array_equal(cand, cand_p)
    np.testing.assert_allclose(scores, scores_p, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    L=arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 8)),
             elements=st.one_of(st.floats(0.0, 1e300), st.just(np.inf))),
)
def test_extreme_losses_give_a_valid_temperature(L):
    F = np.sqrt(np.minimum(L, 1e300))
    y = np.zeros(L.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        T, cand, _ = auto_temperature(L, _mixture(F, y), "squared")
    assert T in cand
    assert T >= cand[0]
    assert cand[-1] == np.inf


def test_bad_input():
    with pytest.raises(ValueError, match="at least one adaptation example"):
        auto_temperature(np.zeros((3, 0)), lambda W: W.sum(-1), "squared")
    with pytest.raises(ValueError, match="grid is empty"):
        auto_temperature(np.zeros((3, 2)), lambda W: W.sum(-1), "squared", grid=[])
    with pytest.raises(ValueError, match="-inf"):
        auto_temperature(np.full((3, 2), -np.inf), lambda W: W.sum(-1), "squared")


# ---------------------------------------------------------------- estimators
@pytest.fixture(scope="module")
def regressor(temperature_regressor):
    """The shared small regressor, adapted on a target stretched by 1.3 (a shift)."""
    est, X, y = temperature_regressor
    return est, X, 1.3 * y


@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_regressor_auto_is_the_floored_search(regressor, loss):
    est, Xp, yp = copy.deepcopy(regressor)
    est.set_params(temperature="auto", adapt_loss=loss).adapt(Xp[:20], yp[:20])
    F = est.predict_members(Xp[:20]).astype(np.float64) / est.y_scale_
    y = yp[:20] / est.y_scale_
    L = (F - y) ** 2 if loss == "squared" else np.abs(F - y)
    T, _, _ = auto_temperature(L, _mixture(F, y, loss), loss)
    assert est.temperature_ == pytest.approx(T)
    assert est.temperature_ >= evidence_temperature(L, loss)[0] * (1 - 1e-9)
    T_ev = copy.deepcopy(est).set_params(temperature="evidence").adapt(Xp[:20], yp[:20])
    assert est.temperature_ >= T_ev.temperature_ * (1 - 1e-9)


def test_regressor_auto_with_a_callable_loss_has_no_floor(regressor):
    est, Xp, yp = copy.deepcopy(regressor)

    def sq(M, y):
        return (M - y) ** 2

    est.set_params(temperature="auto", adapt_loss=sq).adapt(Xp[:20], yp[:20])
    F = est.predict_members(Xp[:20]).astype(np.float64)
    T_plain, _ = loo_temperature((F - yp[:20]) ** 2, _mixture(F, yp[:20]))
    assert est.temperature_ == pytest.approx(T_plain)


def test_one_example_still_falls_back_to_uniform(regressor):
    est, Xp, yp = copy.deepcopy(regressor)
    est.set_params(temperature="auto").adapt(Xp[:1], yp[:1])
    assert est.temperature_ == np.inf
    np.testing.assert_allclose(est.weights_, 1 / 8)


def test_classifier_auto_weights_by_zero_one_and_scores_left_out_by_log_loss(
    temperature_classifier,
):
    """The plain search (no floor); left-out mixtures scored by their log loss."""
    est, Xp, yp = copy.deepcopy(temperature_classifier)
    X, y = Xp[:30], yp[:30]
    est.set_params(temperature="auto").adapt(X, y)
    P = est.predict_members(X).astype(np.float64)
    yi = np.searchsorted(est.classes_, y)
    # the 0-1 loss charges a t-way tie 1 - 1/t: plain argmax needs none
    assert ((P == P.max(axis=-1, keepdims=True)).sum(axis=-1) == 1).all()
    wrong = (P.argmax(axis=2) != yi).astype(float)

    def mixture_log_loss(W):
        mix = np.einsum("gik,kic->gic", W, P)
        return -np.log(np.maximum(mix[:, np.arange(len(yi)), yi], 1e-15))

    T_ref = loo_temperature(wrong, mixture_log_loss)[0]
    assert est.temperature_ == T_ref
    assert np.isfinite(T_ref)  # the 0-1 score of these mixtures ties up to the flat end
    np.testing.assert_allclose(est.cumulative_loss_, wrong.sum(axis=1))
    logits = -wrong.sum(axis=1) / T_ref
    w = np.exp(logits - logits.max())
    np.testing.assert_allclose(est.weights_, w / w.sum(), rtol=1e-10)


def test_zero_one_scores_of_left_out_mixtures_tie_where_log_loss_ranks(
    temperature_classifier,
):
    """Why auto scores left-out predictions by log loss under adapt_loss='zero_one'."""
    est, Xp, yp = copy.deepcopy(temperature_classifier)
    X, y = Xp[:30], yp[:30]
    P = est.predict_members(X).astype(np.float64)
    yi = np.searchsorted(est.classes_, y)
    wrong = (P.argmax(axis=2) != yi).astype(float)

    def mixture(W):
        return np.einsum("gik,kic->gic", W, P)

    T01, s01 = loo_temperature(wrong, lambda W: (mixture(W).argmax(axis=2) != yi).astype(float))
    Tlog, slog = loo_temperature(
        wrong, lambda W: -np.log(np.maximum(mixture(W)[:, np.arange(len(yi)), yi], 1e-15))
    )
    temps = np.unique(np.append(DEFAULT_TEMPERATURE_GRID, np.inf))
    tied = s01 == s01.min()
    # 0-1: several candidates share the best score and the tie goes to the flattest
    assert tied.sum() > 1 and T01 == temps[tied][-1] and T01 > Tlog
    # the log loss tells them apart: the flattest of the tied is not its best
    assert slog[temps == T01][0] > slog.min()
