"""How long should the torch estimators train by default? (issue #26 item 2)

The shift panel showed the old default (``max_epochs=100``, no validation
split) underfitting the small sets (energy: train RMSE 0.19 after 100 epochs,
0.03 after 1,000) while longer training overfits others (diabetes: validation
RMSE 0.72 -> 1.06). This benchmark compares training budgets on the panel's
tasks (:mod:`shift_panel`), with everything else at the estimator defaults:

- ``epochs100``: 100 epochs on every row (the default until 2026-12-08);
- ``es<P>``: early stopping on an internal split (``early_stopping=True``:
  a tenth of the rows held out, stop once their loss has not improved for
  ``P`` epochs, restore the best epoch), capped at ``--cap`` epochs;

beside scikit-learn's ``MLPRegressor((50, 50), early_stopping=True)`` (a
tuned single network's train error, regression only). Per task and seed:
train / validation (in-distribution, held out by the panel) / shifted RMSE
of the uniform ensemble in units of the training target's sd (accuracy for
classification), the shifted score after adapting with the estimator's
default temperature on N random shifted labels (several draws, scored on the
remaining shifted rows), the epochs run and the fit time. Every "A vs B"
cell is a paired mean difference over seeds with a 95% t-interval and a
verdict (:func:`_common.paired_verdict`).

Run ``python benchmarks/training_budget.py [--quick] [--n-jobs 1]``; writes
``benchmarks/results/training_budget.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, md_table, paired_verdict, write_results
from shift_panel import (
    ALL_TASKS,
    FRESH_CHECK,
    _score,
    default_data_home,
    is_classification,
    make_split,
)

NAME = "training_budget"
NS = (10, 32)


def configs(patiences, cap: int) -> dict[str, dict]:
    out = {"epochs100": {"early_stopping": False, "max_epochs": 100}}
    for p in patiences:
        out[f"es{p}"] = {"early_stopping": True, "n_iter_no_change": p, "max_epochs": cap}
    return out


def run_unit(task: str, seed: int, cfg: dict) -> dict:
    """One task x seed: every training config, its scores, adaptation at each N."""
    import torch

    from skhyre import HyReClassifier, HyReRegressor

    torch.set_num_threads(1)
    clf = is_classification(task)
    s = make_split(task, seed, cfg["data_home"])
    sc = StandardScaler().fit(s["X_train"])
    Xtr, Xsh = sc.transform(s["X_train"]), sc.transform(s["X_shift"])
    ytr, ysh = s["y_train"], s["y_shift"]
    Xva = None if s["X_val"] is None else sc.transform(s["X_val"])
    y_scale = 1.0 if clf else float(np.std(ytr))
    n = len(ysh)
    rng = np.random.default_rng(10_000 + seed)
    draws = {
        N: [rng.choice(n, size=N, replace=False) for _ in range(cfg["draws"])]
        for N in cfg["ns"]
        if N < n
    }
    out = {"task": task, "seed": seed, "n_train": len(ytr), "configs": {}}
    for name, params in cfg["configs"].items():
        est = (HyReClassifier if clf else HyReRegressor)(random_state=seed, **params)
        t0 = time.perf_counter()
        est.fit(Xtr, ytr)
        r = {"fit_s": time.perf_counter() - t0, "epochs": len(est.net_.history)}
        r["train"] = _score(clf, est.predict(Xtr), ytr, y_scale)
        if Xva is not None:
            r["val"] = _score(clf, est.predict(Xva), s["y_val"], y_scale)
        r["shift"] = _score(clf, est.predict(Xsh), ysh, y_scale)
        for N, idxs in draws.items():
            uni, ada = [], []
            for idx in idxs:
                rest = np.setdiff1d(np.arange(n), idx)
                est.reset_weights()
                uni.append(_score(clf, est.predict(Xsh[rest]), ysh[rest], y_scale))
                est.adapt(Xsh[idx], ysh[idx])
                ada.append(_score(clf, est.predict(Xsh[rest]), ysh[rest], y_scale))
            r[f"uniform_N{N}"] = float(np.mean(uni))
            r[f"adapted_N{N}"] = float(np.mean(ada))
        out["configs"][name] = r
    if not clf:
        ym = float(np.mean(ytr))
        mlp = MLPRegressor(
            hidden_layer_sizes=(50, 50), early_stopping=True, max_iter=2000, random_state=seed
        )
        t0 = time.perf_counter()
        mlp.fit(Xtr, (ytr - ym) / y_scale)
        r = {"fit_s": time.perf_counter() - t0, "epochs": int(mlp.n_iter_)}
        r["train"] = _score(False, mlp.predict(Xtr) * y_scale + ym, ytr, y_scale)
        r["val"] = _score(False, mlp.predict(Xva) * y_scale + ym, s["y_val"], y_scale)
        r["shift"] = _score(False, mlp.predict(Xsh) * y_scale + ym, ysh, y_scale)
        out["mlp"] = r
    return out


def _logged(task, seed, cfg):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = run_unit(task, seed, cfg)
    print(f"[{NAME}] {task} seed {seed}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return u


# ------------------------------------------------------------------ report
def metrics(ns) -> list[str]:
    return ["val", "shift", *(f"adapted_N{N}" for N in ns)]


def compare(units, task, a, b, metric, clf):
    rows = [u["configs"] for u in units if u["task"] == task]
    pairs = [(r[a][metric], r[b][metric]) for r in rows if metric in r[a] and metric in r[b]]
    if len(pairs) < 2:
        return None
    va, vb = map(np.array, zip(*pairs))
    if not clf:  # regression: in % of B's mean
        scale = 100.0 / float(np.mean(vb))
        va, vb = va * scale, vb * scale
    else:  # accuracy points
        va, vb = va * 100, vb * 100
    return paired_verdict(va, vb, higher_is_better=clf)


def _cell(v) -> str:
    if v is None:
        return "-"
    tag = {"better": "**better**", "worse": "*worse*", "level": "level"}[v.verdict]
    return f"{v.mean:+.1f} [{v.lo:+.1f}, {v.hi:+.1f}] {tag}"


def markdown(payload: dict) -> str:
    units, meta = payload["units"], payload["meta"]
    names = list(meta["configs"])
    base, ns = names[0], meta["ns"]
    tasks = list(dict.fromkeys(u["task"] for u in units))
    lines = [
        "# Training budget: early stopping vs a fixed number of epochs",
        "",
        f"Machine: {machine_line(meta['machine'], date=False)}.  ",
        f"Date: {meta['date']}; wall time {meta['wall_s'] / 60:.1f} min; "
        f"command: `{meta['command']}`.  ",
        f"Configs: {', '.join(f'`{k}` {v}' for k, v in meta['configs'].items())}; "
        f"seeds {meta['seeds']}; adaptation: the estimator's default temperature on N random "
        f"shifted labels ({meta['draws']} draws per fit), scored on the remaining shifted rows.",
        "",
        "Scores: regression RMSE in units of the training target's sd (lower is better), "
        "classification accuracy. *A vs B* cells: paired mean difference over seeds with a 95% "
        "t-interval (regression in % of B's mean, classification in accuracy points) and a "
        "verdict for A.",
        "",
    ]
    for name in names[1:]:
        lines += [f"## Summary: `{name}` vs `{base}` (tasks better / level / worse)", ""]
        rows = []
        for metric in metrics(ns):
            counts = {"better": 0, "level": 0, "worse": 0}
            for task in tasks:
                v = compare(units, task, name, base, metric, is_classification(task))
                if v is not None:
                    counts[v.verdict] += 1
            rows.append([metric, f"{counts['better']}/{counts['level']}/{counts['worse']}"])
        lines += [md_table(["metric", "better/level/worse"], rows), ""]
    lines += ["## Per task: mean scores over seeds", ""]
    hdr = ["task", "config", "epochs", "fit s", "train", "val", "shift"]
    hdr += [f"uniform N={N}" for N in ns] + [f"adapted N={N}" for N in ns]
    rows = []
    for task in tasks:
        us = [u for u in units if u["task"] == task]
        for name in [*names, "mlp"]:
            rs = [u["configs"][name] if name != "mlp" else u.get("mlp") for u in us]
            rs = [r for r in rs if r]
            if not rs:
                continue

            def m(key, rs=rs):
                vals = [r[key] for r in rs if key in r]
                return f"{np.mean(vals):.4f}" if vals else "-"

            ep = np.mean([r["epochs"] for r in rs])
            fs = np.mean([r["fit_s"] for r in rs])
            rows.append(
                [task, name, f"{ep:.0f}", f"{fs:.1f}", m("train"), m("val"), m("shift")]
                + [m(f"uniform_N{N}") for N in ns]
                + [m(f"adapted_N{N}") for N in ns]
            )
    lines += [md_table(hdr, rows), ""]
    lines += ["## Per task: each config vs `" + base + "`", ""]
    hdr = ["task", "config", *metrics(ns)]
    rows = []
    for task in tasks:
        for name in names[1:]:
            clf = is_classification(task)
            rows.append(
                [task, name]
                + [_cell(compare(units, task, name, base, k, clf)) for k in metrics(ns)]
            )
    lines += [md_table(hdr, rows), ""]
    lines += ["## What this says", "", *findings(payload), ""]
    return "\n".join(lines)


def findings(payload: dict) -> list[str]:
    """Generated sentences: verdict tallies, where a config loses, fit time, convergence."""
    units, meta = payload["units"], payload["meta"]
    names = list(meta["configs"])
    base = names[0]
    tasks = list(dict.fromkeys(u["task"] for u in units))
    out = []
    for name in names[1:]:
        worse = []
        for task in tasks:
            clf = is_classification(task)
            for k in metrics(meta["ns"]):
                v = compare(units, task, name, base, k, clf)
                if v is not None and v.verdict == "worse":
                    worse.append(f"{task} {k} ({_cell(v)})")
        ratios = [
            u["configs"][name]["fit_s"] / u["configs"][base]["fit_s"]
            for u in units
            if u["configs"][base]["fit_s"] > 0
        ]
        capped = sorted(
            {
                u["task"]
                for u in units
                if u["configs"][name]["epochs"] >= meta["configs"][name]["max_epochs"]
            }
        )
        near, reg = 0, 0
        for task in tasks:
            us = [u for u in units if u["task"] == task and "mlp" in u]
            if not us:
                continue
            reg += 1
            tr = np.mean([u["configs"][name]["train"] for u in us])
            mlp = np.mean([u["mlp"]["train"] for u in us])
            near += tr <= 1.1 * mlp
        out.append(
            f"- `{name}` vs `{base}`: fit time x{np.median(ratios):.1f} (median over task x seed, "
            f"range x{min(ratios):.1f}-x{max(ratios):.1f}); training RMSE at most 1.1x the "
            f"early-stopped single MLP's on {near} of {reg} regression tasks; ran to the cap of "
            f"{meta['configs'][name]['max_epochs']} epochs on: {', '.join(capped) or 'none'}; "
            f"worse than `{base}` beyond noise on: {'; '.join(worse) or 'none'}."
        )
    base_near = sum(
        np.mean([u["configs"][base]["train"] for u in units if u["task"] == t])
        <= 1.1 * np.mean([u["mlp"]["train"] for u in units if u["task"] == t])
        for t in tasks
        if any("mlp" in u for u in units if u["task"] == t)
    )
    out.append(
        f"- `{base}`: training RMSE at most 1.1x the single MLP's on {base_near} of the same "
        "regression tasks."
    )
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="*", default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--patience", type=int, nargs="*", default=[10, 25])  # 25: the default
    p.add_argument("--cap", type=int, default=1000)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument("--data-home", default=default_data_home())
    p.add_argument("--from-json", default=None, help="re-render a stored JSON")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import json

    args = parse_args(argv)
    if args.from_json:
        payload = json.loads(Path(args.from_json).read_text())
        write_results(NAME, payload, markdown(payload), args.out)
        return 0
    from joblib import Parallel, delayed

    tasks = args.tasks or (
        ["energy/mean", "diabetes/mean"] if args.quick else ALL_TASKS + list(FRESH_CHECK)
    )
    seeds = list(range(2 if args.quick else args.seeds))
    cfg = {
        "data_home": args.data_home,
        "ns": NS,
        "draws": 1 if args.quick else args.draws,
        "configs": configs(args.patience, 60 if args.quick else args.cap),
    }
    t0 = time.perf_counter()
    units = Parallel(n_jobs=args.n_jobs)(delayed(_logged)(t, s, cfg) for t in tasks for s in seeds)
    meta = {
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_s": time.perf_counter() - t0,
        "command": "python benchmarks/training_budget.py " + " ".join(argv or sys.argv[1:]),
        "configs": cfg["configs"],
        "seeds": seeds,
        "draws": cfg["draws"],
        "ns": list(NS),
    }
    payload = {"meta": meta, "units": units}
    write_results(NAME, payload, markdown(payload), args.out)
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
