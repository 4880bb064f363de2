"""HyRe over scikit-learn models under the UCI distribution shift.

Two ensembles of ordinary scikit-learn regressors, wrapped in
:class:`skhyre.HyReEnsemble`:

- ``forest``: the trees of one :class:`~sklearn.ensemble.RandomForestRegressor`;
- ``mixed``: a list of heterogeneous regressors (ridge, polynomial ridge,
  nearest neighbours, gradient boosting, SVR, a random forest, MLPs).

Protocol (the paper's UCI shift): :func:`skhyre.datasets.ood_split` holds out
the rows with the lowest and highest average standardized feature as the
out-of-distribution (OOD) set; inputs and target are standardized with the
training statistics; the ensembles are fitted on the training rows. Then 32
OOD rows are labelled, either at random (several draws per seed) or actively,
one at a time by weighted member variance (``active_adapt``), and the
ensemble is reweighted on them with temperature 1 and ``"auto"``. Every
method is scored by RMSE on the *remaining* OOD rows (standardized target),
against the uniform ensemble on exactly the same rows (a paired comparison);
the best single member on those rows (chosen in hindsight) is shown for
context. Mean and standard deviation are over seeds (each seed: a new
train/validation split, new model seeds, new adaptation draws).

Run (the UCI files are looked for in ``SKHYRE_DATA``)::

    SKHYRE_DATA=/path/to/uci python benchmarks/sklearn_shift.py [--quick]

Writes ``benchmarks/results/sklearn_shift.{json,md,png}`` and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.svm import SVR
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from skhyre import HyReEnsemble
from skhyre.datasets import load_uci, ood_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    ROOT,
    machine_info,
    machine_line,
    md_table,
    paired_verdict,
    write_results,
)

NAME = "sklearn_shift"
DATASETS = ("energy", "kin8nm", "ccpp")
TEMPERATURES = (1.0, "auto")
SELECTIONS = ("random", "variance")


# ----------------------------------------------------------------- models
def make_ensembles(seed: int, quick: bool) -> dict[str, HyReEnsemble]:
    """The two HyRe ensembles to compare, unfitted."""
    n_trees = 30 if quick else 100
    forest = RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1)
    mlp = dict(early_stopping=True, max_iter=100 if quick else 200, random_state=seed)
    mixed = [
        ("ridge", Ridge(alpha=1.0)),
        ("poly2_ridge", make_pipeline(PolynomialFeatures(2), Ridge(alpha=1.0))),
        ("knn10", KNeighborsRegressor(n_neighbors=10)),
        ("knn30_dist", KNeighborsRegressor(n_neighbors=30, weights="distance")),
        ("gbr_d2", GradientBoostingRegressor(max_depth=2, n_estimators=150, random_state=seed)),
        ("hgb", HistGradientBoostingRegressor(max_iter=100, random_state=seed)),
        ("svr", SVR(C=1.0)),
        ("rf", RandomForestRegressor(n_estimators=50, min_samples_leaf=2, random_state=seed)),
        ("mlp64", MLPRegressor(hidden_layer_sizes=(64,), **mlp)),
        ("mlp64x64", MLPRegressor(hidden_layer_sizes=(64, 64), alpha=1e-3, **mlp)),
    ]
    return {"forest": HyReEnsemble(forest), "mixed": HyReEnsemble(mixed)}


# -------------------------------------------------------------- protocol
def default_data_home() -> str | None:
    """``SKHYRE_DATA``, else the shared data folder next to the repository."""
    env = os.environ.get("SKHYRE_DATA")
    if env:
        return env
    shared = ROOT.parent / "shared" / "data" / "uci"
    return str(shared) if shared.is_dir() else None


def _rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def standardized_split(name: str, seed: int, data_home: str | None) -> dict:
    data = load_uci(name, data_home=data_home)
    s = ood_split(data.data, data.target, random_state=seed)
    mu, sd = s.X_train.mean(axis=0), s.X_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    y_mu, y_sd = s.y_train.mean(), s.y_train.std()
    return {
        "X_train": (s.X_train - mu) / sd,
        "y_train": (s.y_train - y_mu) / y_sd,
        "X_ood": (s.X_ood - mu) / sd,
        "y_ood": (s.y_ood - y_mu) / y_sd,
    }


def evaluate(hyre: HyReEnsemble, X_ood, y_ood, n_adapt: int, n_draws: int, rng) -> list[dict]:
    """Paired uniform / HyRe / best-member RMSE for every selection and temperature."""
    hyre.reset_weights()
    F = hyre.predict_members(X_ood)  # (K, n_ood): for the uniform and best-member columns
    uniform = F.mean(axis=0)
    rows = []

    def record(selection, temperature, rest, hyre_pred, draw):
        member_rmse = np.sqrt(np.mean((F[:, rest] - y_ood[rest]) ** 2, axis=1))
        rows.append(
            {
                "selection": selection,
                "temperature": str(temperature),
                "draw": draw,
                "uniform": _rmse(uniform[rest], y_ood[rest]),
                "hyre": _rmse(hyre_pred, y_ood[rest]),
                "best_member": float(member_rmse.min()),
                "temperature_chosen": float(hyre.temperature_),
                "max_weight": float(hyre.weights_.max()),
            }
        )

    n = X_ood.shape[0]
    draws = [rng.choice(n, size=n_adapt, replace=False) for _ in range(n_draws)]
    for temperature in TEMPERATURES:
        hyre.set_params(temperature=temperature)
        for d, idx in enumerate(draws):
            rest = np.setdiff1d(np.arange(n), idx)
            hyre.adapt(X_ood[idx], y_ood[idx])
            record("random", temperature, rest, hyre.predict(X_ood[rest]), d)
        hyre.reset_weights().active_adapt(X_ood, y_ood, n_queries=n_adapt, criterion="variance")
        rest = np.setdiff1d(np.arange(n), hyre.queried_indices_)
        record("variance", temperature, rest, hyre.predict(X_ood[rest]), 0)
    hyre.set_params(temperature=1.0).reset_weights()
    return rows


def run(args) -> dict:
    raw = []
    tasks = [(name, seed) for name in args.datasets for seed in range(args.seeds)]
    bar = tqdm(tasks, desc=NAME, unit="fit", file=sys.stderr)
    for name, seed in bar:
        bar.set_postfix_str(f"{name} seed {seed}")
        data = standardized_split(name, seed, args.data_home)
        rng = np.random.default_rng(1000 * seed + 7)
        for ens_name, hyre in make_ensembles(seed, args.quick).items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                hyre.fit(data["X_train"], data["y_train"])
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            rows = evaluate(hyre, data["X_ood"], data["y_ood"], args.n_adapt, args.draws, rng)
            adapt_s = time.perf_counter() - t0
            for row in rows:
                row.update(
                    dataset=name,
                    seed=seed,
                    ensemble=ens_name,
                    n_members=len(hyre.estimators_),
                    fit_s=fit_s,
                    eval_s=adapt_s,
                )
            raw.extend(rows)
    return {"raw": raw, "summary": summarize(raw)}


# ---------------------------------------------------------------- report
def summarize(raw: list[dict]) -> list[dict]:
    """Mean +- std over seeds of the per-seed averages (random draws averaged first)."""
    keys = sorted(
        {(r["dataset"], r["ensemble"], r["selection"], r["temperature"]) for r in raw},
        key=lambda k: (DATASETS.index(k[0]) if k[0] in DATASETS else 99, k[1], k[2], k[3]),
    )
    out = []
    for key in keys:
        rows = [
            r for r in raw if (r["dataset"], r["ensemble"], r["selection"], r["temperature"]) == key
        ]
        seeds = sorted({r["seed"] for r in rows})
        per_seed = {}
        for metric in ("uniform", "hyre", "best_member", "temperature_chosen", "max_weight"):
            per_seed[metric] = np.array(
                [np.mean([r[metric] for r in rows if r["seed"] == s]) for s in seeds]
            )
        change = 100.0 * (per_seed["hyre"] - per_seed["uniform"]) / per_seed["uniform"]
        v = paired_verdict(per_seed["hyre"], per_seed["uniform"])  # RMSE: lower is better
        entry = {
            "dataset": key[0],
            "ensemble": key[1],
            "n_members": rows[0]["n_members"],
            "selection": key[2],
            "temperature": key[3],
            "n_seeds": len(seeds),
            "hyre_better_seeds": int(np.sum(change < 0)),
            "change_pct_mean": float(change.mean()),
            "change_pct_std": float(change.std(ddof=1)) if len(seeds) > 1 else 0.0,
            # HyRe minus uniform RMSE, paired over seeds (each seed's draws averaged)
            "hyre_minus_uniform": {"mean": v.mean, "lo": v.lo, "hi": v.hi},
            "verdict": v.verdict,
            # over every draw: a per-seed average of temperatures is inf as soon
            # as one draw chose uniform weights
            "median_temperature_chosen": float(np.median([r["temperature_chosen"] for r in rows])),
            "mean_max_weight": float(per_seed["max_weight"].mean()),
        }
        for metric in ("uniform", "hyre", "best_member"):
            vals = per_seed[metric]
            entry[f"{metric}_mean"] = float(vals.mean())
            entry[f"{metric}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        out.append(entry)
    return out


def json_safe(obj):
    """Non-finite floats as strings ("inf"), so the JSON stays strict."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def markdown(summary: list[dict], meta: dict) -> str:
    header = [
        "dataset",
        "ensemble (K)",
        "selection",
        "T",
        "uniform",
        "HyRe",
        "change %",
        "HyRe - uniform [95% CI]",
        "best member",
        "T chosen (median)",
    ]
    rows = []
    for e in summary:
        t_chosen = e["median_temperature_chosen"]
        rows.append(
            [
                e["dataset"],
                f"{e['ensemble']} ({e['n_members']})",
                e["selection"],
                e["temperature"],
                f"{e['uniform_mean']:.4f} ± {e['uniform_std']:.4f}",
                f"{e['hyre_mean']:.4f} ± {e['hyre_std']:.4f}",
                f"{e['change_pct_mean']:+.2f}",
                _verdict_cell(e),
                f"{e['best_member_mean']:.4f} ± {e['best_member_std']:.4f}",
                "uniform" if not np.isfinite(t_chosen) else f"{t_chosen:.3g}",
            ]
        )
    intro = (
        f"OOD RMSE on the standardized target after {meta['n_adapt']} labelled OOD "
        f"examples (mean ± std over {meta['seeds']} seeds; random selection averaged over "
        f"{meta['draws']} draws per seed). *Change* is HyRe vs the uniform ensemble on the "
        "same rows (negative = better): per seed, the relative change of the draw-averaged "
        "RMSE, then its mean over seeds; *HyRe - uniform* is the paired difference in RMSE "
        "over seeds (each seed's draws averaged first) with its 95% t-interval and the "
        "verdict for HyRe (better, level or worse than uniform); "
        "*best member* is the best single member on those rows, chosen in hindsight; "
        "*variance* selection labels the OOD rows one at a time by weighted member "
        "variance (`active_adapt`), so its evaluation rows differ from random selection's."
    )
    footer = (
        f"`{meta['command']}`, {meta['elapsed_s']:.0f} s"
        f"{' (quick run)' if meta['quick'] else ''}, one BLAS thread, scikit-learn "
        f"{meta['sklearn']}; {machine_line(meta['machine'])}."
    )
    if meta.get("resummarized"):
        footer += (
            f" Tables recomputed from that run's raw rows by `{meta['resummarized']['command']}` "
            f"on {meta['resummarized']['date']}."
        )
    words = [e.get("verdict") for e in summary]
    tally = (
        f"HyRe against the uniform ensemble in the {len(summary)} rows: "
        + ", ".join(f"{words.count(w)} {w}" for w in ("better", "level", "worse"))
        + "."
    )
    return f"{intro}\n\n{md_table(header, rows)}\n\n{tally}\n\n{footer}\n"


def _verdict_cell(e: dict) -> str:
    d = e["hyre_minus_uniform"]
    return f"{d['mean']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}] {e['verdict']}"


def plot(summary: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot written", file=sys.stderr)
        return False
    datasets = [d for d in DATASETS if any(e["dataset"] == d for e in summary)]
    configs = sorted(
        {(e["ensemble"], e["selection"], e["temperature"]) for e in summary},
        key=lambda c: (c[0], c[1], c[2]),
    )
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 4), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, d in zip(axes[0], datasets):
        for j, c in enumerate(configs):
            e = next(
                (
                    x
                    for x in summary
                    if (x["dataset"], x["ensemble"], x["selection"], x["temperature"]) == (d, *c)
                ),
                None,
            )
            if e is None:
                continue
            ax.bar(
                j,
                e["change_pct_mean"],
                yerr=e["change_pct_std"],
                color=colors(j % 10),
                capsize=3,
                label=f"{c[0]}, {c[1]}, T={c[2]}",
            )
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_title(d)
        ax.set_xticks([])
        ax.set_ylabel("OOD RMSE change vs uniform (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("HyReEnsemble over scikit-learn regressors, UCI shift (lower is better)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 seeds, 2 draws, smaller models")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5)")
    p.add_argument("--draws", type=int, default=None, help="random draws per seed (default 5)")
    p.add_argument("--n-adapt", type=int, default=32, help="labelled OOD examples")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument(
        "--data-home",
        default=default_data_home(),
        help="folder with the UCI CSVs (default: SKHYRE_DATA, else ../shared/data/uci)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="recompute the summary, table and plot from the raw rows of an earlier run's "
        "JSON (no fitting)",
    )
    args = p.parse_args(argv)
    if args.from_json is not None:
        return resummarize(args.from_json, args.out, argv)
    args.seeds = args.seeds or (2 if args.quick else 5)
    args.draws = args.draws or (2 if args.quick else 5)

    t0 = time.perf_counter()
    # one BLAS/OpenMP thread: on a small shared machine, threaded BLAS inside the
    # MLPs oversubscribes the cores and makes fit times erratic (x20)
    with threadpool_limits(limits=1):
        result = run(args)
    meta = {
        "benchmark": NAME,
        "command": " ".join(["python benchmarks/sklearn_shift.py", *(argv or sys.argv[1:])]),
        "quick": args.quick,
        "seeds": args.seeds,
        "draws": args.draws,
        "n_adapt": args.n_adapt,
        "datasets": args.datasets,
        "temperatures": [str(t) for t in TEMPERATURES],
        "selections": list(SELECTIONS),
        "sklearn": sklearn.__version__,
        "machine": machine_info(),
        "blas_threads": 1,
        "elapsed_s": time.perf_counter() - t0,
    }
    md = markdown(result["summary"], meta)
    write_results(NAME, json_safe({"meta": meta, **result}), md, out=args.out)
    plot(result["summary"], args.out / f"{NAME}.png")
    print(md)
    print(f"wrote {args.out / NAME}.{{json,md,png}}")
    return 0


def _from_json_safe(obj):
    """Inverse of :func:`json_safe`."""
    if isinstance(obj, dict):
        return {k: _from_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json_safe(v) for v in obj]
    if obj in ("inf", "-inf", "nan"):
        return float(obj)
    return obj


def resummarize(path: Path, out: Path, argv: list[str] | None) -> int:
    """Rewrite the summary, report and plot of an earlier run from its raw rows."""
    import json
    from datetime import datetime, timezone

    old = _from_json_safe(json.loads(Path(path).read_text()))
    meta, raw = old["meta"], old["raw"]
    meta["resummarized"] = {
        "command": " ".join(["python benchmarks/sklearn_shift.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    result = {"raw": raw, "summary": summarize(raw)}
    md = markdown(result["summary"], meta)
    out = Path(out)
    write_results(NAME, json_safe({"meta": meta, **result}), md, out=out)
    plot(result["summary"], out / f"{NAME}.png")
    print(md)
    print(f"wrote {out / NAME}.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
