"""Annotator-aware training: fit(X, y, groups=...) with training modes."""

import numpy as np
import pytest
from conftest import fast

from skhyre import HyReClassifier, HyReRegressor
from skhyre._groups import member_weight_matrix
from skhyre.datasets import make_preference_labelers

TINY = fast(n_members=6, max_epochs=3)


@pytest.fixture(scope="module")
def labelers():
    return make_preference_labelers(
        n_samples=300, n_labelers=3, n_test_labelers=2, n_test_samples=100, random_state=0
    )


def test_weight_matrix_by_group_one_member_each():
    W, ids, A = member_weight_matrix([0, 0, 1, 2, 2, 2], 3, "by_group")
    assert list(ids) == [0, 1, 2]
    assert A.sum(axis=0).tolist() == [1, 1, 1]
    own = W > 0
    # member k learns exactly from annotator k's rows, each column has mean 1
    assert own[:, 0].tolist() == [True, True, False, False, False, False]
    assert own[:, 2].tolist() == [False, False, False, True, True, True]
    np.testing.assert_allclose(W.mean(axis=0), 1.0, rtol=1e-6)


def test_weight_matrix_bootstrap_when_more_members_than_groups():
    g = np.repeat([0, 1], 50)
    W, _, A = member_weight_matrix(g, 4, "by_group", random_state=0)
    assert A.sum(axis=0).tolist() == [1, 1, 1, 1]
    assert A.sum(axis=1).tolist() == [2, 2]
    # members 0 and 2 share annotator 0 but see different bootstrap resamples
    assert (W[g == 1][:, [0, 2]] == 0).all()
    assert not np.array_equal(W[:, 0], W[:, 2])
    # Poisson counts: integers up to the column normalisation
    ratio = W[g == 0, 0] / W[g == 0, 0].max()
    assert ratio.min() >= 0


def test_weight_matrix_fewer_members_than_groups():
    g = np.arange(6)
    W, _, A = member_weight_matrix(g, 2, "by_group")
    assert A.sum(axis=1).tolist() == [1] * 6
    assert (W[[0, 2, 4], 0] > 0).all() and (W[[1, 3, 5], 0] == 0).all()


def test_weight_matrix_mixed_shares_everyone():
    W, _, _ = member_weight_matrix([0, 0, 1, 1], 2, "mixed", group_share=0.25)
    # own rows carry 75% of the member's weight, the others 25%
    np.testing.assert_allclose(W[:, 0] / W[:, 0].sum(), [0.375, 0.375, 0.125, 0.125])
    np.testing.assert_allclose(W.mean(axis=0), 1.0, rtol=1e-6)


def test_weight_matrix_mixed_share_does_not_depend_on_group_count():
    # 100 annotators with 3 examples each: others still carry exactly 10%
    g = np.repeat(np.arange(100), 3)
    W, _, A = member_weight_matrix(g, 100, "mixed", group_share=0.1)
    own = A[np.unique(g, return_inverse=True)[1]]
    frac_other = (W * ~own).sum(axis=0) / W.sum(axis=0)
    np.testing.assert_allclose(frac_other, 0.1, rtol=1e-5)
    # 0 is by_group exactly
    W0, _, _ = member_weight_matrix(g, 100, "mixed", group_share=0.0)
    Wb, _, _ = member_weight_matrix(g, 100, "by_group")
    np.testing.assert_allclose(W0, Wb)


def test_weight_matrix_errors_and_single_group():
    with pytest.raises(ValueError, match="missing annotator id"):
        member_weight_matrix([0, None, 1], 2, "by_group")
    with pytest.raises(ValueError, match="missing annotator id"):
        member_weight_matrix([0.0, np.nan, 1.0], 2, "by_group")
    with pytest.raises(ValueError, match="1-D"):
        member_weight_matrix(np.zeros((2, 2)), 2, "by_group")
    with pytest.warns(UserWarning, match="single annotator"):
        W, _, _ = member_weight_matrix([7, 7, 7, 7], 3, "by_group", random_state=0)
    assert W.shape == (4, 3)


@pytest.mark.parametrize("Est", [HyReClassifier, HyReRegressor])
def test_pooled_reproduces_no_groups_exactly(labelers, Est):
    X, y, g = labelers.X, labelers.y, labelers.groups
    a = Est(**TINY).fit(X, y)
    b = Est(training="pooled", **TINY).fit(X, y, groups=g)
    np.testing.assert_array_equal(a.predict_members(X[:20]), b.predict_members(X[:20]))
    assert a.training_ == b.training_ == "pooled"


@pytest.mark.parametrize("ensemble", ["shared_base", "epinet", "vanilla"])
@pytest.mark.parametrize("mode", ["by_group", "mixed"])
def test_modes_fit_and_differ_from_pooled(labelers, ensemble, mode):
    X, y, g = labelers.X, labelers.y, labelers.groups
    clf = HyReClassifier(ensemble=ensemble, training=mode, **TINY).fit(X, y, groups=g)
    assert clf.training_ == mode
    assert clf.group_assignment_.shape == (3, 6)
    pooled = HyReClassifier(ensemble=ensemble, **TINY).fit(X, y)
    assert not np.allclose(clf.predict_members(X[:20]), pooled.predict_members(X[:20]))


def test_auto_uses_by_group_with_groups(labelers):
    clf = HyReClassifier(**TINY).fit(labelers.X, labelers.y, groups=labelers.groups)
    assert clf.training_ == "by_group"
    assert list(clf.group_ids_) == [0, 1, 2]


def test_by_group_members_specialise():
    """Members trained per labeler agree with their own labeler, not the average."""
    data = make_preference_labelers(
        n_samples=1200, n_labelers=4, n_test_labelers=1, n_test_samples=50, random_state=1
    )
    clf = HyReClassifier(
        n_members=4,
        hidden_layer_sizes=(16,),
        max_epochs=30,
        lr=1e-2,
        prior_scale=0.0,
        random_state=0,
    )
    clf.fit(data.X, data.y, groups=data.groups)
    P = clf.predict_members(data.X)
    for k in range(4):
        own = data.groups == k
        acc = np.mean(P[k, own].argmax(1) == data.y[own])
        assert acc > 0.85, (k, acc)


def test_errors(labelers):
    X, y, g = labelers.X, labelers.y, labelers.groups
    with pytest.raises(ValueError, match="needs the annotator id"):
        HyReClassifier(training="by_group", **TINY).fit(X, y)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        HyReClassifier(training="by_group", **TINY).fit(X, y, groups=g[:3])
    with pytest.raises(ValueError, match="mc_dropout"):
        HyReClassifier(ensemble="mc_dropout", training="by_group", **TINY).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="training"):
        HyReClassifier(training="nope", **TINY).fit(X, y)


def test_auto_training_with_mc_dropout_trains_pooled_and_warns(labelers):
    X, y, g = labelers.X, labelers.y, labelers.groups
    clf = HyReClassifier(ensemble="mc_dropout", **TINY)
    with pytest.warns(UserWarning, match="ignores groups") as rec:
        clf.fit(X, y, groups=g)
    assert rec[0].filename == __file__  # points at the caller's fit
    assert clf.training_ == "pooled"
    assert not hasattr(clf, "group_ids_")
    pooled = HyReClassifier(ensemble="mc_dropout", **TINY).fit(X, y)
    np.testing.assert_array_equal(clf.predict_members(X), pooled.predict_members(X))


def test_mc_dropout_without_dropout_warns(labelers):
    X, y = labelers.X, labelers.y
    with pytest.warns(UserWarning, match="dropout=0 gives 4 identical members"):
        HyReClassifier(ensemble="mc_dropout", dropout=0.0, **{**TINY, "n_members": 4}).fit(X, y)


def test_group_id_errors_name_the_problem(labelers):
    X, y = labelers.X, labelers.y
    for bad in (5, np.array(3), (i for i in range(len(y)))):
        with pytest.raises(ValueError, match="groups must be a 1-D array-like"):
            HyReClassifier(**TINY).fit(X, y, groups=bad)
    with pytest.raises(ValueError, match=r"missing annotator id.*NaT"):
        member_weight_matrix(np.array(["2024-01-01", "NaT", "2024-01-02"], "M8[D]"), 2, "by_group")


def test_single_annotator_warning_points_at_the_callers_fit(labelers):
    X, y = labelers.X, labelers.y
    with pytest.warns(UserWarning, match="single annotator") as record:
        HyReClassifier(**TINY).fit(X, y, groups=np.zeros(len(y)))
    assert record[0].filename == __file__


def test_refit_without_groups_drops_the_annotator_attributes(labelers):
    X, y, g = labelers.X, labelers.y, labelers.groups
    clf = HyReClassifier(**TINY).fit(X, y, groups=g)
    assert clf.group_assignment_.shape == (3, 6)
    clf.set_params(n_members=4).fit(X, y)
    assert clf.training_ == "pooled"
    assert not hasattr(clf, "group_ids_") and not hasattr(clf, "group_assignment_")


def test_assigned_weights_keep_the_fit_assignment():
    from skhyre._groups import assigned_weight_matrix

    g = np.repeat([0, 1, 2], 10)
    W_fit, ids, A = member_weight_matrix(g, 3, "by_group")
    # the same examples under the fitted assignment give the fit's weights
    np.testing.assert_array_equal(assigned_weight_matrix(g, ids, A, "by_group"), W_fit)
    # only annotator 2 here: its member has mean weight 1, the others 0
    W = assigned_weight_matrix([2, 2, 2], ids, A, "by_group")
    np.testing.assert_array_equal(W, np.array([[0, 0, 1]] * 3, dtype=np.float32))
    # mixed: annotator 1 absent, its member learns only the share from the others
    Wm = assigned_weight_matrix([0, 0, 2, 2], ids, A, "mixed", group_share=0.2)
    np.testing.assert_allclose(Wm.mean(axis=0), [1.0, 0.2, 1.0])
    np.testing.assert_allclose(Wm[:, 0], [1.6, 1.6, 0.4, 0.4], rtol=1e-6)  # 4 * (0.8 / 2, 0.2 / 2)
    W_mfit, _, _ = member_weight_matrix(g, 3, "mixed", group_share=0.2)
    np.testing.assert_allclose(assigned_weight_matrix(g, ids, A, "mixed", 0.2), W_mfit)
    with pytest.raises(ValueError, match=r"\[5\] that were not in fit"):
        assigned_weight_matrix([0, 5], ids, A, "by_group")
