"""HyReEnsemble: HyRe over any scikit-learn models."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin, clone, is_classifier, is_regressor
from sklearn.cluster import KMeans
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingClassifier,
)
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skhyre import HyReEnsemble
from skhyre.reweighting import NaNMemberWarning

LABELS = np.array(["ant", "bee", "cat"])


@pytest.fixture(scope="module")
def reg_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = 2.0 * X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=150)
    return X, y


@pytest.fixture(scope="module")
def clf_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 4))
    y = LABELS[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    return X, y


def _regressors():
    return [
        ("ridge", Ridge(alpha=1.0)),
        ("knn", KNeighborsRegressor(n_neighbors=5)),
        ("tree", DecisionTreeRegressor(max_depth=3, random_state=0)),
    ]


def _classifiers():
    return [
        ("lr", LogisticRegression()),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("knn", KNeighborsClassifier(n_neighbors=5)),
    ]


# ------------------------------------------------------------------ lists
def test_regressor_list_fits_clones_uniform_mean(reg_data):
    X, y = reg_data
    members = _regressors()
    hyre = HyReEnsemble(members).fit(X, y)
    assert is_regressor(hyre) and not is_classifier(hyre)
    assert not hasattr(members[0][1], "coef_"), "prefit=False must fit clones"
    assert list(hyre.named_estimators_) == ["ridge", "knn", "tree"]
    assert hyre.n_features_in_ == 4
    F = hyre.predict_members(X[:10])
    assert F.shape == (3, 10) and F.dtype == np.float64
    for k, (_, est) in enumerate(members):
        assert_allclose(F[k], clone(est).fit(X, y).predict(X[:10]))
    assert_allclose(hyre.weights_, np.full(3, 1 / 3))
    assert_allclose(hyre.predict(X[:10]), F.mean(axis=0))
    _, std = hyre.predict(X[:10], return_std=True)
    assert_allclose(std, F.std(axis=0), atol=1e-12)
    assert not hasattr(hyre, "predict_proba")
    assert hyre.score(X, y) > 0.8


def test_classifier_list_string_labels(clf_data):
    X, y = clf_data
    hyre = HyReEnsemble(_classifiers()).fit(X, y)
    assert is_classifier(hyre)
    assert_array_equal(hyre.classes_, LABELS)
    P = hyre.predict_members(X[:7])
    assert P.shape == (3, 7, 3)
    assert_allclose(P.sum(axis=2), 1.0, atol=1e-6)
    lr = hyre.named_estimators_["lr"]
    assert_allclose(P[0], lr.predict_proba(X[:7]), atol=1e-6)
    assert_allclose(hyre.predict_proba(X[:7]), P.mean(axis=0), atol=1e-6)
    assert set(hyre.predict(X)) <= set(LABELS)
    assert hyre.score(X, y) > 0.8
    with pytest.raises(ValueError, match="only available for regression"):
        hyre.predict(X, return_std=True)


def test_prefit_list_uses_members_as_they_are(reg_data):
    X, y = reg_data
    fitted = [(name, est.fit(X, y)) for name, est in _regressors()]
    hyre = HyReEnsemble(fitted, prefit=True).fit(X[:20], y[:20])
    for (_, est), member in zip(fitted, hyre.estimators_):
        assert member is est
    assert_allclose(hyre.predict_members(X[:5])[0], fitted[0][1].predict(X[:5]))
    # the loss scale comes from the y given to fit
    assert hyre.y_scale_ == pytest.approx(np.std(y[:20]))


def test_prefit_needs_fitted_members_with_matching_features(reg_data):
    X, y = reg_data
    with pytest.raises(NotFittedError, match="member 'b'"):
        HyReEnsemble([("a", Ridge().fit(X, y)), ("b", Ridge())], prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="fitted with 3 features, but X has 4"):
        HyReEnsemble([("a", Ridge().fit(X[:, :3], y))], prefit=True).fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted"):
        HyReEnsemble(RandomForestRegressor(n_estimators=2), prefit=True).fit(X, y)


def test_drop_names_and_params(clf_data):
    X, y = clf_data
    hyre = HyReEnsemble(_classifiers())
    hyre.set_params(lr__C=0.5, knn="drop")
    assert hyre.get_params()["lr__C"] == 0.5
    hyre.fit(X, y)
    assert list(hyre.named_estimators_) == ["lr", "tree"]
    assert hyre.predict_members(X[:2]).shape == (2, 2, 3)
    with pytest.raises(ValueError, match="not unique"):
        HyReEnsemble([("a", Ridge()), ("a", Ridge())]).fit(X, np.arange(150.0))
    with pytest.raises(ValueError, match="at least one member"):
        HyReEnsemble([("a", "drop")]).fit(X, y)
    with pytest.raises(ValueError, match="empty list"):
        HyReEnsemble([]).fit(X, y)
    with pytest.raises(TypeError, match="pairs"):
        HyReEnsemble([Ridge()]).fit(X, np.arange(150.0))
    with pytest.raises(TypeError, match="instance"):
        HyReEnsemble([("r", Ridge)]).fit(X, np.arange(150.0))


def test_n_jobs_gives_the_same_members(reg_data):
    X, y = reg_data
    a = HyReEnsemble(_regressors()).fit(X, y)
    b = HyReEnsemble(_regressors(), n_jobs=2).fit(X, y)
    assert_allclose(a.predict_members(X), b.predict_members(X))


def test_mixed_tasks_and_non_predictors_are_rejected(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match=r"classifiers \['c'\] and regressors \['r'\]"):
        HyReEnsemble([("r", Ridge()), ("c", LogisticRegression())]).fit(X, y > 0)
    with pytest.raises(ValueError, match="neither a classifier nor a regressor"):
        HyReEnsemble([("km", KMeans(n_clusters=2, n_init=1))]).fit(X, y)
    with pytest.raises(ValueError, match="neither a classifier nor a regressor"):
        HyReEnsemble(KMeans(n_clusters=2, n_init=1)).fit(X, y)


def test_adapt_loss_must_fit_the_task(reg_data, clf_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="does not fit a regression"):
        HyReEnsemble(_regressors(), adapt_loss="zero_one").fit(X, y)
    with pytest.raises(InvalidParameterError):
        HyReEnsemble(_regressors(), adapt_loss="hinge").fit(X, y)
    Xc, yc = clf_data
    with pytest.raises(ValueError, match="does not fit a classification"):
        HyReEnsemble(_classifiers(), adapt_loss="squared").fit(Xc, yc)
    hyre = HyReEnsemble(_regressors(), adapt_loss="absolute").fit(X, y)
    hyre.set_params(adapt_loss="brier")
    with pytest.raises(ValueError, match="not valid"):
        hyre.adapt(X[:5], y[:5])


# --------------------------------------------------- bagging-style ensembles
def test_random_forest_trees_are_the_members(reg_data):
    X, y = reg_data
    forest = RandomForestRegressor(n_estimators=7, max_depth=4, random_state=0)
    hyre = HyReEnsemble(forest).fit(X, y)
    assert not hasattr(forest, "estimators_"), "prefit=False must refit a clone"
    assert len(hyre.estimators_) == 7 and hyre.estimators_ == hyre.ensemble_.estimators_
    assert next(iter(hyre.named_estimators_)) == "decisiontreeregressor_0"
    F = hyre.predict_members(X[:9])
    assert_allclose(F[3], hyre.estimators_[3].predict(X[:9].astype(np.float32)))
    assert_allclose(hyre.predict(X), hyre.ensemble_.predict(X), atol=1e-10)
    # sparse input reaches the trees as CSR and gives the same predictions
    assert_allclose(hyre.predict(sparse.csr_matrix(X)), hyre.predict(X))


def test_prefit_forest_is_used_as_it_is(clf_data):
    X, y = clf_data
    forest = ExtraTreesClassifier(n_estimators=6, max_depth=3, random_state=0).fit(X, y)
    hyre = HyReEnsemble(forest, prefit=True).fit(X, y)
    assert hyre.ensemble_ is forest
    assert_array_equal(hyre.classes_, LABELS)
    # the trees were fitted on encoded labels 0..C-1; probabilities keep their meaning
    assert_allclose(hyre.estimators_[0].classes_, [0.0, 1.0, 2.0])
    assert_allclose(hyre.predict_proba(X), forest.predict_proba(X), atol=1e-6)
    assert_array_equal(hyre.predict(X), forest.predict(X))
    # the trees skip their own input checks (the ensemble made the float32 array);
    # threads filling one row each give the same matrix
    threaded = HyReEnsemble(forest, prefit=True, n_jobs=2).fit(X, y)
    assert_array_equal(threaded.predict_members(X), hyre.predict_members(X))
    with pytest.raises(ValueError, match="expecting 4 features"):
        hyre.predict_members(X[:, :3])


def test_bagging_feature_subsets_string_labels_missing_classes(clf_data):
    X, y = clf_data
    bag = BaggingClassifier(
        KNeighborsClassifier(n_neighbors=3),
        n_estimators=10,
        max_samples=8,
        max_features=0.5,
        random_state=0,
    )
    hyre = HyReEnsemble(bag).fit(X, y)
    subs = hyre.estimators_
    assert any(len(s.classes_) < 3 for s in subs), "some member must miss a class"
    assert all(s.n_features_in_ == 2 for s in subs)
    P = hyre.predict_members(X)
    k = next(i for i, s in enumerate(subs) if len(s.classes_) < 3)
    missing = np.setdiff1d(np.arange(3), subs[k].classes_)
    assert_array_equal(P[k][:, missing], 0.0)
    assert_allclose(hyre.predict_proba(X), hyre.ensemble_.predict_proba(X), atol=1e-6)


def test_bagging_regressor_feature_subsets(reg_data):
    X, y = reg_data
    bag = BaggingRegressor(Ridge(), n_estimators=5, max_features=0.5, random_state=0)
    hyre = HyReEnsemble(bag).fit(X, y)
    assert_allclose(hyre.predict(X), hyre.ensemble_.predict(X), atol=1e-10)
    feats = hyre.ensemble_.estimators_features_[2]
    assert_allclose(hyre.predict_members(X[:4])[2], hyre.estimators_[2].predict(X[:4, feats]))


def test_voting_and_adaboost_label_spaces(clf_data):
    X, y = clf_data
    # VotingClassifier fits its members on encoded labels
    vote = VotingClassifier(_classifiers()[:2], voting="soft")
    hyre = HyReEnsemble(vote).fit(X, y)
    assert_allclose(hyre.predict_proba(X), hyre.ensemble_.predict_proba(X), atol=1e-6)
    # AdaBoostClassifier fits its members on the labels themselves
    boost = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=4, random_state=0)
    hyre = HyReEnsemble(boost).fit(X, y)
    P = hyre.predict_members(X[:20])
    for k, est in enumerate(hyre.estimators_):
        assert_array_equal(hyre.classes_[P[k].argmax(axis=1)], est.predict(X[:20]))


def test_boosting_stages_and_estimators_without_members(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="boosting stages"):
        HyReEnsemble(GradientBoostingRegressor(n_estimators=3)).fit(X, y)
    with pytest.raises(ValueError, match="no estimators_"):
        HyReEnsemble(HistGradientBoostingRegressor(max_iter=3)).fit(X, y)


def test_frozen_members_survive_clone_and_cross_validation(clf_data):
    X, y = clf_data
    frozen = FrozenEstimator(RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y))
    hyre = HyReEnsemble(frozen)
    scores = cross_val_score(hyre, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.6)
    fitted = clone(hyre).fit(X, y)
    assert_allclose(fitted.predict_proba(X), frozen.predict_proba(X), atol=1e-6)


# ---------------------------------------------------- classes and votes
def test_members_missing_a_class_and_hard_voters():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 2))
    y = LABELS[np.argmax(X @ np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]), axis=1)]
    ab = np.isin(y, ["ant", "bee"])
    bc = np.isin(y, ["bee", "cat"])
    members = [
        ("ab", LogisticRegression().fit(X[ab], y[ab])),
        ("bc", LogisticRegression().fit(X[bc], y[bc])),
        ("svc", SVC().fit(X, y)),  # no predict_proba: one-hot votes
        ("ridge", RidgeClassifier().fit(X, y)),
    ]
    hyre = HyReEnsemble(members, prefit=True).fit(X, y)
    assert_array_equal(hyre.classes_, LABELS)
    P = hyre.predict_members(X)
    assert_array_equal(P[0][:, 2], 0.0)  # "ab" never saw "cat"
    assert_array_equal(P[1][:, 0], 0.0)  # "bc" never saw "ant"
    assert_allclose(P[0][:, :2], members[0][1].predict_proba(X), atol=1e-6)
    for k, name in [(2, "svc"), (3, "ridge")]:
        assert set(np.unique(P[k])) <= {0.0, 1.0}
        assert_array_equal(LABELS[P[k].argmax(axis=1)], hyre.named_estimators_[name].predict(X))


def test_classes_are_the_union_of_y_and_members():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    y = np.where(X[:, 0] > 0, 1, 2)
    member = LogisticRegression().fit(X, np.where(X[:, 1] > 0, 0, 1))
    hyre = HyReEnsemble([("m", member)], prefit=True).fit(X, y)
    assert_array_equal(hyre.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="mix types"):
        HyReEnsemble([("m", member)], prefit=True).fit(X, np.where(y == 1, "a", "b"))


# ---------------------------------------------------------------- adapt
def test_adapt_picks_the_right_regressor():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    right = LinearRegression().fit(X, X[:, 0])
    wrong = LinearRegression().fit(X, -X[:, 0])
    flat = DummyRegressor().fit(X, X[:, 0])
    hyre = HyReEnsemble([("wrong", wrong), ("flat", flat), ("right", right)], prefit=True)
    hyre.fit(X, X[:, 0])
    X_new = rng.normal(loc=1.0, size=(40, 3))
    y_new = X_new[:, 0]
    hyre.adapt(X_new[:10], y_new[:10])
    assert hyre.weights_[2] > 0.999
    assert hyre.n_adapt_samples_ == 10
    assert_allclose(hyre.predict(X_new[10:]), y_new[10:], atol=1e-3)


def test_adapt_picks_the_right_classifier(clf_data):
    X, y = clf_data
    flipped = {"ant": "bee", "bee": "cat", "cat": "ant"}  # wrong on every example
    right = LogisticRegression().fit(X, y)
    wrong = LogisticRegression().fit(X, np.array([flipped[v] for v in y]))
    hyre = HyReEnsemble([("wrong", wrong), ("right", right)], prefit=True).fit(X, y)
    assert_allclose(hyre.weights_, [0.5, 0.5])
    hyre.adapt(X[:20], y[:20])
    assert hyre.weights_[1] > 0.999
    assert hyre.score(X[20:], y[20:]) == pytest.approx(right.score(X[20:], y[20:]))
    hyre.reset_weights()
    assert_allclose(hyre.weights_, [0.5, 0.5])
    assert hyre.n_adapt_samples_ == 0


def test_regression_loss_is_scale_free(reg_data):
    X, y = reg_data
    small = HyReEnsemble(_regressors()).fit(X, y).adapt(X[:15] + 1, y[:15])
    big = HyReEnsemble(_regressors()).fit(X, 1000 * y).adapt(X[:15] + 1, 1000 * y[:15])
    assert_allclose(small.weights_, big.weights_, rtol=1e-6)
    assert big.y_scale_ == pytest.approx(1000 * small.y_scale_)


def test_batch_and_sequential_adaptation_agree(reg_data):
    X, y = reg_data
    batch = HyReEnsemble(_regressors()).fit(X, y).adapt(X[:6], y[:6])
    seq = HyReEnsemble(_regressors()).fit(X, y)
    for i in range(6):
        seq.partial_adapt(X[i : i + 1], y[i : i + 1])
    assert_allclose(batch.weights_, seq.weights_)
    assert_allclose(batch.cumulative_loss_, seq.cumulative_loss_)


def test_batch_and_one_by_one_updates_are_bit_identical():
    """Losses are added in order (DESIGN: identical weights), not pairwise-summed."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 2))
    y = rng.normal(size=60)
    # constant members: their predictions are exact, so only the summation can differ
    members = [(f"c{i}", DummyRegressor(strategy="constant", constant=c))
               for i, c in enumerate(rng.normal(size=5))]
    batch = HyReEnsemble(members).fit(X, y).adapt(X[:40], y[:40])
    seq = HyReEnsemble(members).fit(X, y)
    for i in range(40):
        seq.partial_adapt(X[i : i + 1], y[i : i + 1])
    assert_array_equal(batch.cumulative_loss_, seq.cumulative_loss_)
    assert_array_equal(batch.weights_, seq.weights_)
    # the NumPy reference: each member's scaled squared errors, summed
    losses = (batch.predict_members(X[:40]) - y[:40]) ** 2 / batch.y_scale_**2
    assert_allclose(batch.cumulative_loss_, losses.sum(axis=1), rtol=1e-14)


def test_sparse_input_adapts_like_dense(reg_data):
    X, y = reg_data
    hyre = HyReEnsemble([*_regressors()[:1], ("lin", LinearRegression())]).fit(X, y)
    dense = clone(hyre).fit(X, y).adapt(X[:10], y[:10])
    hyre.adapt(sparse.csr_matrix(X[:10]), y[:10])
    assert_allclose(hyre.weights_, dense.weights_)
    hyre.partial_adapt(sparse.csr_matrix(X[10:12]), y[10:12])
    assert hyre.n_adapt_samples_ == 12
    with pytest.raises(ValueError, match="empty"):
        hyre.adapt(sparse.csr_matrix((0, 4)), y[:0])


@pytest.mark.parametrize("adapt_loss", ["squared", "absolute"])
def test_compiled_active_loop_matches_the_python_loop(reg_data, adapt_loss):
    """An array oracle runs in compiled code, a callable one in Python: same picks."""
    X, y = reg_data
    y = 50.0 * y  # a scale far from 1 catches a wrong loss scale
    hyre = HyReEnsemble(_regressors(), temperature=0.5, adapt_loss=adapt_loss).fit(X, y)
    pool, labels = X[50:] + 0.5, y[50:]
    fast = pickle.loads(pickle.dumps(hyre)).active_adapt(pool, labels, n_queries=6)
    slow = pickle.loads(pickle.dumps(hyre)).active_adapt(pool, lambda idx: labels[idx], n_queries=6)
    assert_array_equal(fast.queried_indices_, slow.queried_indices_)
    assert_allclose(fast.weights_, slow.weights_)
    assert_array_equal(fast.query(pool, n_queries=3, exclude=fast.queried_indices_).shape, (3,))


def test_active_adapt_classifier_auto_temperature(clf_data):
    X, y = clf_data
    hyre = HyReEnsemble(_classifiers(), temperature="auto").fit(X[:100], y[:100])
    hyre.active_adapt(X[100:], y[100:], n_queries=8, criterion="bald")
    assert len(set(hyre.queried_indices_)) == 8 and hyre.n_adapt_samples_ == 8
    assert hyre.temperature_ > 0
    assert_allclose(hyre.weights_.sum(), 1.0)


# ------------------------------------------------------------ bad input
def test_not_fitted(reg_data):
    X, y = reg_data
    hyre = HyReEnsemble(_regressors())
    for call in (
        lambda: hyre.predict(X),
        lambda: hyre.predict_members(X),
        lambda: hyre.adapt(X[:3], y[:3]),
        lambda: hyre.query(X),
        lambda: hyre.active_adapt(X, y, n_queries=2),
        lambda: hyre.reset_weights(),
    ):
        with pytest.raises(NotFittedError):
            call()
    clf = HyReEnsemble(_classifiers())
    assert hasattr(clf, "predict_proba")
    with pytest.raises(NotFittedError):
        clf.predict_proba(X)


def test_feature_mismatch_nan_and_inf(reg_data):
    X, y = reg_data
    hyre = HyReEnsemble(_regressors()).fit(X, y)
    for call in (
        lambda: hyre.predict(X[:, :3]),
        lambda: hyre.adapt(X[:5, :3], y[:5]),
        lambda: hyre.query(X[:, :3]),
    ):
        with pytest.raises(ValueError, match="3 features, but HyReEnsemble is expecting 4"):
            call()
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        HyReEnsemble(_regressors()).fit(X_nan, y)
    with pytest.raises(ValueError, match="NaN"):
        hyre.predict(X_nan)
    with pytest.raises(ValueError, match="NaN or inf"):
        hyre.adapt(X[:3], [1.0, np.nan, 2.0])
    # NaN reaches the members only when every member handles it
    trees = HyReEnsemble(
        [(f"t{d}", DecisionTreeRegressor(max_depth=d, random_state=0)) for d in (2, 4)]
    ).fit(X_nan, y)
    assert np.isfinite(trees.predict(X_nan)).all()
    X_inf = X.copy()
    X_inf[1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        trees.predict(X_inf)


def test_unknown_labels_empty_sets_queries_and_criteria(clf_data, reg_data):
    X, y = clf_data
    clf = HyReEnsemble(_classifiers()).fit(X, y)
    with pytest.raises(ValueError, match=r"never seen in fit: \['dog'\]"):
        clf.adapt(X[:2], ["ant", "dog"])
    with pytest.raises(ValueError, match="empty"):
        clf.adapt(X[:0], y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.adapt(X[:3], y[:2])
    with pytest.raises(ValueError, match="larger than"):
        clf.active_adapt(X[:5], y[:5], n_queries=6)
    with pytest.raises(ValueError, match="larger than"):
        clf.query(X[:5], n_queries=6)
    with pytest.raises(ValueError, match="criterion='variance'"):
        clf.query(X, criterion="variance")
    Xr, yr = reg_data
    reg = HyReEnsemble(_regressors()).fit(Xr, yr)
    with pytest.raises(ValueError, match="criterion='bald'"):
        reg.query(Xr, criterion="bald")
    with pytest.raises(ValueError, match="numeric"):
        reg.adapt(Xr[:2], ["a", "b"])


class _NaNRegressor(RegressorMixin, BaseEstimator):
    """A broken member: NaN (or ``value``) everywhere."""

    def __init__(self, value=np.nan):
        self.value = value

    def fit(self, X, y):
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_query_names_nan_member_predictions(reg_data, value):
    X, y = reg_data
    hyre = HyReEnsemble([*_regressors()[:2], ("nan", _NaNRegressor(value))]).fit(X, y)
    # uniform weights: every pool row scores NaN, so any answer would be arbitrary
    with pytest.raises(ValueError, match="predict NaN or inf on every candidate pool row"):
        hyre.query(X[:10], n_queries=2)
    with pytest.raises(ValueError, match="predict NaN or inf on every candidate pool row"):
        hyre.query([X[:5], X[5:10]], n_queries=2, pool_memory_budget=0)  # streamed
    assert_array_equal(hyre.query(X[:10], n_queries=2, criterion="random").shape, (2,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hyre.active_adapt(X[50:], y[50:], n_queries=3)
    said = [str(w.message) for w in caught if issubclass(w.category, NaNMemberWarning)]
    assert any("predict NaN or inf on 100 of 100" in m for m in said), said
    if np.isnan(value):
        assert any("gave NaN losses and get weight 0" in m for m in said), said
    assert hyre.weights_[2] == 0.0  # the first label gave the NaN member weight 0
    # once it has weight 0, queries are defined again and say nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hyre.query(X[:10], n_queries=2).shape == (2,)


def test_oracle_must_return_one_label_per_index(reg_data):
    X, y = reg_data
    hyre = HyReEnsemble(_regressors()).fit(X, y).adapt(X[:3], y[:3])
    before = hyre.weights_.copy()
    with pytest.raises(ValueError, match="returned 3 labels for one queried index"):
        hyre.active_adapt(X[50:], lambda idx: np.r_[y[50:][idx], 1e9, -1e9], n_queries=2)
    assert_array_equal(hyre.weights_, before)


def test_an_unusable_oracle_label_names_the_oracle(reg_data):
    X, y = reg_data
    hyre = HyReEnsemble(_regressors()).fit(X, y).adapt(X[:3], y[:3])
    before = hyre.weights_.copy()
    for label in (None, "abc"):  # the user passed no y: say where the bad label came from
        with pytest.raises(ValueError, match=r"oracle's label for queried index \d+ is not usable"):
            hyre.active_adapt(X[50:], lambda idx, label=label: label, n_queries=2)
    assert_array_equal(hyre.weights_, before)


def test_failed_adaptation_leaves_the_state_untouched(clf_data):
    X, y = clf_data
    hyre = HyReEnsemble(_classifiers()).fit(X, y).adapt(X[:10], y[:10])
    before = (hyre.weights_.copy(), hyre.cumulative_loss_.copy(), hyre.n_adapt_samples_)
    with pytest.raises(ValueError):
        hyre.partial_adapt(X[10:12], ["ant", "dog"])
    hyre.set_params(adapt_loss=lambda P, y: np.zeros((1, len(y))))  # wrong shape
    with pytest.raises(ValueError, match="shape"):
        hyre.partial_adapt(X[10:12], y[10:12])
    with pytest.raises(ValueError, match="shape"):
        hyre.active_adapt(X[10:], y[10:], n_queries=3)
    hyre.set_params(adapt_loss=None, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        hyre.partial_adapt(X[10:12], y[10:12])
    assert_array_equal(hyre.weights_, before[0])
    assert_array_equal(hyre.cumulative_loss_, before[1])
    assert hyre.n_adapt_samples_ == before[2]
    assert not hasattr(hyre, "queried_indices_")


def test_failed_refit_keeps_the_fitted_members(reg_data):
    X, y = reg_data
    hyre = HyReEnsemble(_regressors()).fit(X, y)
    members = hyre.estimators_
    hyre.set_params(estimators=[("r", Ridge()), ("c", LogisticRegression())])
    with pytest.raises(ValueError, match="one task"):
        hyre.fit(X, y)
    assert hyre.estimators_ is members
    assert hyre.predict(X).shape == (150,)


def test_failed_refit_keeps_the_feature_count(reg_data):
    X, y = reg_data
    prefit = [("lr", LinearRegression().fit(X, y)), ("r", Ridge().fit(X, y))]
    hyre = HyReEnsemble(prefit, prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="fitted with 4 features"):
        hyre.fit(X[:, :2], y)  # validated (and n_features_in_ reset) before the members
    assert hyre.n_features_in_ == 4
    assert hyre.predict(X).shape == (150,)


class _BadProba(BaseEstimator):
    """A classifier member whose predict_proba returns ``value`` everywhere."""

    _estimator_type = "classifier"

    def __init__(self, value=5.0):
        self.value = value

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        return tags

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.classes_[0])

    def predict_proba(self, X):
        return np.full((X.shape[0], self.classes_.shape[0]), self.value)


@pytest.mark.parametrize(
    "value, what",
    [(5.0, r"values outside \[0, 1\]"), (np.inf, "inf"), (0.1, "rows that do not sum to 1")],
)
def test_member_probabilities_are_checked_and_the_member_named(clf_data, value, what):
    X, y = clf_data
    hyre = HyReEnsemble([("lr", LogisticRegression()), ("bad", _BadProba(value))]).fit(X, y)
    with pytest.raises(ValueError, match=f"Member _BadProba.predict_proba returned {what}"):
        hyre.predict_proba(X[:5])
    with pytest.raises(ValueError, match="_BadProba"):
        hyre.query(X[:20])


def test_a_member_with_nan_probabilities_gets_weight_zero_not_an_error(clf_data):
    X, y = clf_data
    hyre = HyReEnsemble([("lr", LogisticRegression()), ("nan", _BadProba(np.nan))]).fit(X, y)
    with pytest.warns(NaNMemberWarning, match="gave NaN losses"):
        hyre.adapt(X[:5], y[:5])
    assert_array_equal(hyre.weights_, [1.0, 0.0])


def test_member_probabilities_within_the_tolerance_pass(clf_data):
    X, y = clf_data
    n_classes = np.unique(y).size
    nudged = _BadProba(1.0 / n_classes + 1e-6)  # rows sum to 1 + 1e-6 * C
    hyre = HyReEnsemble([("lr", LogisticRegression()), ("nudged", nudged)]).fit(X, y)
    assert hyre.predict_proba(X[:3]).shape == (3, n_classes)


def test_one_class_ensembles_take_the_evidence_temperature():
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.zeros(20, dtype=int)
    trees = [(f"t{i}", DecisionTreeClassifier(random_state=i)) for i in range(2)]
    hyre = HyReEnsemble(trees, temperature="evidence").fit(X, y).adapt(X[:4], y[:4])
    assert_array_equal(hyre.weights_, [0.5, 0.5])


def test_pickle_round_trip(clf_data):
    X, y = clf_data
    hyre = HyReEnsemble(RandomForestClassifier(n_estimators=5, random_state=0))
    hyre.fit(X, y).adapt(X[:12], y[:12])
    back = pickle.loads(pickle.dumps(hyre))
    assert_allclose(back.weights_, hyre.weights_)
    assert_allclose(back.predict_proba(X), hyre.predict_proba(X))
    back.partial_adapt(X[12:14], y[12:14])
    hyre.partial_adapt(X[12:14], y[12:14])
    assert_allclose(back.weights_, hyre.weights_)


def test_pipeline_members_take_what_their_first_step_takes():
    # sklearn's Pipeline tags do not pass on allow_nan or string: read the first step
    from sklearn.ensemble import VotingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    docs = ["good movie", "bad movie", "great film", "awful film", "good film", "bad plot"] * 5
    y = np.array(["pos", "neg"] * 15)
    members = [
        ("lr", make_pipeline(TfidfVectorizer(), LogisticRegression())),
        ("nb", make_pipeline(TfidfVectorizer(), MultinomialNB())),
    ]
    ens = HyReEnsemble(members).fit(docs, y)
    vote = VotingClassifier(members, voting="soft").fit(docs, y)
    assert_allclose(ens.predict_proba(docs), vote.predict_proba(docs), rtol=1e-6)
    ens.adapt(["good plot", "awful film"], ["pos", "neg"])
    assert ens.query(docs, n_queries=3).shape == (3,)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        HyReEnsemble(members).fit(docs, y[:-1])

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    X[::7, 0] = np.nan
    target = rng.normal(size=60)
    imputed = [("lr", make_pipeline(SimpleImputer(), LinearRegression())),
               ("ridge", make_pipeline(SimpleImputer(), Ridge()))]
    assert np.isfinite(HyReEnsemble(imputed).fit(X, target).predict(X)).all()
    with pytest.raises(ValueError, match="NaN"):  # a member that cannot take NaN
        HyReEnsemble([*imputed, ("plain", Ridge())]).fit(X, target)
