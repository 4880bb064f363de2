"""Diagnostics instead of silence (issue #26, item 5).

Each warning fires in its bad case with a message naming the problem, stays
silent on ordinary data, and never changes a result: weights and picks are
equal with and without the condition being warned about (or with the warning
filtered out).
"""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import fast
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import skhyre.reweighting as rw
from skhyre import HyReClassifier, HyReEnsemble, HyReRegressor, HyReRewardModel
from skhyre._diagnostics import TieTracker, scores_tie, warn_no_member_fits
from skhyre.pipeline import make_pipeline
from skhyre.pools._blocks import TopK

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NEW = (rw.InputScaleWarning, rw.NoMemberFitsWarning, rw.TiedScoresWarning)


def _caught(fn):
    """(result, [diagnostic warnings raised by fn()])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [w for w in caught if issubclass(w.category, NEW)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=160)
    return X, y


@pytest.fixture(scope="module")
def reg(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", rw.InputScaleWarning)  # standardized: silent
        return HyReRegressor(**fast(n_members=8, max_epochs=4, lr=1e-2)).fit(X, y)


def test_the_warnings_are_public_user_warnings():
    for cls in NEW:
        assert issubclass(cls, UserWarning)
        assert cls.__name__ in rw.__all__


# ---------------------------------------------------------------- (a) inputs
def test_fit_names_the_columns_far_from_standardized(data):
    X, y = data
    raw = pd.DataFrame({"small": X[:, 0], "pressure": 1000.0 + 5 * X[:, 1], "area": 80 * X[:, 2]})
    est = HyReRegressor(**fast(n_members=4, max_epochs=1))
    with pytest.warns(rw.InputScaleWarning) as rec:
        est.fit(raw, y)
    msg = str(rec[0].message)
    assert "2 of 3 input column(s)" in msg
    assert "'pressure' (mean 1e+03" in msg and "'area'" in msg and "'small'" not in msg
    assert "make_pipeline(StandardScaler(), HyReRegressor(...))" in msg


def test_fit_does_not_warn_on_standardized_inputs_or_behind_a_scaler(data):
    X, y = data
    _, caught = _caught(lambda: make_pipeline(
        StandardScaler(), HyReRegressor(**fast(n_members=4, max_epochs=1))
    ).fit(1000.0 + 50 * X, y))  # fmt: skip
    assert caught == []
    _, caught = _caught(lambda: HyReClassifier(**fast(n_members=4, max_epochs=1)).fit(X, y > 0))
    assert caught == []


def test_the_input_warning_changes_nothing(data):
    X, y = data
    raw = 300.0 + 40 * X
    params = fast(n_members=4, max_epochs=2)
    with pytest.warns(rw.InputScaleWarning):
        a = HyReRegressor(**params).fit(raw, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rw.InputScaleWarning)
        b = HyReRegressor(**params).fit(raw, y)
    np.testing.assert_array_equal(a.predict_members(raw), b.predict_members(raw))


def test_reward_model_warns_unless_a_module_reads_the_inputs(data):
    import torch

    X, _ = data
    pairs = np.hstack([500 + 50 * X, 500 + 50 * X[::-1]])
    y = (X[:, 0] > X[::-1, 0]).astype(int)
    with pytest.warns(rw.InputScaleWarning, match="HyReRewardModel"):
        HyReRewardModel(**fast(n_members=4, max_epochs=1)).fit(pairs, y)
    module = torch.nn.Linear(3, 4)
    _, caught = _caught(
        lambda: HyReRewardModel(module=module, **fast(n_members=4, max_epochs=1)).fit(pairs, y)
    )
    assert caught == []


# ---------------------------------------------------------------- (b) labels
def test_labels_in_other_units_are_named_and_weights_unchanged(reg, data):
    X, y = data
    a = copy.deepcopy(reg)
    y_far = 1000.0 * y[:6] + 5000.0
    with pytest.warns(rw.NoMemberFitsWarning) as rec:
        a.adapt(X[:6], y_far)
    msg = str(rec[0].message)
    assert "every member misses the label by more than 10 training target standard" in msg
    assert "labels on another scale than fit's y" in msg and "TransformedTargetRegressor" in msg
    assert "The weights were computed as usual" in msg
    b = copy.deepcopy(reg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rw.NoMemberFitsWarning)
        b.adapt(X[:6], y_far)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.cumulative_loss_, b.cumulative_loss_)


def test_inputs_far_outside_training_are_told_apart_from_labels(data):
    X, y = data
    # linear members extrapolate linearly: inputs 1000x out of range move their predictions
    ens = HyReEnsemble([("a", LinearRegression()), ("b", Ridge(alpha=1.0))]).fit(X, y)
    with pytest.warns(rw.NoMemberFitsWarning, match="inputs far outside the training data"):
        ens.adapt(1000.0 * X[:4] + 1000.0, y[:4])


def test_no_member_extrapolates():
    # labels within the training range, but every member predicts far from them
    preds = np.full((3, 4), 5.0)  # 5 training stds above the mean; the labels 6 below
    with pytest.warns(rw.NoMemberFitsWarning, match="no member fits or extrapolates to these rows"):
        warn_no_member_fits(preds, np.full(4, -6.0), "regression", unit=1.0, center=0.0)


def test_ordinary_adaptation_is_silent(reg, data, temperature_classifier):
    X, y = data
    a = copy.deepcopy(reg)
    _, caught = _caught(lambda: a.adapt(X[100:140], y[100:140]).partial_adapt(X[:3], y[:3]))
    assert caught == []
    clf, Xc, yc = temperature_classifier
    c = copy.deepcopy(clf)
    _, caught = _caught(lambda: c.adapt(Xc[:20], yc[:20]))
    assert caught == []


def test_swapped_class_labels_are_named():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    y = np.where(X[:, 0] > 0, "yes", "no")
    trees = [(f"t{i}", DecisionTreeClassifier(random_state=i)) for i in range(4)]
    ens = HyReEnsemble(trees).fit(X, y)
    swapped = np.where(y[:10] == "yes", "no", "yes")
    with pytest.warns(rw.NoMemberFitsWarning) as rec:
        ens.adapt(X[:10], swapped)
    msg = str(rec[0].message)
    assert "probability below 1e-06" in msg and "labels encoded differently" in msg
    assert "'no', 'yes'" in msg  # classes_ shown
    quiet = HyReEnsemble(trees).fit(X, y)
    _, caught = _caught(lambda: quiet.adapt(X[:10], y[:10]))
    assert caught == []
    # a single hard example missed by every member is not a labelling mistake
    _, caught = _caught(lambda: quiet.adapt(X[:1], swapped[:1]))
    assert caught == []
    # one label at a time: the history since the reset tells it
    one = HyReEnsemble(trees).fit(X, y)
    one.partial_adapt(X[:1], swapped[:1])
    with pytest.warns(rw.NoMemberFitsWarning, match="seen since the last reset"):
        one.partial_adapt(X[1:2], swapped[1:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rw.NoMemberFitsWarning)
        batch = HyReEnsemble(trees).fit(X, y).adapt(X[:2], swapped[:2])
    np.testing.assert_array_equal(one.weights_, batch.weights_)


def test_reward_model_names_swapped_pairs(data):
    X, _ = data
    pairs = np.hstack([X, X[::-1]])
    y = (X[:, 0] > X[::-1, 0]).astype(int)
    rm = HyReRewardModel(**fast(n_members=4, max_epochs=1)).fit(pairs, y)
    P = np.zeros((4, 3, 2))
    P[..., 1] = 1.0  # every member sure that A is preferred
    with pytest.warns(rw.NoMemberFitsWarning, match="A and B, or the labels, swapped"):
        rm._diagnose_labels(P, np.zeros(3, dtype=np.int64))


def test_active_adapt_diagnoses_its_labels_once(reg, data):
    X, y = data
    a = copy.deepcopy(reg)
    _, rec = _caught(lambda: a.active_adapt(X[:40], 1000.0 * y[:40] + 5000.0, n_queries=4))
    assert sum(issubclass(w.category, rw.NoMemberFitsWarning) for w in rec) == 1
    # the first far label puts all the weight on one member: the later picks tie, but
    # that is the loop having converged, not a tie at the start: no TiedScoresWarning
    assert not any(issubclass(w.category, rw.TiedScoresWarning) for w in rec)
    # once collapsed, the next call's first pick ties: that one warns
    _, rec = _caught(lambda: a.active_adapt(X[:40], y[:40], n_queries=2))
    (tied,) = [w for w in rec if issubclass(w.category, rw.TiedScoresWarning)]
    assert "at 2 of 2 pick(s) [0, 1]" in str(tied.message)
    assert "collapsed onto one member" in str(tied.message)


def test_the_errors_for_far_labels_share_the_advice(reg, data):
    X, _ = data
    a = copy.deepcopy(reg)
    with pytest.raises(ValueError, match="TransformedTargetRegressor"):
        a.adapt(X[:2], np.array([1e300, -1e300]))


# ---------------------------------------------------------------- (c) ties
@pytest.fixture(scope="module")
def collapsed(reg, data):
    X, y = data
    est = copy.deepcopy(reg).set_params(temperature=1e-9)
    est.adapt(X[:8], y[:8])
    assert est.weights_.max() == 1.0
    return est


def test_query_warns_when_every_score_ties(collapsed, data):
    X, _ = data
    with pytest.warns(rw.TiedScoresWarning) as rec:
        idx = collapsed.query(X[8:], n_queries=3)
    msg = str(rec[0].message)
    assert "Every one of the 152 candidate rows has the same 'variance' score" in msg
    assert "first candidate rows" in msg and "collapsed onto one member" in msg
    assert "sampling='power'" in msg and "criterion='random'" in msg and "temperature" in msg
    np.testing.assert_array_equal(idx, [0, 1, 2])  # the warning names it; the answer is as before


def test_ties_are_found_in_streamed_and_dask_pools_too(collapsed, data):
    X, _ = data
    chunks = [X[8:40], X[40:100], X[100:]]
    with pytest.warns(rw.TiedScoresWarning):
        streamed = collapsed.query(chunks, n_queries=3, pool_memory_budget=1)
    np.testing.assert_array_equal(streamed, [0, 1, 2])
    da = pytest.importorskip("dask.array")
    with pytest.warns(rw.TiedScoresWarning):
        dask = collapsed.query(da.from_array(X[8:], chunks=(40, 3)), n_queries=3)
    np.testing.assert_array_equal(dask, [0, 1, 2])


def test_no_tie_warning_where_the_answer_is_not_the_first_rows(collapsed, reg, data):
    X, _ = data
    for kwargs in ({"sampling": "power"}, {"criterion": "random"}):
        _, caught = _caught(lambda kw=kwargs: collapsed.query(X[8:], 3, random_state=0, **kw))
        assert caught == []
    _, caught = _caught(lambda: collapsed.query(X[8:11], n_queries=3))  # all rows asked for
    assert caught == []
    _, caught = _caught(lambda: reg.query(X, n_queries=3))  # uniform weights rank the rows
    assert caught == []


def test_active_adapt_warns_once_and_picks_as_before(collapsed, reg, data):
    X, y = data
    a = copy.deepcopy(collapsed)
    with pytest.warns(rw.TiedScoresWarning) as rec:
        a.active_adapt(X[8:], y[8:], n_queries=3)
    tied = [w for w in rec if issubclass(w.category, rw.TiedScoresWarning)]
    assert len(tied) == 1 and "at 3 of 3 pick(s) [0, 1, 2]" in str(tied[0].message)
    np.testing.assert_array_equal(a.queried_indices_, [0, 1, 2])
    b = copy.deepcopy(collapsed)  # the Python loop (a callable oracle) sees the same ties
    with pytest.warns(rw.TiedScoresWarning):
        b.active_adapt(X[8:], lambda i: y[8:][i], n_queries=3)
    np.testing.assert_array_equal(b.queried_indices_, a.queried_indices_)
    np.testing.assert_array_equal(b.weights_, a.weights_)
    c = copy.deepcopy(reg)
    _, caught = _caught(lambda: c.active_adapt(X, y, n_queries=3))
    assert caught == []


def test_members_that_agree_everywhere_are_named():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 2))
    y = X[:, 0]
    same = [(f"t{i}", DecisionTreeRegressor(max_depth=3, random_state=0)) for i in range(3)]
    ens = HyReEnsemble(same).fit(X, y)
    with pytest.warns(rw.TiedScoresWarning, match="the members agree on every candidate row"):
        ens.query(X, n_queries=2)


def test_tie_tolerance_is_rounding_not_small_scores():
    assert scores_tie(0.0, 1e-15, 1.0)
    assert scores_tie(2.0, 2.0 + 1e-10, 1.0)
    assert not scores_tie(0.0, 1e-6, 1.0)
    assert not scores_tie(None, None, 1.0)
    assert scores_tie(0.0, 1e-9, 1e4)  # a variance in squared target units of 100
    top = TopK(1)
    top.widen((0.0, 1e-3))
    tracker = TieTracker("bald", 1.0, "query")
    tracker.observe(top, np.ones(2) / 2, 10)
    assert tracker.tied == []



def test_argmax_allowed_span_kernel_matches_numpy():
    from skhyre import _kernels

    rng = np.random.default_rng(3)
    for n in (1, 7, 100):
        scores = rng.normal(size=n)
        scores[rng.random(n) < 0.2] = np.nan
        scores[rng.random(n) < 0.1] = np.inf
        taken = rng.random(n) < 0.3
        i, lo, hi = _kernels.argmax_allowed_span(scores, taken)
        assert i == _kernels.argmax_allowed(scores, taken)
        free = scores[~taken]
        fin = free[np.isfinite(free)]
        if fin.size:
            assert (lo, hi) == (fin.min(), fin.max())
        else:
            assert lo > hi
    i, lo, hi = _kernels.argmax_allowed_span(np.zeros(3), np.ones(3, dtype=bool))
    assert i == -1 and lo > hi
