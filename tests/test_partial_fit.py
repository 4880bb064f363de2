"""``partial_fit``: fine-tuning the fitted ensemble, the gradient-step baseline of HyRe."""

from __future__ import annotations

import numpy as np
import pytest
import skorch
from conftest import fast

from skhyre import HyReClassifier, HyReRegressor, HyReRewardModel

TINY = fast(n_members=4, max_epochs=5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    return X, X[:, 0] + 0.1 * rng.normal(size=200)


def test_on_an_unfitted_estimator_it_is_fit(data):
    X, y = data
    a = HyReRegressor(**TINY).partial_fit(X, y)
    b = HyReRegressor(**TINY).fit(X, y)
    np.testing.assert_array_equal(a.predict_members(X[:20]), b.predict_members(X[:20]))


def test_it_moves_the_members_to_the_new_data_and_resets_the_weights(data):
    X, y = data
    reg = HyReRegressor(**{**TINY, "max_epochs": 30}).fit(X, y)
    stats = (reg.y_mean_, reg.y_scale_)
    X_new = X[:40]
    y_new = y[:40] + 3.0  # a shifted target
    before = np.mean((reg.predict(X_new) - y_new) ** 2)
    reg.active_adapt(X_new, y_new, n_queries=3)
    assert hasattr(reg, "queried_indices_")
    reg.partial_fit(X_new, y_new)
    after = np.mean((reg.predict(X_new) - y_new) ** 2)
    assert after < 0.5 * before
    assert (reg.y_mean_, reg.y_scale_) == stats  # standardized with fit's statistics
    np.testing.assert_array_equal(reg.weights_, np.full(4, 0.25))
    assert reg.n_adapt_samples_ == 0 and not hasattr(reg, "queried_indices_")


def test_it_continues_from_the_current_parameters(data):
    X, y = data
    reg = HyReRegressor(**TINY).fit(X, y)
    tuned = HyReRegressor(**TINY).fit(X, y).partial_fit(X[:50], y[:50])
    fresh = HyReRegressor(**TINY).fit(X[:50], y[:50])
    # one more round of training moves the members less than a fit from scratch on 50 rows
    d_tuned = np.abs(tuned.predict_members(X) - reg.predict_members(X)).mean()
    d_fresh = np.abs(fresh.predict_members(X) - reg.predict_members(X)).mean()
    assert 0 < d_tuned < d_fresh


def test_a_failed_partial_fit_changes_nothing(data, monkeypatch):
    X, y = data
    reg = HyReRegressor(**TINY).fit(X, y).adapt(X[:5], y[:5])
    net, weights = reg.net_, reg.weights_.copy()
    F = reg.predict_members(X[:10])
    real_partial_fit = skorch.NeuralNet.partial_fit

    def boom(self, X, y=None, **kwargs):  # a real epoch moves the parameters, then it fails
        real_partial_fit(self, X, y, epochs=1)
        raise RuntimeError("out of memory")

    monkeypatch.setattr(skorch.NeuralNet, "partial_fit", boom)
    with pytest.raises(RuntimeError, match="out of memory"):
        reg.partial_fit(X, y)
    assert reg.net_ is net
    np.testing.assert_array_equal(reg.predict_members(X[:10]), F)
    np.testing.assert_array_equal(reg.weights_, weights)


def test_bad_input_is_named(data):
    X, y = data
    reg = HyReRegressor(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="expecting 2 features"):
        reg.partial_fit(X[:, :1], y)
    with pytest.raises(ValueError, match="NaN"):
        reg.partial_fit(X[:3], np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="too large for float32"):
        reg.partial_fit(X[:2], np.array([0.0, 1e300]))
    with pytest.raises(ValueError, match="max_epochs"):
        reg.set_params(max_epochs=0).partial_fit(X, y)


def test_classifier_classes(data):
    X, _ = data
    y = np.where(X[:, 0] > 0, "a", "b")
    clf = HyReClassifier(**TINY).partial_fit(X, y, classes=["c", "a", "b"])
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert clf.predict_proba(X[:3]).shape == (3, 3)
    clf.partial_fit(X[:20], np.full(20, "c"))  # a class absent from the first batch
    assert clf.predict_members(X[:1]).shape == (4, 1, 3)
    with pytest.raises(ValueError, match=r"labels \['z'\] that are not in classes_"):
        clf.partial_fit(X[:2], ["a", "z"])
    with pytest.raises(ValueError, match="differs from classes_"):
        clf.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match=r"labels \['q'\] that are not in classes"):
        HyReClassifier(**TINY).partial_fit(X[:2], ["a", "q"], classes=["a", "b"])


def test_classifier_fine_tuning_learns_a_flipped_rule(data):
    X, _ = data
    y = (X[:, 0] > 0).astype(int)
    clf = HyReClassifier(**{**TINY, "max_epochs": 30, "lr": 0.01}).fit(X, y)
    assert clf.score(X, y) > 0.9
    clf.partial_fit(X, 1 - y)
    assert clf.score(X, 1 - y) > 0.5


def test_reward_model(data):
    X, _ = data
    pairs = np.hstack([X, X[::-1]])
    y = (pairs[:, 0] > pairs[:, 2]).astype(int)
    rm = HyReRewardModel(**TINY).fit(pairs, y).adapt(pairs[:4], y[:4])
    rm.partial_fit(pairs[:30], y[:30])
    np.testing.assert_array_equal(rm.weights_, np.full(4, 0.25))
    with pytest.raises(ValueError, match=r"classes must be \[0, 1\]"):
        rm.partial_fit(pairs, y, classes=[0, 1, 2])
    with pytest.raises(ValueError):
        rm.partial_fit(pairs[:2], [0, 2])


def test_settings_changed_since_fit_apply(data):
    X, y = data
    reg = HyReRegressor(**TINY).fit(X, y)
    adam_state = len(reg.net_.optimizer_.state)
    reg.set_params(lr=1e-4, weight_decay=0.01, batch_size=64).partial_fit(X[:64], y[:64])
    group = reg.net_.optimizer_.param_groups[0]
    assert group["lr"] == 1e-4 and group["weight_decay"] == 0.01
    assert reg.net_.batch_size == 64
    assert len(reg.net_.optimizer_.state) == adam_state > 0  # Adam's moments carried on


def test_regressor_noise_variance_follows_the_members(data):
    X, y = data
    reg = HyReRegressor(**{**TINY, "max_epochs": 30}).fit(X, y)
    before = reg.noise_variance_
    y_new = y + 3.0 * np.sin(5 * X[:, 1])  # a target the members cannot fit in a few epochs
    reg.partial_fit(X, y_new)
    F = reg._member_matrix(X)
    resid = np.mean((F.mean(axis=0) - (y_new - reg.y_mean_) / reg.y_scale_) ** 2)
    assert reg.noise_variance_ == pytest.approx(resid, rel=1e-4)
    assert reg.noise_variance_ > 2 * before


# ------------------------------------------------------------ groups
@pytest.fixture(scope="module")
def by_group_fit(data):
    X, y = data
    groups = np.where(np.arange(200) % 2 == 0, "a", "b")
    reg = HyReRegressor(**{**TINY, "ensemble": "vanilla", "training": "by_group"})
    return reg.fit(X, y, groups=groups), groups


def test_with_groups_each_member_learns_from_its_annotators_examples(data, by_group_fit):
    import copy

    X, y = data
    fitted, _ = by_group_fit
    on_a = fitted.group_assignment_[list(fitted.group_ids_).index("a")]
    before = fitted.predict_members(X)
    more = dict(lr=0.01, max_epochs=20)
    grouped = copy.deepcopy(fitted).set_params(**more)
    grouped.partial_fit(X[:60], y[:60] + 3.0, groups=["a"] * 60)
    pooled = copy.deepcopy(fitted).set_params(**more).partial_fit(X[:60], y[:60] + 3.0)
    after = grouped.predict_members(X)
    # annotator a's members move towards the shifted target; b's vanilla members
    # share no parameter with them and stay exactly as they were (Adam's momentum
    # from fit would otherwise have moved them)
    assert (after - before)[on_a].mean(axis=1).min() > 1.0
    np.testing.assert_array_equal(after[~on_a], before[~on_a])
    assert (pooled.predict_members(X) - before).mean(axis=1).min() > 1.0
    assert grouped.training_ == "by_group" and list(grouped.group_ids_) == ["a", "b"]


def test_absent_annotators_keep_their_heads_and_optimizer_moments(data):
    # shared_base: the shared layers learn from everyone's data, but a member's
    # own head (and its rows of Adam's moments) move only with its annotators'
    X, y = data
    groups = np.where(np.arange(200) % 2 == 0, "a", "b")
    reg = HyReRegressor(**{**TINY, "training": "by_group"}).fit(X, y, groups=groups)
    on_b = reg.group_assignment_[list(reg.group_ids_).index("b")]

    def heads(est):
        module = est.net_.module_
        module = getattr(module, "ensemble", module)
        (w, w_rows), (_, b_rows) = module.member_parameters()
        moments = est.net_.optimizer_.state[w]["exp_avg"].view_as(w_rows)
        return w_rows.detach().clone(), b_rows.detach().clone(), moments.clone()

    before = heads(reg)
    reg.set_params(lr=0.01).partial_fit(X[:60], y[:60] + 3.0, groups=["a"] * 60)
    after = heads(reg)
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new[on_b].numpy(), old[on_b].numpy())
        assert not np.array_equal(new[~on_b].numpy(), old[~on_b].numpy())


def test_unknown_annotator_ids_are_named_and_change_nothing(data, by_group_fit):
    import copy

    X, y = data
    reg = copy.deepcopy(by_group_fit[0])
    net = reg.net_
    with pytest.raises(ValueError, match=r"annotator ids \['c'\] that were not in fit"):
        reg.partial_fit(X[:4], y[:4], groups=["a", "c", "a", "c"])
    with pytest.raises(ValueError, match="one annotator id per row of X"):
        reg.partial_fit(X[:4], y[:4], groups=["a", "b"])
    assert reg.net_ is net


def test_groups_are_ignored_after_pooled_training(data):
    X, y = data
    a = HyReRegressor(**TINY).fit(X, y).partial_fit(X[:30], y[:30])
    b = HyReRegressor(**TINY).fit(X, y).partial_fit(X[:30], y[:30], groups=np.arange(30))
    np.testing.assert_array_equal(a.predict_members(X[:20]), b.predict_members(X[:20]))


@pytest.mark.parametrize("Est", [HyReClassifier, HyReRewardModel])
def test_classifier_and_reward_model_take_groups(Est):
    import copy

    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] > X[:, 2]).astype(int)
    groups = rng.integers(0, 3, size=120)
    fit_until_settled = dict(ensemble="vanilla", training="by_group", lr=0.01, max_epochs=40)
    est = Est(**{**TINY, **fit_until_settled}).fit(X, y, groups=groups)
    on_0 = est.group_assignment_[0]
    before = est.predict_members(X)
    tuned = copy.deepcopy(est).set_params(lr=0.01, max_epochs=20)
    tuned.partial_fit(X[:40], 1 - y[:40], groups=np.zeros(40, dtype=int))
    moved = np.abs(tuned.predict_members(X) - before).mean(axis=(1, 2))
    # only annotator 0's members learn (the others move by Adam's momentum from a
    # settled fit: next to nothing)
    assert moved[on_0].min() > 10 * moved[~on_0].max()
    assert tuned.training_ == "by_group"
    with pytest.raises(ValueError, match=r"annotator ids \[7\]"):
        est.partial_fit(X[:2], y[:2], groups=[7, 0])
    with pytest.raises(ValueError, match="or pass groups=None"):
        est.partial_fit(X[:2], y[:2], groups=np.array([0.0, np.nan]))


def test_a_rejected_groups_does_not_advance_the_random_state(data, by_group_fit):
    import copy

    X, y = data
    reg = copy.deepcopy(by_group_fit[0]).set_params(random_state=np.random.RandomState(3))
    state = reg.random_state.get_state()[1].copy()
    with pytest.raises(ValueError, match="not in fit"):
        reg.partial_fit(X[:2], y[:2], groups=["z", "a"])
    np.testing.assert_array_equal(reg.random_state.get_state()[1], state)
