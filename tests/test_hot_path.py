"""The hot path of issue #30: member matrices and weighted predictions straight from the forward pass.

Every estimator kind and ensemble kind is checked against a plain torch /
NumPy reference written here: the module's outputs, ``torch.softmax`` (or
the pair sigmoids), permuted member-major; the weighted mean of those
members. Probabilities are computed in float64 and rounded once to float32,
so they agree with torch's float32 softmax to a few float32 ulps.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from skhyre import HyReClassifier, HyReRegressor, HyReRewardModel, _kernels
from skhyre._net import _eval_mode, forward_members
from skhyre._proba import as_probabilities

ENSEMBLES = ["shared_base", "epinet", "vanilla", "mc_dropout"]
#: a few float32 ulps of numbers in [0, 1]
PROBA_ATOL = 3e-7

FAST = {"n_members": 6, "max_epochs": 2, "hidden_layer_sizes": (8,), "random_state": 0}


def _data(n=120, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, rng


def _module_outputs(est, X) -> np.ndarray:
    """The reference: the eval-mode module on all rows at once, ``(n, K, out)`` float64."""
    module = est.net_.module_
    with _eval_mode(module), torch.no_grad():
        return module(torch.tensor(np.asarray(X, dtype=np.float32))).double().numpy()


def _adapted_weights(est, X, y):
    loss = "squared" if isinstance(est, HyReRegressor) else "log_loss"  # never all tied
    est.set_params(temperature=0.3, adapt_loss=loss).adapt(X[:12], y[:12])
    assert np.ptp(est.weights_) > 0  # the weighted checks are not uniform
    return est.weights_


@functools.cache
def _fitted(which: str, ensemble: str):
    """A small fitted and adapted estimator of each kind, and its rows (built once)."""
    if which == "clf":
        X, _ = _data()
        y = np.digitize(X[:, 0], [-0.5, 0.5])  # 3 classes
        est = HyReClassifier(ensemble=ensemble, **FAST).fit(X, y)
    elif which == "reg":
        X, rng = _data()
        y = 100.0 + 5.0 * X[:, 0] + 0.1 * rng.normal(size=X.shape[0])
        est = HyReRegressor(ensemble=ensemble, **FAST).fit(X, y)
    else:
        X, _ = _data(d=6)
        y = (X[:, 0] > X[:, 3]).astype(int)
        est = HyReRewardModel(ensemble=ensemble, **FAST).fit(X, y)
    _adapted_weights(est, X, y)
    return est, X


@pytest.fixture(params=ENSEMBLES)
def clf(request):
    return _fitted("clf", request.param)


@pytest.fixture(params=ENSEMBLES)
def reg(request):
    return _fitted("reg", request.param)


@pytest.fixture(params=ENSEMBLES)
def reward(request):
    return _fitted("reward", request.param)


EVERY_MODEL = [(which, ens) for which in ("clf", "reg", "reward") for ens in ENSEMBLES]


# ------------------------------------------------------------------ estimators
def test_classifier_members_and_proba_match_torch_softmax(clf):
    est, X = clf
    ref = torch.softmax(torch.from_numpy(_module_outputs(est, X)), dim=-1).numpy()
    ref = ref.transpose(1, 0, 2)  # (K, n, C)
    P = est.predict_members(X)
    assert P.dtype == np.float32 and P.shape == ref.shape and P.flags.c_contiguous
    np.testing.assert_allclose(P, ref, rtol=0, atol=PROBA_ATOL)
    w = est.weights_
    Q = np.einsum("k,knc->nc", w, ref)
    np.testing.assert_allclose(est.predict_proba(X), Q / Q.sum(1, keepdims=True), atol=1e-6)
    # the chunked mixture is the mixture of the member matrix, bit for bit
    np.testing.assert_array_equal(est.predict_proba(X), as_probabilities(_kernels.mixture(P, w)))
    np.testing.assert_array_equal(est.predict(X), est.classes_[np.argmax(est.predict_proba(X), 1)])


def test_reward_members_and_proba_match_torch_sigmoid(reward):
    est, X = reward
    d = torch.from_numpy(_module_outputs(est, X))
    ref = torch.cat([torch.sigmoid(-d), torch.sigmoid(d)], dim=-1).numpy().transpose(1, 0, 2)
    P = est.predict_members(X)
    assert P.dtype == np.float32 and P.shape == ref.shape
    np.testing.assert_allclose(P, ref, rtol=0, atol=PROBA_ATOL)
    w = est.weights_
    np.testing.assert_allclose(est.predict_proba(X), np.einsum("k,knc->nc", w, ref), atol=1e-6)
    np.testing.assert_array_equal(est.predict_proba(X), as_probabilities(_kernels.mixture(P, w)))
    # single responses: the reward heads' outputs and their weighted mean
    R = est.reward_members(X[:, :3])
    heads = est.net_.module_.ensemble
    with _eval_mode(heads), torch.no_grad():
        R_ref = heads(torch.from_numpy(X[:, :3])).numpy()[..., 0].T
    np.testing.assert_array_equal(R, R_ref)
    np.testing.assert_allclose(est.reward(X[:, :3]), w @ R_ref.astype(np.float64), rtol=1e-6)


def test_regressor_members_mean_and_std_match_numpy(reg):
    est, X = reg
    F = _module_outputs(est, X)[..., 0].T  # (K, n) standardized
    F_orig = F * est.y_scale_ + est.y_mean_
    np.testing.assert_allclose(est.predict_members(X), F_orig, rtol=1e-6)
    w = est.weights_
    mean = w @ F_orig
    std = np.sqrt(w @ (F_orig - mean) ** 2)
    got_mean, got_std = est.predict(X, return_std=True)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(got_std, std, rtol=1e-4, atol=1e-6 * est.y_scale_)
    # the chunked reduction is the member matrix's, bit for bit
    m, s = _kernels.weighted_mean_std(est._member_matrix(X), w)
    np.testing.assert_array_equal(got_mean, est._to_original(m))
    np.testing.assert_array_equal(got_std, s * est.y_scale_)


@pytest.mark.parametrize(("which", "ensemble"), EVERY_MODEL)
def test_small_chunks_give_the_same_outputs(which, ensemble, monkeypatch):
    """Chunks of 7 rows: the same outputs, to the last bits torch's own batching moves."""
    est, X = _fitted(which, ensemble)
    whole = (est.predict_members(X), est.predict(X))
    monkeypatch.setattr(type(est), "_member_block_rows", lambda self: 7)
    chunked = (est.predict_members(X), est.predict(X))
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=PROBA_ATOL)


@pytest.mark.parametrize(("which", "ensemble"), EVERY_MODEL)
def test_weighted_predictions_never_form_the_member_matrix(which, ensemble, monkeypatch):
    est, X = _fitted(which, ensemble)

    def refuse(*args, **kwargs):
        raise AssertionError("the member matrix was formed")

    import skhyre._net as net_module

    monkeypatch.setattr(_kernels, "member_outputs", refuse)
    monkeypatch.setattr(net_module, "forward_members", refuse)
    if which == "reg":
        est.predict(X, return_std=True)
    else:
        est.predict_proba(X)
        est.predict(X)
    if which == "reward":
        est.reward(X[:, :3])


# ------------------------------------------------------------------ kernels
def _torch_softmax(L):
    return torch.softmax(torch.from_numpy(L), dim=-1).numpy().transpose(1, 0, 2)


def _torch_pair(D):
    d = torch.from_numpy(D)
    return torch.cat([torch.sigmoid(-d), torch.sigmoid(d)], dim=-1).numpy().transpose(1, 0, 2)


NONFINITE_LOGITS = np.array(
    [
        [np.nan, 0.0, 1.0],
        [np.inf, 0.0, 1.0],
        [-np.inf, 0.0, 1.0],
        [-np.inf, -np.inf, -np.inf],
        [np.inf, np.inf, 0.0],
        [1e30, -1e30, 0.0],
        [88.0, -88.0, 0.0],
        [3.0, 3.0, 3.0],
        [-1e-30, 0.0, 1e-30],
    ],
    dtype=np.float32,
)


def test_softmax_kernel_matches_torch_on_nonfinite_and_extreme_logits():
    L = NONFINITE_LOGITS[:, None, :]  # rows of one member
    out = np.empty((1, L.shape[0], 3), dtype=np.float32)
    _kernels.member_outputs(L, _kernels.OUTPUT_SOFTMAX, out, 0)
    np.testing.assert_allclose(out, _torch_softmax(L), rtol=0, atol=PROBA_ATOL)
    assert np.array_equal(np.isnan(out), np.isnan(_torch_softmax(L)))
    assert (out[0, 7] == np.float32(1 / 3)).all()  # exact ties stay exact


def test_pair_kernel_matches_torch_on_nonfinite_and_extreme_differences():
    D = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.0, -3.0, 30.0, -30.0], np.float32)
    D = D[:, None, None]
    out = np.empty((1, D.shape[0], 2), dtype=np.float32)
    _kernels.member_outputs(D, _kernels.OUTPUT_PAIR, out, 0)
    ref = _torch_pair(D)
    np.testing.assert_allclose(out, ref, rtol=0, atol=PROBA_ATOL)
    assert np.array_equal(np.isnan(out), np.isnan(ref))
    assert (out[0, 3] == 0.5).all() and (out[0, 4] == 0.5).all()  # a tie is exactly 1/2


@pytest.mark.parametrize("C", [1, 2, 3, 10, 33])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_member_outputs_kernel_matches_torch_at_random(C, dtype):
    rng = np.random.default_rng(C)
    L = (rng.normal(size=(257, 11, C)) * 8).astype(dtype)
    out = np.full((11, 300, C), -1.0, dtype=np.float32)
    _kernels.member_outputs(L, _kernels.OUTPUT_SOFTMAX, out, 40)
    np.testing.assert_allclose(out[:, 40:297], _torch_softmax(L), rtol=1e-6, atol=PROBA_ATOL)
    assert (out[:, :40] == -1).all() and (out[:, 297:] == -1).all()  # only its rows written
    _kernels.member_outputs(L, _kernels.OUTPUT_RAW, out, 3)
    np.testing.assert_array_equal(out[:, 3:260], L.transpose(1, 0, 2).astype(np.float32))
    w = rng.dirichlet(np.ones(11))
    w[2] = 0.0
    P = np.empty((11, 257, C), dtype=np.float32)
    _kernels.member_outputs(L, _kernels.OUTPUT_SOFTMAX, P, 0)
    np.testing.assert_array_equal(
        _kernels.mixture_outputs(L, _kernels.OUTPUT_SOFTMAX, w), _kernels.mixture(P, w)
    )
    if C == 1:
        F = np.ascontiguousarray(L[..., 0].T.astype(np.float32))
        mean, var = _kernels.weighted_mean_var_outputs(L, w)
        m2, s2 = _kernels.weighted_mean_std(F, w)
        np.testing.assert_array_equal(mean, m2)
        np.testing.assert_array_equal(np.sqrt(var), s2)
        D = np.empty((11, 257, 2), dtype=np.float32)
        _kernels.member_outputs(L, _kernels.OUTPUT_PAIR, D, 0)
        np.testing.assert_allclose(D, _torch_pair(L), rtol=1e-6, atol=PROBA_ATOL)
        np.testing.assert_array_equal(
            _kernels.mixture_outputs(L, _kernels.OUTPUT_PAIR, w), _kernels.mixture(D, w)
        )


def test_a_nan_member_of_weight_zero_does_not_reach_the_mixture():
    L = np.zeros((5, 3, 2), dtype=np.float32)
    L[:, 1, 0] = np.nan
    w = np.array([0.5, 0.0, 0.5])
    np.testing.assert_array_equal(_kernels.mixture_outputs(L, _kernels.OUTPUT_SOFTMAX, w), 0.5)
    w = np.array([0.5, 0.25, 0.25])
    assert np.isnan(_kernels.mixture_outputs(L, _kernels.OUTPUT_SOFTMAX, w)).all()


def test_parallel_drivers_equal_serial_ones(monkeypatch):
    rng = np.random.default_rng(3)
    L = (rng.normal(size=(300, 9, 3)) * 4).astype(np.float32)
    w = rng.dirichlet(np.ones(9))
    out_s = np.empty((9, 300, 3), dtype=np.float32)
    _kernels.member_outputs(L, _kernels.OUTPUT_SOFTMAX, out_s, 0)
    serial = (
        _kernels.mixture_outputs(L, 1, w),
        _kernels.weighted_mean_var_outputs(L[..., :1].copy(), w),
    )
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_ELEMENTS", 0)
    if not _kernels._use_parallel(L.size):
        pytest.skip("one Numba thread: no parallel driver to compare")
    out_p = np.empty_like(out_s)
    _kernels.member_outputs(L, _kernels.OUTPUT_SOFTMAX, out_p, 0)
    np.testing.assert_array_equal(out_p, out_s)
    np.testing.assert_array_equal(_kernels.mixture_outputs(L, 1, w), serial[0])
    for a, b in zip(
        _kernels.weighted_mean_var_outputs(L[..., :1].copy(), w), serial[1], strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_forward_members_refuses_an_unknown_output():
    est, X = _fitted("clf", "shared_base")
    with pytest.raises(ValueError, match="output must be one of"):
        forward_members(est.net_, X, output="sigmoid")


@pytest.mark.parametrize(("which", "ensemble"), [("clf", "shared_base"), ("reward", "epinet")])
def test_the_accelerator_path_gives_the_same_outputs(which, ensemble, monkeypatch):
    """On a GPU torch applies the softmax on the device and the kernels only copy and mix."""
    import skhyre._net as net_module

    est, X = _fitted(which, ensemble)
    host = (est.predict_members(X), est.predict_proba(X))
    monkeypatch.setattr(net_module, "_fused_on_host", lambda device: False)
    device = (est.predict_members(X), est.predict_proba(X))
    for a, b in zip(host, device, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=PROBA_ATOL)
