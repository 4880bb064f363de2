"""make_labeler_population: deterministic linear labelers with rotations and logistic offsets."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit

from skhyre.datasets import make_labeler_population


def test_shapes_and_labels_are_the_labelers_boundaries():
    d = make_labeler_population(
        n_samples=400,
        n_features=3,
        n_labelers=30,
        n_test_labelers=7,
        n_test_samples=50,
        random_state=0,
    )
    assert d.X.shape == (400, 3) and d.y.shape == (400,) and d.groups.shape == (400,)
    assert d.labeler_weights.shape == (30, 3) and d.labeler_offsets.shape == (30,)
    assert d.X_test.shape == (50, 3) and d.y_test.shape == (7, 50)
    assert set(np.unique(d.y)) <= {0, 1} and d.groups.max() < 30
    w, b = d.labeler_weights[d.groups], d.labeler_offsets[d.groups]
    assert_array_equal(d.y, (np.sum(d.X * w, axis=1) + b > 0).astype(int))
    expected = d.test_labeler_weights @ d.X_test.T + d.test_labeler_offsets[:, None] > 0
    assert_array_equal(d.y_test, expected.astype(int))
    assert_allclose(np.linalg.norm(d.labeler_weights, axis=1), 1.0)
    pooled = (d.labeler_weights @ d.X_test.T + d.labeler_offsets[:, None] > 0).mean(axis=0)
    assert_allclose(d.pooled_proba_test, pooled)


def test_rotations_are_about_the_shared_direction():
    d = make_labeler_population(
        n_features=5,
        n_labelers=2000,
        disagreement=1.0,
        rotation=0.3,
        offset_scale=0.0,
        random_state=1,
    )
    cos = d.labeler_weights @ d.shared_direction
    theta = np.arccos(np.clip(cos, -1, 1))
    # |theta| with theta ~ N(0, 0.3^2): mean 0.3 * sqrt(2 / pi)
    assert abs(theta.mean() - 0.3 * np.sqrt(2 / np.pi)) < 0.02
    assert_array_equal(d.labeler_offsets, 0.0)


def test_offsets_only_make_the_pooled_labels_bradley_terry():
    """No rotation: P(y=1|x) over the labelers is sigmoid(u.x / s), the average decision maker."""
    s = 0.7
    d = make_labeler_population(
        n_samples=10,
        n_labelers=20000,
        n_test_samples=200,
        rotation=0.0,
        offset_scale=s,
        random_state=2,
    )
    bt = expit(d.X_test @ d.shared_direction / s)
    assert np.max(np.abs(d.pooled_proba_test - bt)) < 0.02
    # every labeler is sharp and they disagree
    assert np.mean(d.y_test[0] != d.y_test[1]) > 0.05


def test_disagreement_knob():
    def spread(dis):
        d = make_labeler_population(n_test_labelers=30, disagreement=dis, random_state=3)
        Y = d.y_test
        return np.mean(Y[:, None, :] != Y[None, :, :])

    assert spread(0.0) == 0.0
    assert spread(0.3) < spread(1.0) < spread(3.0)
    same = make_labeler_population(n_labelers=5, disagreement=0.0, random_state=4)
    assert_allclose(same.labeler_weights, np.tile(same.shared_direction, (5, 1)))
    assert_array_equal(same.labeler_offsets, 0.0)


def test_one_feature_and_determinism():
    a = make_labeler_population(n_samples=50, n_features=1, n_labelers=4, random_state=5)
    assert_allclose(np.abs(a.labeler_weights), 1.0)
    b = make_labeler_population(n_samples=50, n_features=1, n_labelers=4, random_state=5)
    assert_array_equal(a.y, b.y)
    assert_array_equal(a.y_test, b.y_test)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"disagreement": -1.0}, "disagreement"),
        ({"rotation": np.nan}, "rotation"),
        ({"offset_scale": -0.1}, "offset_scale"),
        ({"n_labelers": 0}, "n_labelers"),
    ],
)
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        make_labeler_population(**kw)
