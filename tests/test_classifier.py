"""HyReClassifier: shapes, probability mixture, label handling and queries."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import fast
from numpy.testing import assert_allclose, assert_array_equal

from skhyre import HyReClassifier

ENSEMBLES = ("shared_base", "epinet", "vanilla", "mc_dropout")
LABELS = np.array(["ant", "bee", "cat"])
FAST = fast(n_members=6, index_dim=4, max_epochs=4, lr=1e-2, prior_scale=3.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(180, 3))
    y = LABELS[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    return X, y


@pytest.fixture(scope="module", params=ENSEMBLES)
def fitted(request, data):
    X, y = data
    return HyReClassifier(ensemble=request.param, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def base(data):
    X, y = data
    return HyReClassifier(**FAST).fit(X, y)


@pytest.fixture
def clf(base):
    return copy.deepcopy(base)


def _entropy(P):
    return -(P * np.log(np.clip(P, 1e-300, None))).sum(axis=-1)


def test_shapes_and_probability_mixture(fitted, data):
    X, y = data
    clf = copy.deepcopy(fitted)
    K, C = FAST["n_members"], len(LABELS)
    assert_array_equal(clf.classes_, LABELS)
    P = clf.predict_members(X[:25])
    assert P.shape == (K, 25, C)
    assert P.dtype == np.float32
    assert ((P >= 0) & (P <= 1)).all()
    assert_allclose(P.sum(axis=-1), 1.0, atol=1e-5)
    assert_array_equal(P, clf.predict_members(X[:25]))  # fixed members

    clf.adapt(X[:12], y[:12])
    proba = clf.predict_proba(X[:25])
    assert proba.shape == (25, C)
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert_allclose(proba, np.einsum("k,kic->ic", clf.weights_, P), rtol=1e-5, atol=1e-6)
    pred = clf.predict(X[:25])
    assert pred.shape == (25,)
    assert_array_equal(pred, LABELS[proba.argmax(axis=1)])
    assert 0.0 <= clf.score(X, y) <= 1.0


def test_zero_one_cumulative_loss_counts_member_errors(clf, data):
    X, y = data
    clf.set_params(temperature=0.7).adapt(X[:30], y[:30])
    P = clf.predict_members(X[:30])
    y_idx = np.searchsorted(LABELS, y[:30])
    errors = (P.argmax(axis=-1) != y_idx).sum(axis=1)
    assert_array_equal(clf.cumulative_loss_, errors)
    logits = -errors / 0.7
    w = np.exp(logits - logits.max())
    assert_allclose(clf.weights_, w / w.sum(), rtol=1e-10)


def test_log_loss_and_brier(clf, data):
    X, y = data
    P = clf.predict_members(X[:20]).astype(np.float64)
    onehot = (y[:20, None] == LABELS).astype(float)
    clf.set_params(adapt_loss="log_loss").adapt(X[:20], y[:20])
    ref = -np.log(np.clip((P * onehot).sum(axis=-1), 1e-15, None)).sum(axis=1)
    assert_allclose(clf.cumulative_loss_, ref, rtol=1e-4)
    clf.set_params(adapt_loss="brier").adapt(X[:20], y[:20])
    assert_allclose(clf.cumulative_loss_, ((P - onehot) ** 2).sum(axis=(1, 2)), rtol=1e-4)


def test_integer_and_boolean_labels(data):
    X, y = data
    y_int = np.searchsorted(LABELS, y) * 10
    clf = HyReClassifier(**FAST).fit(X, y_int)
    assert_array_equal(clf.classes_, [0, 10, 20])
    clf.adapt(X[:5], y_int[:5])
    assert set(clf.predict(X[:30])) <= {0, 10, 20}
    with pytest.raises(
        ValueError, match=r"never seen in fit: \[30\]; known classes are \[0, 10, 20\]\."
    ):
        clf.adapt(X[:2], [0, 30])
    # labels that print like known ones but have another type: the types are named
    with pytest.raises(ValueError, match=r"\['0', '10'\].*y holds str values, the classes are int"):
        clf.adapt(X[:2], ["0", "10"])


def test_query_bald_and_entropy_match_reference(clf, data):
    X, y = data
    clf.adapt(X[:6], y[:6])
    pool = X[60:]
    P = clf.predict_members(pool).astype(np.float64)
    w = clf.weights_
    mix = np.einsum("k,kic->ic", w, P)
    H_mix = _entropy(mix)
    bald = H_mix - w @ _entropy(P)
    picks = clf.query(pool, n_queries=4, criterion="bald")
    assert_allclose(bald[picks], np.sort(bald)[::-1][:4], rtol=1e-4, atol=1e-6)
    assert_array_equal(clf.query(pool, n_queries=4), picks)  # "auto" is BALD
    picks = clf.query(pool, n_queries=4, criterion="entropy")
    assert_allclose(H_mix[picks], np.sort(H_mix)[::-1][:4], rtol=1e-4, atol=1e-6)


def test_query_criteria(clf, data):
    X, y = data
    pool = X[60:]
    for criterion in ("bald", "entropy", "random", "auto"):
        picks = clf.query(pool, n_queries=7, criterion=criterion, random_state=0)
        assert picks.shape == (7,)
        assert np.issubdtype(picks.dtype, np.integer)
        assert len(set(picks.tolist())) == 7
        assert ((picks >= 0) & (picks < len(pool))).all()
    with pytest.raises(ValueError, match=r"criterion='variance'.*HyReClassifier"):
        clf.query(pool, criterion="variance")
    with pytest.raises(ValueError, match=r"criterion='variance'.*HyReClassifier"):
        clf.active_adapt(pool, y[60:], n_queries=2, criterion="variance")


def test_single_class_is_rejected(data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        HyReClassifier(**FAST).fit(X, np.zeros(len(X)))


def test_unknown_labels_are_named(clf, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"never seen in fit: \['zebra'\]; known classes"):
        clf.adapt(X[:3], ["ant", "zebra", "bee"])
