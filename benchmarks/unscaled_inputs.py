"""Adapting without a scaler in front: raw input columns against standardized ones.

Issue #26 measured that, with all defaults and raw columns in the hundreds, adapting
on 32 shifted labels made the shifted RMSE 70% worse than the uniform ensemble,
silently. This script measures that case on data whose columns are far from
standardized (UCI ``energy``: areas in the hundreds; scikit-learn's diabetes
data with ``scaled=False``: blood serum measurements in the hundreds) under the
paper's shift (:func:`skhyre.datasets.ood_split`), with every
parameter at its default:

- ``raw``: ``HyReRegressor()`` fitted on the raw columns;
- ``scaled``: ``make_pipeline(StandardScaler(), HyReRegressor())`` (what the
  warning raised at ``fit`` suggests; standardizing inside the estimator would
  compute the same statistics on the same training rows).

Each seed draws one split and 32 random adaptation rows from the shifted set;
RMSE is measured on the other shifted rows, for the uniform ensemble and after
``adapt``. Paired over seeds (same split, same labels).

Run: ``python benchmarks/unscaled_inputs.py [--seeds 5] [--datasets ...] [--append]
[--quick] [--out DIR]``;
writes ``unscaled_inputs.{json,md}`` into ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    RESULTS,
    machine_info,
    machine_line,
    md_table,
    paired_verdict,
    write_results,
)
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from skhyre import HyReRegressor
from skhyre.datasets import load_uci, ood_split
from skhyre.pipeline import make_pipeline

N_ADAPT = 32


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def load(name: str):
    """A UCI set (:func:`skhyre.datasets.load_uci`) or scikit-learn's diabetes data with
    its raw columns (``scaled=False``: age in years, blood serum measurements in the
    hundreds)."""
    if name == "diabetes":
        return load_diabetes(scaled=False)
    return load_uci(name)


def run_one(name: str, seed: int, setup: str, quick: bool) -> dict:
    data = load(name)
    split = ood_split(data.data, data.target, random_state=seed)
    rng = np.random.default_rng(seed)
    n_ood = split.X_ood.shape[0]
    adapt_rows = rng.choice(n_ood, size=min(N_ADAPT, n_ood // 2), replace=False)
    rest = np.setdiff1d(np.arange(n_ood), adapt_rows)
    params = {"random_state": seed}
    if quick:
        params.update(n_members=10, max_epochs=5)
    reg = HyReRegressor(**params)
    model = make_pipeline(StandardScaler(), reg) if setup == "scaled" else reg
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(split.X_train, split.y_train)
    fit_s = time.perf_counter() - t0
    fit_warnings = sorted({type(w.message).__name__ for w in caught})
    uniform = rmse(model.predict(split.X_ood[rest]), split.y_ood[rest])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.adapt(split.X_ood[adapt_rows], split.y_ood[adapt_rows])
    adapt_warnings = sorted({type(w.message).__name__ for w in caught})
    adapted = rmse(model.predict(split.X_ood[rest]), split.y_ood[rest])
    w = reg.weights_
    return {
        "dataset": name,
        "seed": seed,
        "setup": setup,
        "rmse_uniform": uniform,
        "rmse_adapted": adapted,
        "relative_change": adapted / uniform - 1.0,
        "max_weight": float(w.max()),
        "effective_members": float(1.0 / np.sum(w**2)),
        "fit_s": fit_s,
        "fit_warnings": fit_warnings,
        "adapt_warnings": adapt_warnings,
    }


def _defaults_line() -> str:
    params = HyReRegressor().get_params()
    return ", ".join(
        f"{name}={params[name]!r}" for name in ("temperature", "max_temperature") if name in params
    )


def summarize(rows: list[dict], datasets: list[str]) -> str:
    lines = [
        "# Adapting without a scaler in front (raw input columns)",
        "",
        f"`HyReRegressor()` with every default ({_defaults_line()}), the paper's shift "
        f"(`ood_split`), {N_ADAPT} random "
        "shifted labels (at most half the shifted rows), RMSE on the other "
        "shifted rows in the target's units; `raw` fits the raw columns, `scaled` is "
        "`make_pipeline(StandardScaler(), HyReRegressor())`. Change = adapted / uniform - 1, "
        "paired over seeds (mean and 95% t-interval).",
        "",
    ]
    table = []
    for name in datasets:
        for setup in ("raw", "scaled"):
            sel = [r for r in rows if r["dataset"] == name and r["setup"] == setup]
            if not sel:
                continue
            uni = [r["rmse_uniform"] for r in sel]
            ada = [r["rmse_adapted"] for r in sel]
            rel = [r["relative_change"] for r in sel]
            v = paired_verdict(ada, uni)
            table.append(
                [
                    name,
                    setup,
                    len(sel),
                    f"{np.mean(uni):.3f}",
                    f"{np.mean(ada):.3f}",
                    f"{100 * np.mean(rel):+.1f}% (seeds {', '.join(f'{100 * x:+.0f}' for x in rel)})",
                    f"{v.mean:+.3f} [{v.lo:+.3f}, {v.hi:+.3f}] {v.verdict}",
                    f"{np.mean([r['max_weight'] for r in sel]):.2f}",
                    ", ".join(sorted({w for r in sel for w in r["fit_warnings"]})) or "-",
                ]
            )
    lines.append(
        md_table(
            [
                "dataset",
                "inputs",
                "seeds",
                "RMSE uniform",
                "RMSE adapted",
                "change",
                "adapted - uniform [95% CI]",
                "max weight",
                "warnings at fit",
            ],
            table,
        )
    )
    cross = []
    for name in datasets:
        by = {
            setup: [r for r in rows if r["dataset"] == name and r["setup"] == setup]
            for setup in ("raw", "scaled")
        }
        if not by["raw"] or len(by["raw"]) != len(by["scaled"]):
            continue
        for what in ("rmse_uniform", "rmse_adapted"):
            raw = [r[what] for r in by["raw"]]
            scaled = [r[what] for r in by["scaled"]]
            v = paired_verdict(raw, scaled)
            cross.append(
                [
                    name,
                    what.removeprefix("rmse_"),
                    f"{np.mean(np.divide(raw, scaled)):.2f}x",
                    f"{v.mean:+.3f} [{v.lo:+.3f}, {v.hi:+.3f}] {v.verdict}",
                ]
            )
    if cross:
        lines += [
            "",
            "Raw against scaled inputs (same seeds, splits and labels; the raw setup "
            "is better, level or worse than the scaled one):",
            "",
            md_table(["dataset", "ensemble", "RMSE raw / scaled", "raw - scaled [95% CI]"], cross),
        ]
    lines += ["", f"Machine: {machine_line()}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=["energy", "diabetes"])
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the rows of other datasets already in the results JSON",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    seeds = 2 if args.quick else args.seeds
    rows = []
    if args.append:
        folder = RESULTS if args.out is None else Path(args.out)
        old = json.loads((folder / "unscaled_inputs.json").read_text())["rows"]
        rows = [r for r in old if r["dataset"] not in args.datasets]
    for name in args.datasets:
        for seed in range(seeds):
            for setup in ("raw", "scaled"):
                row = run_one(name, seed, setup, args.quick)
                rows.append(row)
                print(
                    f"{name} seed {seed} {setup}: uniform {row['rmse_uniform']:.3f} adapted "
                    f"{row['rmse_adapted']:.3f} ({100 * row['relative_change']:+.1f}%) "
                    f"max w {row['max_weight']:.2f} fit {row['fit_s']:.1f}s "
                    f"{row['fit_warnings']} {row['adapt_warnings']}",
                    flush=True,
                )
    defaults = HyReRegressor().get_params()
    meta = {
        **machine_info(),
        "seeds": seeds,
        "n_adapt": N_ADAPT,
        "temperature": defaults["temperature"],
        "max_temperature": defaults.get("max_temperature"),
    }
    payload = {"meta": meta, "rows": rows}
    md = summarize(rows, list(dict.fromkeys(r["dataset"] for r in rows)))
    folder = write_results("unscaled_inputs", payload, md, args.out)
    print(md)
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
