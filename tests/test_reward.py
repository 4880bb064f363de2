"""HyReRewardModel: pairs, Bradley-Terry training, rewards, adaptation, queries, bad input."""

from __future__ import annotations

import copy
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import fast
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from skorch.exceptions import DeviceWarning
from torch import nn

from skhyre import HyReRewardModel, acquisition
from skhyre._pairs import PairDifference, SavedModule

ENSEMBLES = ("shared_base", "epinet", "vanilla", "mc_dropout")
D = 3
W_TRUE = np.array([1.0, -0.5, 0.25])
FAST = fast(n_members=6, index_dim=4, max_epochs=10, batch_size=64, lr=2e-2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pairs(n, w=W_TRUE, seed=0):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, D)), rng.normal(size=(n, D))
    return np.hstack([A, B]), (A @ w > B @ w).astype(int)


@pytest.fixture(scope="module")
def data():
    X, y = _pairs(500)
    return X[:400], y[:400], X[400:], y[400:]


@pytest.fixture(scope="module", params=ENSEMBLES)
def fitted(request, data):
    X, y, _, _ = data
    return HyReRewardModel(ensemble=request.param, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def base(data):
    X, y, _, _ = data
    return HyReRewardModel(**FAST).fit(X, y)


@pytest.fixture
def rm(base):
    return copy.deepcopy(base)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------- shapes


def test_members_rewards_and_mixture(fitted, data):
    X, _, X_test, _ = data
    rm = copy.deepcopy(fitted)
    K, n = FAST["n_members"], 30
    assert_array_equal(rm.classes_, [0, 1])
    assert rm.n_features_in_ == 2 * D and rm.n_response_features_ == D
    P = rm.predict_members(X_test[:n])
    assert P.shape == (K, n, 2) and P.dtype == np.float32
    assert ((P >= 0) & (P <= 1)).all()
    assert_allclose(P.sum(axis=-1), 1.0, atol=1e-6)
    assert_array_equal(P, rm.predict_members(X_test[:n]))  # members are fixed functions

    # member k's preference is sigmoid(r_k(A) - r_k(B)) of its own reward head
    R_A = rm.reward_members(X_test[:n, :D])
    R_B = rm.reward_members(X_test[:n, D:])
    assert R_A.shape == (K, n) and R_A.dtype == np.float32
    assert_allclose(P[..., 1], _sigmoid(R_A - R_B), atol=2e-5)

    rm.adapt(X[:16], (X[:16, :D] @ W_TRUE > X[:16, D:] @ W_TRUE).astype(int))
    w = rm.weights_
    assert_allclose(rm.predict_proba(X_test[:n]), np.einsum("k,knc->nc", w, P), atol=1e-6)
    assert_allclose(rm.reward(X_test[:n, :D]), w @ R_A, rtol=1e-5, atol=1e-5)
    proba = rm.predict_proba(X_test[:n])
    assert_array_equal(rm.predict(X_test[:n]), (proba[:, 1] > proba[:, 0]).astype(int))
    assert rm.predict(X_test[:n]).dtype.kind == "i"


def test_bradley_terry_learns_a_linear_reward(fitted, data):
    _, _, X_test, y_test = data
    assert fitted.net_.criterion_.task == "preference"
    assert fitted.score(X_test, y_test) > 0.9
    assert fitted.score(X_test, y_test) == np.mean(fitted.predict(X_test) == y_test)
    # the weighted reward ranks single responses like the true one
    R = np.random.default_rng(5).normal(size=(200, D))
    corr = np.corrcoef(fitted.reward(R), R @ W_TRUE)[0, 1]
    assert corr > 0.9


def test_swapping_a_and_b_swaps_the_probabilities(fitted, data):
    _, _, X_test, _ = data
    swapped = np.hstack([X_test[:, D:], X_test[:, :D]])
    P, Q = fitted.predict_members(X_test), fitted.predict_members(swapped)
    assert_array_equal(Q[..., 0], P[..., 1])
    assert_array_equal(Q[..., 1], P[..., 0])


def test_ties_give_one_half(rm, data):
    _, _, X_test, _ = data
    same = np.hstack([X_test[:8, :D], X_test[:8, :D]])  # A == B
    assert_array_equal(rm.predict_members(same), 0.5)
    proba = rm.predict_proba(same)
    assert_allclose(proba, 0.5, atol=1e-12)
    assert_array_equal(proba[:, 0], proba[:, 1])
    assert_array_equal(rm.predict(same), 0)  # not "A preferred"
    rm.adapt(same, np.ones(8, dtype=int))
    assert_array_equal(rm.cumulative_loss_, 4.0)  # a tie costs 1/2 under the 0-1 error
    assert_allclose(rm.weights_, 1.0 / FAST["n_members"])


def test_training_passes_a_and_b_through_one_sample(data):
    """In train mode, a pair (x, x) must give exactly 0 for every member: A and B
    share the Epinet index drawn for the call. MC dropout draws masks per row
    (documented), so there the halves differ."""
    X, y, _, _ = data
    x = torch.tensor(np.hstack([X[:20, :D], X[:20, :D]]), dtype=torch.float32)
    for kind in ENSEMBLES:
        rm = HyReRewardModel(ensemble=kind, **{**FAST, "max_epochs": 1}).fit(X, y)
        module = rm.net_.module_
        assert isinstance(module, PairDifference)
        module.train()
        with torch.no_grad():
            out = module(x)
        module.eval()
        if kind == "mc_dropout":
            assert out.shape == (20, 1, 1)
            assert (out != 0).any()
        else:
            assert out.shape == (20, FAST["n_members"], 1)
            assert_array_equal(out.numpy(), 0.0)


def test_pair_difference_rejects_wrong_width():
    heads = nn.Linear(3, 1)
    heads.n_members = 1
    with pytest.raises(ValueError, match=r"pairs must have shape \(batch, 6\)"):
        PairDifference(heads, 3)(torch.zeros(2, 5))


# --------------------------------------------------------------------------- labels


def test_bool_float_and_int_labels_agree(data):
    X, y, X_test, _ = data
    small = {**FAST, "max_epochs": 3}
    ref = HyReRewardModel(**small).fit(X, y).predict_members(X_test)
    for labels in (y.astype(bool), y.astype(float), y.astype(np.int8), y.reshape(-1, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataConversionWarning)
            got = HyReRewardModel(**small).fit(X, labels).predict_members(X_test)
        assert_array_equal(got, ref)
    for as_object in (np.array(list(y.astype(bool)), dtype=object), y.astype(object)):
        # np.bool_ or ints in an object array, which sklearn calls an "unknown" target
        got = HyReRewardModel(**small).fit(X, as_object).predict_members(X_test)
        assert_array_equal(got, ref)
        tuned = HyReRewardModel(**small).fit(X, y).partial_fit(X[:8], as_object[:8])
        ref_tuned = HyReRewardModel(**small).fit(X, y).partial_fit(X[:8], y[:8])
        assert_array_equal(tuned.predict_members(X_test), ref_tuned.predict_members(X_test))


def test_numpy_bools_in_an_object_array_are_labels(data):
    X, y, _, _ = data
    rm = HyReRewardModel(**{**FAST, "max_epochs": 1}).fit(X, y)
    ref = rm.adapt(X[:6], y[:6].astype(bool)).weights_.copy()
    as_object = np.array(list(y[:6].astype(bool)), dtype=object)  # elements are np.bool_
    assert_array_equal(rm.adapt(X[:6], as_object).weights_, ref)
    rm.set_params(temperature="evidence", adapt_loss="brier")
    with pytest.raises(ValueError, match=r"for HyReRewardModel: 'zero_one', 'log_loss'\)"):
        rm.adapt(X[:6], y[:6])


def test_column_vector_y_warns(data):
    X, y, _, _ = data
    with pytest.warns(DataConversionWarning):
        HyReRewardModel(**{**FAST, "max_epochs": 1}).fit(X, y.reshape(-1, 1))


def test_one_label_throughout_is_fine():
    # chosen/rejected data: response A is always the preferred one
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(200, D)), rng.normal(size=(200, D))
    first = A @ W_TRUE > B @ W_TRUE
    X = np.where(first[:, None], np.hstack([A, B]), np.hstack([B, A]))
    rm = HyReRewardModel(**FAST).fit(X, np.ones(200, dtype=int))
    assert_array_equal(rm.classes_, [0, 1])
    X_test, y_test = _pairs(200, seed=9)
    assert rm.score(X_test, y_test) > 0.85


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([1, 2] * 50), r"preference labels 1 .* or 0 .*got \['2'\]"),
        (np.array([-1, 1] * 50), r"got \['-1'\]"),
        (np.array(["0", "1"] * 50), r"got \['0', '1'\]"),
        (np.array(["a", "b"] * 50), r"got \['a', 'b'\]"),
        (np.array([0, 1, 2, 1] * 25), "Only binary classification is supported"),
        (np.linspace(0, 1, 100), r"Unknown label type.*preference labels 1 .*got \['0.0"),
    ],
)
def test_bad_labels(labels, match):
    X, _ = _pairs(100)
    with pytest.raises(ValueError, match=match):
        HyReRewardModel(**FAST).fit(X, labels)


def test_score_refuses_labels_fit_refuses(rm, data):
    _, _, X_test, y_test = data
    assert rm.score(X_test, y_test) == rm.score(X_test, y_test.astype(bool))
    for labels in (2 * y_test - 1, np.full_like(y_test, 2), y_test.astype(str)):
        with pytest.raises(ValueError, match="preference labels 1"):
            rm.score(X_test, labels)  # a -1/1 encoding was scored against 0/1 predictions


def test_text_input_points_to_an_embedder():
    pairs = np.array([["a good answer", "a bad one"], ["yes", "no"]])
    with pytest.raises(ValueError, match=r"embed text pairs first.*SentenceEmbedder"):
        HyReRewardModel(**FAST).fit(pairs, [1, 0])


def test_bad_adaptation_labels(rm, data):
    _, _, X_test, _ = data
    with pytest.raises(ValueError, match=r"got \['2'\]"):
        rm.adapt(X_test[:4], [0, 1, 2, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        rm.adapt(X_test[:4], [0, 1, 1])
    with pytest.raises(ValueError, match="1-D"):
        rm.adapt(X_test[:4], np.zeros((4, 2), dtype=int))


# --------------------------------------------------------------------------- adaptation


def test_adapt_to_a_conflicting_preference_improves_accuracy():
    """Two labelers disagree; members trained per labeler (groups). A few labels
    from the second labeler move the weights onto its members."""
    rng = np.random.default_rng(0)
    w1, w2 = np.array([1.0, 0.0, 0.0]), np.array([-0.6, 1.0, 0.0])
    A, B = rng.normal(size=(800, D)), rng.normal(size=(800, D))
    groups = rng.integers(2, size=800)
    W = np.where(groups[:, None] == 0, w1, w2)
    y = (np.sum((A - B) * W, axis=1) > 0).astype(int)
    rm = HyReRewardModel(**{**FAST, "n_members": 8, "temperature": 0.2}).fit(
        np.hstack([A, B]), y, groups=groups
    )
    X_user, y_user = _pairs(300, w=w2, seed=11)
    uniform = rm.score(X_user[16:], y_user[16:])
    rm.adapt(X_user[:16], y_user[:16])
    adapted = rm.score(X_user[16:], y_user[16:])
    assert adapted > 0.9
    assert adapted > uniform + 0.1
    # the weight went to the members trained on the second labeler
    on_second = rm.group_assignment_[list(rm.group_ids_).index(1)]
    assert rm.weights_[on_second].sum() > 0.9


def test_adapt_losses_match_their_definitions(rm, data):
    _, _, X_test, y_test = data
    X, y = X_test[:20], y_test[:20]
    P = rm.predict_members(X).astype(np.float64)
    D_ = P[..., 1] - P[..., 0]
    zero_one = np.where(D_ == 0, 0.5, ((D_ > 0) != (y == 1)).astype(float))
    assert_allclose(rm.adapt(X, y).cumulative_loss_, zero_one.sum(axis=1))
    log_loss = -np.log(np.clip(np.take_along_axis(P, y[None, :, None], -1)[..., 0], 1e-15, 1))
    rm.set_params(adapt_loss="log_loss")
    assert_allclose(rm.adapt(X, y).cumulative_loss_, log_loss.sum(axis=1), rtol=1e-6)
    rm.set_params(adapt_loss="brier")
    brier = ((P - np.eye(2)[y][None]) ** 2).sum(axis=-1)
    assert_allclose(rm.adapt(X, y).cumulative_loss_, brier.sum(axis=1), rtol=1e-6)
    rm.set_params(adapt_loss="squared")
    with pytest.raises(ValueError, match="adapt_loss='squared' is not valid"):
        rm.adapt(X, y)


def test_batch_and_one_by_one_adaptation_agree(rm, data):
    _, _, X_test, y_test = data
    batch = copy.deepcopy(rm).adapt(X_test[:10], y_test[:10])
    rm.reset_weights()
    for i in range(10):
        rm.partial_adapt(X_test[i : i + 1], y_test[i : i + 1])
    assert_allclose(rm.weights_, batch.weights_)
    assert rm.n_adapt_samples_ == 10


def test_query_is_bald_over_candidate_pairs(rm, data):
    _, _, X_test, y_test = data
    rm.adapt(X_test[:5], y_test[:5])
    pool = X_test[5:]
    scores = acquisition.bald(rm.predict_members(pool), rm.weights_)
    idx = rm.query(pool, n_queries=4)
    assert_array_equal(idx, np.argsort(-scores, kind="stable")[:4])
    assert_array_equal(rm.query(pool, n_queries=4, criterion="bald"), idx)
    assert rm.query(pool, n_queries=3, criterion="entropy").shape == (3,)
    with pytest.raises(ValueError, match="criterion='variance' does not fit"):
        rm.query(pool, criterion="variance")


def test_active_adapt_compiled_and_python_loops_agree(rm, data):
    _, _, X_test, y_test = data
    by_array = copy.deepcopy(rm).active_adapt(X_test, y_test, n_queries=6)
    assert rm._compiled_loss("zero_one") == ("zero_one", 1.0)  # so the compiled loop ran
    by_call = copy.deepcopy(rm).active_adapt(X_test, lambda idx: y_test[idx], n_queries=6)
    assert_array_equal(by_array.queried_indices_, by_call.queried_indices_)
    assert_allclose(by_array.weights_, by_call.weights_)
    assert by_array.n_adapt_samples_ == 6
    assert len(set(by_array.queried_indices_)) == 6


def test_ties_cost_one_half_in_the_compiled_loop_too(rm):
    """Members tying on some pool pairs: the compiled active loop charges a tie 1/2,
    as the pairwise 0-1 loss of ``adapt`` does, so it agrees with the exact loop."""
    K = FAST["n_members"]
    rng = np.random.default_rng(17)  # a pool where a tie rule by class index picks differently
    p = rng.uniform(0.05, 0.95, size=(K, 12)).astype(np.float32)
    p[: K // 2, :6] = 0.5  # half the members tie on the first six pairs
    P = np.stack([1 - p, p], axis=-1)
    X_pool = np.zeros((12, 2 * D))
    y_pool = rng.integers(2, size=12)
    rm.predict_members = rm._member_matrix = lambda X: P[:, : np.asarray(X).shape[0]]
    assert rm._compiled_loss("zero_one") == ("zero_one", 1.0)
    by_array = copy.deepcopy(rm).active_adapt(X_pool, y_pool, n_queries=5)  # compiled
    by_call = copy.deepcopy(rm).active_adapt(X_pool, lambda i: y_pool[i], n_queries=5)
    assert_array_equal(by_array.queried_indices_, by_call.queried_indices_)
    assert_allclose(by_array.weights_, by_call.weights_)
    # both charge the queried pairs as a plain NumPy count does, ties at 1/2
    q = by_call.queried_indices_
    assert (q < 6).any()  # some queried pairs are ties for half the members
    tie = P[:, q, 1] == P[:, q, 0]
    wrong = (P[:, q, 1] > P[:, q, 0]) != (y_pool[q] == 1)
    expected = np.where(tie, 0.5, wrong.astype(float)).sum(axis=1)
    assert_allclose(by_array.cumulative_loss_, expected)
    assert_allclose(by_call.cumulative_loss_, expected)


# --------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_pickle_round_trip(fitted, data, dump, tmp_path):
    _, _, X_test, y_test = data
    rm = copy.deepcopy(fitted).adapt(X_test[:10], y_test[:10])
    if dump == "pickle":
        again = pickle.loads(pickle.dumps(rm))
    else:
        joblib.dump(rm, tmp_path / "rm.joblib")
        again = joblib.load(tmp_path / "rm.joblib")
    assert_array_equal(again.predict_members(X_test), rm.predict_members(X_test))
    assert_array_equal(again.predict_proba(X_test), rm.predict_proba(X_test))
    assert_array_equal(again.reward(X_test[:, :D]), rm.reward(X_test[:, :D]))
    assert_array_equal(again.weights_, rm.weights_)
    again.partial_adapt(X_test[10:12], y_test[10:12])
    assert again.n_adapt_samples_ == 12


# --------------------------------------------------------------------------- custom module


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(D, 4), nn.Tanh())

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("kind", ENSEMBLES)
def test_custom_feature_module_is_copied_and_trained(kind, data):
    X, y, X_test, y_test = data
    torch.manual_seed(0)
    user = nn.Sequential(nn.Linear(D, 4), nn.Tanh())
    before = {k: v.clone() for k, v in user.state_dict().items()}
    epochs = FAST["max_epochs"] if kind == "shared_base" else 3  # the others: mechanics only
    rm = HyReRewardModel(ensemble=kind, module=user, **{**FAST, "max_epochs": epochs}).fit(X, y)
    feat = rm.net_.module_.ensemble.feature_module
    assert feat is not user and rm.module is user
    assert rm.net_.module_.ensemble.n_feature_outputs == 4
    for k, v in user.state_dict().items():  # the user's object is untouched
        assert torch.equal(v, before[k])
    assert not torch.equal(feat[0].weight.detach().cpu(), before["0.weight"])  # trained
    if kind == "shared_base":
        assert rm.score(X_test, y_test) > 0.85
    assert rm.reward_members(X_test[:5, :D]).shape == (FAST["n_members"], 5)
    # a clone fitted again gets its own copy
    other = clone(rm).fit(X[:100], y[:100])
    assert other.net_.module_.ensemble.feature_module is not feat


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_feature_module(dtype, data):
    """A frozen half-precision backbone gets inputs in its dtype; the heads stay float32."""
    X, y, X_test, y_test = data
    torch.manual_seed(0)
    user = nn.Sequential(nn.Linear(D, 4), nn.Tanh()).to(dtype)
    rm = HyReRewardModel(module=user, **FAST).fit(X, y)
    feat = rm.net_.module_.ensemble.feature_module
    assert feat[0].weight.dtype == dtype and user[0].weight.dtype == dtype
    P = rm.predict_members(X_test)
    assert P.dtype == np.float32 and np.isfinite(P).all()
    assert rm.score(X_test, y_test) > 0.7
    rm.adapt(X_test[:5], y_test[:5])
    again = pickle.loads(pickle.dumps(rm))
    assert_array_equal(again.predict_proba(X_test), rm.predict_proba(X_test))


def test_module_instance_is_pickled_device_aware(data):
    """The ``module`` instance is stored with torch.save and mapped on load, as skorch does."""
    X, y, X_test, _ = data
    torch.manual_seed(0)
    user = nn.Sequential(nn.Linear(D, 4), nn.Tanh())
    rm = HyReRewardModel(module=user, **{**FAST, "max_epochs": 2})
    for est in (rm, clone(rm).fit(X, y)):  # clone holds a deep copy of user
        live = est.module
        state = est.__getstate__()
        assert isinstance(state["module"], SavedModule)
        assert est.module is live  # pickling leaves the live estimator alone
        again = pickle.loads(pickle.dumps(est))
        assert type(again.module) is nn.Sequential and again.module is not live
        for a, b in zip(again.module.state_dict().values(), user.state_dict().values()):
            assert torch.equal(a, b)
    assert_array_equal(again.predict_members(X_test), est.predict_members(X_test))
    assert_array_equal(
        clone(again).fit(X, y).predict_members(X_test), again.predict_members(X_test)
    )
    # saved from a GPU, loaded here without one: mapped to the CPU, with skorch's warning
    saved = SavedModule(user)
    saved.device = "cuda:0"
    if not torch.cuda.is_available():
        with pytest.warns(DeviceWarning):
            assert next(saved.load().parameters()).device.type == "cpu"


def test_module_class_is_instantiated_reproducibly(data):
    X, y, X_test, _ = data
    a = HyReRewardModel(module=_Tiny, **{**FAST, "max_epochs": 2}).fit(X, y)
    b = HyReRewardModel(module=_Tiny, **{**FAST, "max_epochs": 2}).fit(X, y)
    assert_array_equal(a.predict_members(X_test), b.predict_members(X_test))
    again = pickle.loads(pickle.dumps(a))
    assert_array_equal(again.predict_members(X_test), a.predict_members(X_test))


def test_bad_module(data):
    X, y, _, _ = data
    with pytest.raises(InvalidParameterError, match="module"):
        HyReRewardModel(module="bert", **FAST).fit(X, y)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module instance or subclass"):
        HyReRewardModel(module=dict, **FAST).fit(X, y)

    class Flat(nn.Module):
        def forward(self, x):
            return x.sum()

    with pytest.raises(ValueError, match=r"module must map \(rows, 3\) .* to a \(rows, m\)"):
        HyReRewardModel(module=Flat(), **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"module failed on a \(1, 3\) float32 input"):
        HyReRewardModel(module=nn.Linear(5, 2), **FAST).fit(X, y)


# --------------------------------------------------------------------------- bad input


def test_odd_number_of_columns():
    X, y = _pairs(50)
    with pytest.raises(ValueError, match=r"odd number of columns \(5\)"):
        HyReRewardModel(**FAST).fit(X[:, :5], y)


def test_wrong_widths_at_predict_and_reward(rm, data):
    _, _, X_test, y_test = data
    with pytest.raises(ValueError, match="features"):
        rm.predict(X_test[:, :4])
    with pytest.raises(ValueError, match=r"reward expects single-response rows with 3 features"):
        rm.reward(X_test)
    with pytest.raises(ValueError, match=r"got 4 columns"):
        rm.reward_members(X_test[:, :4])
    with pytest.raises(ValueError, match="features"):
        rm.adapt(X_test[:5, :4], y_test[:5])
    with pytest.raises(ValueError, match="Expected 2D array"):
        rm.reward(X_test[0, :D])


def test_nan_and_inf_are_rejected(rm, data):
    X, y, X_test, _ = data
    bad = X_test[:5].copy()
    bad[0, 1] = np.nan
    for method in (rm.predict, rm.predict_proba, rm.predict_members):
        with pytest.raises(ValueError, match="NaN"):
            method(bad)
    with pytest.raises(ValueError, match="NaN"):
        rm.reward(bad[:, :D])
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        HyReRewardModel(**FAST).fit(np.vstack([X, bad]), np.r_[y, [0] * 5])


def test_not_fitted():
    rm = HyReRewardModel(**FAST)
    X, y = _pairs(5)
    for call in (
        lambda: rm.predict(X),
        lambda: rm.predict_proba(X),
        lambda: rm.predict_members(X),
        lambda: rm.reward(X[:, :D]),
        lambda: rm.reward_members(X[:, :D]),
        lambda: rm.adapt(X, y),
        lambda: rm.query(X),
    ):
        with pytest.raises(NotFittedError):
            call()


# --------------------------------------------------------------------------- sklearn


def test_even_width_versions_of_the_common_checks(rm, data):
    """What the sklearn common checks test, on pairs (their X has odd widths)."""
    X, y, X_test, _ = data
    # dtypes and memory layouts
    for Xc in (X_test.astype(np.float32), np.asfortranarray(X_test), X_test.tolist()):
        assert_allclose(rm.predict_proba(Xc), rm.predict_proba(X_test), atol=1e-6)
    HyReRewardModel(**{**FAST, "max_epochs": 1}).fit(np.round(X * 3).astype(int), y)
    # predictions do not depend on batch composition or order
    P = rm.predict_proba(X_test)
    perm = np.random.default_rng(0).permutation(len(X_test))
    assert_allclose(rm.predict_proba(X_test[perm]), P[perm], atol=1e-6)
    assert_allclose(rm.predict_proba(X_test[:7]), P[:7], atol=1e-6)
    # predicting does not change the estimator; fitting does not change params
    state = {k: copy.deepcopy(v) for k, v in vars(rm).items() if k != "net_"}
    for method in (rm.predict, rm.predict_proba, rm.predict_members):
        method(X_test)
    rm.reward(X_test[:, :D])
    for k, v in state.items():
        assert_array_equal(np.asarray(getattr(rm, k), dtype=object), np.asarray(v, dtype=object))
    params = clone(rm).get_params()
    fresh = clone(rm).fit(X[:50], y[:50])
    assert fresh.get_params().keys() == params.keys()
    # 1-D input to predict is an error
    with pytest.raises(ValueError, match="2D"):
        rm.predict(X_test[0])


def test_pipeline_and_cross_validation(data):
    X, y, X_test, _ = data
    small = HyReRewardModel(**{**FAST, "max_epochs": 5})
    pipe = make_pipeline(FunctionTransformer(), small).fit(X, y)
    assert_array_equal(pipe.predict(X_test), clone(small).fit(X, y).predict(X_test))
    scores = cross_val_score(small, X[:200], y[:200], cv=2)
    assert scores.shape == (2,) and (scores > 0.6).all()
    assert "module" in small.get_params()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_with_a_feature_module(data, tmp_path):
    X, y, X_test, y_test = data
    user = nn.Sequential(nn.Linear(D, 4), nn.Tanh())
    rm = HyReRewardModel(module=user, device="cuda", **FAST).fit(X, y)
    assert next(rm.net_.module_.parameters()).device.type == "cuda"
    assert next(user.parameters()).device.type == "cpu"  # the user's copy stays put
    assert rm.score(X_test, y_test) > 0.85
    joblib.dump(rm, tmp_path / "rm.joblib")
    again = joblib.load(tmp_path / "rm.joblib")
    assert_allclose(again.predict_members(X_test), rm.predict_members(X_test))
    # a module instance that lives on the GPU is saved with its device and loads there
    on_gpu = HyReRewardModel(module=user.cuda(), device="cuda", **FAST)
    again = pickle.loads(pickle.dumps(on_gpu))
    assert next(again.module.parameters()).device.type == "cuda"


def test_auto_scores_left_out_mixtures_by_log_loss(rm, data):
    """Weights from the pairwise 0-1 loss; the temperature from the blends' log loss."""
    from skhyre.reweighting import loo_temperature

    _, _, Xt, yt = data
    X, y = Xt[:20], yt[:20]
    rm.set_params(temperature="auto").adapt(X, y)
    P = rm.predict_members(X).astype(np.float64)  # (K, n, 2): P(y=0), P(y=1)
    assert (P[..., 1] != 0.5).all()  # no ties: the 0-1 loss is plain
    wrong = ((P[..., 1] > 0.5).astype(int) != y).astype(float)

    def mixture_log_loss(W):
        mix = np.einsum("gik,kic->gic", W, P)
        return -np.log(np.maximum(mix[:, np.arange(len(y)), y], 1e-15))

    np.testing.assert_allclose(rm.cumulative_loss_, wrong.sum(axis=1))
    assert rm.temperature_ == loo_temperature(wrong, mixture_log_loss)[0]
