"""predict_proba rows that scikit-learn's metrics accept as they are."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.tree import DecisionTreeClassifier

from skhyre import HyReClassifier, HyReEnsemble, HyReRewardModel
from skhyre._proba import as_probabilities

TINY = dict(n_members=7, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, random_state=0)
RNG = np.random.RandomState(0)
X = RNG.normal(size=(300, 4))
y3 = np.digitize(X[:, 0] + 0.3 * X[:, 1], [-0.5, 0.5])


def _check_rows(P):
    assert P.dtype == np.float64
    assert (P >= 0).all() and (P <= 1).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=4 * np.finfo(np.float64).eps)


@pytest.mark.parametrize(
    "make",
    [
        lambda: HyReClassifier(**TINY).fit(X, y3),
        lambda: HyReRewardModel(**TINY).fit(X, (X[:, 0] > X[:, 2]).astype(int)),
        lambda: HyReEnsemble(
            [("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=2))]
        ).fit(X, y3),
    ],
    ids=["classifier", "reward", "ensemble"],
)
def test_predict_proba_rows_are_float64_and_sum_to_one(make):
    est = make()
    weights = RNG.dirichlet(np.ones(est.weights_.size))
    est.weights_ = weights  # arbitrary weights: the rows still sum to 1
    P = est.predict_proba(X)
    _check_rows(P)
    labels = est.classes_
    y_true = labels[np.argmax(P, axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log_loss warns on rows that do not sum to 1
        assert np.isfinite(log_loss(y_true, P, labels=labels))


def test_as_probabilities_against_numpy():
    Q = RNG.random((50, 3)).astype(np.float32).astype(np.float64)
    Q[0] = [1.0000001, 0.0, 0.0]
    Q[1] = [0.2, np.nan, 0.3]
    Q[2] = [-1e-9, 0.5, 0.5]
    P = as_probabilities(Q)
    ref = np.clip(Q, 0, 1)
    ref = ref / ref.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(P[np.arange(50) != 1], ref[np.arange(50) != 1])
    assert np.isnan(P[1, 1])  # a NaN row stays NaN (predict names it)
    _check_rows(P[np.arange(50) != 1])
