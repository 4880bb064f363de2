"""ensemble="decomposed": closed-form reward heads from the pooled pairs (issue 28).

The heads are checked against a plain NumPy/SciPy reference written here:
PCA of the centred differences ``chosen - rejected`` by ``np.linalg.svd``,
each direction scaled by a one-dimensional Bradley-Terry fit (``minimize_scalar``),
and a ridge logistic base head fitted by Newton's method.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy import optimize
from scipy.special import expit
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skhyre import HyReRewardModel
from skhyre._decomposed import DecomposedHeads, decompose_preferences

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ALPHA = 1.0


def _pairs(n=300, d=6, seed=0, w=None):
    """Anisotropic responses; the pool prefers mostly the first attribute."""
    rng = np.random.default_rng(seed)
    scale = np.array([2.0, 1.5, 1.0, 0.7, 0.5, 0.3, 0.2, 0.1][:d])
    A, B = rng.normal(size=(n, d)) * scale, rng.normal(size=(n, d)) * scale
    w = np.array([1.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0][:d]) if w is None else np.asarray(w)
    y = ((A - B) @ w + 0.3 * rng.logistic(size=n) > 0).astype(int)
    return np.hstack([A, B]), y


def _reference(X, y, n_components):
    d = X.shape[1] // 2
    Z = (X[:, :d] - X[:, d:]) * np.where(y == 1, 1.0, -1.0)[:, None]
    # base head: ridge logistic regression without intercept, Newton's method
    w = np.zeros(d)
    for _ in range(50):
        p = expit(Z @ w)
        grad = -Z.T @ (1 - p) + ALPHA * w
        hess = (Z * (p * (1 - p))[:, None]).T @ Z + ALPHA * np.eye(d)
        w -= np.linalg.solve(hess, grad)
    _, _, Vt = np.linalg.svd(Z - Z.mean(axis=0), full_matrices=False)
    heads = [w]
    for v in Vt[:n_components]:
        t = Z @ v

        def obj(a, t=t):
            return np.logaddexp(0, -a * t).sum() + 0.5 * ALPHA * a * a

        a = optimize.minimize_scalar(obj, bracket=(-1.0, 1.0), tol=1e-12).x
        heads.append(a * v)
    return np.array(heads), Z


def _heads(model):
    """The fitted heads, read back through the public reward_members."""
    d = model.n_response_features_
    return model.reward_members(np.eye(d)).astype(np.float64)


# ------------------------------------------------------------------ the heads
def test_heads_match_numpy_reference():
    X, y = _pairs()
    model = HyReRewardModel(ensemble="decomposed", n_members=4).fit(X, y)
    ref, Z = _reference(X, y, 3)
    assert_allclose(_heads(model), ref, rtol=2e-4, atol=2e-5)
    assert_allclose(model.decomposition_.heads, ref, rtol=1e-5, atol=1e-7)
    # every principal head agrees with the majority of the training pairs
    margins = Z @ ref[1:].T
    assert ((margins > 0).mean(axis=0) > 0.5).all()
    # the base head is the pooled reward model: it orders most training pairs right
    assert model.decomposition_.agreement[0] > 0.85


def test_components_are_orthonormal_principal_directions():
    X, y = _pairs(d=8, seed=1)
    info = HyReRewardModel(ensemble="decomposed", n_members=6).fit(X, y).decomposition_
    V = info.components
    assert_allclose(V @ V.T, np.eye(5), atol=1e-10)
    assert np.all(np.diff(info.explained_variance) <= 1e-12)
    assert 0 < info.explained_variance_ratio.sum() <= 1
    assert_allclose(info.heads[1:], info.scales[:, None] * V)


def test_fit_is_deterministic_and_ignores_random_state():
    X, y = _pairs()
    a = HyReRewardModel(ensemble="decomposed", n_members=3, random_state=0).fit(X, y)
    b = HyReRewardModel(ensemble="decomposed", n_members=3, random_state=5).fit(X, y)
    assert_array_equal(a.predict_members(X), b.predict_members(X))


def test_single_member_is_the_base_head():
    X, y = _pairs()
    model = HyReRewardModel(ensemble="decomposed", n_members=1).fit(X, y)
    ref, _ = _reference(X, y, 0)
    assert_allclose(_heads(model), ref, rtol=2e-4, atol=2e-5)


def test_feature_module_heads_are_computed_on_its_output():
    X, y = _pairs(d=6)
    torch.manual_seed(0)
    feat = torch.nn.Linear(6, 4)
    model = HyReRewardModel(ensemble="decomposed", n_members=3, module=feat).fit(X, y)
    with torch.no_grad():
        W, b = feat.weight.numpy().astype(np.float64), feat.bias.numpy().astype(np.float64)
    phi = np.hstack([X[:, :6] @ W.T + b, X[:, 6:] @ W.T + b])
    ref, _ = _reference(phi, y, 2)
    assert_allclose(model.decomposition_.heads, ref, rtol=1e-4, atol=1e-6)
    # predictions go through the (copied) module: rewards of phi(x)
    R = model.reward_members(X[:5, :6])
    assert_allclose(R, ref @ phi[:5, :4].T, rtol=1e-4, atol=1e-4)
    assert feat.weight.requires_grad  # the given module is not changed


def test_module_instance_of_heads():
    net = DecomposedHeads(2, [[1.0, 0.0], [0.0, -1.0]])
    assert not any(p.requires_grad for p in net.parameters())
    out = net(torch.tensor([[2.0, 3.0]]))
    assert out.shape == (1, 2, 1)
    assert_allclose(out[0, :, 0].numpy(), [2.0, -3.0])


# ------------------------------------------------------------------ combining
def test_combine_reward_is_the_weighted_reward_difference():
    X, y = _pairs()
    model = HyReRewardModel(ensemble="decomposed", n_members=4).fit(X[:250], y[:250])
    model.adapt(X[250:260], y[250:260])
    d = model.n_response_features_
    diff = model.reward_members(X[260:, :d]) - model.reward_members(X[260:, d:])
    expected = expit(model.weights_ @ diff.astype(np.float64))
    assert model._combine_rule() == "reward"  # the default for decomposed heads
    assert_allclose(model.predict_proba(X[260:])[:, 1], expected, rtol=1e-5)
    assert_allclose(model.predict_proba(X[260:]).sum(axis=1), 1.0)
    # and the order of reward() agrees with predict() on every pair
    order = model.reward(X[260:, :d]) > model.reward(X[260:, d:])
    assert_array_equal(model.predict(X[260:]), order.astype(int))
    mix = model.set_params(combine="proba").predict_proba(X[260:])
    members = model.predict_members(X[260:]).astype(np.float64)
    assert_allclose(mix, np.einsum("k,knc->nc", model.weights_, members), rtol=1e-5)


def test_combine_reward_for_a_trained_ensemble():
    X, y = _pairs()
    model = HyReRewardModel(n_members=4, max_epochs=3, combine="reward", random_state=0)
    model.fit(X, y)
    d = model.n_response_features_
    diff = model.reward_members(X[:20, :d]) - model.reward_members(X[:20, d:])
    assert_allclose(model.predict_proba(X[:20])[:, 1], expit(diff.mean(axis=0)), rtol=1e-5)
    assert model._combine_rule() == "reward"
    assert HyReRewardModel(n_members=2, max_epochs=1).fit(X, y)._combine_rule() == "proba"


# ------------------------------------------------------------- adapt and query
def test_adapt_picks_the_head_of_a_minority_user():
    """Pool prefers attribute 0; a user who cares only for attribute 1 gets its head."""
    rng = np.random.default_rng(3)
    d, n = 4, 600
    A, B = (
        rng.normal(size=(n, d)) * [2.0, 1.0, 0.5, 0.3],
        rng.normal(size=(n, d)) * [2.0, 1.0, 0.5, 0.3],
    )
    X = np.hstack([A, B])
    y_pool = (A[:, 0] - B[:, 0] + 0.5 * (A[:, 1] - B[:, 1]) > 0).astype(int)
    y_user = (A[:, 1] - B[:, 1] > 0).astype(int)
    model = HyReRewardModel(ensemble="decomposed", n_members=4).fit(X[:400], y_pool[:400])
    before = model.score(X[500:], y_user[500:])
    model.adapt(X[400:440], y_user[400:440])
    # the head along attribute 1 (the second principal direction) gets the weight
    v = model.decomposition_.components
    best = 1 + int(np.argmax(np.abs(v[:, 1])))
    assert int(np.argmax(model.weights_)) == best
    assert model.score(X[500:], y_user[500:]) > before + 0.1


def test_query_and_active_adapt_work_on_decomposed_heads():
    X, y = _pairs(n=400)
    model = HyReRewardModel(ensemble="decomposed", n_members=5).fit(X[:200], y[:200])
    idx = model.query(X[200:], n_queries=3)
    assert idx.shape == (3,) and len(set(idx.tolist())) == 3
    model.active_adapt(X[200:], oracle=y[200:], n_queries=6)
    assert model.queried_indices_.shape == (6,)
    assert model.n_adapt_samples_ == 6
    assert_allclose(model.weights_.sum(), 1.0)
    assert model.query(X[200:], criterion="bald").shape == (1,)


def test_auto_temperature_on_decomposed_heads():
    X, y = _pairs(n=300)
    model = HyReRewardModel(ensemble="decomposed", n_members=4, temperature="auto")
    model.fit(X[:200], y[:200]).adapt(X[200:220], y[200:220])
    assert np.isfinite(model.temperature_) or model.temperature_ == np.inf


# ----------------------------------------------------------- sklearn conventions
def test_clone_get_params_pickle():
    X, y = _pairs()
    model = HyReRewardModel(ensemble="decomposed", n_members=3, combine="proba")
    params = model.get_params()
    assert params["ensemble"] == "decomposed" and params["combine"] == "proba"
    assert clone(model).get_params() == params
    model.fit(X, y).adapt(X[:10], y[:10])
    back = pickle.loads(pickle.dumps(model))
    assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    assert_array_equal(back.weights_, model.weights_)
    assert_allclose(back.decomposition_.heads, model.decomposition_.heads)


def test_refit_as_another_ensemble_drops_the_decomposition():
    X, y = _pairs()
    model = HyReRewardModel(ensemble="decomposed", n_members=3).fit(X, y)
    model.set_params(ensemble="shared_base", max_epochs=1).fit(X, y)
    assert not hasattr(model, "decomposition_")
    assert model._combine_rule() == "proba"


def test_bad_parameters_are_named():
    X, y = _pairs(n=50)
    with pytest.raises(InvalidParameterError, match="'combine' parameter"):
        HyReRewardModel(ensemble="decomposed", combine="votes").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'ensemble' parameter"):
        HyReRewardModel(ensemble="decomposd").fit(X, y)


# ------------------------------------------------------------------- bad input
def test_fewer_pairs_than_components():
    X, y = _pairs(n=4, d=6)
    with pytest.raises(
        ValueError, match=r"n_samples=4 training pairs give at most 3 principal directions"
    ):
        HyReRewardModel(ensemble="decomposed", n_members=6).fit(X, y)


def test_more_components_than_dimensions():
    X, y = _pairs(n=100, d=3)
    with pytest.raises(
        ValueError, match=r"at most 3 exist. Use n_members <= 4 .*<= 7 with decomposed_signs=.both."
    ):
        HyReRewardModel(ensemble="decomposed", n_members=5).fit(X, y)


def test_default_n_members_on_small_features_says_what_to_do():
    X, y = _pairs(n=300, d=6)
    with pytest.raises(ValueError, match="n_members <= 7"):
        HyReRewardModel(ensemble="decomposed").fit(X, y)


def test_nan_input():
    X, y = _pairs(n=50)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        HyReRewardModel(ensemble="decomposed", n_members=3).fit(X, y)
    D = X[:, :6] - X[:, 6:]
    with pytest.raises(ValueError, match="NaN or inf"):
        decompose_preferences(D, y, 2)


def test_partial_fit_refuses_decomposed_heads():
    X, y = _pairs(n=60)
    model = HyReRewardModel(ensemble="decomposed", n_members=3)
    model.partial_fit(X, y)  # unfitted: it is fit
    assert hasattr(model, "decomposition_")
    with pytest.raises(ValueError, match="closed-form"):
        model.partial_fit(X, y)


def test_annotator_ids_are_not_used():
    X, y = _pairs(n=60)
    groups = np.arange(60) % 3
    with pytest.raises(ValueError, match="no annotator ids"):
        HyReRewardModel(ensemble="decomposed", n_members=3, training="by_group").fit(X, y, groups)
    with pytest.warns(UserWarning, match="ignores groups"):
        model = HyReRewardModel(ensemble="decomposed", n_members=3).fit(X, y, groups=groups)
    assert model.training_ == "pooled"


def test_one_label_throughout_and_single_pair_direction():
    """A always chosen (y all 1) is fine: the differences carry the sign."""
    X, y = _pairs(n=80)
    Xc = np.where((y == 1)[:, None], X, np.hstack([X[:, 6:], X[:, :6]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = HyReRewardModel(ensemble="decomposed", n_members=3).fit(Xc, np.ones(80, int))
    b = HyReRewardModel(ensemble="decomposed", n_members=3).fit(X, y)
    assert_allclose(a.decomposition_.heads, b.decomposition_.heads, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------- both signs (DRMs)
def test_both_signs_heads_are_unit_scaled_mirror_pairs():
    X, y = _pairs(d=6)
    model = HyReRewardModel(ensemble="decomposed", n_members=6, decomposed_signs="both")
    info = model.fit(X, y).decomposition_
    H = _heads(model)
    assert H.shape == (6, 6)  # base, +v1, +v2, +v3, -v1, -v2 (the last -v3 left out)
    D = X[:, :6] - X[:, 6:]
    assert_allclose(np.sqrt(np.mean((D @ H.T) ** 2, axis=0)), 1.0, rtol=1e-4)
    assert_allclose(H[4:], -H[1:3], rtol=1e-6)
    V = info.components
    assert V.shape == (3, 6)
    for j in range(3):  # the + heads point along the principal directions
        assert_allclose(np.abs(H[1 + j] @ V[j]), np.linalg.norm(H[1 + j]), rtol=1e-5)
    ref, _ = _reference(X, y, 0)
    assert_allclose(H[0] / np.linalg.norm(H[0]), ref[0] / np.linalg.norm(ref[0]), atol=1e-4)


def test_both_signs_serve_a_user_against_the_pool():
    """A user who reverses the pool's preference along a direction gets the mirrored head."""
    rng = np.random.default_rng(4)
    s = np.array([2.0, 1.0, 0.5])
    A, B = rng.normal(size=(800, 3)) * s, rng.normal(size=(800, 3)) * s
    X = np.hstack([A, B])
    y_pool = ((A - B) @ [0.3, 1.0, 0.0] > 0).astype(int)
    y_user = ((A - B) @ [0.0, -1.0, 0.0] > 0).astype(int)  # against the pool
    both = HyReRewardModel(ensemble="decomposed", n_members=7, decomposed_signs="both")
    both.fit(X[:500], y_pool[:500]).adapt(X[500:540], y_user[500:540])
    fitted = HyReRewardModel(ensemble="decomposed", n_members=4)
    fitted.fit(X[:500], y_pool[:500]).adapt(X[500:540], y_user[500:540])
    assert both.score(X[600:], y_user[600:]) > 0.85
    assert both.score(X[600:], y_user[600:]) > fitted.score(X[600:], y_user[600:]) + 0.2


def test_n_members_bool_is_refused():
    X, y = _pairs(n=50)
    with pytest.raises(InvalidParameterError, match="not a bool"):
        HyReRewardModel(ensemble="decomposed", n_members=True).fit(X, y)


def test_pickle_from_before_combine_gets_the_defaults():
    X, y = _pairs(n=60)
    est = HyReRewardModel(n_members=2, max_epochs=1, random_state=0).fit(X, y)
    state = dict(est.__getstate__())
    for name in ("combine", "decomposed_signs"):  # parameters added by issue 28
        del state[name]
    old = HyReRewardModel.__new__(HyReRewardModel)
    old.__setstate__(state)
    assert old.get_params()["combine"] == "auto"
    assert old.get_params()["decomposed_signs"] == "fitted"
    assert_array_equal(old.predict_proba(X), est.predict_proba(X))
