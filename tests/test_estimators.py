"""HyReRegressor / HyReClassifier: bad input, frozen priors, sklearn integration, seeds."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import fast
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skhyre import HyReClassifier, HyReRegressor

FAST = fast(n_members=6, index_dim=4, max_epochs=3, lr=1e-2)
KINDS = ("regressor", "classifier")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(kind, n=150, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "regressor":
        return X, 3.0 * X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=n) + 10.0
    return X, np.where(X[:, 0] - 0.5 * X[:, 1] > 0, "pos", "neg")


def _make(kind, **params):
    cls = HyReRegressor if kind == "regressor" else HyReClassifier
    return cls(**{**FAST, **params})


@pytest.fixture(scope="module", params=KINDS)
def fitted(request):
    X, y = _data(request.param)
    return _make(request.param).fit(X, y), X, y


@pytest.fixture
def est_data(fitted):
    est, X, y = fitted
    return copy.deepcopy(est), X, y


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kind", KINDS)
def test_not_fitted(kind):
    X, y = _data(kind, n=10)
    est = _make(kind)
    calls = [
        lambda: est.predict(X),
        lambda: est.predict_members(X),
        lambda: est.adapt(X, y),
        lambda: est.partial_adapt(X, y),
        lambda: est.query(X),
        lambda: est.active_adapt(X, y, n_queries=1),
        lambda: est.reset_weights(),
    ]
    if kind == "classifier":
        calls.append(lambda: est.predict_proba(X))
    for call in calls:
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


def test_feature_count_mismatch(est_data):
    est, X, y = est_data
    name = type(est).__name__
    msg = f"X has 2 features, but {name} is expecting 3 features"
    for call in (
        lambda: est.predict(X[:, :2]),
        lambda: est.predict_members(X[:, :2]),
        lambda: est.adapt(X[:5, :2], y[:5]),
        lambda: est.partial_adapt(X[:5, :2], y[:5]),
        lambda: est.query(X[:, :2]),
        lambda: est.active_adapt(X[:, :2], y, n_queries=2),
    ):
        with pytest.raises(ValueError, match=msg):
            call()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_at_fit(kind, bad):
    X, y = _data(kind, n=40)
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        _make(kind).fit(Xb, y)
    yb = np.where(np.arange(40) == 5, bad, 1.0 * (y == y[0]) if kind == "classifier" else y)
    with pytest.raises(ValueError, match=r"Input y contains (NaN|infinity)"):
        _make(kind).fit(X, yb)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_at_adapt(est_data, bad):
    est, X, y = est_data
    before = est.weights_.copy()
    Xb = X[:5].copy()
    Xb[2, 0] = bad
    for method in (est.adapt, est.partial_adapt):
        with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
            method(Xb, y[:5])
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        est.query(Xb)
    yb = y[:5].astype(object)
    yb[1] = bad
    match = "NaN or inf" if isinstance(est, HyReRegressor) else "never seen in fit"
    for method in (est.adapt, est.partial_adapt):
        with pytest.raises(ValueError, match=match):
            method(X[:5], yb)
    assert_array_equal(est.weights_, before)
    assert est.n_adapt_samples_ == 0


def test_empty_adaptation_set(est_data):
    est, X, y = est_data
    for method in (est.adapt, est.partial_adapt):
        with pytest.raises(ValueError, match="adaptation set is empty"):
            method(X[:0], y[:0])
        with pytest.raises(ValueError, match="adaptation set is empty"):
            method([], [])
    with pytest.raises(ValueError, match="needs labels y"):
        est.adapt(X[:3], None)


def test_too_many_queries(est_data):
    est, X, y = est_data
    with pytest.raises(ValueError, match=r"n_queries=9 is larger than the 8 selectable pool"):
        est.query(X[:10], n_queries=9, exclude=[0, 1])
    with pytest.raises(ValueError, match=r"n_queries=11 is larger than the 10 selectable pool"):
        est.active_adapt(X[:10], y[:10], n_queries=11)
    assert est.n_adapt_samples_ == 0


def test_wrong_criterion(est_data):
    est, X, y = est_data
    for criterion in ("foo", "BALD", "varianc"):
        with pytest.raises(ValueError, match=f"criterion='{criterion}' does not fit"):
            est.query(X, criterion=criterion)
        with pytest.raises(ValueError, match=f"criterion='{criterion}' does not fit"):
            est.active_adapt(X, y, n_queries=1, criterion=criterion)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_members=0), InvalidParameterError, "'n_members' parameter"),
        (dict(temperature=-1), InvalidParameterError, "'temperature' parameter"),
        (dict(temperature=0.0), InvalidParameterError, "'temperature' parameter"),
        (dict(temperature="hot"), InvalidParameterError, "'temperature' parameter"),
        (dict(ensemble="foo"), InvalidParameterError, "'ensemble' parameter"),
        (dict(adapt_loss="nope"), ValueError, "adapt_loss='nope' is not valid"),
        (dict(dropout=1.5), InvalidParameterError, "'dropout' parameter"),
        (dict(prior_scale=-1.0), InvalidParameterError, "'prior_scale' parameter"),
        (
            dict(hidden_layer_sizes=(16, 0)),
            ValueError,
            r"hidden_layer_sizes must be a non-empty sequence of positive ints, got \(16, 0\): "
            r"hidden_layer_sizes\[1\] is 0\.",
        ),
        (dict(hidden_layer_sizes=(16, 2.5)), TypeError, r"hidden_layer_sizes\[1\] is 2.5 of type"),
        (dict(max_epochs=0), InvalidParameterError, "'max_epochs' parameter"),
        (dict(lr=0.0), InvalidParameterError, "'lr' parameter"),
    ],
)
def test_invalid_params_raise_at_fit(kind, params, error, match):
    X, y = _data(kind, n=20)
    est = _make(kind, **params)  # nothing is validated in __init__
    assert est.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(error, match=match):
        est.fit(X, y)
    assert not hasattr(est, "net_")


def test_adapt_loss_of_the_other_task_is_rejected():
    X, y = _data("regressor", n=20)
    with pytest.raises(ValueError, match=r"adapt_loss='zero_one' is not valid for HyReRegressor"):
        _make("regressor", adapt_loss="zero_one").fit(X, y)
    X, y = _data("classifier", n=20)
    with pytest.raises(ValueError, match=r"adapt_loss='squared' is not valid for HyReClassifier"):
        _make("classifier", adapt_loss="squared").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_without_cuda(kind):
    X, y = _data(kind, n=20)
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        _make(kind, device="cuda").fit(X, y)
    # "auto" falls back to the CPU
    assert _make(kind, device="auto").fit(X, y).device_ == "cpu"


# ------------------------------------------------------------- frozen prior
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ensemble", ["shared_base", "epinet"])
def test_prior_stays_frozen(kind, ensemble):
    X, y = _data(kind, n=64)
    short = _make(kind, ensemble=ensemble, max_epochs=1).fit(X, y)
    long = _make(kind, ensemble=ensemble, max_epochs=3).fit(X, y)
    buffers_short = dict(short.net_.module_.named_buffers())
    buffers_long = dict(long.net_.module_.named_buffers())
    prior_names = [name for name in buffers_long if name.startswith("prior.")]
    assert len(prior_names) >= 4  # weights and biases of every prior layer
    for name in buffers_long:  # priors (and epinet indices) never train
        assert torch.equal(buffers_short[name], buffers_long[name]), name
        assert not buffers_long[name].requires_grad
    params_short = dict(short.net_.module_.named_parameters())
    params_long = dict(long.net_.module_.named_parameters())
    assert params_short.keys() == params_long.keys()
    assert any(not torch.equal(params_short[k], params_long[k]) for k in params_long)
    # the optimizer only ever sees learnable parameters
    optimized = [p for group in long.net_.optimizer_.param_groups for p in group["params"]]
    assert {id(p) for p in optimized} == {id(p) for p in long.net_.module_.parameters()}
    buffer_ptrs = {b.data_ptr() for b in buffers_long.values()}
    assert not buffer_ptrs & {p.data_ptr() for p in optimized}


# ------------------------------------------------------- sklearn integration
@pytest.mark.parametrize("kind", KINDS)
def test_pipeline_adapt_and_query_through_last_step(kind):
    X, y = _data(kind, n=160)
    X = X * [1.0, 50.0, 0.01] + [0.0, 100.0, -3.0]
    pipe = make_pipeline(StandardScaler(), _make(kind)).fit(X[:100], y[:100])
    Xt = pipe[:-1].transform(X[100:])
    est = pipe[-1]
    uniform = pipe.predict(X[100:])
    est.adapt(Xt[:20], y[100:120])
    assert est.n_adapt_samples_ == 20
    assert_array_equal(pipe.predict(X[100:]), est.predict(Xt))
    if kind == "regressor":
        assert not np.allclose(pipe.predict(X[100:]), uniform)
    picks = est.query(Xt, n_queries=3)
    assert picks.shape == (3,)
    est.active_adapt(Xt, y[100:], n_queries=4)
    assert est.queried_indices_.shape == (4,)
    assert isinstance(pipe.score(X[100:], y[100:]), float)


@pytest.mark.parametrize("kind", KINDS)
def test_clone_and_cross_val_score(kind):
    X, y = _data(kind, n=120)
    est = _make(kind, temperature="auto").fit(X, y).adapt(X[:10], y[:10])
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert not hasattr(cloned, "net_")
    assert not hasattr(cloned, "weights_")
    scores = cross_val_score(_make(kind), X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()


def test_grid_search_in_parallel():
    X, y = _data("regressor", n=120)
    search = GridSearchCV(
        _make("regressor"), param_grid={"prior_scale": [0.0, 1.0]}, cv=2, n_jobs=2
    ).fit(X, y)
    assert search.best_params_["prior_scale"] in (0.0, 1.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert_array_equal(best.weights_, np.full(FAST["n_members"], 1 / FAST["n_members"]))
    best.adapt(X[:10], y[:10])
    assert best.predict(X[:5]).shape == (5,)


# ------------------------------------------------------------- seeds, verbose
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ensemble", ["shared_base", "epinet", "vanilla", "mc_dropout"])
def test_random_state_reproducible(kind, ensemble):
    X, y = _data(kind, n=64)
    a = _make(kind, ensemble=ensemble, random_state=1).fit(X, y)
    b = _make(kind, ensemble=ensemble, random_state=1).fit(X, y)
    c = _make(kind, ensemble=ensemble, random_state=2).fit(X, y)
    assert_array_equal(a.predict_members(X), b.predict_members(X))
    assert not np.allclose(a.predict_members(X), c.predict_members(X))


@pytest.mark.parametrize("kind", KINDS)
def test_random_state_instance_seeds_too(kind):
    X, y = _data(kind, n=64)
    d = _make(kind, random_state=np.random.RandomState(5)).fit(X, y)
    e = _make(kind, random_state=np.random.RandomState(5)).fit(X, y)
    assert_array_equal(d.predict_members(X), e.predict_members(X))


def test_fit_does_not_touch_global_torch_rng():
    X, y = _data("regressor", n=40)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _make("regressor").fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_adaptation_kernels_keep_torch_thread_count():
    # Numba's OpenMP pool resets OpenMP's thread count when it first starts; the
    # estimators must not let that undo the user's torch.set_num_threads (a fresh
    # process: the pool starts once per process)
    code = textwrap.dedent(
        """
        import numpy as np, torch
        torch.set_num_threads(1)
        from skhyre import HyReRegressor, acquisition
        rng = np.random.default_rng(0)
        X = rng.normal(size=(64, 2))
        reg = HyReRegressor(n_members=4, hidden_layer_sizes=(8,), max_epochs=1).fit(X, X[:, 0])
        reg.query(X, n_queries=2)
        acquisition.variance(rng.random((4, 50_000), dtype=np.float32), np.full(4, 0.25))
        print("threads", torch.get_num_threads())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "threads 1" in result.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_verbose(kind, capsys):
    X, y = _data(kind, n=40)
    _make(kind, verbose=0).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    _make(kind, verbose=1, max_epochs=2).fit(X, y)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 2  # one row per epoch


def test_fitted_attributes(fitted):
    est, _, _ = fitted
    assert est.n_features_in_ == 3
    assert est.net_.module_.n_members == FAST["n_members"]
    for name in ("weights_", "log_weights_", "cumulative_loss_"):
        assert getattr(est, name).shape == (FAST["n_members"],)
    assert est.n_adapt_samples_ == 0
    assert_allclose(est.weights_.sum(), 1.0)
