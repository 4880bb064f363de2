"""Fault injection: the public verbs of every estimator, under faults (issue #24, "Beyond the list").

The faults: a member that outputs NaN (one torch head's weights set to NaN;
a scikit-learn member that returns NaN on some rows), an oracle that fails at
step k (an error, Ctrl-C, an unusable label, two labels), a training callback
that fails at epoch e of ``fit``/``partial_fit`` (an error, Ctrl-C, skorch's
"stop here", a member going NaN) or a member whose ``fit`` fails, a pool
whose source fails mid-read, threads reading (or adapting, or fitting)
while another adapts, threads predicting at once, and seeds at the edges of
NumPy's range.

Each row of a table pairs an estimator with a call and a fault, and asserts
one of two outcomes: a named error (the message says what went wrong) with
the estimator exactly as before (adaptation state, ``queried_indices_``,
predictions, the network's parameters and optimizer state, the transformers
of a pipeline), or the correct answer, computed here in plain NumPy from the
members' predictions (losses, softmax weights, mixtures, variance and BALD
scores, the picks of a sequential loop). The estimators are fitted once per
module and deep-copied per test.
"""

from __future__ import annotations

import copy
import itertools
import signal
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from conftest import Reader, fast
from numpy.testing import assert_allclose, assert_array_equal, assert_equal
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import check_random_state
from skorch.callbacks import Callback

from skhyre import HyReClassifier, HyReEnsemble, HyReRegressor, HyReRewardModel
from skhyre.ensembles import EnsembleModule
from skhyre.pipeline import Pipeline, TransformedTargetRegressor
from skhyre.reweighting import NaNMemberWarning

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TORCH = fast(n_members=4, max_epochs=2, temperature=1.0)
#: adaptation state that every failed call must leave as it was
STATE = (
    "weights_",
    "log_weights_",
    "cumulative_loss_",
    "n_adapt_samples_",
    "temperature_",
    "queried_indices_",
)
N_Q = 3  # queries per active_adapt
ALL = ["regressor", "classifier", "reward", "ens_reg", "ens_clf", "pipeline"]
TORCH_CASES = ["regressor", "classifier", "reward", "pipeline"]


# ------------------------------------------------------------------ the faults
class _Faulty(BaseEstimator):
    """A member whose faults are switched on by the tests: ``fail`` (an exception
    class) makes ``fit`` raise; ``nan_`` (set after fit) makes it output NaN on the
    rows with ``x0 > 0.5``."""

    def __init__(self, base=None, fail=None):
        self.base = base
        self.fail = fail

    def fit(self, X, y):
        if self.fail is not None:
            raise self.fail("the member's fit failed")
        self.base_ = clone(self.base).fit(X, y)
        self.classes_ = getattr(self.base_, "classes_", None)
        self.nan_ = False
        return self

    def _nan_rows(self, X):
        return (np.asarray(X)[:, 0] > 0.5) & self.nan_


class _FaultyRegressor(RegressorMixin, _Faulty):
    def predict(self, X):
        out = np.asarray(self.base_.predict(X), dtype=np.float64)
        out[self._nan_rows(X)] = np.nan
        return out


class _FaultyClassifier(ClassifierMixin, _Faulty):
    def predict_proba(self, X):
        out = np.asarray(self.base_.predict_proba(X), dtype=np.float64)
        out[self._nan_rows(X)] = np.nan
        return out

    def predict(self, X):
        return self.base_.predict(X)


#: what the training callback does, and at which epoch of the call (1-based)
TRIP: dict = {"epoch": None, "error": None}


class _Trip(Callback):
    """Fails (``TRIP``) at the end of epoch ``TRIP["epoch"]`` of a fit or partial_fit;
    ``TRIP["error"] == "nan"`` breaks member 1 (its head) when training ends instead."""

    def on_train_begin(self, net, **kwargs):
        self.start_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        if TRIP["error"] == "nan":
            _break_head(net.module_, 1)

    def on_epoch_end(self, net, **kwargs):
        if TRIP["epoch"] is None or len(net.history) - self.start_ != TRIP["epoch"]:
            return
        if TRIP["error"] == "ctrl-c":
            signal.raise_signal(signal.SIGINT)  # Python's handler raises KeyboardInterrupt
            raise AssertionError("SIGINT did not interrupt")
        raise TRIP["error"](f"callback failed at epoch {TRIP['epoch']}")


@pytest.fixture(autouse=True)
def _trip_off():
    TRIP.update(epoch=None, error=None)
    yield
    TRIP.update(epoch=None, error=None)


def _break_head(network, k):
    """Set member ``k``'s own parameters (its head) to NaN: it outputs NaN everywhere."""
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, EnsembleModule):
                for _, view in module.member_parameters():
                    view[k] = float("nan")


# ----------------------------------------------------------- plain references
def plain_losses(task, M, y, scale=1.0, loss="zero_one"):
    """(K, n) losses: squared error in units of the target's std; for classes the 0-1
    error (a tie for the top class among t classes costs 1 - 1/t), the log loss
    (probabilities clipped at 1e-15) or the Brier score. NaN outputs give NaN."""
    if task == "regression":
        return ((M - y) / scale) ** 2
    p_y = M[:, np.arange(y.size), y]
    if loss == "log_loss":
        L = -np.log(np.maximum(p_y, 1e-15))
    elif loss == "brier":
        L = ((M - np.eye(M.shape[2])[y]) ** 2).sum(axis=2)
    else:
        top = M.max(axis=2)
        n_top = np.maximum((M == top[..., None]).sum(axis=2), 1)  # 0 on NaN rows
        L = np.where(p_y == top, 1.0 - 1.0 / n_top, 1.0)
    return np.where(np.isnan(M).any(axis=2), np.nan, L)


def plain_weights(L, temperature=1.0):
    """softmax(-L / T) over the members whose loss is not NaN (the others get 0)."""
    w = np.zeros(L.shape)
    live = ~np.isnan(L)
    a = -L[live] / temperature
    w[live] = np.exp(a - a.max())
    return w / w.sum()


def plain_mixture(M, w):
    live = w > 0
    return np.tensordot(w[live], M[live], axes=1)


def _entropy(P):
    return -(P * np.log(np.where(P > 0, P, 1.0))).sum(axis=-1)  # NaN stays NaN


def plain_scores(task, M, w):
    """Variance (regression) or BALD (classification) of the pool rows under ``w``."""
    live = w > 0
    W, Ml = w[live], M[live]
    if task == "regression":
        return W @ (Ml - W @ Ml) ** 2
    return _entropy(np.tensordot(W, Ml, axes=1)) - W @ _entropy(Ml)


def plain_top(scores, q, excluded=()):
    """The q best rows, NaN last, ties in index order, ``excluded`` never."""
    key = np.where(np.isnan(scores), -np.inf, scores)
    order = [i for i in np.argsort(-key, kind="stable") if i not in set(excluded)]
    return np.array(order[:q])


def plain_active(task, M, y, L0, q, scale=1.0, rng=None, loss="zero_one"):
    """Sequential selection: score under the current weights, pick, add the loss, repeat."""
    L, picked = L0.copy(), []
    for _ in range(q):
        w = plain_weights(L)
        scores = rng.random_sample(M.shape[1]) if rng is not None else plain_scores(task, M, w)
        i = int(plain_top(scores, 1, picked)[0])
        picked.append(i)
        L = L + plain_losses(task, M[:, [i]], y[[i]], scale, loss)[:, 0]
    return np.array(picked), plain_weights(L)


# ------------------------------------------------------------------ the cases
@dataclass
class Case:
    est: object  # fitted and adapted (deep-copy it)
    task: str
    X_fit: np.ndarray
    y_fit: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    L0: np.ndarray = None  # plain cumulative loss of what est was adapted on
    X_seen: np.ndarray = None  # what est was adapted on
    y_seen: np.ndarray = None
    faulty: int = 1  # the member the NaN fault breaks
    faulty_name: str = "1"  # how errors name it

    def final(self, est):
        """The estimator that holds the adaptation state."""
        if isinstance(est, Pipeline):
            return est[-1]
        return est.regressor_ if isinstance(est, TransformedTargetRegressor) else est

    @property
    def torch(self):
        return not isinstance(self.final(self.est), HyReEnsemble)

    def members(self, est, X):
        return np.asarray(est.predict_members(X), dtype=np.float64)

    def scale(self, est):
        return getattr(self.final(est), "y_scale_", 1.0)

    def encode(self, y):
        y = np.asarray(y)
        return y.astype(np.float64) if self.task == "regression" else y.astype(np.int64)

    def losses(self, est, M, y, loss="zero_one"):
        return plain_losses(self.task, M, self.encode(y), self.scale(est), loss)

    def break_member(self, est):
        final = self.final(est)
        if self.torch:
            _break_head(final.net_.module_, self.faulty)
        else:
            final.estimators_[self.faulty].nan_ = True

    def bad_rows(self, est, X):
        """Rows on which the faulty member outputs NaN."""
        M = self.members(est, X)[self.faulty]
        return np.isnan(M.reshape(len(X), -1)).any(axis=1)

    def predict(self, est, X):
        """What ``predict_proba`` (classification) or ``predict`` returns."""
        return est.predict_proba(X) if self.task == "classification" else est.predict(X)


@pytest.fixture(scope="module")
def cases():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=100)
    c = (X[:, 0] + 0.3 * X[:, 2] > 0).astype(int)
    pairs = np.hstack([X, X[rng.permutation(100)]])
    p = (pairs[:, 0] > pairs[:, 3]).astype(int)
    Xs = X * [1.0, 10.0, 100.0]  # for the pipeline's scaler

    def split(X, y):  # fit, adapt (hist), pool, test
        return dict(X_fit=X[:50], y_fit=y[:50], X_pool=X[56:], y_pool=y[56:], X_test=X[:10]), (
            X[50:56],
            y[50:56],
        )

    out = {}
    specs = {
        "regressor": (HyReRegressor(**TORCH, callbacks=[_Trip()]), "regression", X, y),
        "classifier": (HyReClassifier(**TORCH, callbacks=[_Trip()]), "classification", X, c),
        "reward": (HyReRewardModel(**TORCH, callbacks=[_Trip()]), "classification", pairs, p),
        "ens_reg": (
            HyReEnsemble(
                [
                    ("lr", LinearRegression()),
                    ("ridge", Ridge(alpha=30.0)),
                    ("tree", DecisionTreeRegressor(max_depth=2, random_state=0)),
                    ("faulty", _FaultyRegressor(Ridge(alpha=3.0))),
                ],
                temperature=1.0,  # the weights are checked against softmax(-L / 1)
            ),
            "regression",
            X,
            y,
        ),
        "ens_clf": (
            HyReEnsemble(
                [
                    ("lr", LogisticRegression()),
                    ("weak", LogisticRegression(C=0.01)),
                    ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
                    ("faulty", _FaultyClassifier(LogisticRegression(C=0.1))),
                ],
                temperature=1.0,
            ),
            "classification",
            X,
            c,
        ),
        "pipeline": (
            Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("hyre", HyReClassifier(**TORCH, callbacks=[_Trip()])),
                ]
            ),
            "classification",
            Xs,
            c,
        ),
        # only for the fit faults: its regressor is refitted as a clone
        "ttr": (
            TransformedTargetRegressor(
                HyReRegressor(**TORCH, callbacks=[_Trip()]), func=np.arcsinh, inverse_func=np.sinh
            ),
            "regression",
            X,
            y,
        ),
    }
    for name, (est, task, Xc, yc) in specs.items():
        data, (X_hist, y_hist) = split(Xc, yc)
        case = Case(est, task, **data)
        est.fit(case.X_fit, case.y_fit)
        if not case.torch:
            case.faulty, case.faulty_name = 3, "'faulty'"
        est.adapt(X_hist, y_hist)
        if name == "ttr":
            out[name] = case
            continue
        est.active_adapt(case.X_pool, case.y_pool, 2)  # queried_indices_ exists
        seen = np.concatenate([np.arange(6), 6 + est.queried_indices_])
        case.X_seen = np.vstack([X_hist, case.X_pool])[seen]
        case.y_seen = np.concatenate([y_hist, case.y_pool])[seen]
        case.L0 = case.losses(est, case.members(est, case.X_seen), case.y_seen).sum(axis=1)
        assert_allclose(case.final(est).weights_, plain_weights(case.L0), rtol=1e-6, atol=1e-12)
        out[name] = case
    return out


def _copy(case):
    return copy.deepcopy(case.est)


def _outcome(call):
    """A call's result and warnings, or the error it raised."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = call()
    except Exception as exc:
        return ("raises", type(exc).__name__, str(exc))
    return ("returns", value, sorted(str(w.message) for w in caught))


def snapshot(case, est):
    """Everything a failed call must leave as it was (copies)."""
    final = case.final(est)
    snap = {k: copy.deepcopy(final.__dict__.get(k, "absent")) for k in STATE}
    snap["predict"] = _outcome(lambda: case.predict(est, case.X_test))
    snap["members"] = _outcome(lambda: case.members(est, case.X_test))
    net = final.__dict__.get("net_")
    if net is not None:
        snap["net"] = id(net)
        snap["params"] = {k: v.numpy().copy() for k, v in net.module_.state_dict().items()}
        snap["optimizer"] = repr(net.optimizer_.state_dict())
        snap["epochs"] = len(net.history)
    if isinstance(final, HyReEnsemble):
        snap["estimators_"] = [id(m) for m in final.estimators_]
    if isinstance(est, Pipeline):
        snap["transformers"] = [
            copy.deepcopy({k: v for k, v in vars(t).items() if k.endswith("_")}) for t in est[:-1]
        ]
    if isinstance(est, TransformedTargetRegressor):
        snap["ttr"] = (id(est.regressor_), id(est.transformer_))
    return snap


def assert_unchanged(case, est, before):
    assert_equal(snapshot(case, est), before)


def _in_thread(call, timeout=60):
    """Run ``call`` in another thread (a lock left held would block it); its result."""
    box = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:  # reported below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the call did not finish: a lock left held?"
    if "error" in box:
        raise box["error"]
    return box["value"]


# =============================================== 1. a member that outputs NaN
NAN_CALLS = [
    "predict_members",
    "predict",
    "predict_proba",
    "score",
    "adapt",
    "partial_adapt",
    "reset_weights",
    "query",
    "query_streamed",
    "query_random",
    "active_array",
    "active_callable",
    "active_streamed",
]
CLASSIFICATION = ("classifier", "reward", "ens_clf", "pipeline")
NAN_ROWS = [
    *(
        (name, call)
        for name, call in itertools.product(ALL, NAN_CALLS)
        if call != "predict_proba" or name in CLASSIFICATION
    ),
    # the compiled loop (an array oracle) with the other losses: it once looped for ever
    *itertools.product(CLASSIFICATION, ["active_array_log_loss", "active_array_brier"]),
]


@pytest.mark.parametrize(("name", "call"), NAN_ROWS)
def test_a_member_that_outputs_nan(cases, name, call):
    case = cases[name]
    est = _copy(case)
    pristine = case.members(est, case.X_test)
    case.break_member(est)
    final = case.final(est)
    Xt, Xp = case.X_test, case.X_pool
    Mt, Mp = case.members(est, Xt), case.members(est, Xp)
    bad_t, bad_p = case.bad_rows(est, Xt), case.bad_rows(est, Xp)
    assert bad_t.any() and bad_p.any()
    assert bad_p.all() == case.torch  # a torch head everywhere, the sklearn member on some rows
    w0 = final.weights_.copy()
    before = snapshot(case, est)
    chunks = [Xp[:20], Xp[20:]]
    n = len(Xt)

    if call == "predict_members":  # the member's rows are NaN, the others untouched
        expected = pristine.copy()
        expected[case.faulty][bad_t] = np.nan
        assert_array_equal(Mt, expected)
    elif call == "predict" and case.task == "regression":
        with pytest.warns(NaNMemberWarning, match=rf"NaN or inf on {bad_t.sum()} of {n} rows"):
            pred = est.predict(Xt)
        assert_allclose(pred, plain_mixture(Mt, w0), rtol=1e-6)
        assert_array_equal(np.isnan(pred), bad_t)
    elif call in ("predict", "score") and case.task == "classification":
        with pytest.raises(
            ValueError,
            match=rf"NaN on {bad_t.sum()} of {n} rows: member\(s\) \[{case.faulty_name}\]",
        ):
            est.predict(Xt) if call == "predict" else est.score(Xt, case.y_fit[:n])
        assert_unchanged(case, est, before)
    elif call == "score":  # a regressor: its predict warns, scikit-learn's r2 refuses NaN
        with pytest.warns(NaNMemberWarning), pytest.raises(ValueError, match="Input contains NaN"):
            est.score(Xt, case.y_fit[:n])
        assert_unchanged(case, est, before)
    elif call == "predict_proba":  # the rows stay NaN (honest), the others are the mixture
        proba = est.predict_proba(Xt)
        assert_allclose(proba, plain_mixture(Mt, w0), rtol=1e-6)
        assert_array_equal(np.isnan(proba).any(axis=1), bad_t)
    elif call in ("adapt", "partial_adapt"):
        Xa, ya = Xp[:10], case.y_pool[:10]
        assert bad_p[:10].any()
        with pytest.warns(NaNMemberWarning, match=r"1 member\(s\) gave NaN losses"):
            getattr(est, call)(Xa, ya)
        L = case.losses(est, Mp[:, :10], ya).sum(axis=1)
        if call == "partial_adapt":
            L = L + case.L0
        assert_allclose(final.weights_, plain_weights(L), rtol=1e-6, atol=1e-12)
        assert final.weights_[case.faulty] == 0
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # weight 0: the predictions are finite again
            assert_allclose(case.predict(est, Xt), plain_mixture(Mt, final.weights_), rtol=1e-6)
            if case.task == "classification":
                assert_array_equal(est.predict(Xt), plain_mixture(Mt, final.weights_).argmax(1))
    elif call == "reset_weights":
        had_picks = hasattr(final, "queried_indices_")
        est.reset_weights()
        assert_array_equal(final.weights_, np.full(w0.size, 1 / w0.size))
        # the picks stay on record after a reset (what was asked, not the weights)
        assert final.n_adapt_samples_ == 0 and hasattr(final, "queried_indices_") == had_picks
    elif call in ("query", "query_streamed"):
        kw = dict(pool_memory_budget=0) if call == "query_streamed" else {}
        if bad_p.all():  # every candidate scores NaN: any answer would be arbitrary
            with pytest.raises(ValueError, match="NaN or inf on every candidate pool row"):
                est.query(Xp, 5, **kw)
            assert_unchanged(case, est, before)
        else:
            match = rf"NaN or inf on {bad_p.sum()} of {len(Xp)} candidate pool row"
            with pytest.warns(NaNMemberWarning, match=match):
                picked = est.query(Xp, 5, **kw)
            assert_array_equal(picked, plain_top(plain_scores(case.task, Mp, w0), 5))
            assert not bad_p[picked].any()
    elif call == "query_random":  # no score, no NaN: the seed's draw
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            picked = est.query(Xp, 5, criterion="random", random_state=0)
        assert_array_equal(picked, plain_top(np.random.RandomState(0).random_sample(len(Xp)), 5))
    else:  # active_adapt: NaN rows are picked last; a NaN member's first NaN loss zeroes it
        pool, kw = (chunks, dict(pool_memory_budget=0)) if call == "active_streamed" else (Xp, {})
        oracle = case.y_pool if call.startswith("active_array") else (lambda i: case.y_pool[i])
        loss, L0 = "zero_one", case.L0
        if call.startswith("active_array_"):
            loss = call[len("active_array_") :]
            final.set_params(adapt_loss=loss)  # the examples so far are measured again
            L0 = case.losses(est, case.members(case.est, case.X_seen), case.y_seen, loss).sum(1)

        def run():  # in a thread: a loop that never ends fails the test instead of hanging it
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                est.active_adapt(pool, oracle, N_Q, **kw)
            return [str(r.message) for r in record if issubclass(r.category, NaNMemberWarning)]

        said = " ".join(_in_thread(run, timeout=120))
        picked, w = plain_active(
            case.task, Mp, case.encode(case.y_pool), L0, N_Q, case.scale(est), loss=loss
        )
        assert_array_equal(final.queried_indices_, picked)
        assert_allclose(final.weights_, w, rtol=1e-6, atol=1e-12)
        zeroed = bad_p[picked].any()  # the member's first NaN label zeroes it, by name
        assert (final.weights_[case.faulty] == 0) == zeroed
        assert f"NaN or inf on {bad_p.sum()} of {len(Xp)} candidate pool row" in said
        assert ("1 member(s) gave NaN losses and get weight 0" in said) == zeroed


# ============================================ 2. an oracle that fails at step k
ORACLE_FAULTS = {
    "error": (RuntimeError, "the annotator failed at step"),
    "ctrl-c": (KeyboardInterrupt, "Ctrl-C at step"),
    "bad label": (ValueError, r"The oracle's label for queried index \d+ is not usable"),
    "two labels": (ValueError, r"returned 2 labels for one queried index"),
}
ORACLE_ROWS = [
    *itertools.product(ALL, ORACLE_FAULTS, range(N_Q), ["array", "chunks"]),
    *((name, "error", N_Q - 1, "dask") for name in ALL),
]


def _bad_label(case):
    if case.task == "regression":
        return np.nan
    return 2 if isinstance(case.final(case.est), HyReRewardModel) else 7


@pytest.mark.parametrize(("name", "fault", "k", "pool"), ORACLE_ROWS)
def test_an_oracle_that_fails_at_step_k_changes_nothing(cases, name, fault, k, pool):
    case = cases[name]
    est = _copy(case)
    final = case.final(est)
    L0 = case.L0
    if k % 2:  # from the prior too: uniform weights, no queried_indices_
        est.reset_weights()
        L0 = np.zeros_like(L0)
    before = snapshot(case, est)
    Xp = case.X_pool
    if pool == "array":
        X_pool, kw = Xp, {}
    elif pool == "chunks":
        X_pool, kw = [Xp[:20], Xp[20:]], dict(pool_memory_budget=0)
    else:
        da = pytest.importorskip("dask.array")
        X_pool, kw = da.from_array(Xp, chunks=(15, -1)), {}
    error, match = ORACLE_FAULTS[fault]
    calls = []

    def oracle(idx):
        calls.append(int(idx[0]))
        if len(calls) == k + 1:
            if fault == "error":
                raise RuntimeError(f"the annotator failed at step {k}")
            if fault == "ctrl-c":
                raise KeyboardInterrupt(f"Ctrl-C at step {k}")
            if fault == "bad label":
                return np.array([_bad_label(case)])
            return np.repeat(case.y_pool[idx], 2)
        return case.y_pool[idx]

    with pytest.raises(error, match=match):
        est.active_adapt(X_pool, oracle, N_Q, **kw)
    assert len(calls) == k + 1  # it stopped at the fault
    assert_unchanged(case, est, before)
    # nothing is left behind (a lock, a half state): from another thread, the right answer
    _in_thread(lambda: est.active_adapt(X_pool, lambda i: case.y_pool[i], N_Q, **kw))
    M = case.members(est, Xp)
    picked, w = plain_active(case.task, M, case.encode(case.y_pool), L0, N_Q, case.scale(est))
    assert_array_equal(final.queried_indices_, picked)
    assert_array_equal(picked[:k], calls[:k])  # the same picks as before the fault
    assert_allclose(final.weights_, w, rtol=1e-6, atol=1e-12)


# ============================ 3. a callback (or a member) that fails during fit
FIT_ROWS = [
    *(
        (name, method, fault, epoch)
        for name in ("regressor", "classifier", "reward", "pipeline", "ttr")
        for method in ("fit", "partial_fit")
        for fault, epoch in [
            ("error", 1),
            ("error", 2),
            ("ctrl-c", 1),
            ("ctrl-c", 2),
            ("stop", 1),
            ("nan", None),
        ]
        if method == "fit" or name in ("regressor", "classifier", "reward")
    ),
    *(
        (name, "fit", fault, None)
        for name in ("ens_reg", "ens_clf")
        for fault in ("error", "ctrl-c")
    ),
]


def _set_epochs(est, n):
    if isinstance(est, Pipeline):
        return est.set_params(hyre__max_epochs=n)
    if isinstance(est, TransformedTargetRegressor):
        return est.set_params(regressor__max_epochs=n)
    return est.set_params(max_epochs=n)


@pytest.mark.parametrize(("name", "method", "fault", "epoch"), FIT_ROWS)
def test_a_fit_that_fails_changes_nothing(cases, name, method, fault, epoch):
    case = cases[name]
    est = _copy(case)
    before = snapshot(case, est)
    # other data than the first fit's: a fit that went through would change everything
    X, y = case.X_fit[::-1] * 1.5, case.y_fit[::-1]
    if fault == "nan":  # a member goes NaN in training: the fit names it, the others are kept
        TRIP.update(error="nan")
        match = r"Training went non-finite: 1 of 4 member\(s\) \[1\] output NaN or inf"
        with pytest.warns(NaNMemberWarning, match=match):
            getattr(est, method)(X, y)
        TRIP.update(error=None)
        reference = getattr(_copy(case), method)(X, y)
        # (the final step's: a TTR's inverse transform refuses NaN, as scikit-learn's does)
        M, R = (case.final(e).predict_members(case.X_test) for e in (est, reference))
        assert np.isnan(M[1]).all() and not np.isnan(np.delete(M, 1, axis=0)).any()
        assert_array_equal(np.delete(M, 1, axis=0), np.delete(R, 1, axis=0))
        final = case.final(est)
        assert final.n_adapt_samples_ == 0 and not hasattr(final, "queried_indices_")
        assert_array_equal(final.weights_, np.full(4, 0.25))
        return
    if fault == "stop":  # skorch's "stop training here": the result is kept, with a warning
        TRIP.update(epoch=epoch, error=KeyboardInterrupt)
        with pytest.warns(UserWarning, match="model trained so far replaces the previous fit"):
            getattr(est, method)(X, y)
        TRIP.update(epoch=None)
        reference = getattr(_set_epochs(_copy(case), epoch), method)(X, y)  # as if e epochs
        got, ref = snapshot(case, est), snapshot(case, reference)
        for key in ("params", "epochs", "predict", "weights_", "n_adapt_samples_"):
            assert_equal(got[key], ref[key], err_msg=key)
        assert case.final(est).n_adapt_samples_ == 0
        return
    if case.torch:
        TRIP.update(epoch=epoch, error="ctrl-c" if fault == "ctrl-c" else RuntimeError)
        error, match = (
            (KeyboardInterrupt, None)
            if fault == "ctrl-c"
            else (RuntimeError, f"callback failed at epoch {epoch}")
        )
    else:
        error = KeyboardInterrupt if fault == "ctrl-c" else RuntimeError
        est.set_params(faulty__fail=error)
        match = "the member's fit failed"
    with pytest.raises(error, match=match):
        getattr(est, method)(X, y)
    assert_unchanged(case, est, before)
    # and then it fits as if nothing had happened
    TRIP.update(epoch=None)
    if not case.torch:
        est.set_params(faulty__fail=None)
    getattr(est, method)(X, y)
    reference = getattr(_copy(case), method)(X, y)
    got, ref = snapshot(case, est), snapshot(case, reference)
    for key in ("params", "epochs", "predict", "weights_", "n_adapt_samples_"):
        assert_equal(got.get(key), ref.get(key), err_msg=key)


# ===================================== 4. a thread reading while another adapts
CONCURRENT = [
    "active",
    "active_streamed",
    "active_fails",
    "partial_adapt",
    "adapt",
    "fit",
    "reset_weights",
]
CONCURRENT_ROWS = [
    (name, mode)
    for name, mode in itertools.product(ALL, CONCURRENT)
    if not (mode == "fit" and name == "pipeline")  # a pipeline refits its scaler unlocked
]


@pytest.mark.parametrize(("name", "mode"), CONCURRENT_ROWS)
def test_a_reader_sees_the_state_before_or_after_never_between(cases, name, mode):
    case = cases[name]
    est = _copy(case)
    final = case.final(est)
    before = snapshot(case, est)
    Xp, yp = case.X_pool, case.y_pool

    def read():
        return {
            "weights_": final.weights_.copy(),
            "n_adapt_samples_": final.n_adapt_samples_,
            "queried_indices_": final.__dict__.get("queried_indices_", "absent"),
            "predict": _outcome(lambda: case.predict(est, case.X_test)),
            "query": _outcome(lambda: est.query(Xp, 2)),
        }

    state_before = read()
    reader = Reader(read)
    n_reads = [0]
    other = (
        est.reset_weights if mode == "reset_weights" else (lambda: est.fit(case.X_fit, case.y_fit))
    )
    fitter = threading.Thread(target=other, daemon=True)

    def oracle(idx):
        reader.read_now()
        n_reads[0] += 1
        if mode in ("fit", "reset_weights") and n_reads[0] == 1:
            fitter.start()  # it waits for active_adapt: it would finish here otherwise
            fitter.join(0.2)
            assert fitter.is_alive(), f"{mode} ran in the middle of active_adapt"
        if mode == "active_fails" and n_reads[0] == N_Q:
            raise RuntimeError("the annotator left")
        return yp[idx]

    def slow_loss(M, y):  # the built-in loss, but another thread reads meanwhile
        reader.read_now()
        n_reads[0] += 1
        return plain_losses(case.task, np.asarray(M, dtype=np.float64), y, case.scale(est))

    try:
        if mode in ("adapt", "partial_adapt"):
            final.set_params(adapt_loss=slow_loss)
            getattr(est, mode)(Xp[:5], yp[:5])
        elif mode == "active_fails":
            with pytest.raises(RuntimeError, match="annotator left"):
                est.active_adapt(Xp, oracle, N_Q)
        else:
            kw = dict(pool_memory_budget=0) if mode == "active_streamed" else {}
            pool = [Xp[:20], Xp[20:]] if mode == "active_streamed" else Xp
            est.active_adapt(pool, oracle, N_Q, **kw)
    finally:
        reader.close()
    assert not reader.errors
    assert len(reader.seen) == n_reads[0] >= 1
    for seen in reader.seen:  # every read: the whole state from before the call
        assert_equal(seen, state_before)
    if mode == "active_fails":
        assert_unchanged(case, est, before)
        return
    M = case.members(est, Xp)
    if mode in ("fit", "reset_weights"):  # serialized: it came after, and reset the weights
        fitter.join(60)
        assert not fitter.is_alive()
        assert final.n_adapt_samples_ == 0
        # a refit drops the picks; a reset keeps them on record
        assert hasattr(final, "queried_indices_") == (mode == "reset_weights")
        return
    L = case.L0.copy() if mode != "adapt" else np.zeros_like(case.L0)
    if mode in ("adapt", "partial_adapt"):
        L = L + case.losses(est, M[:, :5], yp[:5]).sum(axis=1)
        assert_allclose(final.weights_, plain_weights(L), rtol=1e-6, atol=1e-12)
    else:
        picked, w = plain_active(case.task, M, case.encode(yp), L, N_Q, case.scale(est))
        assert_array_equal(final.queried_indices_, picked)
        assert_allclose(final.weights_, w, rtol=1e-6, atol=1e-12)
    added = {"adapt": 5 - before["n_adapt_samples_"], "partial_adapt": 5}.get(mode, N_Q)
    assert final.n_adapt_samples_ == before["n_adapt_samples_"] + added


@pytest.mark.parametrize("name", [*ALL, "mc_dropout", "epinet"])
def test_concurrent_predictions_agree_with_one_at_a_time(cases, name):
    """Threads predicting at once: no lock, and no one's forward pass switches the
    network back to training mode under another's (fixed dropout masks and epinet
    indices are eval mode's; here the network was left in training mode)."""
    case = cases["classifier" if name in ("mc_dropout", "epinet") else name]
    est = case.est
    if name in ("mc_dropout", "epinet"):
        est = HyReClassifier(**{**TORCH, "ensemble": name}).fit(case.X_fit, case.y_fit)
        est.net_.module_.train()  # each prediction switches to eval mode and back
    calls = (
        lambda: case.predict(est, case.X_test),
        lambda: est.predict_members(case.X_test),
        lambda: est.query(case.X_pool, 3),
    )
    expected = [call() for call in calls]
    start = threading.Barrier(4)

    def worker():
        start.wait(60)
        return [[call() for call in calls] for _ in range(5)]

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(worker) for _ in range(4)]:
            for proba, members, picked in future.result(timeout=120):
                # float32 outputs may move in their last bit (the BLAS kernels of
                # concurrent calls); training mode's fresh indices or masks would
                # move them by far more
                assert_allclose(proba, expected[0], rtol=1e-6, atol=1e-7)
                assert_allclose(members, expected[1], rtol=1e-6, atol=1e-7)
                assert_array_equal(picked, expected[2])
    if name in ("mc_dropout", "epinet"):
        assert est.net_.module_.training  # the mode it found


# ================================================= 5. a pool source that fails
POOL_ROWS = list(
    itertools.product(ALL, ["query", "active_adapt"], ["error", "ctrl-c"], ["first", "last"])
)


@pytest.mark.parametrize(("name", "call", "fault", "where"), POOL_ROWS)
def test_a_pool_whose_source_fails_changes_nothing(cases, name, call, fault, where):
    case = cases[name]
    est = _copy(case)
    Xp = case.X_pool
    chunks = [Xp[:15], Xp[15:30], Xp[30:]]
    n_read = [0]
    fail_at = [None]

    def source():  # a re-iterable pool: a fresh iterator per pass
        for chunk in chunks:
            if n_read[0] == fail_at[0]:
                if fault == "ctrl-c":
                    raise KeyboardInterrupt("Ctrl-C while reading the pool")
                raise OSError("the pool's file went away")
            n_read[0] += 1
            yield chunk

    def run(e):
        if call == "query":
            return e.query(source, N_Q, pool_memory_budget=0)
        return e.active_adapt(source, lambda i: case.y_pool[i], N_Q, pool_memory_budget=0)

    run(_copy(case))  # how many chunks a successful call reads
    fail_at[0] = 0 if where == "first" else n_read[0] - 1
    n_read[0] = 0
    before = snapshot(case, est)
    error, match = (
        (KeyboardInterrupt, None) if fault == "ctrl-c" else (OSError, "pool's file went away")
    )
    with pytest.raises(error, match=match):
        run(est)
    assert_unchanged(case, est, before)


# ====================================================== 6. seeds at the edges
SEEDS = [0, 2**32 - 1, np.int64(2**32 - 3), "RandomState"]
SEED_IDS = ["0", "2**32-1", "int64(2**32-3)", "RandomState"]


def _rng(seed):
    """The seed itself, or a fresh RandomState seeded at the top of the range."""
    return np.random.RandomState(2**32 - 1) if isinstance(seed, str) else seed


@pytest.mark.parametrize("seed", SEEDS, ids=SEED_IDS)
@pytest.mark.parametrize("name", ALL)
def test_seeds_at_the_edges_of_numpys_range(cases, name, seed):
    case = cases[name]
    Xp, yp = case.X_pool, case.y_pool
    chunks = [Xp[:20], Xp[20:]]
    est = _copy(case)
    n = len(Xp)
    # criterion="random": the seed's uniform draw, in memory and streamed alike
    expected = plain_top(check_random_state(_rng(seed)).random_sample(n), 5)
    for pool, kw in ((Xp, {}), (chunks, dict(pool_memory_budget=0))):
        assert_array_equal(
            est.query(pool, 5, criterion="random", random_state=_rng(seed), **kw), expected
        )
    # power sampling: distinct rows, the same draw however the pool is held
    drawn = est.query(Xp, 5, sampling="power", random_state=_rng(seed))
    assert len(set(drawn.tolist())) == 5 and drawn.min() >= 0 and drawn.max() < n
    for pool, kw in ((Xp, {}), (chunks, dict(pool_memory_budget=0))):
        assert_array_equal(
            est.query(pool, 5, sampling="power", random_state=_rng(seed), **kw), drawn
        )
    # active_adapt, random: a plain loop drawing from the same seed
    M = case.members(est, Xp)
    picked, w = plain_active(
        case.task,
        M,
        case.encode(yp),
        case.L0,
        N_Q,
        case.scale(est),
        rng=check_random_state(_rng(seed)),
    )
    for pool, kw in ((Xp, {}), (chunks, dict(pool_memory_budget=0))):
        for oracle in (yp, lambda i: yp[i]):
            e = _copy(case)
            e.active_adapt(pool, oracle, N_Q, criterion="random", random_state=_rng(seed), **kw)
            assert_array_equal(case.final(e).queried_indices_, picked)
            assert_allclose(case.final(e).weights_, w, rtol=1e-6, atol=1e-12)
    # active_adapt, power: the weights of the rows it drew
    runs = []
    for pool, kw in ((Xp, {}), (chunks, dict(pool_memory_budget=0))):
        e = _copy(case)
        e.active_adapt(pool, yp, N_Q, sampling="power", random_state=_rng(seed), **kw)
        runs.append(case.final(e).queried_indices_)
        got = runs[-1]
        L = case.L0 + case.losses(e, M[:, got], yp[got]).sum(axis=1)
        assert_allclose(case.final(e).weights_, plain_weights(L), rtol=1e-6, atol=1e-12)
    assert_array_equal(runs[0], runs[1])
    assert len(set(runs[0].tolist())) == N_Q


@pytest.mark.parametrize("seed", SEEDS, ids=SEED_IDS)
@pytest.mark.parametrize("name", ["regressor", "classifier", "reward"])
def test_estimator_seeds_at_the_edges_fit_and_draw_reproducibly(cases, name, seed):
    case = cases[name]
    est = clone(case.est).set_params(random_state=_rng(seed), callbacks=None)
    twin = clone(case.est).set_params(random_state=_rng(seed), callbacks=None)
    for e in (est, twin):
        e.fit(case.X_fit, case.y_fit).adapt(case.X_pool[:5], case.y_pool[:5])
    for a, b in zip(
        est.net_.module_.state_dict().values(), twin.net_.module_.state_dict().values()
    ):
        assert torch.equal(a, b)
    assert_array_equal(est.weights_, twin.weights_)
    # the default draw: random_state + n_adapt_samples_, modulo 2**32 (or the instance's stream)
    n = len(case.X_pool)
    if isinstance(seed, str):
        rs = copy.deepcopy(est.random_state)
        expected = plain_top(rs.random_sample(n), 4)
    else:
        expected = plain_top(np.random.RandomState((int(seed) + 5) % 2**32).random_sample(n), 4)
    assert_array_equal(est.query(case.X_pool, 4, criterion="random"), expected)
    # partial_fit draws its seed the same way: twins stay twins
    if isinstance(seed, str):
        est.set_params(random_state=_rng(seed))
        twin.set_params(random_state=_rng(seed))
    est.partial_fit(case.X_fit, case.y_fit)
    twin.partial_fit(case.X_fit, case.y_fit)
    for a, b in zip(
        est.net_.module_.state_dict().values(), twin.net_.module_.state_dict().values()
    ):
        assert torch.equal(a, b)
