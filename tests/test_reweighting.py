"""HypothesisWeights, loo_temperature and check_temperature: properties and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import log_softmax, softmax

from skhyre import HypothesisWeights
from skhyre.reweighting import (
    DEFAULT_TEMPERATURE_GRID,
    NaNMemberWarning,
    check_temperature,
    loo_temperature,
)

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite_losses = st.floats(0.0, 100.0, allow_nan=False, allow_infinity=False)
temperatures = st.floats(0.05, 50.0)


@st.composite
def loss_matrices(draw, elements=finite_losses, max_k=8, max_n=8):
    K = draw(st.integers(1, max_k))
    n = draw(st.integers(1, max_n))
    return draw(arrays(np.float64, (K, n), elements=elements))


def _state(hw: HypothesisWeights):
    return (
        hw.cumulative_loss,
        hw.weights,
        hw.log_weights,
        hw.n_updates,
        hw.n_samples_seen,
        hw.temperature,
    )


def _assert_same_state(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _assert_valid_weights(w):
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert abs(w.sum() - 1.0) < 1e-12


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------
@SETTINGS
@given(losses=loss_matrices(), T=temperatures, data=st.data())
def test_coherence_batch_equals_one_by_one_and_any_split(losses, T, data):
    K, n = losses.shape
    batch = HypothesisWeights(K, temperature=T).update(losses)
    one = HypothesisWeights(K, temperature=T)
    for j in range(n):
        one.update(losses[:, j])  # (K,) summed losses of one example
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=n)))
    split = HypothesisWeights(K, temperature=T)
    for chunk in np.split(losses, [c for c in cuts if c < n], axis=1):
        split.update(chunk)
    # losses are added in order, one example at a time: bit-identical
    for other in (one, split):
        np.testing.assert_array_equal(other.cumulative_loss, batch.cumulative_loss)
        np.testing.assert_array_equal(other.weights, batch.weights)
        np.testing.assert_array_equal(other.log_weights, batch.log_weights)
    assert batch.n_samples_seen == one.n_samples_seen == split.n_samples_seen == n
    assert one.n_updates == n and batch.n_updates == 1


@SETTINGS
@given(losses=loss_matrices(), T=temperatures, data=st.data())
def test_permuting_members_permutes_weights(losses, T, data):
    K = losses.shape[0]
    perm = np.array(data.draw(st.permutations(range(K))))
    w = HypothesisWeights(K, temperature=T).update(losses).weights
    w_perm = HypothesisWeights(K, temperature=T).update(losses[perm]).weights
    np.testing.assert_allclose(w_perm, w[perm], rtol=1e-12, atol=1e-300)


@SETTINGS
@given(losses=loss_matrices(), T=temperatures, c=st.floats(-1e3, 1e3))
def test_adding_a_constant_to_all_losses_changes_nothing(losses, T, c):
    K = losses.shape[0]
    w = HypothesisWeights(K, temperature=T).update(losses).weights
    w_shift = HypothesisWeights(K, temperature=T).update(losses + c).weights
    # rounding of L + n*c, relative to the temperature, bounds the change
    np.testing.assert_allclose(w_shift, w, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(losses=loss_matrices(elements=st.integers(0, 5).map(float)))
def test_temperature_limits(losses):
    K = losses.shape[0]
    hw = HypothesisWeights(K).update(losses)
    # infinity: the prior (uniform); a huge temperature: nearly uniform
    np.testing.assert_allclose(hw.weights_at(np.inf), np.full(K, 1 / K), rtol=1e-15)
    np.testing.assert_allclose(hw.weights_at(1e12), np.full(K, 1 / K), rtol=1e-9)
    # zero: the argmin members, ties split equally
    L = losses.sum(axis=1)
    best = L == L.min()
    expected = best / best.sum()
    np.testing.assert_allclose(hw.weights_at(1e-300), expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(hw.weights_at(1e-6), expected, rtol=1e-12, atol=1e-300)
    # weights_at does not change the object
    np.testing.assert_allclose(hw.weights, softmax(-L), rtol=1e-12)


@SETTINGS
@given(
    losses=loss_matrices(
        elements=st.one_of(
            st.floats(0.0, 1e300),
            st.just(np.inf),
            st.floats(-1e300, 1e300),
        )
    ),
    T=st.one_of(st.floats(1e-300, 1e300), st.just(np.inf)),
)
def test_weights_finite_and_sum_to_one_for_huge_and_infinite_losses(losses, T):
    K = losses.shape[0]
    assume(not np.isnan(losses.sum(axis=1)).any())  # inf - inf is NaN: another test
    hw = HypothesisWeights(K, temperature=T).update(losses)
    _assert_valid_weights(hw.weights)
    lw = hw.log_weights
    assert not np.isnan(lw).any() and np.all(lw <= 0)
    np.testing.assert_allclose(np.exp(lw), hw.weights, rtol=1e-12, atol=1e-300)
    L = hw.cumulative_loss
    if np.isfinite(L).any():
        assert np.all(hw.weights[np.isposinf(L)] == 0)  # an infinite loss drops out
    else:
        np.testing.assert_allclose(hw.weights, 1 / K)  # every member infinite: a tie


def test_matches_plain_softmax():
    rng = np.random.default_rng(0)
    losses = rng.random((6, 9)) * 4
    for T in (0.1, 1.0, 7.0):
        hw = HypothesisWeights(6, temperature=T).update(losses)
        np.testing.assert_allclose(hw.weights, softmax(-losses.sum(1) / T), rtol=1e-12)
        # the dominant member's log-weight is -log1p(small): accurate to the last bits
        np.testing.assert_allclose(hw.log_weights, log_softmax(-losses.sum(1) / T), rtol=1e-9)
    losses = np.array([[0.0], [20.0], [21.0]])
    expected = -np.log1p(np.exp(-20.0) + np.exp(-21.0))  # about -3e-9
    np.testing.assert_allclose(
        HypothesisWeights(3).update(losses).log_weights[0], expected, rtol=1e-14
    )


def test_log_prior():
    lp = np.log([0.5, 0.25, 0.25]) + 3.0  # normalised internally
    hw = HypothesisWeights(3, log_prior=lp)
    np.testing.assert_allclose(hw.weights, [0.5, 0.25, 0.25])
    np.testing.assert_allclose(hw.log_prior, np.log([0.5, 0.25, 0.25]))
    hw.update([1.0, 0.0, 0.0])
    np.testing.assert_allclose(hw.weights, softmax(np.log([0.5, 0.25, 0.25]) - [1.0, 0, 0]))
    zero = HypothesisWeights(3, log_prior=[-np.inf, 0.0, 0.0]).update([-5.0, 1.0, 1.0])
    np.testing.assert_allclose(zero.weights, [0.0, 0.5, 0.5])


def test_nan_member_gets_weight_zero_with_a_warning():
    hw = HypothesisWeights(4)
    losses = np.ones((4, 3))
    losses[2, 1] = np.nan
    with pytest.warns(NaNMemberWarning, match=r"1 member\(s\) gave NaN losses.*members 2"):
        hw.update(losses)
    assert hw.weights[2] == 0.0 and hw.log_weights[2] == -np.inf
    _assert_valid_weights(hw.weights)
    np.testing.assert_allclose(hw.weights[[0, 1, 3]], 1 / 3)
    with warnings.catch_warnings():  # already NaN: no new warning
        warnings.simplefilter("error")
        hw.update(np.ones(4))
    assert hw.weights[2] == 0.0
    with pytest.warns(NaNMemberWarning, match="members 0, 3"):
        hw.update([np.nan, 0.0, 0.0, np.nan])
    np.testing.assert_allclose(hw.weights, [0.0, 1.0, 0.0, 0.0])
    # a NaN member next to an infinite one: the infinite one keeps all the weight
    with pytest.warns(NaNMemberWarning, match="members 1"):
        hw = HypothesisWeights(2).update([[np.inf, 1.0], [np.nan, 1.0]])
    np.testing.assert_array_equal(hw.weights, [1.0, 0.0])


def test_every_member_nan_is_an_error_and_keeps_the_state():
    hw = HypothesisWeights(3).update([1.0, 2.0, 3.0])
    before = _state(hw)
    with pytest.raises(ValueError, match="no member is left to weight"):
        hw.update(np.full((3, 2), np.nan))
    _assert_same_state(_state(hw), before)


def test_temperature_setter_recomputes_and_reset():
    hw = HypothesisWeights(3, temperature=1.0).update([0.0, 1.0, 2.0])
    hw.temperature = 0.5
    np.testing.assert_allclose(hw.weights, softmax(-np.array([0.0, 1.0, 2.0]) / 0.5))
    assert hw.n_updates == 1
    hw.reset()
    np.testing.assert_allclose(hw.weights, 1 / 3)
    assert hw.n_updates == hw.n_samples_seen == 0
    assert "n_samples_seen=0" in repr(hw)


def test_properties_return_copies():
    hw = HypothesisWeights(3).update([0.0, 1.0, 2.0])
    for name in ("weights", "log_weights", "cumulative_loss", "log_prior"):
        arr = getattr(hw, name)
        arr[:] = 123.0
        assert not np.any(getattr(hw, name) == 123.0), name


def test_update_does_not_modify_its_input():
    losses = np.array([[0.5, 1.0], [2.0, np.inf], [0.0, 0.0]])
    copy = losses.copy()
    HypothesisWeights(3).update(losses)
    np.testing.assert_array_equal(losses, copy)
    ro = losses.copy()
    ro.flags.writeable = False
    HypothesisWeights(3).update(ro)  # read-only input is fine


@pytest.mark.parametrize(
    "losses",
    [[1, 2, 3], [True, False, True], np.array([1, 2, 3], dtype=np.float32), [[1.0], [2.0], [3.0]]],
)
def test_accepts_array_likes(losses):
    hw = HypothesisWeights(3).update(losses)
    np.testing.assert_allclose(
        hw.cumulative_loss, np.asarray(losses, dtype=float).reshape(3, -1).sum(1)
    )


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("losses", "error", "match"),
    [
        (np.ones((4, 2)), ValueError, r"4 rows but there are K=3 members"),
        (np.ones(2), ValueError, r"2 rows but there are K=3 members"),
        (np.ones((3, 2, 2)), ValueError, r"\(K,\) summed losses or a \(K, n\) matrix, got ndim=3"),
        (np.float64(1.0), ValueError, r"got ndim=0"),
        (np.ones((3, 0)), ValueError, r"Empty update"),
        ([[0.0, -np.inf], [0, 0], [0, 0]], ValueError, r"must not contain -inf"),
        ([-np.inf, 1.0, 2.0], ValueError, r"must not contain -inf"),
        (["a", "b", "c"], TypeError, r"losses must be numeric"),
        ([None, 1.0, 2.0], TypeError, r"losses must be numeric"),
        (np.ones(3, dtype=complex), TypeError, r"must be real numbers"),
    ],
)
def test_bad_updates_raise_and_keep_the_state(losses, error, match):
    hw = HypothesisWeights(3, temperature=0.7).update([0.0, 1.0, 2.0])
    before = _state(hw)
    with pytest.raises(error, match=match):
        hw.update(losses)
    _assert_same_state(_state(hw), before)


@pytest.mark.parametrize(
    ("temperature", "error", "match"),
    [
        (0.0, ValueError, r"temperature must be > 0, got 0.0"),
        (-1.0, ValueError, r"temperature must be > 0"),
        (np.nan, ValueError, r"temperature must be > 0"),
        (-np.inf, ValueError, r"temperature must be > 0"),
        ("1.0", TypeError, r"temperature must be a positive real number"),
        (True, TypeError, r"temperature must be a positive real number"),
        (None, TypeError, r"temperature must be a positive real number"),
    ],
)
def test_bad_temperature(temperature, error, match):
    with pytest.raises(error, match=match):
        check_temperature(temperature)
    with pytest.raises(error, match=match):
        HypothesisWeights(2, temperature=temperature)
    hw = HypothesisWeights(2).update([0.0, 1.0])
    before = _state(hw)
    with pytest.raises(error, match=match):
        hw.temperature = temperature
    _assert_same_state(_state(hw), before)
    with pytest.raises(error, match=match):
        hw.weights_at(temperature)


def test_check_temperature_accepts():
    assert check_temperature(2) == 2.0 and isinstance(check_temperature(2), float)
    assert check_temperature(np.float32(0.5)) == 0.5
    assert check_temperature(np.inf) == np.inf
    with pytest.raises(ValueError, match="tau must be > 0"):
        check_temperature(0, name="tau")


@pytest.mark.parametrize("n_members", [0, -2, 2.5, "3", True, None])
def test_bad_n_members(n_members):
    with pytest.raises(ValueError, match="n_members must be a positive integer"):
        HypothesisWeights(n_members)


@pytest.mark.parametrize(
    ("log_prior", "match"),
    [
        (np.zeros(2), r"log_prior must have shape \(3,\)"),
        (np.zeros((3, 1)), r"log_prior must have shape \(3,\)"),
        ([0.0, np.nan, 0.0], "must not contain NaN or \\+inf"),
        ([0.0, np.inf, 0.0], "must not contain NaN or \\+inf"),
        ([-np.inf] * 3, "zero prior probability"),
    ],
)
def test_bad_log_prior(log_prior, match):
    with pytest.raises(ValueError, match=match):
        HypothesisWeights(3, log_prior=log_prior)


# --------------------------------------------------------------------------
# loo_temperature
# --------------------------------------------------------------------------
def _regression_problem(F, y):
    losses = (F - y) ** 2

    def mixture_loss(W):
        return (np.einsum("gik,ki->gi", W, F) - y) ** 2

    return losses, mixture_loss


def test_loo_temperature_low_when_one_member_is_clearly_right():
    rng = np.random.default_rng(1)
    n = 12
    y = rng.normal(size=n)
    # member 0 is right up to noise; the others are close enough that a
    # moderate temperature would still mix them in
    F = np.stack([y + 0.01 * rng.normal(size=n), y + 0.3, y - 0.3, y + 0.3 * rng.normal(size=n)])
    losses, mixture_loss = _regression_problem(F, y)
    T, scores = loo_temperature(losses, mixture_loss)
    grid = np.unique(np.append(DEFAULT_TEMPERATURE_GRID, np.inf))
    assert scores.shape == grid.shape
    assert T <= 0.2
    W = HypothesisWeights(4, temperature=T).update(losses).weights
    assert W[0] > 0.99  # the weight is on the right member
    assert scores[np.flatnonzero(grid == T)[0]] <= scores.min() * (1 + 1e-12)
    assert scores[-1] > 10 * scores.min()  # uniform weights are much worse


def test_loo_temperature_inf_when_members_are_indistinguishable():
    rng = np.random.default_rng(2)
    y = rng.normal(size=8)
    F = np.tile(rng.normal(size=8), (5, 1))  # identical members
    losses, mixture_loss = _regression_problem(F, y)
    T, scores = loo_temperature(losses, mixture_loss)
    assert T == np.inf
    np.testing.assert_allclose(scores, scores[0], rtol=1e-12)
    # one example only: no evidence, the flattest weights
    losses1, mixture_loss1 = _regression_problem(F[:, :1] + np.arange(5)[:, None], y[:1])
    assert loo_temperature(losses1, mixture_loss1)[0] == np.inf


def test_loo_temperature_ties_go_to_the_higher_temperature():
    losses = np.array([[0.0, 1.0], [1.0, 0.0]])
    table = np.array([2.0, 0.5, 0.5 + 1e-14, 3.0])  # per candidate: 0.1, 1, 10, inf

    def mixture_loss(W):
        assert W.shape == (4, 2, 2)
        np.testing.assert_allclose(W.sum(axis=2), 1.0)
        return np.repeat(table[:, None], 2, axis=1)

    T, scores = loo_temperature(losses, mixture_loss, grid=[10.0, 0.1, 1.0])
    assert T == 10.0  # 1 and 10 tie within 1e-12: the higher wins
    np.testing.assert_allclose(scores, table)
    table[2] = 0.5 + 1e-9  # no longer a tie
    assert loo_temperature(losses, mixture_loss, grid=[10.0, 0.1, 1.0])[0] == 1.0


def test_loo_temperature_nan_disqualifies_a_candidate():
    losses = np.array([[0.0, 1.0], [1.0, 0.0]])

    def mixture_loss(W):
        out = np.ones((W.shape[0], W.shape[1]))
        out[0, 0] = np.nan  # candidate 0.1 would otherwise tie with everyone
        out[-1] = 2.0
        return out

    T, scores = loo_temperature(losses, mixture_loss, grid=[0.1, 1.0])
    assert T == 1.0 and scores[0] == np.inf


def _old_loo_temperature(losses, mixture_loss, grid, log_prior):
    """The selection as it was: exp of the leave-one-out log-weights, normalised by their sum."""
    from skhyre import _kernels

    temps = np.unique(np.append(grid, np.inf))
    with np.errstate(invalid="ignore"):
        W = np.exp(_kernels.loo_log_weights(losses, temps, log_prior))
        W /= W.sum(axis=2, keepdims=True)
    scores = mixture_loss(W).mean(axis=1)
    scores = np.where(np.isnan(scores), np.inf, scores)
    best = scores.min()
    tol = 1e-12 * max(1.0, abs(best)) if np.isfinite(best) else 0.0
    return float(temps[np.flatnonzero(scores <= best + tol)[-1]]), scores, W


@pytest.mark.parametrize("case", ["plain", "huge", "inf_nan", "dead_rows"])
def test_loo_temperature_same_choice_as_normalised_log_weights(case):
    """loo_weights (one (G, n, K) array) picks what exp + normalise of the log-weights picked."""
    rng = np.random.default_rng(["plain", "huge", "inf_nan", "dead_rows"].index(case) + 40)
    grid = np.array([1e-3, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0])
    for _ in range(20):
        K, n = int(rng.integers(1, 7)), int(rng.integers(1, 15))
        y = rng.normal(size=n)
        F = y + rng.normal(size=(K, 1)) * rng.random((K, n))
        losses = (F - y) ** 2
        if case == "huge":
            losses *= 1e300
        elif case in ("inf_nan", "dead_rows"):
            u = rng.random((K, n))
            losses[u < 0.1] = np.inf
            losses[(u >= 0.1) & (u < 0.2)] = np.nan
            if case == "dead_rows":
                losses[:, rng.integers(0, n)] = np.nan  # every member NaN on one example
        lp = log_softmax(rng.normal(size=K))
        seen = []

        def mixture_loss(W, seen=seen, F=F, y=y):
            seen.append(W)
            return (np.einsum("gik,ki->gi", W, F) - y) ** 2

        T, scores = loo_temperature(losses, mixture_loss, grid=grid, log_prior=lp)
        T_old, scores_old, W_old = _old_loo_temperature(losses, mixture_loss, grid, lp)
        assert T == T_old
        np.testing.assert_array_equal(np.isnan(seen[0]), np.isnan(W_old))
        np.testing.assert_allclose(seen[0], W_old, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(scores, scores_old, rtol=1e-9)


@pytest.mark.parametrize(
    ("losses", "grid", "returned", "match"),
    [
        (np.ones(3), None, None, r"losses must be a \(K, n\) matrix, got ndim=1"),
        (np.ones((3, 0)), None, None, "at least one adaptation example"),
        (np.ones((2, 3)), [1.0, -1.0], None, "every temperature in the grid must be > 0"),
        (np.ones((2, 3)), [0.0], None, "every temperature in the grid must be > 0"),
        (np.ones((2, 3)), [1.0], np.ones((2, 2)), r"mixture_loss returned shape \(2, 2\)"),
    ],
)
def test_loo_temperature_bad_input(losses, grid, returned, match):
    def mixture_loss(W):
        return np.ones(W.shape[:2]) if returned is None else returned

    with pytest.raises(ValueError, match=match):
        loo_temperature(losses, mixture_loss, grid=grid)


def test_negative_losses_that_overflow_are_named_not_called_nan():
    hw = HypothesisWeights(2)
    with pytest.raises(ValueError, match=r"member\(s\) \[0\] overflowed to -inf"):
        hw.update([[-1e308, -1e308], [0.0, 0.0]])
    assert hw.n_updates == 0
    np.testing.assert_array_equal(hw.weights, [0.5, 0.5])


@pytest.mark.parametrize("rule", ["loo", "evidence"])
def test_an_empty_temperature_grid_is_named(rule):
    from skhyre.reweighting import evidence_temperature, loo_temperature

    L = np.zeros((2, 3))
    with pytest.raises(ValueError, match="grid is empty"):
        if rule == "loo":
            loo_temperature(L, lambda W: np.zeros((W.shape[0], 3)), grid=[])
        else:
            evidence_temperature(L, "squared", grid=[])


def test_estimators_name_a_minus_inf_overflow_of_a_callable_loss():
    from sklearn.linear_model import LinearRegression, Ridge

    from skhyre import HyReEnsemble

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    members = [("lr", LinearRegression()), ("r", Ridge())]
    hyre = HyReEnsemble(members, adapt_loss=lambda F, y: np.full(F.shape[:2], -1e308))
    hyre.fit(X, y)
    with pytest.raises(ValueError, match=r"member\(s\) \[0, 1\] overflowed to -inf"):
        hyre.adapt(X[:3], y[:3])
    assert hyre.n_adapt_samples_ == 0
