"""Golden outputs of skhyre's test-time behaviour: the ONE computation.

``tests/golden/record.py`` runs these functions and writes ``golden.npz``;
``tests/test_golden.py`` runs the same functions and compares. Keeping the
computation here (imported by both by path, never collected by pytest: see
``tests/conftest.py``) means the recorder and the test cannot drift.

Every ``compute_*`` function returns a flat ``{key: value}`` dict whose keys
start with its category (``"hw/"``, ``"acq/"``, ``"meta/"``, ``"torch/..."``,
``"dask/"``, ``"demo_small/"``, ``"demo_full/"``); values are NumPy arrays
or strings (the name of an exception raised on purpose, or case labels).

Categories and why they are pinned the way they are:

- ``hw`` and ``acq``: :class:`~skhyre.HypothesisWeights`, the acquisition
  functions and the temperature searches over fixed NumPy matrices. No
  training involved: asserted exactly (see ``float_mode`` in the test).
- ``meta``: :class:`~skhyre.HyReEnsemble` over deterministic scikit-learn
  models with fixed seeds: asserted without skip.
- ``torch/<name>``: the torch estimators, fitted tiny on one thread. Their
  member predictions on every input set are recorded too (``.../members/*``);
  the test first compares those, and only if they match are the dependent
  outputs compared (training's last bits can differ on another CPU).
- ``dask``: the Dask-array pools (synchronous scheduler), recorded when the
  ``dask`` extra is installed.
- ``demo_small`` / ``demo_full``: :func:`skhyre.demo.run_demo`'s table.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import platform
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

GOLDEN_PATH = Path(__file__).with_name("golden.npz")

#: Temperatures every estimator is adapted with (``inf``: the uniform ensemble).
TEMPERATURES = (1.0, 0.3, "auto", "evidence", float("inf"))

#: Built-in adaptation losses, spelled out here rather than read from the
#: estimators' private ``_adapt_loss_names`` (the refactor may move those).
LOSSES = {
    "reg": ("squared", "absolute", "gaussian_nll"),
    "clf": ("zero_one", "log_loss", "brier"),
    "reward": ("zero_one", "log_loss", "brier"),
    "meta_reg": ("squared", "absolute"),
    "meta_clf": ("zero_one", "log_loss", "brier"),
}

#: Query criteria by task ("auto" first: variance / BALD).
CRITERIA = {
    "regression": ("auto", "variance", "random"),
    "classification": ("auto", "bald", "entropy", "random"),
}

#: Tiny torch ensembles: a fit takes well under a second on one thread.
TORCH_FAST = dict(
    n_members=6,
    hidden_layer_sizes=(12,),
    max_epochs=4,
    batch_size=32,
    lr=1e-2,
    prior_scale=3.0,
    random_state=0,
    early_stopping=False,
)

#: (name, estimator class name, ensemble) of every torch model the golden fits.
TORCH_MODELS = (
    ("reg-shared_base", "HyReRegressor", "shared_base"),
    ("reg-epinet", "HyReRegressor", "epinet"),
    ("reg-vanilla", "HyReRegressor", "vanilla"),
    ("reg-mc_dropout", "HyReRegressor", "mc_dropout"),
    ("clf-shared_base", "HyReClassifier", "shared_base"),
    ("reward-shared_base", "HyReRewardModel", "shared_base"),
)

N_ACTIVE = 5  # labels picked by every active_adapt


# =========================================================================
# storage: a few flat buffers plus a JSON index (one zip member per key
# would cost ~200 bytes each)
# =========================================================================
_BUFFERS = {"f8": np.float64, "f4": np.float32, "i8": np.int64, "b1": np.bool_}


def save_golden(values: dict, path: Path = GOLDEN_PATH, meta: dict | None = None) -> None:
    """Write ``values`` (arrays or strings) to ``path`` as one compressed npz."""
    index: dict = {}
    parts: dict = {code: [] for code in _BUFFERS}
    offsets = dict.fromkeys(_BUFFERS, 0)
    for key in sorted(values):
        v = values[key]
        if isinstance(v, str):
            index[key] = ["str", v]
            continue
        arr = np.asarray(v)
        if arr.dtype.kind not in "fiub":  # strings are stored as str values
            raise TypeError(f"{key}: cannot store dtype {arr.dtype}; use a str")
        code = (
            "f4"
            if arr.dtype == np.float32
            else {"f": "f8", "i": "i8", "u": "i8", "b": "b1"}[arr.dtype.kind]
        )
        flat = arr.astype(_BUFFERS[code]).ravel()
        index[key] = [code, list(arr.shape), offsets[code]]
        parts[code].append(flat)
        offsets[code] += flat.size
    arrays = {
        code: (np.concatenate(p) if p else np.zeros(0, dtype=_BUFFERS[code]))
        for code, p in parts.items()
    }
    arrays["index"] = np.array(json.dumps(index, sort_keys=True))
    arrays["meta"] = np.array(json.dumps(meta or {}, sort_keys=True))
    np.savez_compressed(path, **arrays)


def load_golden(path: Path = GOLDEN_PATH) -> tuple[dict, dict]:
    """``(values, meta)`` as written by :func:`save_golden`."""
    with np.load(path, allow_pickle=False) as f:
        buffers = {code: f[code] for code in _BUFFERS}
        index = json.loads(str(f["index"]))
        meta = json.loads(str(f["meta"]))
    values = {}
    for key, entry in index.items():
        if entry[0] == "str":
            values[key] = entry[1]
            continue
        code, shape, offset = entry
        size = int(np.prod(shape)) if shape else 1
        values[key] = buffers[code][offset : offset + size].reshape(shape)
    return values, meta


# =========================================================================
# the platform: whether floating-point results can be expected bit-identical
# =========================================================================
def platform_fingerprint() -> str:
    """A hash of float results that differ between CPUs and library builds.

    NumPy's SIMD ``exp``/``log`` (AVX512F paths on some CPUs, libm on
    others), BLAS summation order (OpenBLAS picks kernels per CPU), and
    Numba's compiled math all feed skhyre's outputs. Where this hash equals
    the one recorded with the golden outputs, NumPy/Numba/scikit-learn
    results are expected bit-identical and the test compares them exactly.
    """
    import numba

    rng = np.random.RandomState(12345)
    x = rng.uniform(-30, 30, size=4096)
    p = rng.uniform(1e-12, 1.0, size=4096)
    A = rng.normal(size=(257, 13))
    pieces = [
        np.exp(x),
        np.log(p),
        np.log1p(p),
        np.expm1(x / 10),
        np.tanh(x / 7),
        A.T @ A,
        np.linalg.solve(A.T @ A + np.eye(13), A.T @ x[:257]),
        np.array([x.sum(), (x * p).sum(), np.logaddexp.reduce(x)]),
        numba.njit(cache=False)(_numba_math)(x, p),
    ]
    h = hashlib.sha256()
    for piece in pieces:
        h.update(np.ascontiguousarray(piece, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _numba_math(x, p):  # pragma: no cover - compiled
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i] / 3.0) * np.log(p[i]) + np.log1p(p[i]) - np.expm1(-p[i])
    return out


def platform_meta() -> dict:
    import numba
    import scipy
    import sklearn

    meta = {
        "fingerprint": platform_fingerprint(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
    }
    with contextlib.suppress(ImportError):
        import skorch
        import torch

        meta["torch"] = torch.__version__
        meta["skorch"] = skorch.__version__
    return meta


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


@contextlib.contextmanager
def one_torch_thread():
    """Train and predict on one torch thread (deterministic, and fast on shared cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


# =========================================================================
# helpers shared by the estimator categories
# =========================================================================
def _tkey(T) -> str:
    return f"T={T}"


def _state(out: dict, prefix: str, est) -> None:
    """The weight state after an adaptation."""
    out[f"{prefix}/weights"] = np.asarray(est.weights_, dtype=np.float64)
    out[f"{prefix}/cumulative_loss"] = np.asarray(est.cumulative_loss_, dtype=np.float64)
    out[f"{prefix}/temperature"] = np.float64(est.temperature_)
    out[f"{prefix}/n_adapt_samples"] = np.int64(est.n_adapt_samples_)


def _active_state(out: dict, prefix: str, est) -> None:
    _state(out, prefix, est)
    out[f"{prefix}/queried_indices"] = np.asarray(est.queried_indices_, dtype=np.int64)


def _attempt(out: dict, prefix: str, fn: Callable[[], None]) -> None:
    """Run ``fn``; a ValueError (e.g. 'evidence' with a loss without a noise
    model) is recorded by its type name, so refusals stay refusals."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except ValueError as exc:
        out[f"{prefix}/error"] = type(exc).__name__


def _chunks(X: np.ndarray, size: int = 37) -> list:
    """A pool as a list of chunks (uneven, so blocks straddle chunk edges)."""
    return [X[i : i + size] for i in range(0, X.shape[0], size)]


def adapt_suite(out, p, base, data, losses, callable_loss, rs_kw, switch_to) -> None:
    """adapt / adapt + partial_adapt / active_adapt for every loss x temperature.

    One fitted ``base`` is deep-copied per case and re-parametrised with
    ``set_params`` (no refit is needed for ``adapt_loss`` or ``temperature``).
    """
    Xa, ya, Xp, yp, Xpool, ypool = (data[k] for k in ("Xa", "ya", "Xp", "yp", "Xpool", "ypool"))
    # the data-driven rules uncapped (max_temperature=None, their meaning since
    # the goldens were first recorded), and the torch estimators' default, "auto"
    # capped at 1 (recorded 2026-12-07 when it became the default)
    cases = [(loss, T, None) for loss in losses for T in TEMPERATURES]
    cases += [("callable", 1.0, None), ("callable", "auto", None)]
    cases += [(loss, "auto", 1.0) for loss in losses]
    for loss, T, cap in cases:
        params = dict(
            temperature=T,
            max_temperature=cap,
            adapt_loss=callable_loss if loss == "callable" else loss,
        )
        c = f"{p}/adapt/{loss}/{_tkey(T)}" + ("" if cap is None else f"-cap{cap:g}")

        def run_adapt(params=params, c=c):
            est = copy.deepcopy(base).set_params(**params)
            est.adapt(Xa, ya)
            _state(out, f"{c}/adapt", est)
            est.partial_adapt(Xp, yp)
            _state(out, f"{c}/partial", est)

        def run_active(params=params, c=c):
            est = copy.deepcopy(base).set_params(**params)
            est.active_adapt(Xpool, ypool, n_queries=N_ACTIVE, **rs_kw)
            _active_state(out, f"{c}/active", est)

        _attempt(out, c, run_adapt)
        _attempt(out, f"{c}/active", run_active)

    # set_params between updates: the history is re-measured with the new loss,
    # and active_adapt re-weights the history under the new temperature first
    first, other = losses[0], switch_to
    est = copy.deepcopy(base).set_params(adapt_loss=first, temperature=1.0)
    est.adapt(Xa, ya)
    est.set_params(adapt_loss=other, temperature="auto", max_temperature=None)
    est.partial_adapt(Xp, yp)
    _state(out, f"{p}/switch/partial", est)
    est.set_params(adapt_loss=first, temperature=0.3)
    est.active_adapt(Xpool, ypool, n_queries=N_ACTIVE, **rs_kw)
    _active_state(out, f"{p}/switch/active", est)
    # batch versus one by one (coherence at a fixed temperature)
    est = copy.deepcopy(base).set_params(adapt_loss=first, temperature=0.3)
    for i in range(Xa.shape[0]):
        est.partial_adapt(Xa[i : i + 1], ya[i : i + 1])
    _state(out, f"{p}/one_by_one", est)


def active_suite(out, p, base, data, task, rs_kw, pool_forms) -> None:
    """active_adapt per criterion x sampling x oracle kind x pool form."""
    Xa, ya, Xpool, ypool = (data[k] for k in ("Xa", "ya", "Xpool", "ypool"))
    exclude = np.arange(1, Xpool.shape[0], 3)
    for form, (pool, kw) in pool_forms.items():
        for crit in CRITERIA[task]:
            for sampling in ("top", "power"):
                if crit == "random" and sampling == "power":
                    continue
                for T in (1.0, "auto"):
                    c = f"{p}/active/{form}/{crit}/{sampling}/{_tkey(T)}"
                    est = copy.deepcopy(base).set_params(temperature=T, max_temperature=None)
                    est.adapt(Xa[:4], ya[:4])  # start from non-uniform weights
                    est.active_adapt(
                        pool,
                        ypool,
                        n_queries=N_ACTIVE,
                        criterion=crit,
                        sampling=sampling,
                        **kw,
                        **rs_kw,
                    )
                    _active_state(out, c, est)
        # a callable oracle runs the Python loop (the array oracle, the compiled one)
        est = copy.deepcopy(base).set_params(temperature=1.0)
        est.active_adapt(
            pool, lambda idx: ypool[idx], n_queries=N_ACTIVE, exclude=exclude, **kw, **rs_kw
        )
        _active_state(out, f"{p}/active/{form}/callable_oracle_exclude", est)


def query_suite(out, p, base, data, task, rs_kw, pool_forms) -> None:
    """query picks at uniform and adapted weights, per criterion x sampling x
    n_queries x exclude x pool form; packed as one (cases, 5) array per form."""
    Xa, ya, Xpool = data["Xa"], data["ya"], data["Xpool"]
    adapted = copy.deepcopy(base).set_params(temperature=1.0).adapt(Xa, ya)
    uniform = copy.deepcopy(base).set_params(temperature=1.0)
    # every even row: half the pool, so most picks change when excluded
    excludes = {"none": None, "idx": np.arange(0, Xpool.shape[0], 2)}
    for form, (pool, kw) in pool_forms.items():
        names, rows = [], []
        for wname, est in (("uniform", uniform), ("adapted", adapted)):
            for crit in CRITERIA[task]:
                for sampling in ("top", "power"):
                    for nq in (1, 5):
                        for ename, ex in excludes.items():
                            pool_now = pool() if callable(pool) else pool
                            picks = est.query(
                                pool_now,
                                n_queries=nq,
                                criterion=crit,
                                exclude=ex,
                                sampling=sampling,
                                **kw,
                                **rs_kw,
                            )
                            row = np.full(5, -1, dtype=np.int64)
                            row[: len(picks)] = picks
                            names.append(f"{wname}/{crit}/{sampling}/n={nq}/exclude={ename}")
                            rows.append(row)
        out[f"{p}/query/{form}/picks"] = np.array(rows)
        out[f"{p}/query/{form}/cases"] = "\n".join(names)


def predict_suite(out, p, base, data, task) -> None:
    """Predictions at uniform weights and after adapt (T=1, the default loss)."""
    Xa, ya, Xt = data["Xa"], data["ya"], data["Xtest"]
    for wname, est in (
        ("uniform", copy.deepcopy(base).set_params(temperature=1.0)),
        ("adapted", copy.deepcopy(base).set_params(temperature=1.0).adapt(Xa, ya)),
    ):
        q = f"{p}/predict/{wname}"
        pred = est.predict(Xt)
        out[f"{q}/predict"] = np.asarray(pred if task == "regression" else _codes(est, pred))
        if task == "regression":
            mean, std = est.predict(Xt, return_std=True)
            out[f"{q}/mean"] = np.asarray(mean, dtype=np.float64)
            out[f"{q}/std"] = np.asarray(std, dtype=np.float64)
        else:
            out[f"{q}/proba"] = np.asarray(est.predict_proba(Xt), dtype=np.float64)
        out[f"{q}/score"] = np.float64(est.score(Xt, data["ytest"]))
        if hasattr(est, "reward"):
            d = Xt.shape[1] // 2
            out[f"{q}/reward"] = np.asarray(est.reward(Xt[:, :d]), dtype=np.float64)


def _codes(est, pred) -> np.ndarray:
    """Class predictions as indices into ``classes_`` (string labels stored as ints)."""
    return np.searchsorted(est.classes_, np.asarray(pred)).astype(np.int64)


def member_suite(out, p, base, data) -> None:
    """Member predictions on every input set: the inputs of the test-time core."""
    for name in ("Xa", "Xp", "Xpool", "Xtest"):
        M = base.predict_members(data[name])
        out[f"{p}/members/{name}"] = np.asarray(M)
    if hasattr(base, "reward_members"):
        d = data["Xtest"].shape[1] // 2
        out[f"{p}/members/reward"] = np.asarray(base.reward_members(data["Xtest"][:, :d]))


def _pool_forms(Xpool: np.ndarray, dask: bool) -> dict:
    """Pool forms: in memory, streamed chunks, and (optionally) a Dask array."""
    forms = {
        "memory": (Xpool, {}),
        "chunks": (_chunks(Xpool), {"pool_memory_budget": 0}),
    }
    if dask:
        import dask.array as da

        forms = {"dask": (da.from_array(Xpool, chunks=(50, Xpool.shape[1])), {})}
    return forms


def estimator_outputs(
    p: str, base, data: dict, task: str, losses, callable_loss, rs_kw, switch_to
) -> dict:
    """Every golden output of one fitted estimator (not Dask)."""
    out: dict = {}
    member_suite(out, p, base, data)
    adapt_suite(out, p, base, data, losses, callable_loss, rs_kw, switch_to)
    forms = _pool_forms(data["Xpool"], dask=False)
    active_suite(out, p, base, data, task, rs_kw, forms)
    query_suite(out, p, base, data, task, rs_kw, forms)
    predict_suite(out, p, base, data, task)
    return out


def dask_outputs(p: str, base, data: dict, task: str, rs_kw) -> dict:
    """Queries and active_adapt over a Dask-array pool (synchronous scheduler)."""
    import dask

    out: dict = {}
    forms = _pool_forms(data["Xpool"], dask=True)
    with dask.config.set(scheduler="synchronous"):
        query_suite(out, p, base, data, task, rs_kw, forms)
        active_suite(out, p, base, data, task, rs_kw, forms)
    return out


def _reg_callable(F, y):
    return np.abs(F - y) ** 1.5


def _clf_callable(P, y):
    # 1 - probability of the label; rows (members or candidate mixtures) independent
    return 1.0 - P[:, np.arange(y.shape[0]), y]


# =========================================================================
# data
# =========================================================================
def regression_data() -> dict:
    """Train on one linear function, adapt on a shifted one (members must be told apart)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(420, 3))
    y_train = X @ [1.0, -0.5, 0.25] + 0.1 * rng.normal(size=420)
    y_shift = X @ [0.6, -0.9, 0.6] + 0.3 * X[:, 0] ** 2 + 0.05 * rng.normal(size=420)
    return _split(X, y_train, y_shift)


def classification_data() -> dict:
    """Three string classes; the adaptation labels follow a rotated boundary."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(420, 3))
    names = np.array(["ant", "bee", "cat"])

    def lab(s):
        return names[np.digitize(s, [-0.5, 0.5])]

    y_train = lab(X @ [1.0, 0.5, 0.0] + 0.3 * rng.normal(size=420))
    y_shift = lab(X @ [0.5, 1.0, 0.3] + 0.3 * rng.normal(size=420))
    return _split(X, y_train, y_shift)


def reward_data() -> dict:
    """Pairs [A | B] (d=3 each); y=1 when A is preferred; a new user's taste to adapt to."""
    rng = np.random.RandomState(2)
    A, B = rng.normal(size=(420, 3)), rng.normal(size=(420, 3))
    X = np.hstack([A, B])
    y_train = ((A - B) @ [1.0, 0.3, -0.2] + 0.3 * rng.normal(size=420) > 0).astype(int)
    y_shift = ((A - B) @ [0.2, 1.0, 0.4] + 0.3 * rng.normal(size=420) > 0).astype(int)
    return _split(X, y_train, y_shift)


def _split(X, y_train, y_shift) -> dict:
    """200 training rows; 16 adapt, 8 partial, 120 pool and 60 test rows of the shift."""
    s = {"X": X[:200], "y": y_train[:200]}
    for name, lo, hi in (("a", 200, 216), ("p", 216, 224), ("pool", 224, 344), ("test", 344, 404)):
        s[f"X{name}"] = X[lo:hi]
        s[f"y{name}"] = y_shift[lo:hi]
    return s


DATA = {"reg": regression_data, "clf": classification_data, "reward": reward_data}


# =========================================================================
# hw: HypothesisWeights
# =========================================================================
def compute_hw() -> dict:
    from skhyre import HypothesisWeights

    out: dict = {}
    rng = np.random.RandomState(3)
    K = 7
    L1 = rng.exponential(size=(K, 5))
    L2 = rng.exponential(size=(K, 3))
    log_prior = np.log(rng.dirichlet(np.ones(K)))
    huge = np.array([0.0, 1e300, 1e308, np.inf, 5.0, 1e-300, 2.0])

    def rec(name, hw):
        out[f"hw/{name}/weights"] = hw.weights
        out[f"hw/{name}/log_weights"] = hw.log_weights
        out[f"hw/{name}/cumulative_loss"] = hw.cumulative_loss
        out[f"hw/{name}/n_samples_seen"] = np.int64(hw.n_samples_seen)

    for T in (1.0, 0.3, 7.5, float("inf"), 1e-6):
        for prior_name, prior in (("uniform", None), ("prior", log_prior)):
            c = f"T={T}/{prior_name}"
            hw = HypothesisWeights(K, temperature=T, log_prior=prior)
            rec(f"{c}/start", hw)
            rec(f"{c}/batch", hw.update(L1))
            rec(f"{c}/more", hw.update(L2))
            rec(f"{c}/summed", hw.update(L1.sum(axis=1)))
            out[f"hw/{c}/weights_at_0.5"] = hw.weights_at(0.5)
            hw.temperature = 2.0
            rec(f"{c}/retempered", hw)
            rec(f"{c}/huge", HypothesisWeights(K, temperature=T, log_prior=prior).update(huge))
            one = HypothesisWeights(K, temperature=T, log_prior=prior)
            for j in range(L1.shape[1]):
                one.update(L1[:, j : j + 1])
            rec(f"{c}/one_by_one", one)
    # NaN member (weight 0, warned), -inf refused, all-inf refused
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nan = L1.copy()
        nan[2, 1] = np.nan
        rec("nan_member", HypothesisWeights(K).update(nan))
    for name, bad in (("neg_inf", -np.inf), ("all_nan", np.nan)):
        try:
            HypothesisWeights(K).update(np.full(K, bad))
            out[f"hw/{name}/error"] = "none"
        except ValueError as exc:
            out[f"hw/{name}/error"] = type(exc).__name__
    return out


# =========================================================================
# acq: acquisition functions and temperature searches over fixed matrices
# =========================================================================
def compute_acq() -> dict:
    from skhyre import acquisition as acq
    from skhyre import reweighting as rw

    out: dict = {}
    rng = np.random.RandomState(4)
    K, n, C = 8, 150, 3
    P = rng.dirichlet(np.ones(C) * 0.7, size=(K, n))  # (K, n, C)
    P[:, 5] = P[0, 5]  # a row where every member agrees: BALD 0
    F = rng.normal(size=(K, n)) * rng.uniform(0.1, 2.0, size=(1, n))
    F[:, 7] = 0.25
    w = rng.dirichlet(np.ones(K))
    uni = np.full(K, 1.0 / K)
    y_cls = rng.randint(0, C, size=n)
    y_reg = F.mean(axis=0) + rng.normal(size=n) * 0.5
    exclude = np.arange(0, n, 11)

    for wname, ww in (("w", w), ("uniform", uni)):
        out[f"acq/entropy/{wname}"] = acq.entropy(P, ww)
        out[f"acq/bald/{wname}"] = acq.bald(P, ww)
        out[f"acq/variance/{wname}"] = acq.variance(F, ww)
        out[f"acq/entropy32/{wname}"] = acq.entropy(P.astype(np.float32), ww)
        out[f"acq/variance32/{wname}"] = acq.variance(F.astype(np.float32), ww)
    out["acq/random"] = acq.random(n, random_state=5)
    scores = acq.bald(P, w)
    out["acq/select_top/1"] = acq.select_top(scores, 1)
    out["acq/select_top/10"] = acq.select_top(scores, 10)
    out["acq/select_top/10_exclude"] = acq.select_top(scores, 10, exclude=exclude)
    out["acq/select_top/ties"] = acq.select_top(np.repeat([0.5, 0.2, 0.5], 4), 5)
    for seed in (1, 12345, 2**62 + 1):
        for power in (0.0, 0.5, 1.0, 3.0, 1e6):
            out[f"acq/power_keys/seed={seed}/power={power}"] = acq.power_keys(
                scores, seed, power=power
            )
        out[f"acq/power_keys/seed={seed}/start=40"] = acq.power_keys(scores[40:], seed, start=40)
    for rs in (0, 1, 2):
        for nq in (1, 5, 20):
            out[f"acq/sample_power/rs={rs}/n={nq}"] = acq.sample_power(scores, nq, random_state=rs)
        out[f"acq/sample_power/rs={rs}/exclude"] = acq.sample_power(
            scores, 5, exclude=exclude, random_state=rs
        )
    # select_sequential (the compiled loops)
    L0 = rng.exponential(size=K)
    lp = np.log(rng.dirichlet(np.ones(K)))
    for crit in ("auto", "bald", "entropy", "random"):
        for loss in ("zero_one", "log_loss", "brier"):
            for T in (1.0, 0.3):
                c = f"acq/select_sequential/clf/{crit}/{loss}/T={T}"
                idx, L = acq.select_sequential(
                    P, y_cls, 12, criterion=crit, loss=loss, temperature=T, random_state=6
                )
                out[f"{c}/idx"], out[f"{c}/L"] = idx, L
        c = f"acq/select_sequential/clf/{crit}/start"
        idx, L = acq.select_sequential(
            P,
            y_cls,
            12,
            criterion=crit,
            cumulative_loss=L0,
            log_prior=lp,
            exclude=exclude,
            resum_every=3,
            random_state=6,
        )
        out[f"{c}/idx"], out[f"{c}/L"] = idx, L
    for crit in ("auto", "variance", "random"):
        for loss in ("squared", "absolute"):
            for T in (1.0, 0.3):
                c = f"acq/select_sequential/reg/{crit}/{loss}/T={T}"
                idx, L = acq.select_sequential(
                    F,
                    y_reg,
                    12,
                    criterion=crit,
                    loss=loss,
                    temperature=T,
                    loss_scale=0.7,
                    random_state=6,
                )
                out[f"{c}/idx"], out[f"{c}/L"] = idx, L
        c = f"acq/select_sequential/reg/{crit}/start"
        idx, L = acq.select_sequential(
            F,
            y_reg,
            12,
            criterion=crit,
            cumulative_loss=L0,
            log_prior=lp,
            exclude=exclude,
            random_state=6,
        )
        out[f"{c}/idx"], out[f"{c}/L"] = idx, L

    # temperature searches (reweighting's public functions)
    m = 20
    sq = (F[:, :m] - y_reg[:m]) ** 2
    ab = np.abs(F[:, :m] - y_reg[:m])
    zo = (P[:, :m].argmax(axis=2) != y_cls[:m]).astype(np.float64)
    ll = -np.log(P[:, np.arange(m), y_cls[:m]])

    def reg_mix(W):  # (G, m, K) weights -> (G, m) squared loss of the weighted prediction
        return (np.einsum("gik,ki->gi", W, F[:, :m]) - y_reg[:m]) ** 2

    def clf_mix(W):
        mix = np.einsum("gik,kic->gic", W, P[:, :m])
        return -np.log(mix[:, np.arange(m), y_cls[:m]])

    for name, L, kind in (
        ("squared", sq, "reg"),
        ("absolute", ab, "reg"),
        ("zero_one", zo, "clf"),
        ("log_loss", ll, "clf"),
    ):
        T, grid_scores = rw.evidence_temperature(L, name, n_classes=C)
        out[f"acq/evidence_temperature/{name}/T"] = np.float64(T)
        out[f"acq/evidence_temperature/{name}/scores"] = np.asarray(grid_scores)
        mix = reg_mix if kind == "reg" else clf_mix
        T, s = rw.loo_temperature(L, mix)
        out[f"acq/loo_temperature/{name}/T"] = np.float64(T)
        out[f"acq/loo_temperature/{name}/scores"] = np.asarray(s)
        T, s, grid = rw.auto_temperature(L, mix, name)
        out[f"acq/auto_temperature/{name}/T"] = np.float64(T)
        out[f"acq/auto_temperature/{name}/scores"] = np.asarray(s)
        out[f"acq/auto_temperature/{name}/grid"] = np.asarray(grid)
    return out


# =========================================================================
# meta: HyReEnsemble over deterministic scikit-learn models
# =========================================================================
def meta_models() -> dict:
    """name -> (unfitted HyReEnsemble, data key, task); every member seeded."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from skhyre import HyReEnsemble

    return {
        "meta_reg-list": (
            HyReEnsemble(
                [
                    ("ridge", Ridge(alpha=1.0)),
                    ("ols", LinearRegression()),
                    ("tree3", DecisionTreeRegressor(max_depth=3, random_state=0)),
                    ("tree6", DecisionTreeRegressor(max_depth=6, random_state=1)),
                    ("knn", KNeighborsRegressor(n_neighbors=5, algorithm="kd_tree")),
                ]
            ),
            "reg",
            "regression",
        ),
        "meta_reg-forest": (
            HyReEnsemble(RandomForestRegressor(n_estimators=6, max_depth=4, random_state=0)),
            "reg",
            "regression",
        ),
        "meta_clf-list": (
            HyReEnsemble(
                [
                    ("logreg", LogisticRegression(C=1.0)),
                    ("tree3", DecisionTreeClassifier(max_depth=3, random_state=0)),
                    ("tree6", DecisionTreeClassifier(max_depth=6, random_state=1)),
                    ("nb", GaussianNB()),
                    ("knn", KNeighborsClassifier(n_neighbors=7, algorithm="kd_tree")),
                ]
            ),
            "clf",
            "classification",
        ),
        "meta_clf-forest": (
            HyReEnsemble(RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0)),
            "clf",
            "classification",
        ),
    }


def fit_meta() -> dict:
    """name -> (fitted HyReEnsemble, data, task)."""
    fitted = {}
    for name, (est, dkey, task) in meta_models().items():
        data = DATA[dkey]()
        fitted[name] = (est.fit(data["X"], data["y"]), data, task)
    return fitted


def _meta_losses(name: str):
    return LOSSES["meta_reg" if name.startswith("meta_reg") else "meta_clf"]


#: HyReEnsemble has no random_state of its own: random and power picks get one.
META_RS = {"random_state": 7}

#: The HyReEnsembles whose Dask pools are recorded.
META_DASK = ("meta_reg-list", "meta_clf-list")


def meta_outputs(name: str, fitted: dict) -> dict:
    """Every golden output of the HyReEnsemble ``name`` (not Dask)."""
    est, data, task = fitted[name]
    cl = _reg_callable if task == "regression" else _clf_callable
    losses = _meta_losses(name)
    return estimator_outputs(f"meta/{name}", est, data, task, losses, cl, META_RS, losses[1])


def meta_dask_outputs(name: str, fitted: dict) -> dict:
    est, data, task = fitted[name]
    return dask_outputs(f"dask/{name}", est, data, task, META_RS)


def compute_meta(fitted: dict | None = None) -> dict:
    fitted = fitted or fit_meta()
    out: dict = {}
    for name in fitted:
        out.update(meta_outputs(name, fitted))
    return out


def compute_meta_dask(fitted: dict | None = None) -> dict:
    fitted = fitted or fit_meta()
    out: dict = {}
    for name in META_DASK:
        out.update(meta_dask_outputs(name, fitted))
    return out


# =========================================================================
# torch: HyReRegressor, HyReClassifier, HyReRewardModel
# =========================================================================
def fit_torch(names=None) -> dict:
    """name -> (fitted estimator, data, task), trained on one torch thread."""
    import skhyre

    fitted = {}
    with one_torch_thread():
        for name, cls_name, ensemble in TORCH_MODELS:
            if names is not None and name not in names:
                continue
            dkey = name.split("-")[0]
            data = DATA[dkey]()
            extra = {"dropout": 0.2} if ensemble == "mc_dropout" else {}
            est = getattr(skhyre, cls_name)(ensemble=ensemble, **TORCH_FAST, **extra)
            est.fit(data["X"], data["y"])
            task = "regression" if dkey == "reg" else "classification"
            fitted[name] = (est, data, task)
    return fitted


def torch_members(name: str, fitted: dict) -> dict:
    """The fitted model's member predictions (the gate of its dependent outputs)."""
    est, data, _ = fitted[name]
    out: dict = {}
    with one_torch_thread():
        member_suite(out, f"torch/{name}", est, data)
    return out


def compute_torch(name: str, fitted: dict) -> dict:
    """Every golden output of the torch model ``name`` (members included)."""
    est, data, task = fitted[name]
    dkey = name.split("-")[0]
    cl = _reg_callable if task == "regression" else _clf_callable
    if name != "reg-shared_base" and name.startswith("reg-"):
        losses = LOSSES[dkey][:1]  # other ensembles: the default loss, every temperature
    else:
        losses = LOSSES[dkey]
    with one_torch_thread():
        return estimator_outputs(f"torch/{name}", est, data, task, losses, cl, {}, LOSSES[dkey][1])


#: The torch models whose Dask pools are recorded.
TORCH_DASK = ("reg-shared_base", "clf-shared_base")


def torch_dask_outputs(name: str, fitted: dict) -> dict:
    est, data, task = fitted[name]
    with one_torch_thread():
        return dask_outputs(f"dask/{name}", est, data, task, {})


def compute_torch_dask(fitted: dict) -> dict:
    out: dict = {}
    for name in TORCH_DASK:
        out.update(torch_dask_outputs(name, fitted))
    return out


# =========================================================================
# demo: skhyre.demo.run_demo's table
# =========================================================================
DEMO_SMALL = dict(n_members=8, n_labels=(1, 5), n_test_labelers=3, max_epochs=3, random_state=0)


def _demo(prefix: str, **kw) -> dict:
    from skhyre.demo import run_demo

    with one_torch_thread():
        res = run_demo(**kw)
    out: dict = {f"{prefix}/methods": "\n".join(res.rows)}
    out[f"{prefix}/rows"] = np.array([res.rows[m] for m in res.rows], dtype=np.float64)
    out[f"{prefix}/spread"] = np.array([res.spread[m] for m in res.rows], dtype=np.float64)
    return out


def compute_demo_small() -> dict:
    """A small run of the demo (default training "by_group"; about a second)."""
    return _demo("demo_small", **DEMO_SMALL)


def compute_demo_full() -> dict:
    """The full ``skhyre demo`` (run_demo's defaults), on one torch thread."""
    return _demo("demo_full")


def has_dask() -> bool:
    try:
        import dask.array  # noqa: F401
    except ImportError:
        return False
    return True
