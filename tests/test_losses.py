"""The adaptation loss table against plain NumPy definitions written here."""

import numpy as np
import pytest

from skhyre import losses
from skhyre.losses import Units

RNG = np.random.default_rng(0)


def _proba(K=4, n=7, C=3):
    P = RNG.random((K, n, C)).astype(np.float32)
    return P / P.sum(axis=2, keepdims=True)


def _ref_zero_one(P, y):
    out = np.empty(P.shape[:2])
    for k in range(P.shape[0]):
        for i in range(P.shape[1]):
            top = P[k, i].max()
            tied = np.flatnonzero(P[k, i] == top)
            out[k, i] = 1.0 - (1.0 / tied.size if y[i] in tied else 0.0)
    return out


def test_regression_losses_match_numpy():
    F = RNG.normal(size=(5, 9))
    y = RNG.normal(size=9)
    u = Units(target_scale=2.5, noise_variance=0.3)
    np.testing.assert_allclose(
        losses.get("regression", "squared").compute(F, y, u), (F - y) ** 2 / 2.5**2, rtol=1e-14
    )
    np.testing.assert_allclose(
        losses.get("regression", "absolute").compute(F, y, u), np.abs(F - y) / 2.5, rtol=1e-14
    )
    nll = (F - y) ** 2 / (2 * 0.3) + 0.5 * np.log(2 * np.pi * 0.3)
    np.testing.assert_allclose(
        losses.get("regression", "gaussian_nll").compute(F, y, u), nll, rtol=1e-14
    )


def test_classification_losses_match_numpy():
    P = _proba()
    y = RNG.integers(0, 3, size=7)
    P[0, 0] = [0.4, 0.4, 0.2]  # a tie between two classes
    y[0] = 0
    u = Units()
    np.testing.assert_array_equal(
        losses.get("classification", "zero_one").compute(P, y, u), _ref_zero_one(P, y)
    )
    picked = np.take_along_axis(P, y[None, :, None], axis=2)[..., 0].astype(np.float64)
    np.testing.assert_allclose(
        losses.get("classification", "log_loss").compute(P, y, u), -np.log(picked), rtol=1e-12
    )
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(
        losses.get("classification", "brier").compute(P, y, u),
        ((P.astype(np.float64) - onehot) ** 2).sum(axis=2),
        rtol=1e-12,
    )


def test_preference_zero_one_reads_the_reward_difference():
    P = _proba(C=2)
    P[1, 2] = [0.5, 0.5]  # a tie costs 1/2
    y = RNG.integers(0, 2, size=7)
    D = P[..., 1].astype(np.float64) - P[..., 0]
    ref = np.where(D == 0, 0.5, ((D > 0) != (y == 1)).astype(float))
    np.testing.assert_array_equal(losses.get("preference", "zero_one").compute(P, y, Units()), ref)


def test_every_entry_has_a_task_and_its_kernel_gives_the_same_weights():
    # a compiled equivalent differs from the loss by a per-example constant shared by members
    F = RNG.normal(size=(4, 6))
    y = RNG.normal(size=6)
    u = Units(target_scale=1.7, noise_variance=0.2)
    kern = {"squared": lambda s: s * (F - y) ** 2, "absolute": lambda s: s * np.abs(F - y)}
    for name in losses.names("regression"):
        entry = losses.get("regression", name)
        kid, scale = entry.kernel(u)
        diff = entry.compute(F, y, u) - kern[kid](scale)
        np.testing.assert_allclose(diff - diff[0], 0.0, atol=1e-12)
    for (task, _name), entry in losses.TABLE.items():
        assert entry.task == task in losses.TASKS


def test_names_defaults_and_metadata():
    assert losses.default("regression") == "squared"
    assert losses.default("classification") == losses.default("preference") == "zero_one"
    assert "gaussian_nll" not in losses.names("regression", Units(target_scale=2.0))
    assert losses.evidence_losses() == ("squared", "absolute", "zero_one", "log_loss")
    assert losses.floored_losses() == ("squared", "absolute")
    assert losses.get("classification", "zero_one").loo_score == "log_loss"
    assert losses.noise_model("brier") is None


def test_unknown_names_are_refused_clearly():
    with pytest.raises(ValueError, match="not a regression loss"):
        losses.get("regression", "zero_one")
    with pytest.raises(ValueError, match="task must be one of"):
        losses.names("ranking")
    with pytest.raises(ValueError, match="choose one of"):
        losses.resolve("regression", "gaussian_nll", Units(target_scale=1.0))


def test_resolve_wraps_a_callable_in_the_users_units():
    def mine(M, y):
        return np.abs(M - y)

    name, fn = losses.resolve(
        "regression", mine, Units(), user_units=lambda f: lambda M, y: 2 * f(M, y)
    )
    assert name is None
    np.testing.assert_array_equal(fn(np.array([[1.0]]), np.array([0.0])), [[2.0]])
