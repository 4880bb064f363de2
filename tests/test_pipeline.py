"""skhyre.pipeline against the same composition written out by hand."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.compose import TransformedTargetRegressor as SkTTR
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import FunctionTransformer, PolynomialFeatures, StandardScaler

from skhyre import HyReClassifier, HyReRegressor
from skhyre.pipeline import Pipeline, TransformedTargetRegressor, adaptable, make_pipeline

TINY = dict(n_members=5, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, random_state=0)
RNG = np.random.RandomState(0)
X = 50 * RNG.normal(size=(240, 3)) + 100
y = X @ np.array([0.02, -0.01, 0.03]) + RNG.normal(scale=0.1, size=240)
yc = (X[:, 0] > 100).astype(int)


@pytest.fixture(scope="module")
def reg_pipe():
    return make_pipeline(StandardScaler(), HyReRegressor(**TINY)).fit(X[:160], y[:160])


@pytest.fixture(scope="module")
def clf_pipe():
    return make_pipeline(StandardScaler(), HyReClassifier(**TINY)).fit(X[:160], yc[:160])


def _by_hand(pipe):
    return pipe[:-1].transform, pipe[-1]


def test_adapt_and_partial_adapt_equal_the_hand_written_composition(reg_pipe):
    pipe = clone(reg_pipe).fit(X[:160], y[:160])
    tf, hyre = _by_hand(reg_pipe)
    pipe.adapt(X[160:170], y[160:170]).partial_adapt(X[170:175], y[170:175])
    hyre.adapt(tf(X[160:170]), y[160:170]).partial_adapt(tf(X[170:175]), y[170:175])
    np.testing.assert_array_equal(pipe.weights_, hyre.weights_)
    np.testing.assert_array_equal(pipe.cumulative_loss_, hyre.cumulative_loss_)
    assert pipe.n_adapt_samples_ == hyre.n_adapt_samples_ == 15
    np.testing.assert_array_equal(pipe.predict(X[200:]), hyre.predict(tf(X[200:])))
    _, std = pipe.predict(X[200:], return_std=True)
    np.testing.assert_array_equal(std, hyre.predict(tf(X[200:]), return_std=True)[1])
    np.testing.assert_array_equal(pipe.predict_members(X[200:]), hyre.predict_members(tf(X[200:])))
    assert pipe.reset_weights() is pipe
    np.testing.assert_array_equal(pipe.weights_, np.full(5, 0.2))


@pytest.mark.parametrize("form", ["array", "list", "iterator", "callable"])
def test_query_transforms_the_pool_in_its_own_form(reg_pipe, form):
    tf, hyre = _by_hand(reg_pipe)
    pool = X[160:]
    expected = hyre.query(tf(pool), n_queries=4)
    chunks = [pool[:30], pool[30:55], pool[55:]]
    given = {
        "array": pool,
        "list": chunks,
        "iterator": iter(chunks),
        "callable": lambda: iter(chunks),
    }[form]
    got = reg_pipe.query(given, n_queries=4, pool_memory_budget=None if form == "array" else 0)
    np.testing.assert_array_equal(got, expected)


def test_active_adapt_equals_the_hand_written_loop(clf_pipe):
    pipe = clone(clf_pipe).fit(X[:160], yc[:160])
    tf, hyre = _by_hand(clf_pipe)
    pipe.active_adapt(X[160:], yc[160:], n_queries=6)
    hyre.active_adapt(tf(X[160:]), yc[160:], n_queries=6)
    np.testing.assert_array_equal(pipe.queried_indices_, hyre.queried_indices_)
    np.testing.assert_array_equal(pipe.weights_, hyre.weights_)
    np.testing.assert_array_equal(pipe.predict_proba(X[:20]), hyre.predict_proba(tf(X[:20])))


def test_verbs_exist_only_when_the_final_step_has_them():
    plain = make_pipeline(StandardScaler(), PolynomialFeatures())
    for name in ("adapt", "partial_adapt", "reset_weights", "query", "active_adapt"):
        assert not hasattr(plain, name)
    assert hasattr(make_pipeline(StandardScaler(), HyReRegressor()), "adapt")


def test_adaptation_attributes_before_fit_raise_attribute_error():
    pipe = make_pipeline(StandardScaler(), HyReRegressor())
    assert not hasattr(pipe, "weights_")
    with pytest.raises(AttributeError, match="fit it"):
        _ = pipe.weights_


def test_clone_pickle_and_nested_pipelines(reg_pipe):
    again = pickle.loads(pickle.dumps(reg_pipe))
    np.testing.assert_array_equal(again.predict(X[:5]), reg_pipe.predict(X[:5]))
    assert type(clone(reg_pipe)) is Pipeline
    inner = make_pipeline(PolynomialFeatures(degree=1, include_bias=False), HyReRegressor(**TINY))
    outer = make_pipeline(StandardScaler(), inner).fit(X[:160], y[:160])
    outer.adapt(X[160:170], y[160:170])
    Xt = outer[1][0].transform(outer[0].transform(X[160:170]))
    hyre = clone(outer[1][-1]).fit(outer[1][0].transform(outer[0].transform(X[:160])), y[:160])
    hyre.adapt(Xt, y[160:170])
    np.testing.assert_array_equal(outer.weights_, hyre.weights_)


def test_column_transformer_and_set_output_with_dataframes():
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    ct = ColumnTransformer([("s", StandardScaler(), ["a", "b"]), ("p", "passthrough", ["c"])])
    pipe = make_pipeline(ct, HyReRegressor(**TINY)).set_output(transform="pandas")
    pipe.fit(df.iloc[:160], y[:160])
    chunks = [df.iloc[160:200], df.iloc[200:]]
    np.testing.assert_array_equal(
        pipe.query(chunks, n_queries=3, pool_memory_budget=0),
        pipe.query(df.iloc[160:], n_queries=3),
    )
    pipe.adapt(df.iloc[160:170], y[160:170])
    assert pipe.n_adapt_samples_ == 10


def test_adaptable_wraps_a_fitted_sklearn_pipeline_without_refitting():
    sk = sk_make_pipeline(StandardScaler(), HyReRegressor(**TINY)).fit(X[:160], y[:160])
    wrapped = adaptable(sk)
    assert isinstance(wrapped, Pipeline) and wrapped[-1] is sk[-1]
    wrapped.adapt(X[160:170], y[160:170])
    assert sk[-1].n_adapt_samples_ == 10


# ------------------------------------------------------------- target transform
@pytest.fixture(scope="module")
def ttr():
    ypos = np.exp(y / 10)
    return (
        TransformedTargetRegressor(
            make_pipeline(StandardScaler(), HyReRegressor(**TINY)), func=np.log, inverse_func=np.exp
        ).fit(X[:160], ypos[:160]),
        ypos,
    )


def test_target_transform_applies_to_adaptation_labels(ttr):
    model, ypos = ttr
    model.adapt(X[160:170], ypos[160:170])
    by_hand = clone(model.regressor_[-1]).fit(
        model.regressor_[0].transform(X[:160]), np.log(ypos[:160])
    )
    by_hand.adapt(model.regressor_[0].transform(X[160:170]), np.log(ypos[160:170]))
    np.testing.assert_allclose(model.weights_, by_hand.weights_, rtol=1e-12)
    members = model.predict_members(X[:4])
    np.testing.assert_allclose(members, np.exp(model.regressor_.predict_members(X[:4])), rtol=1e-6)
    mean, std = model.predict(X[:4], return_std=True)
    np.testing.assert_allclose(mean, model.predict(X[:4]))
    assert std.shape == (4,) and (std >= 0).all()


def test_target_transform_oracle_labels_are_transformed(ttr):
    model, ypos = ttr
    model.reset_weights().active_adapt(X[160:], ypos[160:], n_queries=3)
    picked = model.queried_indices_
    model2 = clone(model).fit(X[:160], ypos[:160])
    model2.active_adapt(X[160:], lambda idx: ypos[160:][idx], n_queries=3)
    np.testing.assert_array_equal(model2.queried_indices_, picked)
    np.testing.assert_array_equal(model2.weights_, model.weights_)


def test_complex_labels_refused_by_the_target_transform(ttr):
    model, ypos = ttr
    with pytest.raises(ValueError, match="Complex"):
        model.adapt(X[160:162], ypos[160:162] + 1j)


def test_adaptable_wraps_a_sklearn_ttr():
    sk = SkTTR(HyReRegressor(**TINY), transformer=FunctionTransformer(np.log1p, np.expm1))
    sk.fit(X[:160], np.abs(y[:160]))
    wrapped = adaptable(sk)
    wrapped.adapt(X[160:170], np.abs(y[160:170]))
    assert sk.regressor_.n_adapt_samples_ == 10


# ------------------------------------------------------------- evaluation helpers
def test_adaptation_curve_takes_pipelines_and_scoring():
    from skhyre.evaluation import adaptation_curve

    sk = sk_make_pipeline(StandardScaler(), HyReRegressor(**TINY)).fit(X[:160], y[:160])
    res = adaptation_curve(
        sk, X[160:], y[160:], n_labels=(2, 5), random_state=0, scoring="neg_mean_absolute_error"
    )
    assert res.scores.shape == (1, 2) and (res.scores <= 0).all()
    # the same draws by hand, scored the same way
    rng = np.random.RandomState(0)
    hyre, tf = sk[-1], sk[:-1].transform
    for c, n_lab in enumerate((2, 5)):
        idx = rng.choice(80, size=n_lab, replace=False)
        hyre.adapt(tf(X[160:][idx]), y[160:][idx])
        rest = np.setdiff1d(np.arange(80), idx)
        expected = -np.mean(np.abs(hyre.predict(tf(X[160:][rest])) - y[160:][rest]))
        np.testing.assert_allclose(res.scores[0, c], expected, rtol=1e-12)
    res_active = adaptation_curve(sk, X[160:], y[160:], n_labels=(3,), criterion="variance")
    assert np.isfinite(res_active.scores).all()


def test_adapted_scorer_accepts_a_target_transformed_regressor_in_grid_search():
    from sklearn.model_selection import GridSearchCV

    from skhyre.metrics import adapted_scorer

    ypos = np.exp(y / 10)
    ttr = SkTTR(HyReRegressor(**TINY), func=np.log, inverse_func=np.exp)
    gs = GridSearchCV(
        ttr,
        {"regressor__prior_scale": [0.0, 3.0]},
        scoring=adapted_scorer(n_adapt=5, random_state=0),
        cv=2,
        error_score="raise",
    ).fit(X, ypos)
    assert np.isfinite(gs.cv_results_["mean_test_score"]).all()


@pytest.mark.dask
def test_query_transforms_a_dask_pool_block_by_block(reg_pipe):
    da = pytest.importorskip("dask.array")
    tf, hyre = _by_hand(reg_pipe)
    pool = X[160:]
    expected = hyre.query(tf(pool), n_queries=4)
    got = reg_pipe.query(da.from_array(pool, chunks=(25, 3)), n_queries=4, pool_memory_budget=0)
    np.testing.assert_array_equal(got, expected)


def test_leave_one_group_out_takes_a_scikit_learn_pipeline():
    from skhyre.datasets import make_preference_labelers
    from skhyre.evaluation import leave_one_group_out

    d = make_preference_labelers(n_samples=240, n_labelers=3, random_state=0)
    pipe = sk_make_pipeline(StandardScaler(), HyReClassifier(**TINY))
    res = leave_one_group_out(
        pipe,
        100 * d.X,
        d.y,
        d.groups,
        n_labels=(2, 4),
        n_repeats=1,
        random_state=0,
        scoring="balanced_accuracy",
    )
    assert res.scores.shape == (3, 1, 2) and np.isfinite(res.scores).all()
