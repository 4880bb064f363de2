"""HyReEnsemble against DESlib's dynamic ensemble selection on shifted classification tasks.

Issue #29, "Dynamic ensemble selection". The peer is **DESlib** (the ``peers``
extra: ``pip install -e ".[peers]"``; never a dependency of skhyre). Every
method gets the **same pool of fitted classifiers**, trained on the source
rows (inputs standardized with the source statistics): decision trees of
depth 1, 2, 3, 5 and unbounded, logistic regression (C = 1 and 0.01),
k-nearest neighbours (k = 5 and 15), Gaussian naive Bayes, a small MLP, five
random-forest-style trees (each on a bootstrap sample, ``sqrt`` features) and
five extremely randomized trees (as in an extra-trees forest). Then, per seed
and N in (5, 10, 20, 40), N shifted rows are labelled at random (``--draws`` draws per seed); they are DESlib's dynamic
selection set (DSEL) and HyRe's adaptation set; every method is scored by
accuracy on the *remaining* shifted rows (the same rows for every method of a
draw).

Tasks: the shifted binary task (:func:`skhyre.datasets.make_shifted_binary`
through the shift panel's builder ``shift_panel.make_split``; d = 2 and d = 8,
a new task per seed: the training blobs underspecify the boundary, the target
rows cover the cube where the candidate boundaries disagree); scikit-learn's
``load_digits`` (10 classes) under the mean-feature split (also
``shift_panel.make_split``: :func:`skhyre.datasets.ood_split` holds out the
rows with the lowest and highest mean standardized feature); and
``load_breast_cancer`` (2 classes) shifted along a random projection, new per
seed (:class:`skhyre.model_selection.ShiftSplit` fold 1, ``tails="high"``,
30% of the rows): under the mean-feature split every method scores 100% on
it, which tells nothing.

Arms: ``uniform`` (the ``HyReEnsemble`` before ``adapt``), ``hyre_T1``,
``hyre_auto``, ``hyre_evidence`` (``temperature=1.0``, ``"auto"``,
``"evidence"``; ``adapt`` on the N rows; ``hyre_T0.1``, temperature 0.1, is
a diagnostic close to hard selection), ``best_member`` (the member with the
fewest errors on the N rows, ties broken by its log loss there), and every
DESlib method: DES (KNORA-E, KNORA-U, KNOP, META-DES, DES-P, DES-KNN, DES-MI,
DES-Clustering, RRC, DES-KL, Minimum Difference, Exponential, Logarithmic) and
DCS (OLA, LCA, MLA, MCB, Rank, A Priori, A Posteriori), with DESlib's defaults
except where the DSEL is too small: neighbourhoods of ``k = min(7, N)`` rows
(``min(7, N - 1)`` and ``Kp = min(5, N - 1)`` for META-DES, which looks up
each DSEL row's neighbours without the row itself), ``n_clusters = min(5, N)``
for DES-Clustering, and ``n_jobs = 1``. ``oracle_member`` (the best member on
the scoring rows, chosen in hindsight) is context only.

Every "A vs B" cell is the paired mean difference of accuracy over seeds (each
seed's accuracy averaged over its draws) with a 95% t-interval and a verdict
better / level / worse (:func:`_common.paired_verdict`). HyRe (each
temperature) is compared with the **best DESlib method of each task and N**,
chosen in hindsight by its mean accuracy over seeds (a comparison that
favours DESlib), with KNORA-E (fixed in advance), and with the DESlib method
chosen on the *other* seeds (free of the winner's curse).

DESlib's methods get the members wrapped in :class:`CachedMember`, which
remembers each member's outputs on the scoring rows of a draw: the accuracies
are exactly the members', and the many DESlib methods do not each recompute
them (their times are therefore not HyRe's like for like; see the report).

DESlib 0.3.7 predates scikit-learn 1.6: this script patches two things in
DESlib's base class at import (see :func:`patch_deslib`), not the package.

Run ``python benchmarks/des_peers.py [--quick]``; writes
``benchmarks/results/des_peers.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, machine_line, md_table, paired_verdict, write_results

NAME = "des_peers"
NS = (5, 10, 20, 40)
TASKS = ("binary_d2", "binary_d8", "breast_cancer/projection", "digits/mean")
HYRE_ARMS = {"hyre_T1": 1.0, "hyre_auto": "auto", "hyre_evidence": "evidence"}
#: a diagnostic arm, not one of the compared temperatures: close to hard selection
DIAGNOSTIC_ARMS = {"hyre_T0.1": 0.1}
ALL_HYRE = {**HYRE_ARMS, **DIAGNOSTIC_ARMS}
OURS = ("uniform", *ALL_HYRE, "best_member")
#: DESlib methods: (label, module, class, family)
DES_METHODS = (
    ("KNORA-E", "des", "KNORAE", "DES"),
    ("KNORA-U", "des", "KNORAU", "DES"),
    ("KNOP", "des", "KNOP", "DES"),
    ("META-DES", "des", "METADES", "DES"),
    ("DES-P", "des", "DESP", "DES"),
    ("DES-KNN", "des", "DESKNN", "DES"),
    ("DES-MI", "des", "DESMI", "DES"),
    ("DES-Clustering", "des", "DESClustering", "DES"),
    ("RRC", "des", "RRC", "DES"),
    ("DES-KL", "des", "DESKL", "DES"),
    ("MinimumDifference", "des", "MinimumDifference", "DES"),
    ("Exponential", "des", "Exponential", "DES"),
    ("Logarithmic", "des", "Logarithmic", "DES"),
    ("OLA", "dcs", "OLA", "DCS"),
    ("LCA", "dcs", "LCA", "DCS"),
    ("MLA", "dcs", "MLA", "DCS"),
    ("MCB", "dcs", "MCB", "DCS"),
    ("Rank", "dcs", "Rank", "DCS"),
    ("APriori", "dcs", "APriori", "DCS"),
    ("APosteriori", "dcs", "APosteriori", "DCS"),
)
QUICK_METHODS = ("KNORA-E", "KNORA-U", "META-DES", "DES-P", "OLA")


# ---------------------------------------------------------------- DESlib
def patch_deslib() -> str:
    """Make DESlib 0.3.7 run on this scikit-learn; returns the version.

    1. ``BaseEstimator._validate_data`` was removed in scikit-learn 1.6; DESlib's
       ``fit`` calls it. Where it is missing, it is provided as
       :func:`sklearn.utils.validation.validate_data` (the public function that
       replaced it, same arguments).
    2. DESlib fits its label encoder on the DSEL labels only, so a DSEL that
       lacks a class the pool predicts (10 digit classes from 5 rows; or 5
       rows of one class) fails in ``transform``. The encoder is fitted on the
       DSEL labels together with the pool's ``classes_``: every class the pool
       knows, in sorted order, which is what DESlib assumes of a pool whose
       members saw every class.
    """
    import deslib
    from deslib.base import BaseDS
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils.validation import validate_data

    if not hasattr(sklearn.base.BaseEstimator, "_validate_data"):

        def _validate_data(self, *args, **kwargs):
            return validate_data(self, *args, **kwargs)

        BaseDS._validate_data = _validate_data

    def _setup_label_encoder(self, y):
        self._check_label_encoder()
        known = [np.asarray(y)] + [np.asarray(c.classes_) for c in self.pool_classifiers_]
        self.enc_ = LabelEncoder().fit(np.concatenate(known))
        self.classes_ = self.enc_.classes_

    BaseDS._setup_label_encoder = _setup_label_encoder
    return deslib.__version__


class CachedMember(ClassifierMixin, BaseEstimator):
    """A fitted member whose ``predict`` / ``predict_proba`` remember their last inputs.

    DESlib's methods each call every member on the scoring rows; within one draw
    they are the same rows, so the cached outputs are exactly the member's
    (keyed by the bytes of ``X``). Only DESlib gets these wrappers: HyRe calls
    the members itself.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    @property
    def classes_(self):
        return self.estimator.classes_

    def fit(self, X, y):  # pragma: no cover - the members are fitted already
        raise NotImplementedError("a CachedMember wraps a fitted member")

    def _cached(self, kind: str, X):
        X = np.ascontiguousarray(X)
        key = (kind, X.shape, X.dtype.str, hashlib.sha1(X.tobytes()).hexdigest())
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[key] = getattr(self.estimator, kind)(X)
        return cache[key]

    def predict(self, X):
        return self._cached("predict", X)

    def predict_proba(self, X):
        return self._cached("predict_proba", X)


def make_des(label: str, pool: list, n: int, seed: int):
    """One DESlib method over ``pool`` for a DSEL of ``n`` rows (see the module doc)."""
    import importlib

    _, module, cls_name, _ = next(m for m in DES_METHODS if m[0] == label)
    cls = getattr(importlib.import_module(f"deslib.{module}"), cls_name)
    kwargs = {"random_state": seed, "n_jobs": 1}
    if label == "META-DES":
        kwargs.update(k=min(7, n - 1), Kp=min(5, n - 1))
    elif label == "DES-Clustering":
        kwargs.update(n_clusters=min(5, n))
    elif label not in ("RRC", "DES-KL", "MinimumDifference", "Exponential", "Logarithmic"):
        kwargs["k"] = min(7, n)  # the probabilistic ones use all of DSEL (k=None) by default
    return cls(pool, **kwargs)


def des_params(n: int) -> dict:
    """The non-default DESlib parameters used at DSEL size ``n`` (for the report)."""
    return {
        "k": min(7, n),
        "META-DES k, Kp": [min(7, n - 1), min(5, n - 1)],
        "DES-Clustering n_clusters": min(5, n),
    }


# ------------------------------------------------------------------ pool
def make_pool(seed: int, quick: bool) -> list[tuple[str, object]]:
    """The unfitted members: (name, classifier) pairs."""
    pool = [
        (f"tree_d{d}", DecisionTreeClassifier(max_depth=d, random_state=seed))
        for d in (1, 2, 3, 5, None)
    ]
    pool += [
        ("logreg_C1", LogisticRegression(C=1.0, max_iter=1000)),
        ("logreg_C0.01", LogisticRegression(C=0.01, max_iter=1000)),
        ("knn5", KNeighborsClassifier(n_neighbors=5)),
        ("knn15", KNeighborsClassifier(n_neighbors=15)),
        ("gnb", GaussianNB()),
        (
            "mlp32",
            MLPClassifier(
                hidden_layer_sizes=(32,), max_iter=200 if quick else 500, random_state=seed
            ),
        ),
    ]
    n_trees = 2 if quick else 5
    pool += [
        (f"rf_tree{i}", DecisionTreeClassifier(max_features="sqrt", random_state=1000 * seed + i))
        for i in range(n_trees)
    ]
    pool += [  # extremely randomized trees: random thresholds, diverse boundaries off the data
        (f"extra_tree{i}", ExtraTreeClassifier(random_state=1000 * seed + 500 + i))
        for i in range(n_trees)
    ]
    return pool


def fit_pool(pool, X, y, seed: int) -> list:
    """Fit every member on the source rows (the forest's trees on bootstrap samples)."""
    rng = np.random.default_rng(seed)
    fitted = []
    for name, est in pool:
        if name.startswith("rf_tree"):
            idx = rng.integers(0, len(y), size=len(y))
            while np.unique(y[idx]).size < np.unique(y).size:  # every class in the sample
                idx = rng.integers(0, len(y), size=len(y))
            est.fit(X[idx], y[idx])
        else:
            est.fit(X, y)
        fitted.append(est)
    return fitted


# -------------------------------------------------------------- protocol
def load_task(task: str, seed: int) -> dict:
    """Source and shifted rows of ``task`` for ``seed``, standardized by the source rows."""
    if task == "breast_cancer/projection":
        from sklearn.datasets import load_breast_cancer

        from skhyre.model_selection import ShiftSplit

        X, y = load_breast_cancer(return_X_y=True)
        cv = ShiftSplit(n_splits=2, test_size=0.3, tails="high", random_state=seed)
        train, shift = list(cv.split(X))[1]  # fold 1: a random direction, new per seed
        s = dict(
            X_train=X[train],
            y_train=y[train],
            X_val=None,
            y_val=None,
            X_shift=X[shift],
            y_shift=y[shift],
        )
    else:
        from shift_panel import make_split

        s = make_split(task, seed, None)
    X_train, y_train = s["X_train"], s["y_train"]
    if s["X_val"] is not None:  # the pool trains on all in-distribution rows
        X_train = np.vstack([X_train, s["X_val"]])
        y_train = np.concatenate([y_train, s["y_val"]])
    mu, sd = X_train.mean(axis=0), X_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return {
        "X_train": (X_train - mu) / sd,
        "y_train": np.asarray(y_train).astype(int),
        "X_shift": (s["X_shift"] - mu) / sd,
        "y_shift": np.asarray(s["y_shift"]).astype(int),
    }


def _accuracy(pred, y) -> float:
    return float(np.mean(np.asarray(pred) == y))


def run_seed(task: str, seed: int, args, methods: tuple[str, ...]) -> list[dict]:
    """All arms on ``task`` for one seed: one row per (N, draw, method)."""
    from skhyre import HyReEnsemble

    data = load_task(task, seed)
    X_tr, y_tr, X_sh, y_sh = data["X_train"], data["y_train"], data["X_shift"], data["y_shift"]
    pool_spec = make_pool(seed, args.quick)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        members = fit_pool(pool_spec, X_tr, y_tr, seed)
    fit_s = time.perf_counter() - t0
    names = [name for name, _ in pool_spec]
    hyre = HyReEnsemble(list(zip(names, members)), prefit=True).fit(X_tr, y_tr)
    for temperature in ALL_HYRE.values():  # warm-up: compile the kernels before any timing
        hyre.set_params(temperature=temperature).adapt(X_sh[:3], y_sh[:3]).predict(X_sh[:3])
    classes = hyre.classes_
    P = hyre.predict_members(X_sh)  # (K, n, C): best-member choice and the oracle
    member_pred = classes[P.argmax(axis=2)]  # (K, n)
    y_idx = np.searchsorted(classes, y_sh)
    rng = np.random.default_rng(10_000 + seed)
    rows = []
    n_shift = len(y_sh)
    for n in args.ns:
        for draw in range(args.draws):
            lab = np.sort(rng.choice(n_shift, size=n, replace=False))
            rest = np.setdiff1d(np.arange(n_shift), lab)
            X_lab, y_lab, X_rest, y_rest = X_sh[lab], y_sh[lab], X_sh[rest], y_sh[rest]
            base = dict(task=task, seed=seed, n=n, draw=draw, n_eval=int(rest.size))

            def record(method, acc, seconds, extra=None, base=base):
                rows.append(
                    {**base, "method": method, "accuracy": acc, "time_s": seconds, **(extra or {})}
                )

            hyre.reset_weights()
            t0 = time.perf_counter()
            acc = _accuracy(hyre.predict(X_rest), y_rest)
            record("uniform", acc, time.perf_counter() - t0)
            for arm, temperature in ALL_HYRE.items():
                hyre.set_params(temperature=temperature)
                t0 = time.perf_counter()
                hyre.adapt(X_lab, y_lab)
                acc = _accuracy(hyre.predict(X_rest), y_rest)
                seconds = time.perf_counter() - t0
                record(
                    arm,
                    acc,
                    seconds,
                    {
                        "temperature_chosen": float(hyre.temperature_),
                        "max_weight": float(hyre.weights_.max()),
                    },
                )
            hyre.set_params(temperature=1.0).reset_weights()
            # the single best member on the N labels: fewest errors, then lowest log loss
            errors = (member_pred[:, lab] != y_lab).sum(axis=1)
            p_true = P[:, lab, y_idx[lab]]
            logloss = -np.log(np.clip(p_true, 1e-12, 1.0)).sum(axis=1)
            best = np.lexsort((logloss, errors))[0]
            record(
                "best_member",
                _accuracy(member_pred[best, rest], y_rest),
                0.0,
                {"member": names[best], "n_tied": int(np.sum(errors == errors.min()))},
            )
            oracle = (member_pred[:, rest] == y_rest).mean(axis=1)
            record(
                "oracle_member", float(oracle.max()), 0.0, {"member": names[int(oracle.argmax())]}
            )
            cached = [CachedMember(m) for m in members]  # a fresh cache per draw
            for label in methods:
                des = make_des(label, cached, n, seed)
                t0 = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        des.fit(X_lab, y_lab)
                        acc = _accuracy(des.predict(X_rest), y_rest)
                    err = None
                except Exception as exc:  # a method that cannot run on this DSEL
                    acc, err = float("nan"), f"{type(exc).__name__}: {exc}"[:300]
                record(label, acc, time.perf_counter() - t0, {"error": err} if err else None)
    for r in rows:
        r["pool_fit_s"] = fit_s
        r["n_members"] = len(members)
    return rows


# ---------------------------------------------------------------- report
def per_seed(raw: list[dict], task: str, n: int, method: str) -> np.ndarray:
    """Accuracy per seed (averaged over draws), in seed order; NaN if any draw failed."""
    seeds = sorted({r["seed"] for r in raw if r["task"] == task})
    out = []
    for s in seeds:
        acc = [
            r["accuracy"]
            for r in raw
            if r["task"] == task and r["n"] == n and r["method"] == method and r["seed"] == s
        ]
        out.append(float(np.mean(acc)) if acc else float("nan"))
    return np.asarray(out)


def summarize(raw: list[dict], methods: tuple[str, ...]) -> dict:
    tasks = [t for t in TASKS if any(r["task"] == t for r in raw)]
    ns = sorted({r["n"] for r in raw})
    cells, comparisons = [], []
    for task in tasks:
        for n in ns:
            acc = {m: per_seed(raw, task, n, m) for m in (*OURS, "oracle_member", *methods)}
            means = {m: float(np.mean(v)) for m, v in acc.items()}
            ok = [m for m in methods if np.all(np.isfinite(acc[m]))]
            failed = {
                m: sum(
                    1
                    for r in raw
                    if r["task"] == task and r["n"] == n and r["method"] == m and "error" in r
                )
                for m in methods
            }
            best_des = max(ok, key=lambda m: means[m]) if ok else None
            rows_here = [r for r in raw if r["task"] == task and r["n"] == n]
            t_chosen = {
                arm: float(
                    np.median([r["temperature_chosen"] for r in rows_here if r["method"] == arm])
                )
                for arm in ALL_HYRE
            }
            cells.append(
                {
                    "task": task,
                    "n": n,
                    "n_seeds": len(acc["uniform"]),
                    "n_eval_median": float(np.median([r["n_eval"] for r in rows_here])),
                    "mean_accuracy": means,
                    "std_accuracy": {
                        m: float(np.std(v, ddof=1)) if v.size > 1 else 0.0 for m, v in acc.items()
                    },
                    "failed_draws": {m: c for m, c in failed.items() if c},
                    "best_des": best_des,
                    "median_temperature_chosen": t_chosen,
                    "first_error": {
                        m: next(r["error"] for r in rows_here if r["method"] == m and "error" in r)
                        for m, c in failed.items()
                        if c
                    },
                    "share_T_at_least_1": {
                        arm: float(
                            np.mean(
                                [
                                    r["temperature_chosen"] >= 1
                                    for r in rows_here
                                    if r["method"] == arm
                                ]
                            )
                        )
                        for arm in ("hyre_auto", "hyre_evidence")
                    },
                    "mean_max_weight": {
                        arm: float(
                            np.mean([r["max_weight"] for r in rows_here if r["method"] == arm])
                        )
                        for arm in ALL_HYRE
                    },
                    "median_n_tied": float(
                        np.median([r["n_tied"] for r in rows_here if r["method"] == "best_member"])
                    ),
                    "median_time_s": {
                        m: float(np.median([r["time_s"] for r in rows_here if r["method"] == m]))
                        for m in (*OURS, *methods)
                    },
                }
            )
            if best_des is None:
                continue
            # the DESlib method chosen on the *other* seeds (no winner's curse): per seed,
            # the method with the best mean over the remaining seeds, scored on this seed
            n_seeds = len(acc["uniform"])
            loso, loso_names = np.full(n_seeds, np.nan), []
            if n_seeds > 1:
                for i in range(n_seeds):
                    keep = np.arange(n_seeds) != i
                    pick = max(ok, key=lambda m, keep=keep: float(np.mean(acc[m][keep])))
                    loso[i] = acc[pick][i]
                    loso_names.append(pick)
                acc["DESlib (other seeds)"] = loso
                cells[-1]["mean_accuracy"]["DESlib (other seeds)"] = float(np.mean(loso))
                cells[-1]["loso_picks"] = loso_names
            for arm in (*ALL_HYRE, "uniform", "best_member"):
                for other, role in (
                    (best_des, "best DESlib"),
                    ("KNORA-E", "KNORA-E"),
                    ("DESlib (other seeds)", "DESlib chosen on other seeds"),
                ):
                    if other not in acc or not np.all(np.isfinite(acc[other])):
                        continue
                    if role != "best DESlib" and arm not in ALL_HYRE:
                        continue
                    v = paired_verdict(acc[arm], acc[other], higher_is_better=True)
                    comparisons.append(
                        {
                            "task": task,
                            "n": n,
                            "method": arm,
                            "against": other,
                            "role": role,
                            "diff": v.mean,
                            "lo": v.lo,
                            "hi": v.hi,
                            "verdict": v.verdict,
                            "n_seeds": int(acc[arm].size),
                        }
                    )
    return {"cells": cells, "comparisons": comparisons}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(c: dict) -> str:
    return f"{100 * c['diff']:+.1f} [{100 * c['lo']:+.1f}, {100 * c['hi']:+.1f}] {c['verdict']}"


def _find(comparisons, task, n, method, role):
    return next(
        (
            c
            for c in comparisons
            if (c["task"], c["n"], c["method"], c["role"]) == (task, n, method, role)
        ),
        None,
    )


def analysis(summary: dict, meta: dict) -> list[str]:
    """The "What this says" paragraphs, computed from the summary."""
    comps, cells = summary["comparisons"], summary["cells"]
    out = []
    small = [c for c in comps if c["role"] == "best DESlib" and c["n"] <= 10]
    for arm in HYRE_ARMS:
        mine = [c for c in small if c["method"] == arm]
        counts = {v: sum(c["verdict"] == v for c in mine) for v in ("better", "level", "worse")}
        worse = ", ".join(f"{c['task']} N={c['n']}" for c in mine if c["verdict"] == "worse")
        out.append(
            f"- **{arm} against the best DESlib method, N <= 10** ({len(mine)} task-N cells): "
            f"{counts['better']} better, {counts['level']} level, {counts['worse']} worse"
            + (f" ({worse})." if worse else ".")
        )
    large = [c for c in comps if c["role"] == "best DESlib" and c["n"] > 10]
    if large:
        parts = []
        for arm in HYRE_ARMS:
            mine = [c for c in large if c["method"] == arm]
            counts = {v: sum(c["verdict"] == v for c in mine) for v in ("better", "level", "worse")}
            parts.append(
                f"{arm} {counts['better']} better, {counts['level']} level, {counts['worse']} worse"
            )
        out.append(
            f"- N > 10 ({len(large) // len(ALL_HYRE)} cells, beyond the target): "
            + "; ".join(parts)
            + "."
        )
    met = [a for a in HYRE_ARMS if all(c["verdict"] != "worse" for c in small if c["method"] == a)]
    # runs before the default became "auto" (2026-12-08) did not record it: they ran at 1.0
    default_t = meta.get("hyre_default_temperature", "1.0")
    out.append(
        "- **Target** (issue #29: HyReEnsemble at least level with the best DESlib method at "
        "N <= 10 on the shifted tasks): "
        + (
            f"met by {', '.join(met)}"
            + (
                f"; not by {', '.join(a for a in HYRE_ARMS if a not in met)}"
                if len(met) < len(HYRE_ARMS)
                else ""
            )
            if met
            else "not met by any temperature"
        )
        + f". `HyReEnsemble`'s default temperature when this ran: {default_t} "
        + ("(hyre_T1)." if default_t == "1.0" else "(hyre_auto)." if default_t == "auto" else ".")
    )
    worse_cells = sorted(
        {
            (c["task"], c["n"])
            for c in small
            if c["verdict"] == "worse" and c["method"] in HYRE_ARMS
        },
        key=lambda k: (TASKS.index(k[0]), k[1]),
    )
    if worse_cells:
        out += [
            "",
            "Where HyRe is behind at N <= 10, the measurements beside it (means over seeds and "
            "draws): *max weight* is the largest member weight after `adapt`, *tied* the median "
            "number of members with the fewest errors on the N labels (which 0-1 loss cannot "
            "tell apart), *T=0.1* HyRe at temperature 0.1 (near hard selection, a diagnostic "
            "arm), *best member* the single member with the fewest errors on the N labels:",
            "",
        ]
        for task, n in worse_cells:
            cell = next(x for x in cells if x["task"] == task and x["n"] == n)
            m, w = cell["mean_accuracy"], cell["mean_max_weight"]
            t01 = _find(comps, task, n, "hyre_T0.1", "best DESlib")
            bm = _find(comps, task, n, "best_member", "best DESlib")
            out.append(
                f"- {task}, N={n}: best DESlib {cell['best_des']} {_pct(m[cell['best_des']])}%; "
                f"HyRe T1 {_pct(m['hyre_T1'])}% (max weight {w['hyre_T1']:.2f}), auto "
                f"{_pct(m['hyre_auto'])}% ({w['hyre_auto']:.2f}), evidence "
                f"{_pct(m['hyre_evidence'])}% ({w['hyre_evidence']:.2f}), T=0.1 "
                f"{_pct(m['hyre_T0.1'])}% ({w['hyre_T0.1']:.2f}; vs best DESlib "
                f"{_ci(t01) if t01 else '-'}); tied {cell['median_n_tied']:.0f} of "
                f"{meta['n_members']}; best member {_pct(m['best_member'])}% (vs best DESlib "
                f"{_ci(bm) if bm else '-'}); uniform {_pct(m['uniform'])}%, oracle member "
                f"(hindsight) {_pct(m['oracle_member'])}%."
            )
        out += ["", *why(summary, meta, worse_cells)]
    loso = [c for c in comps if c["role"] == "DESlib chosen on other seeds" and c["n"] <= 10]
    if loso:
        parts = []
        for arm in HYRE_ARMS:
            mine = [c for c in loso if c["method"] == arm]
            counts = {v: sum(c["verdict"] == v for c in mine) for v in ("better", "level", "worse")}
            parts.append(
                f"{arm} {counts['better']} better, {counts['level']} level, {counts['worse']} worse"
            )
        out += [
            "",
            "Against the DESlib method chosen on the *other* seeds (no choice in hindsight), "
            f"N <= 10, {len(loso) // (len(ALL_HYRE))} cells: " + "; ".join(parts) + ".",
        ]
    better = [
        c
        for c in comps
        if c["role"] == "best DESlib" and c["method"] in HYRE_ARMS and c["verdict"] == "better"
    ]
    if better:
        out += [
            "",
            "HyRe ahead of the best DESlib method: "
            + "; ".join(f"{c['method']} on {c['task']} N={c['n']} {_ci(c)}" for c in better)
            + ".",
        ]
    return out


def why(summary: dict, meta: dict, worse_cells: list) -> list[str]:
    """Why HyRe is behind where it is, read off the diagnostic arm and the weights."""
    comps, cells = summary["comparisons"], summary["cells"]
    families = meta.get("des_families", {})
    closes, stays = [], []
    for task, n in worse_cells:
        cell = next(x for x in cells if x["task"] == task and x["n"] == n)
        t01 = _find(comps, task, n, "hyre_T0.1", "best DESlib")
        (closes if t01 is not None and t01["verdict"] != "worse" else stays).append(cell)
    averaging_pays = [
        c for c in cells if c["mean_accuracy"]["hyre_T0.1"] < c["mean_accuracy"]["hyre_T1"] - 0.005
    ]
    out = []
    if closes:
        w = np.mean([c["mean_max_weight"]["hyre_T1"] for c in closes])
        tied = np.mean([c["median_n_tied"] for c in closes])
        fams = sorted({families.get(c["best_des"], "?") for c in closes})
        share_auto = np.mean([c["share_T_at_least_1"]["hyre_auto"] for c in closes])
        share_ev = np.mean([c["share_T_at_least_1"]["hyre_evidence"] for c in closes])
        out.append(
            "**Why.** In "
            + ", ".join(f"{c['task']} N={c['n']}" for c in closes)
            + f", HyRe at temperature 0.1 is level with the best DESlib method ({'/'.join(fams)} "
            "family winners: "
            + ", ".join(sorted({c["best_des"] for c in closes}))
            + "). Most of the gap is HyRe's temperature with a 0-1 loss on a handful of "
            "labels rather than DESlib's local regions: at T = 1 one error costs a factor e "
            f"of weight, so the weights stay spread (largest weight {w:.2f} on average) over "
            f"members the N labels barely separate ({tied:.0f} tied at the fewest errors), "
            "and their average is worse on the shifted rows than the single member (or the "
            'few tied ones) a selection method keeps. `"auto"` and `"evidence"` choose '
            "from the same few labels: they often go as low, but not in every draw (a "
            f"temperature of 1 or more in {share_auto:.0%} and {share_ev:.0%} of the draws "
            "here), and a draw with near-uniform weights costs what the others gain."
            + (
                " A low temperature is no fix either: T=0.1 is behind T=1 by more than half a "
                "point in " + ", ".join(f"{c['task']} N={c['n']}" for c in averaging_pays) + "."
                if averaging_pays
                else ""
            )
        )
    if stays:
        for c in stays:
            m = c["mean_accuracy"]
            uni = _find(comps, c["task"], c["n"], "uniform", "best DESlib")
            t01 = _find(comps, c["task"], c["n"], "hyre_T0.1", "best DESlib")
            out.append("")
            if m["oracle_member"] < m["uniform"]:
                ev, t1 = c["mean_max_weight"]["hyre_evidence"], c["mean_max_weight"]["hyre_T1"]
                out.append(
                    f"In {c['task']} N={c['n']} even T=0.1 stays behind ({_ci(t01)}), for the "
                    "opposite reason: here averaging wins. No single member reaches the "
                    f"uniform average (best member in hindsight {_pct(m['oracle_member'])}%, "
                    f"uniform {_pct(m['uniform'])}%), and the best DESlib method "
                    f"({c['best_des']}) is level with the uniform average (uniform - best "
                    f"DESlib {_ci(uni)}). HyRe's weights concentrate on the members that fit "
                    f"the N labels (largest weight {ev:.2f} with evidence, {t1:.2f} at T=1), and "
                    f"moving away from uniform costs accuracy here (T=1 {_pct(m['hyre_T1'])}%, "
                    f"evidence {_pct(m['hyre_evidence'])}%)."
                )
            else:
                out.append(
                    f"In {c['task']} N={c['n']} even T=0.1 stays behind ({_ci(t01)}), and a "
                    f"member in hindsight ({_pct(m['oracle_member'])}%) beats the uniform "
                    f"average ({_pct(m['uniform'])}%): the best DESlib method "
                    f"({c['best_des']}) picks members by local competence, which one global "
                    "weight vector cannot."
                )
    return out


def markdown(result: dict, meta: dict) -> str:
    summary = result["summary"]
    cells, comps = summary["cells"], summary["comparisons"]
    methods = meta["des_methods"]
    head = [
        "# HyReEnsemble against DESlib's dynamic ensemble selection",
        "",
        f"Accuracy (%) on the shifted rows left after labelling N of them at random, mean over "
        f"{meta['seeds']} seeds ({meta['draws']} draws of the N rows per seed, averaged first). "
        f"One pool of {meta['n_members']} scikit-learn classifiers fitted on the source rows for "
        "every method; the N labelled rows are HyRe's adaptation set and DESlib's DSEL. "
        "*best DESlib* is the DESlib method with the highest mean accuracy in that task and N, "
        "chosen in hindsight (a comparison that favours DESlib). Differences are HyRe minus the "
        "other method in accuracy points, paired over seeds, with a 95% t-interval and a verdict "
        "for HyRe.",
        "",
        "## Summary",
        "",
    ]
    rows = []
    for cell in cells:
        m, best = cell["mean_accuracy"], cell["best_des"]
        row = [
            cell["task"],
            cell["n"],
            _pct(m["uniform"]),
            _pct(m["best_member"]),
            _pct(m["hyre_T1"]),
            _pct(m["hyre_auto"]),
            _pct(m["hyre_evidence"]),
            f"{best} {_pct(m[best])}" if best else "-",
        ]
        for arm in HYRE_ARMS:
            c = _find(comps, cell["task"], cell["n"], arm, "best DESlib")
            row.append(_ci(c) if c else "-")
        rows.append(row)
    table = md_table(
        [
            "task",
            "N",
            "uniform",
            "best member",
            "HyRe T=1",
            "HyRe auto",
            "HyRe evidence",
            "best DESlib",
            "T=1 - best DESlib",
            "auto - best DESlib",
            "evidence - best DESlib",
        ],
        rows,
    )

    def versus(role: str, key: str, short: str) -> str:
        rows = []
        for cell in cells:
            row = [cell["task"], cell["n"], _pct(cell["mean_accuracy"].get(key, float("nan")))]
            for arm in ALL_HYRE:
                c = _find(comps, cell["task"], cell["n"], arm, role)
                row.append(_ci(c) if c else "-")
            rows.append(row)
        arms = ("T=1", "auto", "evidence", "T=0.1 (diagnostic)")
        return md_table(["task", "N", short, *[f"{a} - {short}" for a in arms]], rows)

    knora_table = versus("KNORA-E", "KNORA-E", "KNORA-E")
    loso_table = versus("DESlib chosen on other seeds", "DESlib (other seeds)", "DESlib-o")
    full = []
    arms = (*OURS, "oracle_member", *methods)
    for cell in cells:
        m = cell["mean_accuracy"]
        full.append([cell["task"], cell["n"], *[_pct(m[a]) for a in arms]])
    full_table = md_table(["task", "N", *arms], full)
    timing = []
    for cell in cells:
        t = cell["median_time_s"]
        timing.append(
            [
                cell["task"],
                cell["n"],
                *[
                    f"{1000 * t[a]:.1f}"
                    for a in ("hyre_T1", "hyre_auto", "hyre_evidence", *methods)
                ],
            ]
        )
    timing_table = md_table(
        ["task", "N", "hyre_T1", "hyre_auto", "hyre_evidence", *methods], timing
    )
    temps = [
        [
            c["task"],
            c["n"],
            *[f"{c['median_temperature_chosen'][a]:.3g}" for a in ("hyre_auto", "hyre_evidence")],
            *[f"{c['mean_max_weight'][a]:.2f}" for a in ALL_HYRE],
            f"{c['median_n_tied']:.0f}",
            f"{c['n_eval_median']:.0f}",
        ]
        for c in cells
    ]
    temps_table = md_table(
        [
            "task",
            "N",
            "T chosen (auto)",
            "T chosen (evidence)",
            *[f"max weight ({a})" for a in ALL_HYRE],
            "tied best members",
            "scoring rows",
        ],
        temps,
    )
    failures = [
        f"{c['task']} N={c['n']}: "
        + ", ".join(
            f"{k} {v} (`{c.get('first_error', {}).get(k, '?')[:80]}`)"
            for k, v in c["failed_draws"].items()
        )
        for c in cells
        if c["failed_draws"]
    ]
    body = [
        *head,
        table,
        "",
        "## What this says",
        "",
        *analysis(summary, meta),
        *([""] + meta["analysis_notes"] if meta.get("analysis_notes") else []),
        "",
        "## Against KNORA-E",
        "",
        "The most used DES method, fixed in advance (no choice in hindsight).",
        "",
        knora_table,
        "",
        "## Against the DESlib method chosen on the other seeds",
        "",
        "*DESlib-o*: for each seed, the DESlib method with the best mean accuracy over the "
        "*other* seeds of that task and N, scored on this seed: a choice a user could make "
        "from earlier tasks, free of the winner's curse of picking the best of "
        f"{len(methods)} methods on the same seeds it is scored on.",
        "",
        loso_table,
        "",
        "## Every method",
        "",
        "Mean accuracy (%). *best_member*: the member with the fewest errors on the N labels; "
        "*oracle_member*: the best member on the scoring rows, chosen in hindsight (context, not "
        "a method).",
        "",
        full_table,
        "",
        "## Temperatures and scoring rows",
        "",
        "Median temperature chosen over draws (`inf`: uniform weights), mean largest member "
        "weight after `adapt`, median number of members tied at the fewest errors on the N "
        "labels, median number of scoring rows.",
        "",
        temps_table,
        "",
        "## Time",
        "",
        "Median milliseconds per draw: HyRe's `adapt` + `predict`, DESlib's `fit` + `predict` "
        "on the same pool and rows. Not a like-for-like speed test: DESlib's methods share a "
        "per-draw cache of the members' outputs, so the first one run in a draw (KNORA-E) pays "
        "for the members' predictions and the others do not, while every HyRe time includes "
        "them; DES-KNN and DES-Clustering are the slow ones either way.",
        "",
        timing_table,
        "",
        "## Setup",
        "",
        "- Tasks: `binary_d2`, `binary_d8`: the shifted binary task "
        "(`skhyre.datasets.make_shifted_binary`, 500 source rows, 1000 target rows, a new "
        "boundary per seed); `breast_cancer/projection`: `load_breast_cancer` with the 30% of "
        "rows at the high end of a random projection as the shifted set (`ShiftSplit` fold 1, "
        "new per seed); `digits/mean`: `load_digits` under the mean-feature split "
        "(`skhyre.datasets.ood_split`, 10% shifted). Inputs standardized with the source "
        "rows' statistics.",
        f"- DESlib {meta['deslib']}, scikit-learn {meta['sklearn']}. Patched at import "
        "(DESlib 0.3.7 predates scikit-learn 1.6): `BaseDS._validate_data` is provided as "
        "`sklearn.utils.validation.validate_data`; DESlib's label encoder is fitted on the DSEL "
        "labels and the pool's classes, so a DSEL missing a class (always, for 10 digit classes "
        "at N=5) does not fail.",
        "- DESlib parameters: defaults, except `n_jobs=1`, `random_state=seed`, "
        "neighbourhoods `k = min(7, N)` (the probabilistic methods RRC, DES-KL, Minimum "
        "Difference, Exponential, Logarithmic keep their default `k=None`, all of DSEL), "
        "META-DES `k = min(7, N - 1)` and `Kp = min(5, N - 1)` (it looks up each DSEL row's "
        "neighbours without the row itself), DES-Clustering `n_clusters = min(5, N)`.",
        f"- Pool ({meta['n_members']} members): {', '.join(meta['members'])}; inputs "
        "standardized with the source rows' statistics; every member trained on every source "
        "row (the `rf_tree*` on bootstrap samples with `max_features='sqrt'`, the `extra_tree*` "
        "extremely randomized).",
        "- Failed draws (NaN accuracy; a method with any is left out of *best DESlib* for that "
        "cell): " + ("; ".join(failures) if failures else "none."),
        "",
        f"`{meta['command']}`, {meta['elapsed_s']:.0f} s{' (quick run)' if meta['quick'] else ''}, "
        f"one BLAS thread; {machine_line(meta['machine'])}."
        + (
            f" Interrupted: seeds done per task {meta['seeds_done']}."
            if meta.get("seeds_done")
            else ""
        )
        + (
            f" Rendered from the raw rows by `{meta['rerendered']['command']}` on "
            f"{meta['rerendered']['date']}."
            if meta.get("rerendered")
            else ""
        ),
    ]
    return "\n".join(body) + "\n"


def json_safe(obj):
    """Non-finite floats as strings, so the JSON stays strict."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="2 seeds, 1 draw, N in (5, 10), 2 tasks, 5 DESlib methods, a smaller pool",
    )
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 10)")
    p.add_argument(
        "--draws", type=int, default=None, help="draws of the N rows per seed (default 2)"
    )
    p.add_argument("--ns", type=int, nargs="+", default=None, help="label counts N")
    p.add_argument("--tasks", nargs="+", default=None, choices=TASKS)
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="render the report from the raw rows of an earlier run's JSON, or of "
        "the checkpoint (des_peers.partial.json) an interrupted run left",
    )
    args = p.parse_args(argv)
    if args.from_json is not None:
        return rerender(args.from_json, args.out, argv)
    try:
        deslib_version = patch_deslib()
    except ImportError as exc:
        print(f"DESlib is not installed ({exc}); pip install -e '.[peers]'", file=sys.stderr)
        return 2
    args.seeds = args.seeds or (2 if args.quick else 10)
    args.draws = args.draws or (1 if args.quick else 2)
    args.ns = tuple(args.ns or ((5, 10) if args.quick else NS))
    tasks = tuple(
        args.tasks or (("binary_d2", "breast_cancer/projection") if args.quick else TASKS)
    )
    methods = QUICK_METHODS if args.quick else tuple(m[0] for m in DES_METHODS)

    info = machine_info()
    print(machine_line(info), flush=True)
    from skhyre import HyReEnsemble

    meta_args = {
        "benchmark": NAME,
        "command": " ".join(
            ["python benchmarks/des_peers.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "quick": args.quick,
        "seeds": args.seeds,
        "draws": args.draws,
        "ns": list(args.ns),
        "tasks": list(tasks),
        "des_methods": list(methods),
        "des_families": {m[0]: m[3] for m in DES_METHODS if m[0] in methods},
        "des_params": {str(n): des_params(n) for n in args.ns},
        "members": [name for name, _ in make_pool(0, args.quick)],
        "n_members": len(make_pool(0, args.quick)),
        "deslib": deslib_version,
        "sklearn": sklearn.__version__,
        "machine": info,
        "blas_threads": 1,
        "hyre_default_temperature": str(HyReEnsemble([]).get_params()["temperature"]),
    }
    t0 = time.perf_counter()
    raw = []
    with threadpool_limits(limits=1):
        for task in tasks:
            for seed in range(args.seeds):
                t1 = time.perf_counter()
                raw += run_seed(task, seed, args, methods)
                print(f"{task} seed {seed}: {time.perf_counter() - t1:.1f} s", flush=True)
                checkpoint = {
                    "meta": {**meta_args, "elapsed_s": time.perf_counter() - t0},
                    "raw": raw,
                }
                write_checkpoint(args.out, checkpoint)
    meta = {
        **meta_args,
        "load_average_end": machine_info()["load_average"],
        "elapsed_s": time.perf_counter() - t0,
    }
    _write(raw, meta, args.out)
    (Path(args.out) / f"{NAME}.partial.json").unlink(missing_ok=True)
    return 0


def write_checkpoint(out, payload: dict) -> None:
    """The raw rows so far, so that an interrupted run can still be reported."""
    import json

    path = Path(out) / f"{NAME}.partial.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(payload)) + "\n", encoding="utf-8")


def _write(raw: list[dict], meta: dict, out) -> None:
    summary = summarize(raw, tuple(meta["des_methods"]))
    result = {"raw": raw, "summary": summary}
    md = markdown(result, meta)
    write_results(NAME, json_safe({"meta": meta, **result}), md, out=out)
    print(md)
    print(f"wrote {Path(out) / NAME}.{{json,md}}")


def _from_json_safe(obj):
    """Inverse of :func:`json_safe`."""
    if isinstance(obj, dict):
        return {k: _from_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json_safe(v) for v in obj]
    if obj in ("inf", "-inf", "nan"):
        return float(obj)
    return obj


def rerender(path: Path, out: Path, argv) -> int:
    """Summary and report from the raw rows of an earlier run (or its checkpoint)."""
    import json
    from datetime import datetime, timezone

    old = _from_json_safe(json.loads(Path(path).read_text()))
    meta, raw = old["meta"], old["raw"]
    done = sorted({(r["task"], r["seed"]) for r in raw})
    seeds = {t: sorted(s for tt, s in done if tt == t) for t in meta["tasks"]}
    if any(len(v) != meta["seeds"] for v in seeds.values()):  # an interrupted run
        meta["seeds_done"] = {t: len(v) for t, v in seeds.items()}
        meta["seeds"] = min(len(v) for v in seeds.values() if v)
        meta["tasks"] = [t for t in meta["tasks"] if seeds[t]]
    meta["rerendered"] = {
        "command": " ".join(["python benchmarks/des_peers.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    meta.setdefault("elapsed_s", float("nan"))
    _write(raw, meta, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
