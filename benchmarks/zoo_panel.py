"""HyReEnsemble's temperature on the shift panel's tasks (issue #26 item 3).

Which default temperature should :class:`skhyre.HyReEnsemble` have? The
torch estimators default to ``"auto"`` capped at ``max_temperature=1``
(:mod:`shift_panel`); a cap of 1 can never make the weights flatter than
``T=1``, and over scikit-learn models ``T=1`` can be too sharp (a forest's
trees on kin8nm, ``sklearn_shift.md``; a zoo whose weights pile onto one
model). This benchmark measures the rules on two kinds of member sets, on
every task of the shift panel (:func:`shift_panel.make_split`; the held-out
tasks :data:`shift_panel.HELD_OUT` reported separately):

- ``zoo``: a heterogeneous list of 14 scikit-learn models fitted on the
  training rows (:func:`regression_zoo`, :func:`classification_zoo`: linear,
  polynomial, nearest neighbours, trees, gradient boosting, forests, kernel
  machines; in ``StandardScaler`` pipelines where the model needs it);
- ``forest``: the trees of the zoo's random forest (100 trees), i.e.
  ``HyReEnsemble(RandomForestRegressor(n_estimators=100))`` (the forest is
  fitted once and shared, ``prefit=True``).

For N in (1, 5, 10, 32), N shifted rows are labelled at random (several
draws per fit, the same draws as the shift panel's), the ensemble is adapted
on them and scored on the *remaining* shifted rows: RMSE in units of the
training target's standard deviation (regression), accuracy
(classification). Arms: ``uniform`` (no adaptation), ``T1``, ``auto``
(uncapped), ``auto_cap1`` (``max_temperature=1``), ``evidence``,
``evidence_cap1``, and ``best`` (the best single member on the scoring rows,
chosen in hindsight: an oracle, reported only). The members' predictions on
the shifted rows are computed once per fit; each arm is ``set_params`` +
``adapt`` on the cached rows (:func:`cached_rows`; checked against a real
``adapt`` once per fit), so nothing is refitted or re-predicted per arm.

Every "A vs B" cell is the paired mean difference over seeds (each seed's
value averaged over its draws) with a 95% t-interval and a verdict
better / level / worse (:func:`_common.paired_verdict`).

Run ``python benchmarks/zoo_panel.py [--quick] [--n-jobs 1]`` with the UCI
CSVs in ``SKHYRE_DATA``; ``--from-json`` rewrites the report from a stored
run. Writes ``benchmarks/results/zoo_panel.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, machine_line, md_table, paired_verdict, write_results
from shift_panel import (
    ALL_TASKS,
    FRESH_CHECK,
    HELD_OUT,
    TASK_CHOICES,
    _from_json_safe,
    default_data_home,
    is_classification,
    json_safe,
    make_split,
)

NAME = "zoo_panel"
NS = (1, 5, 10, 32)
ENSEMBLES = ("zoo", "forest")
#: arm -> (temperature, max_temperature)
RULES = {
    "T1": (1.0, None),
    "auto": ("auto", None),
    "auto_cap1": ("auto", 1.0),
    "evidence": ("evidence", None),
    "evidence_cap1": ("evidence", 1.0),
}
#: the candidate defaults compared with T=1 (the current default) and with uniform
CANDIDATES = ("auto", "auto_cap1", "evidence", "evidence_cap1")
ARMS = ("uniform", *RULES, "best")


# ----------------------------------------------------------------- members
def regression_zoo(seed: int, n_trees: int = 100) -> list[tuple[str, object]]:
    """Fourteen regressors; the random forest (``rf``) is also the forest ensemble."""

    def scaled(*steps):
        return make_pipeline(StandardScaler(), *steps)

    return [
        ("ridge", scaled(Ridge(alpha=1.0))),
        ("poly2_ridge", scaled(PolynomialFeatures(2), Ridge(alpha=1.0))),
        ("knn5", scaled(KNeighborsRegressor(n_neighbors=5))),
        ("knn25_dist", scaled(KNeighborsRegressor(n_neighbors=25, weights="distance"))),
        ("knn50", scaled(KNeighborsRegressor(n_neighbors=50))),
        ("tree_d4", DecisionTreeRegressor(max_depth=4, random_state=seed)),
        ("tree_leaf5", DecisionTreeRegressor(min_samples_leaf=5, random_state=seed)),
        ("hgb", HistGradientBoostingRegressor(random_state=seed)),
        (
            "hgb_d3",
            HistGradientBoostingRegressor(
                max_depth=3, learning_rate=0.05, max_iter=200, random_state=seed
            ),
        ),
        ("gbr_d2", GradientBoostingRegressor(max_depth=2, n_estimators=150, random_state=seed)),
        ("rf", RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1)),
        (
            "extra_trees",
            ExtraTreesRegressor(
                n_estimators=n_trees, min_samples_leaf=2, random_state=seed, n_jobs=1
            ),
        ),
        ("svr", scaled(SVR(C=1.0))),
        ("kridge_nystroem", scaled(Nystroem(n_components=300, random_state=seed), Ridge(1.0))),
    ]


def classification_zoo(seed: int, n_trees: int = 100) -> list[tuple[str, object]]:
    """Fourteen classifiers with ``predict_proba``; ``rf`` is also the forest ensemble."""

    def scaled(*steps):
        return make_pipeline(StandardScaler(), *steps)

    return [
        ("logreg", scaled(LogisticRegression(max_iter=1000))),
        (
            "poly2_logreg",
            scaled(
                PolynomialFeatures(2), StandardScaler(), LogisticRegression(C=0.1, max_iter=1000)
            ),
        ),
        ("knn5", scaled(KNeighborsClassifier(n_neighbors=5))),
        ("knn25_dist", scaled(KNeighborsClassifier(n_neighbors=25, weights="distance"))),
        ("naive_bayes", GaussianNB()),
        ("tree_d4", DecisionTreeClassifier(max_depth=4, random_state=seed)),
        ("tree_leaf5", DecisionTreeClassifier(min_samples_leaf=5, random_state=seed)),
        ("hgb", HistGradientBoostingClassifier(random_state=seed)),
        (
            "hgb_d3",
            HistGradientBoostingClassifier(
                max_depth=3, learning_rate=0.05, max_iter=200, random_state=seed
            ),
        ),
        (
            "gbc_d2",
            GradientBoostingClassifier(
                max_depth=2, n_estimators=60, learning_rate=0.2, random_state=seed
            ),
        ),
        ("rf", RandomForestClassifier(n_estimators=n_trees, random_state=seed, n_jobs=1)),
        (
            "extra_trees",
            ExtraTreesClassifier(
                n_estimators=n_trees, min_samples_leaf=2, random_state=seed, n_jobs=1
            ),
        ),
        ("svc", scaled(SVC(probability=True, random_state=seed))),
        (
            "kernel_logreg_nystroem",
            scaled(
                Nystroem(n_components=300, random_state=seed), LogisticRegression(max_iter=1000)
            ),
        ),
    ]


# ----------------------------------------------------------------- scoring
@contextmanager
def cached_rows(hyre, F: np.ndarray):
    """While inside, ``hyre``'s ``adapt`` reads member predictions from ``F`` (the
    members' output on the shifted rows, ``(K, n)`` or ``(K, n, C)``): its ``X`` is
    a column of row indices into ``F``. Only the member matrix is replaced; the
    loss, the temperature rule and the weights are the library's own code."""
    hyre._member_matrix = lambda X: F[:, np.asarray(X, dtype=np.int64).ravel()]
    try:
        yield hyre
    finally:
        del hyre._member_matrix


def _score(clf: bool, F_rest, w, classes, y, y_scale: float) -> float:
    """The weighted ensemble's score on the scoring rows (``w``: member weights)."""
    if clf:
        P = np.einsum("k,knc->nc", w, F_rest.astype(np.float64))
        return float(np.mean(classes[P.argmax(axis=1)] == y))
    return float(np.sqrt(np.mean((w @ F_rest - y) ** 2)) / y_scale)


def _member_scores(clf: bool, F, classes, y, y_scale: float) -> np.ndarray:
    if clf:
        return np.mean(classes[F.argmax(axis=2)] == y, axis=1)
    return np.sqrt(np.mean((F - y) ** 2, axis=1)) / y_scale


def _rounded(row: dict) -> dict:
    """Scores and temperatures to 7 significant digits (the JSON stays small)."""
    return {k: float(f"{v:.7g}") if isinstance(v, float) else v for k, v in row.items()}


def run_unit(task: str, seed: int, cfg: dict) -> dict:
    """One task x seed: fit the zoo once, then every ensemble, N, draw and arm."""
    from skhyre import HyReEnsemble

    clf = is_classification(task)
    t_unit = time.perf_counter()
    s = make_split(task, seed, cfg["data_home"])
    Xtr, ytr, Xsh, ysh = s["X_train"], s["y_train"], s["X_shift"], s["y_shift"]
    y_scale = 1.0 if clf else float(np.std(ytr))
    zoo = (classification_zoo if clf else regression_zoo)(seed, cfg["n_trees"])
    fit_s = {}
    for name, est in zoo:
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        fit_s[name] = time.perf_counter() - t0
    forest = dict(zoo)["rf"]
    hyres = {
        "zoo": HyReEnsemble(zoo, prefit=True).fit(Xtr, ytr),
        "forest": HyReEnsemble(forest, prefit=True).fit(Xtr, ytr),
    }
    n = len(ysh)
    out = {
        "task": task,
        "seed": seed,
        "n_train": len(ytr),
        "n_shift": int(n),
        "fit_s": fit_s,
        "members": [name for name, _ in zoo],
        "ensembles": {},
    }
    rows = []
    for ens, hyre in hyres.items():
        classes = getattr(hyre, "classes_", None)
        t0 = time.perf_counter()
        F = hyre.predict_members(Xsh)
        predict_s = time.perf_counter() - t0
        K = F.shape[0]
        uniform_w = np.full(K, 1.0 / K)
        # the same draws as the shift panel's for this seed
        rng = np.random.default_rng(10_000 + seed)
        checked = False
        t0 = time.perf_counter()
        for N in cfg["ns"]:
            if N >= n:
                continue
            for d in range(cfg["draws"]):
                idx = rng.choice(n, size=N, replace=False)
                rest = np.setdiff1d(np.arange(n), idx)
                yr, Fr = ysh[rest], F[:, rest]
                r = {"task": task, "seed": seed, "ensemble": ens, "N": N, "draw": d}
                r["uniform"] = _score(clf, Fr, uniform_w, classes, yr, y_scale)
                r["best"] = float(
                    (np.max if clf else np.min)(_member_scores(clf, Fr, classes, yr, y_scale))
                )
                for arm, (t, cap) in RULES.items():
                    hyre.set_params(temperature=t, max_temperature=cap)
                    with cached_rows(hyre, F):
                        hyre.adapt(idx[:, None], ysh[idx])
                    w = hyre.weights_
                    if not checked and N == max(cfg["ns"]) and arm == "auto":
                        # the cache changes nothing: a real adapt gives the same weights
                        w_real = hyre.adapt(Xsh[idx], ysh[idx]).weights_
                        if not np.allclose(w, w_real, rtol=1e-6, atol=1e-9):
                            raise AssertionError(f"{task} {ens}: cached adapt != adapt")
                        checked = True
                    r[arm] = _score(clf, Fr, w, classes, yr, y_scale)
                    r[f"{arm}_temperature"] = float(hyre.temperature_)
                    # effective number of members, as a fraction of K (1: uniform)
                    r[f"{arm}_n_eff"] = float(1.0 / np.sum(w**2) / K)
                rows.append(_rounded(r))
        hyre.set_params(temperature=1.0, max_temperature=None).reset_weights()
        out["ensembles"][ens] = {
            "n_members": int(K),
            "predict_s": predict_s,
            "adapt_s": time.perf_counter() - t0,
            # every member's score on all shifted rows (the oracle's candidates)
            "member_scores": _member_scores(clf, F, classes, ysh, y_scale).tolist(),
            "uniform_all": _score(clf, F, uniform_w, classes, ysh, y_scale),
        }
    out["rows"] = rows
    out["unit_s"] = time.perf_counter() - t_unit
    return out


def _run_logged(task, seed, cfg):
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # convergence warnings of the linear members
        u = run_unit(task, seed, cfg)
    print(
        f"[{NAME}] {task} seed {seed}: {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return u


# ----------------------------------------------------------------- summary
def per_seed(rows, task, ens, N, arm) -> dict:
    """``{seed: value averaged over draws}``."""
    out: dict[int, list] = {}
    for r in rows:
        if r["task"] == task and r["ensemble"] == ens and r["N"] == N and arm in r:
            out.setdefault(r["seed"], []).append(r[arm])
    return {k: float(np.mean(v)) for k, v in out.items()}


def compare(rows, task, ens, N, a, b) -> dict | None:
    A, B = per_seed(rows, task, ens, N, a), per_seed(rows, task, ens, N, b)
    seeds = sorted(set(A) & set(B))
    if not seeds:
        return None
    av, bv = np.array([A[s] for s in seeds]), np.array([B[s] for s in seeds])
    mean, lo, hi, verdict = paired_verdict(av, bv, higher_is_better=is_classification(task))
    return {
        "a": a,
        "b": b,
        "task": task,
        "ensemble": ens,
        "N": N,
        "n_seeds": len(seeds),
        "a_mean": float(av.mean()),
        "b_mean": float(bv.mean()),
        "diff": mean,
        "lo": lo,
        "hi": hi,
        "verdict": verdict,
    }


COMPARISONS = [(a, "T1") for a in CANDIDATES] + [(a, "uniform") for a in ("T1", *CANDIDATES)]


def summarize(units: list[dict], ns) -> dict:
    rows = [r for u in units for r in u["rows"]]
    tasks = [t for t in TASK_CHOICES if any(u["task"] == t for u in units)]
    cmps, means = [], []
    for task in tasks:
        for ens in ENSEMBLES:
            for N in ns:
                for a, b in COMPARISONS:
                    c = compare(rows, task, ens, N, a, b)
                    if c is not None:
                        cmps.append(c)
                e = {"task": task, "ensemble": ens, "N": N}
                for arm in ARMS:
                    v = per_seed(rows, task, ens, N, arm)
                    if v:
                        e[arm] = float(np.mean(list(v.values())))
                here = [
                    r for r in rows if r["task"] == task and r["ensemble"] == ens and r["N"] == N
                ]
                if not here:
                    continue
                for arm in ("auto", "evidence"):
                    e[f"{arm}_temperature_median"] = float(
                        np.median([r[f"{arm}_temperature"] for r in here])
                    )
                for arm in ("T1", "auto"):
                    e[f"{arm}_n_eff"] = float(np.mean([r[f"{arm}_n_eff"] for r in here]))
                means.append(e)
    return {"comparisons": cmps, "means": means}


# ------------------------------------------------------------------ report
def _fmt(x: float, clf: bool) -> str:
    return f"{x:.3f}" if clf else f"{x:.4f}"


def _rel(c: dict, clf: bool) -> tuple[float, float, float]:
    """The cell in report units: accuracy points, or % of B's mean RMSE."""
    scale = 100.0 if clf else 100.0 / max(c["b_mean"], 1e-12)
    return scale * c["diff"], scale * c["lo"], scale * c["hi"]


def _cell(c: dict | None, clf: bool) -> str:
    if c is None:
        return "-"
    mark = {"better": "**better**", "worse": "*worse*", "level": "level"}[c["verdict"]]
    if not np.isfinite(c["lo"]):
        return f"{c['diff']:+.4f} (1 seed) level"
    m, lo, hi = _rel(c, clf)
    unit = " pt" if clf else "%"
    return f"{m:+.1f}{unit} [{lo:+.1f}, {hi:+.1f}] {mark}"


def _select(cmps, a, b, tasks, ens, N) -> list[dict]:
    return [
        c
        for c in cmps
        if (c["a"], c["b"], c["ensemble"], c["N"]) == (a, b, ens, N) and c["task"] in tasks
    ]


def _counts(cmps, a, b, tasks, ens, N) -> str:
    vs = [c["verdict"] for c in _select(cmps, a, b, tasks, ens, N)]
    if not vs:
        return "-"
    return f"{vs.count('better')}/{vs.count('level')}/{vs.count('worse')}"


def _mean_change(cmps, a, b, tasks, ens, N) -> str:
    """Mean over tasks of the paired difference: regression in %, classification in pt."""
    parts = []
    for clf, unit in ((False, "%"), (True, " pt")):
        cs = [c for c in _select(cmps, a, b, tasks, ens, N) if is_classification(c["task"]) == clf]
        if cs:
            parts.append(f"{np.mean([_rel(c, clf)[0] for c in cs]):+.1f}{unit}")
    return ", ".join(parts) or "-"


def _find(cmps, task, ens, N, a, b):
    return next(
        (
            c
            for c in cmps
            if (c["task"], c["ensemble"], c["N"], c["a"], c["b"]) == (task, ens, N, a, b)
        ),
        None,
    )


def _tag(task: str) -> str:
    return " (held out)" if task in HELD_OUT else " (fresh check)" if task in FRESH_CHECK else ""


def _groups(tasks):
    dev = [t for t in tasks if t not in HELD_OUT and t not in FRESH_CHECK]
    return (
        ("development", dev),
        ("held out", [t for t in tasks if t in HELD_OUT]),
        ("fresh check", [t for t in tasks if t in FRESH_CHECK]),
    )


def markdown(payload: dict) -> str:
    meta, summ, units = payload["meta"], payload["summary"], payload["units"]
    cmps, means = summ["comparisons"], summ["means"]
    ns = meta["ns"]
    tasks = [t for t in TASK_CHOICES if any(u["task"] == t for u in units)]
    lines = [
        "# Zoo panel: HyReEnsemble's temperature over a model zoo and a forest's trees",
        "",
        f"Machine: {machine_line(meta['machine'], date=False)}.  ",
        f"Date: {meta['machine']['date']}; wall time {meta['wall_s'] / 60:.1f} min "
        f"({meta['n_jobs']} job(s), one BLAS thread)"
        f"{' — QUICK run, not a result' if meta['quick'] else ''}.  ",
        f"Command: `{meta['command']}`.  ",
        f"Settings: {meta['seeds']} seeds, {meta['draws']} random draws of the N labels per "
        f"fit (the shift panel's draws), N in {tuple(ns)}; scikit-learn {meta['sklearn']}; "
        f"HyReEnsemble's default temperature when run: `{meta['default_temperature']}` "
        f"(max_temperature `{meta['default_max_temperature']}`).",
        "",
        f"Ensembles: *zoo*, {len(meta['regression_zoo'])} fitted regressors "
        f"({', '.join(meta['regression_zoo'])}) or {len(meta['classification_zoo'])} "
        f"classifiers ({', '.join(meta['classification_zoo'])}); *forest*, the "
        f"{meta['n_trees']} trees of the zoo's random forest "
        "(`HyReEnsemble(RandomForest*(n_estimators=100))`). Default adaptation losses "
        "(scale-free squared error; 0-1 error).",
        "",
        "Scores: regression RMSE on the remaining shifted rows in units of the training "
        "target's standard deviation (lower is better); classification accuracy (higher is "
        "better). A cell *A vs B* is the paired mean difference A - B over seeds (each seed "
        "averaged over its draws) with its 95% t-interval: regression in % of B's mean RMSE, "
        "classification in accuracy points; the verdict reads for A (**better** / level / "
        "*worse*; the interval excluding 0 decides). *best*: the best single member on the "
        "scoring rows, chosen in hindsight (an oracle, reported only). *_cap1*: "
        "`max_temperature=1`.",
        f"Held-out tasks (chosen before the shift panel's first run; not used to choose "
        f"HyReEnsemble's default): {', '.join(HELD_OUT)}.",
        "",
    ]
    for title, group in _groups(tasks):
        if not group:
            continue
        for ens in ENSEMBLES:
            lines += [
                f"## Summary, {ens}: tasks better / level / worse ({title}, {len(group)} tasks)",
                "",
            ]
            hdr = ["A vs B"] + [f"N={N}" for N in ns]
            body = [
                [f"{a} vs {b}"] + [_counts(cmps, a, b, group, ens, N) for N in ns]
                for a, b in COMPARISONS
            ]
            lines += [md_table(hdr, body), ""]
        lines += [
            f"## Mean change across tasks ({title})",
            "",
            "Mean over tasks of the paired difference A - B (regression tasks in % of B's "
            "RMSE, negative is better; classification tasks in accuracy points, positive is "
            "better).",
            "",
        ]
        hdr = ["ensemble", "A vs B"] + [f"N={N}" for N in ns]
        body = [
            [ens, f"{a} vs {b}"] + [_mean_change(cmps, a, b, group, ens, N) for N in ns]
            for ens in ENSEMBLES
            for a, b in COMPARISONS
        ]
        lines += [md_table(hdr, body), ""]

    lines += ["## Mean scores per task (over seeds)", ""]
    hdr = [
        "task",
        "ensemble",
        "N",
        *ARMS,
        "T auto (median)",
        "T evidence (median)",
        "n_eff T1",
        "n_eff auto",
    ]
    body = []
    for e in means:
        clf = is_classification(e["task"])
        body.append(
            [e["task"] + _tag(e["task"]), e["ensemble"], e["N"]]
            + [_fmt(e[a], clf) if a in e else "-" for a in ARMS]
            + [
                f"{e[f'{r}_temperature_median']:.3g}".replace("inf", "uniform")
                for r in ("auto", "evidence")
            ]
            + [f"{e['T1_n_eff']:.2f}", f"{e['auto_n_eff']:.2f}"]
        )
    lines += [
        md_table(hdr, body),
        "",
        "*T auto*, *T evidence*: the median temperature chosen over seeds and draws "
        "(*uniform*: infinite). *n_eff*: the effective number of members, "
        "1 / sum(w^2), as a fraction of the members (1: uniform weights), mean over draws.",
        "",
    ]

    for title, group in _groups(tasks):
        if not group:
            continue
        lines += [f"## Per task: {title}", ""]
        pairs = [(a, "T1") for a in CANDIDATES] + [("T1", "uniform"), ("auto", "uniform")]
        hdr = ["task", "ensemble", "N", *(f"{a} vs {b}" for a, b in pairs)]
        body = []
        for task in group:
            clf = is_classification(task)
            for ens in ENSEMBLES:
                for N in ns:
                    cells = [_cell(_find(cmps, task, ens, N, a, b), clf) for a, b in pairs]
                    if any(x != "-" for x in cells):
                        body.append([task, ens, N, *cells])
        lines += [md_table(hdr, body), ""]

    lines += ["## Members on the shifted rows", ""]
    hdr = ["task", "rows (train / shifted)", "uniform zoo", "best member", "worst member"]
    hdr += ["uniform forest", "best tree", "fit s (zoo)"]
    body = []
    for task in tasks:
        us = [u for u in units if u["task"] == task]
        clf = is_classification(task)
        names = us[0]["members"]
        ms = np.mean([u["ensembles"]["zoo"]["member_scores"] for u in us], axis=0)
        order = np.argsort(-ms if clf else ms)
        trees = np.mean(
            [(np.max if clf else np.min)(u["ensembles"]["forest"]["member_scores"]) for u in us]
        )
        body.append(
            [
                task + _tag(task),
                f"{us[0]['n_train']} / {us[0]['n_shift']}",
                _fmt(np.mean([u["ensembles"]["zoo"]["uniform_all"] for u in us]), clf),
                f"{names[order[0]]} {_fmt(ms[order[0]], clf)}",
                f"{names[order[-1]]} {_fmt(ms[order[-1]], clf)}",
                _fmt(np.mean([u["ensembles"]["forest"]["uniform_all"] for u in us]), clf),
                _fmt(trees, clf),
                f"{np.mean([sum(u['fit_s'].values()) for u in us]):.1f}",
            ]
        )
    lines += [
        md_table(hdr, body),
        "",
        "Scores on all shifted rows, means over seeds; *best member* / *worst member*: the "
        "zoo member with the best / worst mean score (the same member on every seed); "
        "*best tree*: the best single tree's score, averaged over seeds.",
        "",
    ]
    lines += ["## What this says", "", *findings(payload)]
    return "\n".join(lines) + "\n"


def _tally(cs: list[dict]) -> str:
    v = [c["verdict"] for c in cs]
    return f"{v.count('better')} better, {v.count('level')} level, {v.count('worse')} worse"


def _mean_units(cs: list[dict]) -> str:
    parts = []
    reg = [_rel(c, False)[0] for c in cs if not is_classification(c["task"])]
    clf = [_rel(c, True)[0] for c in cs if is_classification(c["task"])]
    if reg:
        parts.append(f"mean RMSE change {np.mean(reg):+.1f}%")
    if clf:
        parts.append(f"mean accuracy change {np.mean(clf):+.2f} pt")
    return ", ".join(parts)


def _why(c: dict, means: list[dict]) -> str:
    """Where a rule loses to T=1: how its median temperature compares with 1."""
    e = next(
        (
            m
            for m in means
            if (m["task"], m["ensemble"], m["N"]) == (c["task"], c["ensemble"], c["N"])
        ),
        None,
    )
    rule = c["a"].removesuffix("_cap1")
    t = np.inf if e is None else e.get(f"{rule}_temperature_median", np.nan)
    if c["a"].endswith("_cap1"):
        t = min(t, 1.0)
    if not np.isfinite(t):
        return "uniform"
    return "sharper" if t < 1 else "flatter" if t > 1 else "T=1"


def findings(payload: dict) -> list[str]:
    """Sentences generated from the numbers: which rule qualifies as the default, and
    where each loses to T=1 (with how its chosen temperature compares with 1)."""
    meta, summ = payload["meta"], payload["summary"]
    cmps, means = summ["comparisons"], summ["means"]
    tasks = [t for t in TASK_CHOICES if any(u["task"] == t for u in payload["units"])]
    groups = {k: v for k, v in _groups(tasks) if v}
    out = [
        "The criterion (issue #26 item 3): a default never worse than T = 1 beyond noise "
        "(no *worse* cell) and better on average on the development tasks, over both "
        "ensembles and every N; checked on the held-out tasks.",
        "",
    ]
    score = {}
    for arm in CANDIDATES:
        out.append(f"- `{arm}` vs T = 1:")
        for title, group in groups.items():
            for ens in ENSEMBLES:
                cs = [
                    c
                    for c in cmps
                    if (c["a"], c["b"], c["ensemble"]) == (arm, "T1", ens) and c["task"] in group
                ]
                if not cs:
                    continue
                worse = [c for c in cs if c["verdict"] == "worse"]
                why = {}
                for c in worse:
                    why.setdefault(_why(c, means), []).append(f"{c['task']} N={c['N']}")
                txt = f"  - {title}, {ens} ({len(cs)} cells): {_tally(cs)}; {_mean_units(cs)}"
                if why:
                    txt += ". Worse cells, by the median temperature chosen there: " + "; ".join(
                        {
                            "uniform": "uniform weights (one label: no evidence)",
                            "sharper": "below 1 (sharper than T = 1)",
                            "flatter": "above 1 (flatter than T = 1)",
                            "T=1": "1 (T = 1's weights in the median draw)",
                        }[k]
                        + f" on {', '.join(v)}"
                        for k, v in why.items()
                    )
                out.append(txt + ".")
        dev = [
            c
            for c in cmps
            if (c["a"], c["b"]) == (arm, "T1") and c["task"] in groups.get("development", [])
        ]
        v = [c["verdict"] for c in dev]
        reg = [_rel(c, False)[0] for c in dev if not is_classification(c["task"])]
        clf = [_rel(c, True)[0] for c in dev if is_classification(c["task"])]
        on_average = (not reg or np.mean(reg) < 0) and (not clf or np.mean(clf) >= 0)
        score[arm] = (
            v.count("worse") == 0 and v.count("better") > 0 and on_average,
            v.count("better") - v.count("worse"),
        )
    out.append("- Against the uniform ensemble (no adaptation):")
    for arm in ("T1", *CANDIDATES):
        for title, group in groups.items():
            parts = []
            for ens in ENSEMBLES:
                cs = [
                    c
                    for c in cmps
                    if (c["a"], c["b"], c["ensemble"]) == (arm, "uniform", ens)
                    and c["task"] in group
                ]
                if cs:
                    v = [c["verdict"] for c in cs]
                    parts.append(f"{ens} {v.count('better')} better / {v.count('worse')} worse")
            out.append(f"  - `{arm}`, {title}: {'; '.join(parts)}.")
    qualified = [a for a in CANDIDATES if score.get(a, (False, 0))[0]]
    if "development" not in groups:
        out.append(
            "- No development task in this run: the criterion is not evaluated here; the "
            "cells above check the choice made on the full panel."
        )
    elif qualified:
        out.append(
            "- Never worse than T = 1 beyond noise on the development tasks and better on "
            f"average: {', '.join(f'`{a}`' for a in qualified)}."
        )
    elif score:
        best = max(score, key=lambda a: score[a][1])
        out.append(
            "- No rule is never worse than T = 1 beyond noise on the development tasks. "
            f"The best balance (development cells better minus worse than T = 1): `{best}` "
            f"({score[best][1]:+d}; "
            + ", ".join(f"`{a}` {score[a][1]:+d}" for a in score if a != best)
            + ")."
        )
    out.append(
        f"- {len(tasks)} tasks, N in {tuple(meta['ns'])}, {meta['seeds']} seeds x "
        f"{meta['draws']} draws; both ensembles per fit."
    )
    return out


# -------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="2 seeds, 2 draws, N in (1, 10), 4 tasks, 30 trees",
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds (full 5, quick 2)")
    p.add_argument("--draws", type=int, default=None, help="draws per fit and N (full 5, quick 2)")
    p.add_argument("--tasks", nargs="+", default=None, choices=TASK_CHOICES)
    p.add_argument("--ns", nargs="+", type=int, default=None, help=f"label counts (full {NS})")
    p.add_argument("--n-jobs", type=int, default=1, help="task x seed units in parallel")
    p.add_argument("--data-home", default=default_data_home())
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="rewrite the summary and report from an earlier run's JSON (no fitting)",
    )
    args = p.parse_args(argv)
    q = args.quick
    args.seeds = args.seeds or (2 if q else 5)
    args.draws = args.draws or (2 if q else 5)
    args.tasks = args.tasks or (
        ["energy/mean", "kin8nm/theta1-high", "binary_d2", "digits/mean"] if q else ALL_TASKS
    )
    args.ns = args.ns or ([1, 10] if q else list(NS))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    words = sys.argv[1:] if argv is None else list(argv)
    if args.from_json is not None:
        payload = _from_json_safe(json.loads(args.from_json.read_text(encoding="utf-8")))
        payload["summary"] = summarize(payload["units"], payload["meta"]["ns"])
        md = markdown(payload)
        write_results(NAME, json_safe(payload), md, out=args.out)
        print(md)
        return 0
    from joblib import Parallel, delayed

    from skhyre import HyReEnsemble

    cfg = {
        "data_home": args.data_home,
        "ns": args.ns,
        "draws": args.draws,
        "n_trees": 30 if args.quick else 100,
    }
    todo = [(t, s) for t in args.tasks for s in range(args.seeds)]
    todo.sort(key=lambda u: (not any(k in u[0] for k in ("kin8nm", "ccpp")), u[1]))
    t0 = time.perf_counter()
    units = Parallel(n_jobs=args.n_jobs)(delayed(_run_logged)(t, s, cfg) for t, s in todo)
    units.sort(key=lambda u: (TASK_CHOICES.index(u["task"]), u["seed"]))
    wall = time.perf_counter() - t0
    defaults = HyReEnsemble([]).get_params()
    meta = {
        "benchmark": NAME,
        "command": "python benchmarks/zoo_panel.py" + "".join(" " + w for w in words),
        "quick": args.quick,
        "seeds": args.seeds,
        "draws": args.draws,
        "ns": args.ns,
        "tasks": args.tasks,
        "held_out": list(HELD_OUT),
        "n_jobs": args.n_jobs,
        "n_trees": cfg["n_trees"],
        "regression_zoo": [name for name, _ in regression_zoo(0)],
        "classification_zoo": [name for name, _ in classification_zoo(0)],
        "default_temperature": str(defaults["temperature"]),
        "default_max_temperature": str(defaults["max_temperature"]),
        "sklearn": sklearn.__version__,
        "machine": machine_info(),
        "wall_s": wall,
    }
    payload = {"meta": meta, "units": units, "summary": summarize(units, args.ns)}
    md = markdown(payload)
    write_results(NAME, json_safe(payload), md, out=args.out)
    print(md)
    print(f"Done in {wall / 60:.1f} min; wrote {args.out / NAME}.{{json,md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
