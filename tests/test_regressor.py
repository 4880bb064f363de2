"""HyReRegressor: shapes, weighted prediction, scale-free losses and queries."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import fast
from numpy.testing import assert_allclose, assert_array_equal

from skhyre import HyReRegressor

ENSEMBLES = ("shared_base", "epinet", "vanilla", "mc_dropout")
FAST = fast(n_members=6, index_dim=4, max_epochs=4, lr=1e-2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n=160, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def pair(data):
    """The same ensemble fitted on ``y`` and on ``1000 * y + 5``."""
    X, y = data
    return HyReRegressor(**FAST).fit(X, y), HyReRegressor(**FAST).fit(X, 1000.0 * y + 5.0)


@pytest.fixture
def reg(pair):
    return copy.deepcopy(pair[0])


@pytest.fixture(scope="module", params=ENSEMBLES)
def fitted(request, data):
    X, y = data
    return HyReRegressor(ensemble=request.param, **FAST).fit(X, y)


def _weighted_mean_std(F, w):
    mean = w @ F
    return mean, np.sqrt(w @ (F - mean) ** 2)


def test_shapes_and_weighted_prediction(fitted, data):
    X, y = data
    reg = copy.deepcopy(fitted)
    K = FAST["n_members"]
    F = reg.predict_members(X[:20])
    assert F.shape == (K, 20)
    assert F.dtype == np.float64  # original units; the networks' float32 stays standardized
    assert np.isfinite(F).all()
    # members are fixed functions (fixed dropout masks / epinet indices)
    assert_array_equal(F, reg.predict_members(X[:20]))
    assert_array_equal(reg.weights_, np.full(K, 1 / K))

    pred = reg.predict(X[:20])
    assert pred.shape == (20,)
    assert_allclose(pred, F.mean(axis=0), rtol=1e-5, atol=1e-5)

    reg.adapt(X[:10], y[:10])
    assert not np.allclose(reg.weights_, 1 / K)
    mean, std = reg.predict(X[:20], return_std=True)
    ref_mean, ref_std = _weighted_mean_std(F.astype(np.float64), reg.weights_)
    assert mean.shape == std.shape == (20,)
    assert_allclose(mean, ref_mean, rtol=1e-5, atol=1e-5)
    assert_allclose(std, ref_std, rtol=1e-4, atol=1e-5)
    assert (std >= 0).all()
    assert_allclose(reg.predict(X[:20]), mean)
    assert isinstance(reg.score(X, y), float)


def test_members_are_in_original_units(data, pair):
    X, _ = data
    a, b = pair
    assert_allclose(b.predict_members(X), 1000.0 * a.predict_members(X) + 5.0, rtol=1e-3, atol=0.5)
    assert b.y_scale_ == pytest.approx(1000.0 * a.y_scale_)


def test_large_target_mean_keeps_its_digits(data):
    """A mean far above the spread (timestamps, altitudes) must not be rounded away."""
    X, y = data
    small = dict(FAST, random_state=1)
    a = HyReRegressor(**small).fit(X, y)
    b = HyReRegressor(**small).fit(X, y + 1e8)
    # same standardized problem, so the same networks: predictions shift by the offset
    assert_allclose(b.predict(X[:50]) - 1e8, a.predict(X[:50]), atol=1e-6)
    assert_allclose(b.predict_members(X[:50]) - 1e8, a.predict_members(X[:50]), atol=1e-6)
    assert b.score(X, y + 1e8) == pytest.approx(a.score(X, y), abs=1e-6)
    a.adapt(X[:12], y[:12])
    b.adapt(X[:12], y[:12] + 1e8)
    assert not np.allclose(a.weights_, 1 / FAST["n_members"])
    assert_allclose(b.weights_, a.weights_, rtol=1e-6, atol=1e-12)
    _, std_a = a.predict(X[:5], return_std=True)
    _, std_b = b.predict(X[:5], return_std=True)
    assert_allclose(std_b, std_a, rtol=1e-6)


@pytest.mark.parametrize("loss", ["squared", "absolute", "gaussian_nll"])
def test_adapt_loss_is_scale_free(data, pair, loss):
    # DESIGN: a temperature means the same whether y is in megawatts or standardized
    X, y = data
    a, b = (copy.deepcopy(est).set_params(adapt_loss=loss) for est in pair)
    a.adapt(X[:12], y[:12])
    b.adapt(X[:12], 1000.0 * y[:12] + 5.0)
    assert not np.allclose(a.weights_, 1 / FAST["n_members"])
    assert_allclose(b.weights_, a.weights_, rtol=1e-3, atol=1e-6)


def test_squared_loss_is_in_training_std_units(data, reg):
    X, y = data
    reg.set_params(temperature=0.5).adapt(X[:15], y[:15])
    F = reg.predict_members(X[:15]).astype(np.float64)
    cum = (((F - y[:15]) ** 2) / y.var()).sum(axis=1)
    assert_allclose(reg.cumulative_loss_, cum, rtol=1e-4)
    logits = -cum / 0.5
    w = np.exp(logits - logits.max())
    assert_allclose(reg.weights_, w / w.sum(), rtol=1e-4, atol=1e-9)
    assert reg.weights_.sum() == pytest.approx(1.0)


def test_custom_adapt_loss_callable(data, reg):
    X, y = data

    def huber_like(M, y_true):
        return np.minimum(np.abs(M - y_true), 1.0)

    reg.set_params(adapt_loss=huber_like).adapt(X[:10], y[:10])
    F = reg.predict_members(X[:10]).astype(np.float64)
    assert_allclose(reg.cumulative_loss_, huber_like(F, y[:10]).sum(axis=1), rtol=1e-5)

    reg.set_params(adapt_loss=lambda M, y_true: np.zeros(3))
    with pytest.raises(ValueError, match="adapt_loss returned shape"):
        reg.adapt(X[:10], y[:10])


def test_query_variance_is_weighted_member_variance(data, reg):
    X, y = data
    reg.adapt(X[:8], y[:8])
    pool = X[40:]
    F = reg.predict_members(pool).astype(np.float64)
    _, std = _weighted_mean_std(F, reg.weights_)
    order = np.argsort(-(std**2), kind="stable")
    picks = reg.query(pool, n_queries=5, criterion="variance")
    assert_array_equal(picks, order[:5])
    assert_array_equal(reg.query(pool, n_queries=5), picks)  # "auto" is variance


def test_query_random_and_criteria(data, reg):
    X, y = data
    pool = X[40:]
    picks = reg.query(pool, n_queries=10, criterion="random", random_state=3)
    assert picks.shape == (10,)
    assert len(set(picks.tolist())) == 10
    assert_array_equal(picks, reg.query(pool, n_queries=10, criterion="random", random_state=3))
    for criterion in ("bald", "entropy"):
        with pytest.raises(ValueError, match=f"criterion='{criterion}'.*HyReRegressor"):
            reg.query(pool, criterion=criterion)
        with pytest.raises(ValueError, match=f"criterion='{criterion}'.*HyReRegressor"):
            reg.active_adapt(pool, y[40:], n_queries=2, criterion=criterion)


def test_adapt_y_validation(data, reg):
    X, y = data
    with pytest.raises(ValueError, match="numeric"):
        reg.adapt(X[:3], ["a", "b", "c"])
    with pytest.raises(ValueError, match="1-D"):
        reg.adapt(X[:3], np.ones((3, 2)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.adapt(X[:3], y[:4])
    # a column vector is accepted as 1-D
    reg.adapt(X[:3], y[:3, None])
    assert reg.n_adapt_samples_ == 3


def test_changing_adapt_loss_remeasures_the_examples_seen(data, reg):
    """Never a cumulative loss that is half squared, half absolute."""
    X, y = data
    ref = copy.deepcopy(reg).set_params(adapt_loss="absolute").adapt(X[:20], y[:20])
    reg.adapt(X[:10], y[:10])
    reg.set_params(adapt_loss="absolute").partial_adapt(X[10:20], y[10:20])
    # (float32 forward passes of different batches agree to about 1e-7)
    assert_allclose(reg.cumulative_loss_, ref.cumulative_loss_, rtol=1e-6)
    assert_allclose(reg.weights_, ref.weights_, rtol=1e-5, atol=1e-12)
    # active_adapt starts from the re-measured weights, so it picks like ref
    a = copy.deepcopy(reg).set_params(adapt_loss="squared")
    b = copy.deepcopy(reg).set_params(adapt_loss="squared").adapt(X[:20], y[:20])
    a.active_adapt(X[40:], y[40:], n_queries=4)
    b.active_adapt(X[40:], y[40:], n_queries=4)
    assert_array_equal(a.queried_indices_, b.queried_indices_)
    assert_allclose(a.weights_, b.weights_, rtol=1e-5, atol=1e-12)


def test_callable_loss_under_auto_says_it_sees_mixtures(data, reg):
    X, y = data
    K = FAST["n_members"]
    per_member = np.arange(1.0, K + 1)[:, None]  # assumes K member rows: wrong under "auto"
    reg.set_params(temperature="auto", adapt_loss=lambda M, t: (M - t) ** 2 * per_member)
    with pytest.raises(ValueError) as info:
        reg.adapt(X[:6], y[:6])
    notes = "\n".join(getattr(info.value, "__notes__", []))
    if hasattr(info.value, "add_note"):
        assert "leave-one-out weighted predictions" in notes
    reg.set_params(adapt_loss=lambda M, t: np.zeros((K, t.shape[0])))  # ignores its rows
    with pytest.raises(ValueError, match="candidate temperatures x examples"):
        reg.adapt(X[:6], y[:6])


def test_temperature_is_checked_at_adapt_and_reset(data, reg):
    X, y = data
    for bad in (np.nan, 0.0, -2.0, -np.inf, "foo", None):
        reg.set_params(temperature=bad)
        for call in (lambda: reg.adapt(X[:4], y[:4]), reg.reset_weights):
            with pytest.raises(ValueError, match="temperature must be a float > 0"):
                call()
        assert reg.temperature_ == 1.0 and reg.n_adapt_samples_ == 0


def test_infinite_temperature_is_the_uniform_ensemble(data, reg):
    # the "no reweighting" point of a temperature grid search
    X, y = data
    reg.set_params(temperature=np.inf).adapt(X[:8], y[:8])
    assert reg.temperature_ == np.inf
    assert_allclose(reg.weights_, 1 / reg.n_members)
    reg.active_adapt(X[40:], y[40:], n_queries=3)  # the compiled loop too
    assert_allclose(reg.weights_, 1 / reg.n_members)
    HyReRegressor(n_members=3, max_epochs=1, temperature=np.inf).fit(X, y)  # a valid parameter


def test_queried_indices_are_kept_until_new_labels_or_a_refit(data, reg):
    X, y = data
    reg.active_adapt(X[40:], y[40:], n_queries=3)
    assert reg.queried_indices_.shape == (3,)
    reg.partial_adapt(X[:2], y[:2])  # the picks still belong to these weights
    assert reg.queried_indices_.shape == (3,)
    reg.adapt(X[:2], y[:2])
    assert not hasattr(reg, "queried_indices_")
    reg.active_adapt(X[40:], y[40:], n_queries=3).reset_weights()
    assert reg.queried_indices_.shape == (3,)  # what was asked stays on record
    assert reg.n_adapt_samples_ == 0 and reg.weights_history_.shape[0] == 1
    reg.active_adapt(X[40:], y[40:], n_queries=3).fit(X, y)
    assert not hasattr(reg, "queried_indices_")


def test_values_beyond_float32_and_huge_targets(data):
    X, y = data
    X_big = X.copy()
    X_big[0, 0] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError, match="too large for float32"):
        HyReRegressor(**FAST).fit(X_big, y)
    reg = HyReRegressor(**FAST).fit(X, 1e200 * y)  # std(y) overflows float64 naively
    assert reg.y_scale_ == pytest.approx(1e200 * y.std(), rel=1e-12)
    assert reg.y_mean_ == pytest.approx(1e200 * y.mean(), rel=1e-9, abs=1e185)
    assert np.isfinite(reg.predict(X[:5])).all()
    with pytest.raises(ValueError, match="too large for float32"):
        reg.predict(X_big)


def test_unknown_device_string_is_named():
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        HyReRegressor(device="gpu", **FAST).fit(*_data())


def test_failed_active_adapt_after_a_loss_switch_keeps_the_old_state(data, reg):
    X, y = data
    reg.adapt(X[:10], y[:10])
    before = (reg.weights_.copy(), reg.cumulative_loss_.copy(), reg.n_adapt_samples_)

    def broken_oracle(idx):
        raise RuntimeError("labeler offline")

    reg.set_params(adapt_loss="absolute")
    with pytest.raises(RuntimeError, match="labeler offline"):
        reg.active_adapt(X[40:], broken_oracle, n_queries=2)
    assert_array_equal(reg.weights_, before[0])
    assert_array_equal(reg.cumulative_loss_, before[1])
    assert reg.n_adapt_samples_ == before[2]
    # the next update still re-measures the history with the new loss
    ref = copy.deepcopy(reg).adapt(X[:12], y[:12])
    reg.partial_adapt(X[10:12], y[10:12])
    # (float32 forward passes of different batches agree to about 1e-7)
    assert_allclose(reg.cumulative_loss_, ref.cumulative_loss_, rtol=1e-6)


def test_failed_refit_leaves_the_fitted_model_as_it_was(data, reg):
    """New target statistics next to the old network would predict silently wrong."""
    X, y = data
    reg.adapt(X[:8], y[:8])
    before = {k: copy.deepcopy(v) for k, v in vars(reg).items() if k.endswith("_")}
    net = reg.net_
    pred = reg.predict(X[:20])
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        reg.set_params(hidden_layer_sizes=(0,)).fit(X, 1000.0 * y + 50.0)
    reg.set_params(hidden_layer_sizes=FAST["hidden_layer_sizes"])
    assert reg.y_mean_ == before["y_mean_"] and reg.y_scale_ == before["y_scale_"]
    assert reg.net_ is net and reg.n_adapt_samples_ == 8
    assert_array_equal(reg.weights_, before["weights_"])
    assert_array_equal(reg.predict(X[:20]), pred)


@pytest.mark.parametrize("param", ["max_epochs", "batch_size", "n_members", "index_dim"])
def test_bool_is_not_an_int_parameter(data, param):
    with pytest.raises(ValueError, match=f"'{param}' parameter .* must be an int, not a bool"):
        HyReRegressor(**{**FAST, param: True}).fit(*data)


def test_a_dataframe_fit_and_partial_fit_say_nothing_about_feature_names():
    pd = pytest.importorskip("pandas")
    import warnings

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = HyReRegressor(**{**FAST, "max_epochs": 2}).fit(df, df["a"])
        reg.partial_fit(df[:10], df["a"][:10])
        assert reg.predict(df[:3]).shape == (3,)
    assert list(reg.feature_names_in_) == ["a", "b", "c"]


def test_gaussian_nll_matches_its_formula_and_the_compiled_loop(reg, data):
    """-log N(y; f_k, s^2) in standardized units, s^2 = noise_variance_; the compiled
    active loop (array oracle) and the Python loop (callable oracle) agree."""
    X, y = data
    reg.set_params(adapt_loss="gaussian_nll", temperature=1.0)
    s2 = reg.noise_variance_
    reg.adapt(X[:12], y[:12])
    F = (reg.predict_members(X[:12]).astype(np.float64) - reg.y_mean_) / reg.y_scale_
    ys = (y[:12] - reg.y_mean_) / reg.y_scale_
    expected = (0.5 * np.log(2 * np.pi * s2) + (F - ys) ** 2 / (2 * s2)).sum(axis=1)
    assert_allclose(reg.cumulative_loss_, expected, rtol=1e-5, atol=1e-5)
    by_array = copy.deepcopy(reg).reset_weights().active_adapt(X, y, n_queries=8)
    by_call = copy.deepcopy(reg).reset_weights().active_adapt(X, lambda i: y[i], n_queries=8)
    assert_array_equal(by_array.queried_indices_, by_call.queried_indices_)
    assert_allclose(by_array.weights_, by_call.weights_, rtol=1e-10, atol=1e-12)
