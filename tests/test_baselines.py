"""Tests for skhyre.baselines: hand-computed examples, registry, validation."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skhyre.baselines import (
    _CLASSIFICATION_ONLY,
    _NEEDS_TRAIN,
    _ORACLES,
    BASELINES,
    best_member_oracle,
    combine,
    confidence_weighted,
    convex_weights,
    entropy_weighted,
    logit_average,
    majority_vote,
    single_model,
    uniform_average,
)

# K=3 members, n=2 examples, C=2 classes; labels y = [0, 1].
P3 = np.array(
    [
        [[0.9, 0.1], [0.2, 0.8]],
        [[0.6, 0.4], [0.7, 0.3]],
        [[0.5, 0.5], [0.4, 0.6]],
    ]
)
Y3 = np.array([0, 1])

CLASSIFIER_FUNCS = [
    uniform_average,
    logit_average,
    majority_vote,
    entropy_weighted,
    confidence_weighted,
]


# --------------------------------------------------------------------------- #
# Adaptation-free combinations, by hand
# --------------------------------------------------------------------------- #
def test_uniform_average_by_hand():
    expected = np.array([[2.0 / 3, 1.0 / 3], [1.3 / 3, 1.7 / 3]])
    assert_allclose(uniform_average(P3), expected)


def test_uniform_average_regression():
    F = np.array([[1.0, 4.0, -2.0], [3.0, 0.0, 2.0]])
    out = uniform_average(F)
    assert out.shape == (3,)
    assert_allclose(out, [2.0, 2.0, 0.0])


def test_logit_average_by_hand():
    # sqrt(0.8*0.5) : sqrt(0.2*0.5) = 2 : 1; identical members keep their prediction;
    # C=3: sqrt(.8*.2), sqrt(.1*.4), sqrt(.1*.4) = .4, .2, .2 -> .5, .25, .25.
    P = np.array([[[0.8, 0.2], [0.25, 0.75]], [[0.5, 0.5], [0.25, 0.75]]])
    assert_allclose(logit_average(P), [[2.0 / 3, 1.0 / 3], [0.25, 0.75]])
    P = np.array([[[0.8, 0.1, 0.1]], [[0.2, 0.4, 0.4]]])
    assert_allclose(logit_average(P), [[0.5, 0.25, 0.25]])


def test_logit_average_differs_from_uniform_and_handles_zeros():
    # Uniform: [0.5, 0.5]; geometric mean with a zero: class 1 is vetoed (up to eps).
    P = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]]])
    assert_allclose(uniform_average(P), [[0.5, 0.5]])
    P = np.array([[[1.0, 0.0]], [[0.5, 0.5]]])
    out = logit_average(P, eps=1e-12)
    # ratio class0/class1 = sqrt(1 * 0.5) / sqrt(1e-12 * 0.5) = 1e6
    assert_allclose(out[0, 0] / out[0, 1], 1e6, rtol=1e-9)
    assert np.all(np.isfinite(out))
    # A larger eps makes the veto softer: sqrt(1 / 0.01) = 10.
    out = logit_average(P, eps=0.01)
    assert_allclose(out, [[10.0 / 11, 1.0 / 11]])


def test_majority_vote_by_hand_and_ties():
    # Example 0 votes 0, 0, and member 2 ties [0.5, 0.5] -> lowest index 0.
    # Example 1 votes 1, 0, 1.
    assert_allclose(majority_vote(P3), [[1.0, 0.0], [1.0 / 3, 2.0 / 3]])
    # A tie between classes in the vote shares: argmax goes to the lowest index.
    P = np.array([[[0.9, 0.1]], [[0.2, 0.8]]])
    out = majority_vote(P)
    assert_allclose(out, [[0.5, 0.5]])
    assert out.argmax(axis=1)[0] == 0


def test_entropy_weighted_by_hand():
    # Entropies 0 and log 2 -> scores 1 and 1/2 -> weights 2/3 and 1/3.
    P = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5], [0.0, 1.0]]])
    expected = np.array([[2 / 3 + 1 / 6, 1 / 6], [1 / 6, 2 / 3 + 1 / 6]])
    assert_allclose(entropy_weighted(P), expected)
    # Equal entropies -> uniform weights.
    P = np.array([[[0.9, 0.1]], [[0.1, 0.9]]])
    assert_allclose(entropy_weighted(P), [[0.5, 0.5]])


def test_entropy_weighted_three_classes():
    # Entropies: log 3 (uniform) and 0 (one-hot) -> scores 1/3 and 1 -> weights 1/4, 3/4.
    P = np.array([[[1 / 3, 1 / 3, 1 / 3]], [[0.0, 0.0, 1.0]]])
    assert_allclose(entropy_weighted(P), [[1 / 12, 1 / 12, 1 / 12 + 3 / 4]])


def test_confidence_weighted_by_hand():
    # Example 0: confidences 0.9, 0.6, 0.5 -> weights 0.45, 0.3, 0.25
    #   p0 = 0.45*0.9 + 0.3*0.6 + 0.25*0.5 = 0.71
    # Example 1: confidences 0.8, 0.7, 0.6 -> p0 = (0.8*0.2 + 0.7*0.7 + 0.6*0.4) / 2.1
    expected = np.array([[0.71, 0.29], [0.89 / 2.1, 1 - 0.89 / 2.1]])
    assert_allclose(confidence_weighted(P3), expected)


@pytest.mark.parametrize("func", CLASSIFIER_FUNCS)
def test_classifier_outputs_are_distributions(func):
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=(5, 7))
    out = func(P)
    assert out.shape == (7, 4)
    assert np.all(out >= 0)
    assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("func", CLASSIFIER_FUNCS)
def test_single_member_is_identity_except_vote(func):
    P = P3[:1]
    out = func(P)
    expected = np.eye(2)[P[0].argmax(axis=1)] if func is majority_vote else P[0]
    assert_allclose(out, expected)


@pytest.mark.parametrize("func", CLASSIFIER_FUNCS)
def test_float32_input(func):
    P32 = P3.astype(np.float32)
    assert_allclose(func(P32), func(P3), atol=1e-6)


def test_combine_by_hand():
    assert_allclose(combine(P3, [0.5, 0.5, 0.0]), [[0.75, 0.25], [0.45, 0.55]])
    F = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert_allclose(combine(F, [0.75, 0.25]), [1.5, 3.0])
    assert_allclose(combine(P3, np.full(3, 1 / 3)), uniform_average(P3))


# --------------------------------------------------------------------------- #
# Member selection
# --------------------------------------------------------------------------- #
# y = [0, 0]. Member A is barely right on both; member B is sure and right on the
# first, wrong on the second.
#   zero_one: A 0,   B 0.5                        -> A
#   log_loss: A -log .51 = .673, B (0 + .916)/2 = .458   -> B
#   brier:    A 2*.49^2 = .4802, B (0 + .72)/2 = .36      -> B
P_AB = np.array([[[0.51, 0.49], [0.51, 0.49]], [[1.0, 0.0], [0.4, 0.6]]])
Y_AB = np.array([0, 0])


@pytest.mark.parametrize(
    ("loss", "expected"), [("zero_one", 0), ("log_loss", 1), ("brier", 1), (None, 1)]
)
@pytest.mark.parametrize("select", [single_model, best_member_oracle])
def test_member_selection_by_loss(select, loss, expected):
    k = select(P_AB, Y_AB, loss=loss)
    assert k == expected
    assert isinstance(k, int)


def test_member_selection_regression():
    # Squared losses: 2, 0, 0.25; absolute: 2, 0, 0.5.
    F = np.array([[0.0, 3.0], [1.0, 2.0], [1.0, 2.5]])
    y = np.array([1.0, 2.0])
    assert single_model(F, y) == 1
    assert single_model(F, y, loss="absolute") == 1
    assert best_member_oracle(F[[2, 0, 1]], y, loss="squared") == 2


def test_member_selection_ties_go_to_lowest_index():
    P = np.array([P3[1], P3[0], P3[0]])
    assert single_model(P, Y3) == 1
    assert single_model(np.array([P3[0], P3[0]]), Y3, loss="zero_one") == 0


def test_oracle_uses_test_labels_single_model_uses_train():
    # On the training data member 0 is best; on the (shifted) test data member 2 is.
    P_train = P3
    P_test = np.array(
        [
            [[0.2, 0.8], [0.9, 0.1]],
            [[0.5, 0.5], [0.5, 0.5]],
            [[0.7, 0.3], [0.1, 0.9]],
        ]
    )
    y_test = np.array([0, 1])
    assert single_model(P_train, Y3) == 0
    assert best_member_oracle(P_test, y_test) == 2


# --------------------------------------------------------------------------- #
# Convex weights
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("loss", ["log_loss", "brier"])
def test_convex_one_perfect_member(loss):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=20)
    P = rng.dirichlet(np.ones(3), size=(4, 20))
    P[2] = np.eye(3)[y]
    w = convex_weights(P, y, loss=loss)
    assert w.shape == (4,)
    assert w[2] > 0.999
    assert_allclose(w.sum(), 1.0)
    assert np.all(w >= 0)


def test_convex_squared_average_is_exact():
    # (y + 1) / 2 + (y - 1) / 2 = y, and the third member 2y gets no weight:
    # w1(y+1) + w2(y-1) + 2 w3 y = y for two distinct y forces w = (0.5, 0.5, 0).
    y = np.array([0.0, 1.0, 2.0, -1.5])
    F = np.stack([y + 1.0, y - 1.0, 2.0 * y])
    w = convex_weights(F, y, loss="squared")
    assert_allclose(w, [0.5, 0.5, 0.0], atol=1e-5)
    assert_allclose(combine(F, w), y, atol=1e-4)


def test_convex_squared_interior_by_hand():
    # Constant members 0 and 1, target 0.3 -> w = (0.7, 0.3).
    F = np.array([[0.0, 0.0], [1.0, 1.0]])
    y = np.array([0.3, 0.3])
    assert_allclose(convex_weights(F, y), [0.7, 0.3], atol=1e-5)


def test_convex_squared_is_scale_free():
    rng = np.random.default_rng(2)
    y = rng.normal(size=30)
    F = y + rng.normal(scale=[[0.3], [0.6], [1.0]], size=(3, 30))
    w = convex_weights(F, y)
    w_big = convex_weights(F * 1e6, y * 1e6)
    assert_allclose(w_big, w, atol=1e-4)


def test_convex_log_loss_interior_by_hand():
    # Two examples favour member 0 (prob 1 vs 0), one favours member 1:
    # loss = -(2 log w0 + log w1) / 3, minimised at w0 = 2/3.
    P = np.array(
        [
            [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]],
            [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        ]
    )
    y = np.array([0, 1, 1])
    assert_allclose(convex_weights(P, y, loss="log_loss"), [2 / 3, 1 / 3], atol=1e-4)


@pytest.mark.parametrize("loss", ["log_loss", "brier"])
def test_convex_matches_grid_search(loss):
    # Independent check: no point of a 0.01 grid on the 3-simplex does better.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=25)
    P = rng.dirichlet(np.ones(2), size=(3, 25))

    def mixture_loss(w):
        q = np.tensordot(w, P, axes=(0, 0))
        if loss == "log_loss":
            return -np.mean(np.log(q[np.arange(25), y]))
        return np.mean(np.sum((q - np.eye(2)[y]) ** 2, axis=1))

    w = convex_weights(P, y, loss=loss)
    grid = [
        np.array([a, b, 100 - a - b]) / 100.0
        for a, b in itertools.product(range(101), repeat=2)
        if a + b <= 100
    ]
    best_grid = min(mixture_loss(g) for g in grid)
    assert mixture_loss(w) <= best_grid + 1e-9
    assert mixture_loss(w) <= mixture_loss(np.full(3, 1 / 3))


def test_convex_edge_cases():
    # No adaptation examples -> uniform; one member -> [1].
    assert_allclose(convex_weights(np.zeros((4, 0, 2)), np.array([], dtype=int)), [0.25] * 4)
    assert_allclose(convex_weights(np.zeros((3, 0)), np.array([])), [1 / 3] * 3)
    assert_allclose(convex_weights(P3[:1], Y3), [1.0])
    # Identical members: every point is optimal; the deterministic answer is uniform.
    assert_allclose(convex_weights(np.array([P3[0], P3[0]]), Y3), [0.5, 0.5])


def test_convex_is_deterministic():
    rng = np.random.default_rng(4)
    P = rng.dirichlet(np.ones(3), size=(6, 40))
    y = rng.integers(0, 3, size=40)
    assert_array_equal(convex_weights(P, y), convex_weights(P, y))


def test_convex_warns_when_not_converged():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=(10, 50))
    y = rng.integers(0, 3, size=50)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        w = convex_weights(P, y, max_iter=1)
    assert np.all(w >= 0)
    assert_allclose(w.sum(), 1.0)


@pytest.mark.parametrize(
    ("P", "y", "loss", "match"),
    [
        (P3, Y3, "zero_one", "loss must be one of"),
        (P3, Y3, "squared", "loss must be one of"),
        (np.array([[1.0, 2.0]]), np.array([1.0, 2.0]), "log_loss", "loss must be one of"),
        (P3, Y3, "hinge", "loss must be one of"),
    ],
)
def test_convex_rejects_unsuitable_losses(P, y, loss, match):
    with pytest.raises(ValueError, match=match):
        convex_weights(P, y, loss=loss)


def test_convex_rejects_bad_options():
    with pytest.raises(ValueError, match="max_iter"):
        convex_weights(P3, Y3, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        convex_weights(P3, Y3, tol=-1.0)


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #
def test_registry_contents():
    assert set(BASELINES) == {
        "single_model",
        "uniform",
        "logit_average",
        "majority_vote",
        "entropy_weighted",
        "confidence_weighted",
        "convex",
        "oracle",
    }
    assert _ORACLES == {"oracle"}
    assert _NEEDS_TRAIN == {"single_model"}
    assert _CLASSIFICATION_ONLY <= set(BASELINES)
    assert not _CLASSIFICATION_ONLY & {"uniform", "convex", "single_model", "oracle"}


def _registry_inputs():
    rng = np.random.default_rng(5)
    P_train = rng.dirichlet(np.ones(3), size=(4, 12))
    y_train = rng.integers(0, 3, size=12)
    P_adapt = rng.dirichlet(np.ones(3), size=(4, 6))
    y_adapt = rng.integers(0, 3, size=6)
    P_test = rng.dirichlet(np.ones(3), size=(4, 9))
    y_test = rng.integers(0, 3, size=9)
    return P_train, y_train, P_adapt, y_adapt, P_test, y_test


def test_registry_matches_direct_calls():
    P_train, y_train, P_adapt, y_adapt, P_test, y_test = _registry_inputs()
    extra = {"P_train": P_train, "y_train": y_train, "y_test": y_test}
    expected = {
        "single_model": P_test[single_model(P_train, y_train)],
        "uniform": uniform_average(P_test),
        "logit_average": logit_average(P_test),
        "majority_vote": majority_vote(P_test),
        "entropy_weighted": entropy_weighted(P_test),
        "confidence_weighted": confidence_weighted(P_test),
        "convex": combine(P_test, convex_weights(P_adapt, y_adapt)),
        "oracle": P_test[best_member_oracle(P_test, y_test)],
    }
    for name, fn in BASELINES.items():
        out = fn(P_adapt, y_adapt, P_test, **extra)
        assert out.shape == (9, 3), name
        assert_allclose(out, expected[name], err_msg=name)
        assert not np.shares_memory(out, P_test), name


def test_registry_regression():
    rng = np.random.default_rng(6)
    F_train, F_adapt, F_test = (rng.normal(size=(3, m)) for m in (10, 5, 8))
    y_train, y_adapt, y_test = (rng.normal(size=m) for m in (10, 5, 8))
    extra = {"P_train": F_train, "y_train": y_train, "y_test": y_test}
    for name, fn in BASELINES.items():
        if name in _CLASSIFICATION_ONLY:
            with pytest.raises(ValueError, match=r"\(K, n, C\)"):
                fn(F_adapt, y_adapt, F_test, **extra)
        else:
            out = fn(F_adapt, y_adapt, F_test, **extra)
            assert out.shape == (8,), name
    assert_allclose(BASELINES["uniform"](F_adapt, y_adapt, F_test), F_test.mean(axis=0))


def test_registry_empty_adaptation_set():
    _, _, _, _, P_test, _ = _registry_inputs()
    out = BASELINES["convex"](np.zeros((4, 0, 3)), np.array([], dtype=int), P_test)
    assert_allclose(out, uniform_average(P_test))


def test_registry_requires_extra_inputs():
    P_train, y_train, P_adapt, y_adapt, P_test, _ = _registry_inputs()
    with pytest.raises(ValueError, match="P_train"):
        BASELINES["single_model"](P_adapt, y_adapt, P_test)
    with pytest.raises(ValueError, match="y_test"):
        BASELINES["oracle"](P_adapt, y_adapt, P_test, P_train=P_train, y_train=y_train)


def test_registry_rejects_mismatched_members():
    P_train, y_train, P_adapt, y_adapt, P_test, y_test = _registry_inputs()
    for fn in BASELINES.values():
        with pytest.raises(ValueError, match="same members"):
            fn(P_adapt[:3], y_adapt, P_test, P_train=P_train, y_train=y_train, y_test=y_test)
    wrong_c = np.concatenate([P_adapt, np.zeros((4, 6, 1))], axis=2)
    with pytest.raises(ValueError, match="same members"):
        BASELINES["convex"](wrong_c, y_adapt, P_test)
    with pytest.raises(ValueError, match="same members"):
        BASELINES["single_model"](P_adapt, y_adapt, P_test, P_train=P_train[:2], y_train=y_train)


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
_BAD_P = [
    (np.array([[[np.nan, 1.0]], [[0.5, 0.5]]]), "NaN"),
    (np.array([[[1.5, -0.5]], [[0.5, 0.5]]]), r"\[0, 1\]"),
    (np.array([[[0.6, 0.6]], [[0.5, 0.5]]]), "sum to 1"),
    (np.array([[[0.5, 0.501]], [[0.5, 0.5]]]), "sum to 1"),
    (np.ones((2, 1, 1, 1)), "shape"),
    (np.array([0.5, 0.5]), "shape"),
    (np.zeros((2, 0, 2)), "no examples"),
    (np.zeros((2, 3, 0)), "no classes"),
]


@pytest.mark.parametrize("func", CLASSIFIER_FUNCS)
@pytest.mark.parametrize(("P", "match"), _BAD_P)
def test_bad_probabilities_raise(func, P, match):
    with pytest.raises(ValueError, match=match):
        func(P)


def test_probability_tolerance_accepts_rounding():
    P = np.array([[[0.50004, 0.5]], [[0.5, 0.5]]])
    assert uniform_average(P).shape == (1, 2)


@pytest.mark.parametrize("func", CLASSIFIER_FUNCS[1:])
def test_classification_only_rejects_regression(func):
    with pytest.raises(ValueError, match=r"\(K, n, C\)"):
        func(np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_regression_nan_rejected():
    with pytest.raises(ValueError, match="NaN"):
        uniform_average(np.array([[1.0, np.nan]]))


_BAD_LABELS = [
    (np.array([0, 2]), "outside 0..1"),
    (np.array([-1, 0]), "outside 0..1"),
    (np.array([0.0, 0.5]), "integer"),
    (np.array(["a", "b"]), "integer"),
    (np.array([0, 1, 1]), "2 examples"),
    (np.array([[0], [1]]), "1-D"),
    (np.array([0.0, np.nan]), "NaN"),
]


@pytest.mark.parametrize(("y", "match"), _BAD_LABELS)
@pytest.mark.parametrize("func", [convex_weights, single_model, best_member_oracle])
def test_bad_labels_raise(func, y, match):
    with pytest.raises(ValueError, match=match):
        func(P3, y)


def test_float_and_bool_labels_accepted():
    assert single_model(P3, np.array([0.0, 1.0])) == single_model(P3, Y3)
    assert single_model(P3, np.array([False, True])) == single_model(P3, Y3)


def test_bad_regression_targets_raise():
    F = np.array([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="NaN"):
        single_model(F, [1.0, np.nan])
    with pytest.raises(ValueError, match="3 labels"):
        single_model(F, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="loss must be one of"):
        single_model(F, [1.0, 2.0], loss="log_loss")
    with pytest.raises(ValueError, match="loss must be one of"):
        best_member_oracle(P3, Y3, loss="absolute")


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([0.5, 0.5], r"shape \(3,\)"),
        ([[0.5, 0.25, 0.25]], r"shape \(3,\)"),
        ([1.2, -0.1, -0.1], "non-negative"),
        ([0.5, 0.5, 0.5], "sum to 1"),
        ([0.5, np.nan, 0.5], "NaN"),
    ],
)
def test_combine_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        combine(P3, weights)


def test_logit_average_bad_eps():
    with pytest.raises(ValueError, match="eps"):
        logit_average(P3, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        logit_average(P3, eps="small")


# --------------------------------------------------------------------------- #
# Inputs are never modified
# --------------------------------------------------------------------------- #
def test_inputs_not_modified():
    P_train, y_train, P_adapt, y_adapt, P_test, y_test = _registry_inputs()
    arrays = [P_train, y_train, P_adapt, y_adapt, P_test, y_test]
    copies = [a.copy() for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for func in CLASSIFIER_FUNCS:
            func(P_test)
        combine(P_test, np.full(4, 0.25))
        for loss in ("log_loss", "brier"):
            convex_weights(P_adapt, y_adapt, loss=loss)
        single_model(P_train, y_train)
        best_member_oracle(P_test, y_test)
        for fn in BASELINES.values():
            fn(P_adapt, y_adapt, P_test, P_train=P_train, y_train=y_train, y_test=y_test)
    for original, copy in zip(arrays, copies):
        assert_array_equal(original, copy)

    F = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    yF = np.array([1.0, 1.0, 1.0])
    F_copy, yF_copy = F.copy(), yF.copy()
    uniform_average(F)
    convex_weights(F, yF)
    single_model(F, yF)
    assert_array_equal(F, F_copy)
    assert_array_equal(yF, yF_copy)


def test_outputs_do_not_alias_inputs():
    for func in CLASSIFIER_FUNCS:
        assert not np.shares_memory(func(P3), P3)
    F = np.array([[0.0, 1.0]])
    assert not np.shares_memory(uniform_average(F), F)
    assert not np.shares_memory(combine(F, [1.0]), F)
