"""Which ``prior_scale`` by default, and does shift-aware model selection pick it? (issue #26 item 4)

``prior_scale`` sets how far the members of a Shared-Base ensemble spread
where the training data are silent: too small and HyRe has little to choose
from, too large and every member is a poor fit. This benchmark measures it on
the shift panel's tasks (:mod:`shift_panel`), with every other setting at the
estimator's defaults inside ``make_pipeline(StandardScaler(), ...)``:

(a) **Evidence.** For each ``prior_scale`` in ``--grid`` and each seed: the
    uniform ensemble's score on the shifted rows, and the score after
    adapting with the default temperature on N random shifted labels
    (``--draws`` draws per N, the same rows for every prior scale, scored on
    the remaining shifted rows); the member spread on the shifted rows. Every
    value is compared with ``prior_scale=1`` (the default when this ran) as
    a paired mean difference over seeds with a 95% t-interval and a verdict
    (:func:`_common.paired_verdict`). Development, held-out and fresh-check
    tasks are reported separately, as the panel does.

(b) **Model selection.** On the tasks in ``--select-tasks``: a
    :class:`~sklearn.model_selection.GridSearchCV` over the same grid on the
    *training* rows, ``scoring=adapted_scorer(n_adapt=10, random_state=0)``
    (and the plain uniform score, in the same search), with
    ``cv=ShiftSplit(n_splits=3, random_state=seed)`` or
    ``cv=KFold(3, shuffle=True, random_state=seed)``, ``refit=False``. Each
    search's pick is then scored with the fits of (a) on the task's shifted
    rows (adapted at N=10): how often it picks the value best there, and its
    regret (how much worse the pick is than that best, in % of the best's
    score), ShiftSplit vs KFold as a paired verdict over task x seed.

Run ``python benchmarks/prior_scale.py [--quick]``; writes
``benchmarks/results/prior_scale.{json,md}``. ``--from-json`` re-renders a
stored run; ``--cache DIR`` keeps each task x seed's result as it finishes,
so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, md_table, paired_verdict, write_results
from shift_panel import (
    CLASSIFICATION_TASKS,
    FRESH_CHECK,
    HELD_OUT,
    TASK_CHOICES,
    _best_member,
    _member_spread,
    _score,
    _uniform_pred,
    default_data_home,
    is_classification,
    make_split,
)

NAME = "prior_scale"
GRID = (0.3, 1.0, 3.0, 10.0)
BASE = 1.0  # the default when this benchmark was written
NS = (5, 10, 32)
SELECT_N = 10  # adapted_scorer(n_adapt=10) and the N at which picks are judged
SELECTORS = ("shift", "kfold", "shift_uniform", "kfold_uniform")
GROUPS = ("development", "held-out", "fresh check")

#: (a) in the full run, sized to ~45 min on one core: the panel's small sets (energy's
#: splits, diabetes, friedman1, the classification tasks), the large sets' mean-feature
#: splits (kin8nm, ccpp: 6,000-7,000 training rows, 15-30 s a fit) and all four held-out
#: tasks; the large sets' development column splits (up to 120 s a fit) are left out; the
#: fresh check's two small tasks are reported apart
FULL_TASKS = [
    "energy/mean",
    "energy/X1_relative_compactness-high",
    "energy/X2_surface_area-high",
    "kin8nm/mean",
    "ccpp/mean",
    "diabetes/mean",
    "friedman1/mean",
    *CLASSIFICATION_TASKS,
    "energy/X3_wall_area-high",
    "kin8nm/theta7-high",
    "ccpp/AP-high",
    "energy/X4_roof_area-high",
    "friedman3/mean",
]
#: (b) in the full run: the tasks whose fits take a few seconds (24 per task x seed)
SELECT_TASKS = [
    "energy/mean",
    "diabetes/mean",
    "friedman1/mean",
    "friedman3/mean",
    "binary_d2",
    "binary_d8",
    "breast_cancer/mean",
]
QUICK_TASKS = ["diabetes/mean", "breast_cancer/mean"]


def group(task: str) -> str:
    if task in HELD_OUT:
        return "held-out"
    if task in FRESH_CHECK:
        return "fresh check"
    return "development"


def _key(ps: float) -> str:
    return f"{float(ps):g}"


def _estimator(clf: bool, **params):
    from skhyre import HyReClassifier, HyReRegressor

    return (HyReClassifier if clf else HyReRegressor)(**params)


def default_params() -> dict:
    """The estimators' ``get_params()`` defaults (JSON-ready)."""
    from skhyre import HyReClassifier, HyReRegressor

    out = {}
    for cls in (HyReRegressor, HyReClassifier):
        params = cls().get_params()
        out[cls.__name__] = {
            k: list(v) if isinstance(v, tuple) else v if _plain(v) else repr(v)
            for k, v in params.items()
        }
    return out


def _plain(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


# ------------------------------------------------------------------ runs
def fit_and_adapt(task, seed, s, clf, grid, cfg) -> dict:
    """(a): one fit per prior scale; uniform and adapted shifted scores, spread."""
    from skhyre.pipeline import make_pipeline

    Xtr, ytr, Xsh, ysh = s["X_train"], s["y_train"], s["X_shift"], s["y_shift"]
    y_scale = 1.0 if clf else float(np.std(ytr))
    n = len(ysh)
    rng = np.random.default_rng(10_000 + seed)  # the panel's draws; shared by every prior scale
    draws = {
        N: [rng.choice(n, size=N, replace=False) for _ in range(cfg["draws"])]
        for N in cfg["ns"]
        if N < n
    }
    out = {}
    for ps in grid:
        pipe = make_pipeline(StandardScaler(), _estimator(clf, random_state=seed, prior_scale=ps))
        t0, c0 = time.perf_counter(), time.process_time()
        pipe.fit(Xtr, ytr)
        final = pipe[-1]
        r = {
            "fit_s": time.perf_counter() - t0,
            "fit_cpu_s": time.process_time() - c0,
            "epochs": len(final.net_.history),
        }
        classes = getattr(final, "classes_", None)
        F = pipe.predict_members(Xsh)
        uni_all = _uniform_pred(clf, F, classes)
        r["shift"] = _score(clf, uni_all, ysh, y_scale)
        r["best_member"] = _best_member(clf, F, classes, ysh, y_scale)
        r["spread"] = _member_spread(clf, F, classes, y_scale)
        if s["X_val"] is not None:
            r["val"] = _score(clf, pipe.predict(s["X_val"]), s["y_val"], y_scale)
        for N, idxs in draws.items():
            uni, ada, temps, maxw = [], [], [], []
            for idx in idxs:
                rest = np.setdiff1d(np.arange(n), idx)
                uni.append(_score(clf, uni_all[rest], ysh[rest], y_scale))
                pipe.adapt(Xsh[idx], ysh[idx])
                ada.append(_score(clf, pipe.predict(Xsh[rest]), ysh[rest], y_scale))
                temps.append(float(getattr(final, "temperature_", np.nan)))
                maxw.append(float(final.weights_.max()))
                pipe.reset_weights()
            r[f"uniform_N{N}"] = float(np.mean(uni))
            r[f"adapted_N{N}"] = float(np.mean(ada))
            r[f"temperature_N{N}"] = float(np.median(temps))
            r[f"max_weight_N{N}"] = float(np.mean(maxw))
        out[_key(ps)] = r
    return out


def select(seed, s, clf, grid, cfg) -> dict:
    """(b): GridSearchCV over the grid on the training rows, ShiftSplit vs KFold."""
    from sklearn.model_selection import GridSearchCV, KFold

    from skhyre.metrics import adapted_scorer
    from skhyre.model_selection import ShiftSplit
    from skhyre.pipeline import make_pipeline

    pipe = make_pipeline(StandardScaler(), _estimator(clf, random_state=seed))
    param = f"{pipe.steps[-1][0]}__prior_scale"
    scoring = {
        "adapted": adapted_scorer(n_adapt=cfg["select_n"], random_state=0),
        "uniform": "accuracy" if clf else "r2",
    }
    cvs = {
        "shift": ShiftSplit(n_splits=cfg["folds"], random_state=seed),
        "kfold": KFold(cfg["folds"], shuffle=True, random_state=seed),
    }
    out = {}
    for name, cv in cvs.items():
        t0 = time.perf_counter()
        gs = GridSearchCV(
            pipe,
            {param: [float(v) for v in grid]},
            scoring=scoring,
            cv=cv,
            refit=False,
            n_jobs=1,
            error_score="raise",
        ).fit(s["X_train"], s["y_train"])
        res = gs.cv_results_
        r = {"search_s": time.perf_counter() - t0}
        for metric in scoring:
            means = [float(v) for v in res[f"mean_test_{metric}"]]
            r[f"{metric}_scores"] = means
            r[f"{metric}_std"] = [float(v) for v in res[f"std_test_{metric}"]]
            # GridSearchCV's own choice: the lowest rank, the first candidate among ties
            pick = int(np.argmin(res[f"rank_test_{metric}"]))
            r[f"{metric}_pick"] = _key(res["params"][pick][param])
        out[name] = r
    return out


def run_unit(task: str, seed: int, cfg: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    clf = is_classification(task)
    s = make_split(task, seed, cfg["data_home"])
    t0, c0 = time.perf_counter(), time.process_time()
    out = {
        "task": task,
        "seed": seed,
        "group": group(task),
        "n_train": len(s["y_train"]),
        "n_shift": len(s["y_shift"]),
        "fits": fit_and_adapt(task, seed, s, clf, cfg["grid"], cfg),
    }
    if task in cfg["select_tasks"]:
        out["selection"] = select(seed, s, clf, cfg["grid"], cfg)
    out["unit_s"] = time.perf_counter() - t0
    out["unit_cpu_s"] = time.process_time() - c0
    return out


def _cache_path(cache, task: str, seed: int) -> Path:
    return Path(cache) / f"{task.replace('/', '__')}__{seed}.json"


def _logged(task, seed, cfg, cache):
    path = None if cache is None else _cache_path(cache, task, seed)
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = run_unit(task, seed, cfg)
    print(f"[{NAME}] {task} seed {seed}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(u))
    return u


# ------------------------------------------------------------------ report
def _metrics(ns) -> list[str]:
    return ["shift", *(f"adapted_N{N}" for N in ns)]


def _label(metric: str) -> str:
    return "uniform" if metric == "shift" else metric.replace("adapted_N", "N=")


def compare(units, task, a: str, b: str, metric: str):
    """Paired verdict of prior scale ``a`` vs ``b`` on one task (regression: % of b's mean)."""
    us = [u for u in units if u["task"] == task]
    pairs = [(u["fits"][a][metric], u["fits"][b][metric]) for u in us if metric in u["fits"][a]]
    if len(pairs) < 2:
        return None
    va, vb = map(np.array, zip(*pairs))
    clf = is_classification(task)
    if clf:  # accuracy points
        va, vb = va * 100, vb * 100
    else:  # % of b's mean RMSE
        scale = 100.0 / float(np.mean(vb))
        va, vb = va * scale, vb * scale
    return paired_verdict(va, vb, higher_is_better=clf)


def _cell(v) -> str:
    if v is None:
        return "-"
    tag = {"better": "**better**", "worse": "*worse*", "level": "level"}[v.verdict]
    return f"{v.mean:+.1f} [{v.lo:+.1f}, {v.hi:+.1f}] {tag}"


def _mean_score(units, task, ps, metric) -> float | None:
    vals = [u["fits"][ps][metric] for u in units if u["task"] == task and metric in u["fits"][ps]]
    return float(np.mean(vals)) if vals else None


def best_value(units, task, metric) -> str | None:
    """The prior scale with the best mean score over seeds (lowest RMSE, highest accuracy)."""
    keys = list(units[0]["fits"])
    scores = {k: _mean_score(units, task, k, metric) for k in keys}
    scores = {k: v for k, v in scores.items() if v is not None}
    if not scores:
        return None
    pick = max if is_classification(task) else min
    return pick(scores, key=scores.get)


def evidence_summary(units, ns) -> dict:
    """Per group, per value vs BASE, per metric: counts and the mean difference over tasks."""
    keys = list(units[0]["fits"])
    base = _key(BASE)
    tasks = list(dict.fromkeys(u["task"] for u in units))
    out = {}
    for g in GROUPS:
        gt = [t for t in tasks if group(t) == g]
        if not gt:
            continue
        out[g] = {}
        for k in keys:
            if k == base:
                continue
            out[g][k] = {}
            for metric in _metrics(ns):
                verdicts = {t: compare(units, t, k, base, metric) for t in gt}
                verdicts = {t: v for t, v in verdicts.items() if v is not None}
                counts = {
                    c: sum(v.verdict == c for v in verdicts.values())
                    for c in ("better", "level", "worse")
                }
                # a common sign for the mean: negative is better (regression % / minus accuracy points)
                signed = [
                    v.mean if not is_classification(t) else -v.mean for t, v in verdicts.items()
                ]
                changes = {t: float(c) for t, c in zip(verdicts, signed)}
                across = (
                    paired_verdict(signed, np.zeros(len(signed)))._asdict()
                    if len(signed) >= 2
                    else None
                )
                out[g][k][metric] = {
                    **counts,
                    "n_tasks": len(verdicts),
                    "mean_change": float(np.mean(signed)) if signed else None,
                    # tasks as the units: is the mean change over tasks beyond the task spread?
                    "across_tasks": across,
                    "changes": changes,
                    "worse_tasks": sorted(t for t, v in verdicts.items() if v.verdict == "worse"),
                    "better_tasks": sorted(t for t, v in verdicts.items() if v.verdict == "better"),
                }
    return out


def decision(summary, ns) -> dict:
    """The brief's rule: a value better than BASE on average and never worse beyond noise at
    every N on the development tasks, and never worse on the held-out ones."""
    adapted = [f"adapted_N{N}" for N in ns]
    out = {}
    dev, held = summary.get("development", {}), summary.get("held-out", {})
    for k, per in dev.items():
        better_avg = all(
            per[m]["mean_change"] is not None and per[m]["mean_change"] < 0 for m in adapted
        )
        never_worse = all(per[m]["worse"] == 0 for m in adapted)
        held_ok = all(held.get(k, {}).get(m, {}).get("worse", 0) == 0 for m in adapted)
        out[k] = {
            "better_on_average": better_avg,
            "never_worse_dev": never_worse,
            "not_worse_held_out": held_ok,
            "qualifies": better_avg and never_worse and held_ok,
        }
    return out


def selection_rows(units, n=SELECT_N) -> list[dict]:
    """(b) per task x seed: the best value on the shifted rows (adapted at N), each selector's
    pick and its regret in % of the best's score (>= 0)."""
    metric = f"adapted_N{n}"
    rows = []
    for u in units:
        sel = u.get("selection")
        if not sel or metric not in next(iter(u["fits"].values())):
            continue
        clf = is_classification(u["task"])
        scores = {k: r[metric] for k, r in u["fits"].items()}
        best = (max if clf else min)(scores, key=scores.get)
        row = {"task": u["task"], "seed": u["seed"], "best": best, "best_score": scores[best]}
        picks = {
            "shift": sel["shift"]["adapted_pick"],
            "kfold": sel["kfold"]["adapted_pick"],
            "shift_uniform": sel["shift"]["uniform_pick"],
            "kfold_uniform": sel["kfold"]["uniform_pick"],
            **{f"fixed_{k}": k for k in scores},
        }
        for cv in ("shift", "kfold"):
            top = np.asarray(sel[cv].get("adapted_scores", [0.0]))
            # several values share the best score: GridSearchCV takes the first in the grid
            row[f"{cv}_tied"] = bool(np.sum(top == top.max()) > 1)
        for name, p in picks.items():
            sc = scores[p]
            regret = (
                (scores[best] - sc) / scores[best] if clf else (sc - scores[best]) / scores[best]
            )
            row[f"{name}_pick"] = p
            row[f"{name}_hit"] = bool(sc == scores[best])  # ties with the best count as hits
            row[f"{name}_regret"] = 100.0 * regret
        rows.append(row)
    return rows


def selection_summary(rows) -> dict:
    out = {"n_units": len(rows)}
    if not rows:
        return out
    fixed = [k for k in rows[0] if k.startswith("fixed_") and k.endswith("_pick")]
    for name in (*SELECTORS, *(k[: -len("_pick")] for k in fixed)):
        reg = np.array([r[f"{name}_regret"] for r in rows])
        out[name] = {
            "hits": int(sum(r[f"{name}_hit"] for r in rows)),
            "mean_regret": float(reg.mean()),
            "median_regret": float(np.median(reg)),
        }
    subsets = {
        "all": rows,
        "regression": [r for r in rows if not is_classification(r["task"])],
        "classification": [r for r in rows if is_classification(r["task"])],
    }
    default = f"fixed_{_key(BASE)}"
    pairs = [("shift", "kfold"), ("shift", default), ("kfold", default), ("shift", "shift_uniform")]
    comps = []
    for sub, rs in subsets.items():
        if len(rs) < 2:
            continue
        for a, b in pairs:
            v = paired_verdict([r[f"{a}_regret"] for r in rs], [r[f"{b}_regret"] for r in rs])
            h = paired_verdict(
                [float(r[f"{a}_hit"]) for r in rs],
                [float(r[f"{b}_hit"]) for r in rs],
                higher_is_better=True,
            )
            comps.append(
                {
                    "subset": sub,
                    "a": a,
                    "b": b,
                    "n": len(rs),
                    "regret": v._asdict(),
                    "hit_rate": h._asdict(),
                }
            )
    out["comparisons"] = comps
    return out


SELECTOR_LABEL = {
    "shift": "ShiftSplit + adapted_scorer",
    "kfold": "KFold + adapted_scorer",
    "shift_uniform": "ShiftSplit + plain score",
    "kfold_uniform": "KFold + plain score",
}


def _selector_label(name: str) -> str:
    if name.startswith("fixed_"):
        return f"always {name[len('fixed_') :]} (no search)"
    return SELECTOR_LABEL[name]


def _vcell(d: dict, scale: float = 1.0, fmt: str = "{:+.2f}") -> str:
    tag = {"better": "**better**", "worse": "*worse*", "level": "level"}[d["verdict"]]
    m, lo, hi = (d[k] * scale for k in ("mean", "lo", "hi"))
    return f"{fmt.format(m)} [{fmt.format(lo)}, {fmt.format(hi)}] {tag}"


def markdown(payload: dict) -> str:
    units, meta = payload["units"], payload["meta"]
    ns = meta["ns"]
    keys = [_key(v) for v in meta["grid"]]
    base = _key(BASE)
    tasks = list(dict.fromkeys(u["task"] for u in units))
    summary = evidence_summary(units, ns)
    dec = decision(summary, ns)
    lines = [
        "# Prior scale: the default, and shift-aware model selection",
        "",
        f"Machine: {machine_line(meta['machine'], date=False)}.  ",
        f"Date: {meta['date']}; wall time {sum(u['unit_s'] for u in units) / 60:.1f} min "
        f"(CPU {sum(u.get('unit_cpu_s', 0.0) for u in units) / 60:.1f} min) summed over the "
        "task x seed units; "
        f"command: `{meta['command']}`.  ",
        f"Grid: prior_scale in {', '.join(keys)}; seeds {meta['seeds']}; adaptation: the "
        f"estimator's default temperature on N random shifted labels ({meta['draws']} draws per "
        "fit, the same rows for every prior scale), scored on the remaining shifted rows. "
        "Every other setting at the estimator defaults (all recorded in the JSON; "
        + "; ".join(_defaults_line(name, d) for name, d in meta["defaults"].items())
        + ") inside `make_pipeline(StandardScaler(), ...)`; one torch thread.",
        "",
        f"Tasks (a): {len(tasks)} of the shift panel's ({', '.join(tasks)}); "
        f"model selection (b) on {', '.join(meta['select_tasks'])}."
        + (
            f" {meta['units_from_cache']} of the {len(units)} task x seed units were read back "
            "from `--cache` (computed by an earlier invocation with the same settings); "
            "the times above are the units' own."
            if meta.get("units_from_cache")
            else ""
        ),
        "",
        "Scores: regression RMSE in units of the training target's sd (lower is better), "
        "classification accuracy (higher is better). *A vs B* cells: paired mean difference "
        "over seeds with a 95% t-interval (regression in % of B's mean, classification in "
        "accuracy points) and a verdict for A. Held-out tasks (kept aside while defaults are "
        "chosen) and the fresh-check tasks are reported apart from the development tasks.",
        "",
        f"## Summary (a): each prior scale vs {base} (tasks better / level / worse)",
        "",
        "*mean change*: the mean over tasks of the paired difference, signed so that negative "
        "is better (regression: % RMSE; classification: minus accuracy points).",
        "",
    ]
    hdr = ["group", "prior_scale", *(_label(m) for m in _metrics(ns))]
    rows = []
    for g, per in summary.items():
        for k, cells in per.items():
            row = [g, k]
            for m in _metrics(ns):
                c = cells[m]
                mc = "-" if c["mean_change"] is None else f"{c['mean_change']:+.1f}"
                row.append(f"{c['better']}/{c['level']}/{c['worse']} (mean change {mc})")
            rows.append(row)
    lines += [md_table(hdr, rows), ""]
    lines += [
        "Decision rule (a value replaces the default only if it is better than "
        f"{base} on average over the development tasks at every N >= 5, worse beyond noise on "
        "none of them at any such N, and worse on none of the held-out tasks at any such N; "
        "the last column, not part of the rule, lists where the *uniform* ensemble "
        "(no adaptation) is worse beyond noise):",
        "",
    ]
    rows = [
        [
            k,
            "yes" if d["better_on_average"] else "no",
            "yes" if d["never_worse_dev"] else "no",
            "yes" if d["not_worse_held_out"] else "no",
            "**yes**" if d["qualifies"] else "no",
            ", ".join(
                f"{t} ({g})" for g, per in summary.items() for t in per[k]["shift"]["worse_tasks"]
            )
            or "none",
        ]
        for k, d in dec.items()
    ]
    lines += [
        md_table(
            [
                "prior_scale",
                "better on average (dev)",
                "never worse (dev)",
                "not worse (held-out)",
                "qualifies",
                "uniform worse on",
            ],
            rows,
        ),
        "",
    ]
    winners = [k for k, d in dec.items() if d["qualifies"]]
    if winners:
        lines += [f"Qualifies: {', '.join(winners)}.", ""]
    else:
        lines += [f"No value qualifies: the evidence keeps prior_scale={base}.", ""]
    worse = [
        f"{k} on {', '.join(summary['development'][k][m]['worse_tasks'])} ({_label(m)})"
        for k in summary.get("development", {})
        for m in _metrics(ns)[1:]
        if summary["development"][k][m]["worse_tasks"]
    ]
    if worse:
        lines += [
            "Worse than the default beyond noise (development): " + "; ".join(worse) + ".",
            "",
        ]

    lines += ["## Best prior scale per task (mean over seeds)", ""]
    hdr = ["task", "group", *(_label(m) for m in _metrics(ns))]
    rows = [[t, group(t), *(best_value(units, t, m) or "-" for m in _metrics(ns))] for t in tasks]
    lines += [md_table(hdr, rows), ""]
    counts = {k: 0 for k in keys}
    metric = f"adapted_N{SELECT_N}"
    for t in tasks:
        b = best_value(units, t, metric)
        if b is not None:
            counts[b] += 1
    lines += [
        f"Best at N={SELECT_N}, tasks per value: "
        + ", ".join(f"{k}: {v}" for k, v in counts.items())
        + ".",
        "",
    ]

    lines += ["## Per task: each prior scale vs " + base, ""]
    hdr = ["task", "prior_scale", *(_label(m) for m in _metrics(ns))]
    rows = []
    for t in tasks:
        for k in keys:
            if k != base:
                rows.append([t, k, *(_cell(compare(units, t, k, base, m)) for m in _metrics(ns))])
    lines += [md_table(hdr, rows), ""]

    lines += [
        "## Per task: mean scores and member spread",
        "",
        "*spread*: how much members disagree on the shifted rows (regression: mean member sd, "
        "target-sd units; classification: mean fraction of members off the majority vote). "
        "*best member*: the best single member on all shifted rows, chosen in hindsight. "
        f"*T*: median temperature chosen at N={SELECT_N}.",
        "",
    ]
    hdr = ["task", "prior_scale", "epochs", "fit s", "val", "uniform", "best member", "spread"]
    hdr += [f"adapted N={N}" for N in ns] + [f"T N={SELECT_N}"]
    rows = []
    for t in tasks:
        us = [u for u in units if u["task"] == t]
        for k in keys:
            rs = [u["fits"][k] for u in us]

            def m(key, rs=rs, fmt="{:.4f}"):
                vals = [r[key] for r in rs if key in r]
                return fmt.format(np.mean(vals)) if vals else "-"

            rows.append(
                [
                    t,
                    k,
                    m("epochs", fmt="{:.0f}"),
                    m("fit_s", fmt="{:.1f}"),
                    m("val"),
                    m("shift"),
                    m("best_member"),
                    m("spread"),
                    *(m(f"adapted_N{N}") for N in ns),
                    m(f"temperature_N{SELECT_N}", fmt="{:.3g}"),
                ]
            )
    lines += [md_table(hdr, rows), ""]

    rows_b = selection_rows(units)
    sel = selection_summary(rows_b)
    if rows_b:
        n = sel["n_units"]
        lines += [
            "## Model selection (b): ShiftSplit vs KFold",
            "",
            f"`GridSearchCV(make_pipeline(StandardScaler(), HyRe...(random_state=seed)), "
            f"{{'prior_scale': [{', '.join(keys)}]}}, scoring=adapted_scorer(n_adapt={SELECT_N}, "
            f"random_state=0), cv=..., refit=False)` on the training rows, with "
            f"`cv=ShiftSplit(n_splits={meta['folds']}, random_state=seed)` or "
            f"`KFold({meta['folds']}, shuffle=True, random_state=seed)`; the plain score (R² / "
            "accuracy of the uniform ensemble) from the same searches. Each pick is judged by "
            f"the fits of (a) on the task's shifted rows, adapted at N={SELECT_N}: a *hit* when "
            "it is the value best there for that seed; *regret*: how much worse than that best "
            "it is, in % of the best's score (RMSE above, accuracy below). "
            f"{n} task x seed units over {', '.join(dict.fromkeys(r['task'] for r in rows_b))}.",
            "",
        ]
        hdr = ["selector", "hits", "mean regret %", "median regret %"]
        names = [k for k in sel if k in SELECTORS or k.startswith("fixed_")]
        rows = [
            [
                _selector_label(k),
                f"{sel[k]['hits']}/{n}",
                f"{sel[k]['mean_regret']:.2f}",
                f"{sel[k]['median_regret']:.2f}",
            ]
            for k in names
        ]
        lines += [md_table(hdr, rows), ""]
        tied = {cv: [r for r in rows_b if r[f"{cv}_tied"]] for cv in ("shift", "kfold")}
        lines += [
            "Searches whose best adapted score was shared by several values (GridSearchCV then "
            f"takes the first in the grid, {keys[0]}): ShiftSplit {len(tied['shift'])}/{n}, "
            f"KFold {len(tied['kfold'])}/{n}"
            + (
                f" ({', '.join(sorted({r['task'] for r in tied['shift'] + tied['kfold']}))})"
                if tied["shift"] or tied["kfold"]
                else ""
            )
            + ".",
            "",
        ]
        lines += [
            "Paired over task x seed (A - B; regret in % points, lower is better; hit rate in "
            "percentage points, higher is better):",
            "",
        ]
        hdr = ["units", "A vs B", "n", "regret", "hit rate"]
        rows = [
            [
                c["subset"],
                f"{_selector_label(c['a'])} vs {_selector_label(c['b'])}",
                c["n"],
                _vcell(c["regret"]),
                _vcell(c["hit_rate"], 100.0, "{:+.0f}"),
            ]
            for c in sel["comparisons"]
        ]
        lines += [md_table(hdr, rows), ""]
        lines += ["Per task x seed:", ""]
        hdr = ["task", "seed", f"best at N={SELECT_N}", *(SELECTOR_LABEL[k] for k in SELECTORS)]
        rows = [
            [
                r["task"],
                r["seed"],
                r["best"],
                *(f"{r[f'{k}_pick']} ({r[f'{k}_regret']:.1f}%)" for k in SELECTORS),
            ]
            for r in rows_b
        ]
        lines += [md_table(hdr, rows), ""]
        t_search = [
            u["selection"][c]["search_s"]
            for u in units
            if "selection" in u
            for c in ("shift", "kfold")
        ]
        lines += [f"One search (12 fits) took {np.median(t_search):.0f} s (median).", ""]
    lines += ["## What this says", "", *findings(units, meta, summary, dec, sel), ""]
    return "\n".join(lines)


def _defaults_line(name: str, d: dict) -> str:
    training = (
        f"early stopping (patience {d['n_iter_no_change']}, at most {d['max_epochs']} epochs)"
        if d["early_stopping"]
        else f"{d['max_epochs']} epochs"
    )
    return (
        f"{name}: prior_scale {d['prior_scale']:g}, temperature `{d['temperature']}` capped at "
        f"{d['max_temperature']}, {training}, n_members {d['n_members']}"
    )


def _pct(x) -> str:
    return "-" if x is None else f"{x:+.1f}"


def findings(units, meta, summary, dec, sel) -> list[str]:
    """The report's conclusions, generated from the numbers (nothing typed by hand)."""
    ns, base = meta["ns"], _key(BASE)
    adapted = [f"adapted_N{N}" for N in ns]
    n_lab = "/".join(str(N) for N in ns)
    out = []
    for k, per in summary.get("development", {}).items():
        counts = ", ".join(
            f"{per[m]['better']}/{per[m]['level']}/{per[m]['worse']}" for m in adapted
        )
        means = "/".join(_pct(per[m]["mean_change"]) for m in adapted)
        a = per[f"adapted_N{SELECT_N}"]["across_tasks"]
        across = (
            ""
            if a is None
            else f"; with the tasks as units, N={SELECT_N}: {a['mean']:+.1f} "
            f"[{a['lo']:+.1f}, {a['hi']:+.1f}] {a['verdict']}"
        )
        line = (
            f"- `{k}` vs `{base}`, development tasks at N = {n_lab}: better/level/worse "
            f"{counts}; mean change {means}{across}."
        )
        for g in ("held-out", "fresh check"):
            q = summary.get(g, {}).get(k)
            if q:
                c = ", ".join(f"{q[m]['better']}/{q[m]['level']}/{q[m]['worse']}" for m in adapted)
                line += (
                    f" {g.capitalize()} ({q[adapted[0]]['n_tasks']} tasks): {c}; mean change "
                    + "/".join(_pct(q[m]["mean_change"]) for m in adapted)
                    + "."
                )
        out.append(line)
    winners = [k for k, d in dec.items() if d["qualifies"]]
    if not winners:
        out.append(f"- No value meets the rule: the evidence keeps `prior_scale={base}`.")
    for k in winners:
        m = f"adapted_N{SELECT_N}"
        extremes = []
        for g, per in summary.items():
            ch = per[k][m]["changes"]
            if ch:
                t = max(ch, key=lambda t: abs(ch[t]))
                extremes.append(f"{t} {ch[t]:+.1f} ({g})")
        out.append(
            f"- `{k}` meets the rule (better than `{base}` on average over the development tasks "
            "at every N, worse beyond noise on none, worse on no held-out task). The largest "
            f"per-task changes at N={SELECT_N} (signed, negative is better): "
            + ", ".join(extremes)
            + "."
        )
    tasks = list(dict.fromkeys(u["task"] for u in units))
    counts = {_key(v): 0 for v in meta["grid"]}
    for t in tasks:
        b = best_value(units, t, f"adapted_N{SELECT_N}")
        if b is not None:
            counts[b] += 1
    out.append(
        f"- Best value at N={SELECT_N} (mean over seeds), tasks per value: "
        + ", ".join(f"{k}: {v}" for k, v in counts.items())
        + f" (of {len(tasks)})."
    )
    reg = [t for t in tasks if not is_classification(t)]
    spread = {}
    for k in counts:
        ratios = [
            np.mean([u["fits"][k]["spread"] for u in units if u["task"] == t])
            / np.mean([u["fits"][base]["spread"] for u in units if u["task"] == t])
            for t in reg
        ]
        spread[k] = float(np.median(ratios)) if ratios else float("nan")
    out.append(
        "- Member spread on the shifted rows relative to `"
        + base
        + "` (regression, median over tasks): "
        + ", ".join(f"{k}: x{v:.2f}" for k, v in spread.items())
        + "."
    )
    if sel.get("n_units"):
        n = sel["n_units"]
        c = next(
            c
            for c in sel["comparisons"]
            if (c["subset"], c["a"], c["b"]) == ("all", "shift", "kfold")
        )
        d = next(
            c
            for c in sel["comparisons"]
            if (c["subset"], c["a"], c["b"]) == ("all", "kfold", f"fixed_{base}")
        )
        r, h = c["regret"], c["hit_rate"]
        out.append(
            f"- Model selection over {n} task x seed units: ShiftSplit picked the value best on "
            f"the shifted rows {sel['shift']['hits']}/{n} times, KFold {sel['kfold']['hits']}/{n} "
            f"(always `{base}`: {sel[f'fixed_{base}']['hits']}/{n}); mean regret "
            f"{sel['shift']['mean_regret']:.1f}% vs {sel['kfold']['mean_regret']:.1f}% "
            f"(always `{base}`: {sel[f'fixed_{base}']['mean_regret']:.1f}%). ShiftSplit minus "
            f"KFold: regret {r['mean']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}] {r['verdict']}, hit "
            f"rate {100 * h['mean']:+.0f} [{100 * h['lo']:+.0f}, {100 * h['hi']:+.0f}] points "
            f"{h['verdict']}. KFold minus always `{base}`: regret {d['regret']['mean']:+.2f} "
            f"[{d['regret']['lo']:+.2f}, {d['regret']['hi']:+.2f}] {d['regret']['verdict']}."
        )
    return out


def summarize(payload: dict) -> dict:
    units, ns = payload["units"], payload["meta"]["ns"]
    summary = evidence_summary(units, ns)
    tasks = list(dict.fromkeys(u["task"] for u in units))
    rows_b = selection_rows(units)
    return {
        "evidence": summary,
        "decision": decision(summary, ns),
        "best_value": {t: {m: best_value(units, t, m) for m in _metrics(ns)} for t in tasks},
        "selection": selection_summary(rows_b),
        "selection_rows": rows_b,
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="*", default=None, choices=TASK_CHOICES)
    p.add_argument("--select-tasks", nargs="*", default=None, choices=TASK_CHOICES)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--grid", type=float, nargs="*", default=list(GRID))
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cache", default=None, help="folder for per-unit results (resume)")
    p.add_argument("--out", default=None)
    p.add_argument("--from-json", default=None, help="re-render a stored JSON")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        payload = json.loads(Path(args.from_json).read_text())
        payload["summary"] = summarize(payload)
        write_results(NAME, payload, markdown(payload), args.out)
        return 0
    if BASE not in args.grid:
        raise SystemExit(f"--grid must contain the baseline {BASE}")
    from joblib import Parallel, delayed

    tasks = args.tasks or (QUICK_TASKS if args.quick else FULL_TASKS)
    if args.select_tasks is not None:
        select_tasks = args.select_tasks
    else:
        select_tasks = QUICK_TASKS if args.quick else SELECT_TASKS
    select_tasks = [t for t in select_tasks if t in tasks]
    seeds = list(range(2 if args.quick else args.seeds))
    cfg = {
        "data_home": default_data_home(),
        "ns": list(NS),
        "draws": 1 if args.quick else args.draws,
        "grid": [float(v) for v in args.grid],
        "select_tasks": select_tasks,
        "select_n": SELECT_N,
        "folds": args.folds,
    }
    n_cached = (
        0
        if args.cache is None
        else sum(_cache_path(args.cache, t, s).is_file() for t in tasks for s in seeds)
    )
    t0, c0 = time.perf_counter(), time.process_time()
    # the selection units first: they are the slowest (joblib hands them out first)
    order = sorted(tasks, key=lambda t: t not in select_tasks)
    units = Parallel(n_jobs=args.n_jobs)(
        delayed(_logged)(t, s, cfg, args.cache) for t in order for s in seeds
    )
    units.sort(key=lambda u: (tasks.index(u["task"]), u["seed"]))
    meta = {
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        # this invocation only (units read back from --cache are not in it; the report
        # sums the units' own times)
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "units_from_cache": n_cached,
        "command": "python benchmarks/prior_scale.py " + " ".join(argv or sys.argv[1:]),
        "quick": args.quick,
        "tasks": tasks,
        "select_tasks": select_tasks,
        "seeds": seeds,
        "draws": cfg["draws"],
        "ns": list(NS),
        "grid": cfg["grid"],
        "folds": args.folds,
        "select_n": SELECT_N,
        "base": BASE,
        "held_out": list(HELD_OUT),
        "fresh_check": list(FRESH_CHECK),
        "defaults": default_params(),
        "n_jobs": args.n_jobs,
    }
    payload = {"meta": meta, "units": units}
    payload["summary"] = summarize(payload)
    write_results(NAME, payload, markdown(payload), args.out)
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
