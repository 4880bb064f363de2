"""``temperature="auto"`` and ``"evidence"`` against fixed temperatures, for squared error.

HyRe's weights are ``softmax(-L / T)`` with ``L`` the cumulative loss of each
member on the adaptation examples. ``temperature="evidence"`` picks the
temperature that maximizes the marginal likelihood of the labels under
Gaussian noise (:func:`skhyre.reweighting.evidence_temperature`);
``temperature="auto"`` picks ``T`` by leave-one-out predictive loss over
:data:`skhyre.reweighting.DEFAULT_TEMPERATURE_GRID`, never below the evidence
temperature (:func:`skhyre.reweighting.auto_temperature`, exactly as the
estimators call it). ``loo`` is the same search without that floor
(:func:`skhyre.reweighting.loo_temperature`). This script measures how
far each choice is from the best *fixed*
temperature chosen in hindsight on the evaluation rows, and from the paper's
``T = 1``, for squared error on standardized targets:

- **GP** (no training): the members are ``K`` functions drawn from a
  Gaussian-process prior on a grid, the target is a fresh draw from the same
  prior plus noise; ``n_adapt`` random grid points are labelled and the
  weighted mean is scored on the rest. Many repeats.
- **UCI** (when cached member predictions exist): the out-of-distribution
  member predictions saved by ``python benchmarks/uci_shift.py --n-jobs 2
  --cache-dir benchmarks/.cache/uci_full`` (standardized units), with
  random adaptation rows, pooled over the seeds of each dataset x ensemble
  cell. The report checks that these are the fits behind
  ``benchmarks/results/uci_shift.json`` (each fit's uniform RMSE on the
  study's random-arm evaluation rows must match) and says so.

Usage::

    python benchmarks/temperature.py [--quick] [--out DIR] [--cache-dir DIR]

Writes ``temperature.{json,md}`` to ``benchmarks/results/`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from _common import RESULTS, ROOT, machine_line, md_table, write_results
from tqdm.auto import tqdm

from skhyre import HypothesisWeights
from skhyre.datasets import make_gp_functions
from skhyre.reweighting import auto_temperature, evidence_temperature, loo_temperature

FIXED = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, np.inf)
#: The temperatures chosen from the labels: the library's two rules and the
#: leave-one-out search without auto's evidence floor.
CHOSEN = ("auto", "evidence", "loo")


def _weights(losses: np.ndarray, temperature: float) -> np.ndarray:
    hw = HypothesisWeights(n_members=losses.shape[0], temperature=temperature)
    return hw.update(losses).weights


def evaluate(F: np.ndarray, y: np.ndarray, adapt: np.ndarray) -> dict:
    """RMSE on the non-adaptation rows for every fixed temperature and ``"auto"``.

    ``F`` (K, n) member predictions and ``y`` (n,) targets, standardized;
    ``adapt`` the indices of the labelled rows.
    """
    rest = np.setdiff1d(np.arange(y.shape[0]), adapt)
    F_a, y_a = F[:, adapt], y[adapt]
    losses = (F_a - y_a) ** 2

    def mixture_loss(W: np.ndarray) -> np.ndarray:  # (G, n, K) -> (G, n)
        return (np.einsum("gik,ki->gi", W, F_a) - y_a) ** 2

    t_auto, _, _ = auto_temperature(losses, mixture_loss, "squared")
    t_ev, _ = evidence_temperature(losses, "squared")
    t_loo, _ = loo_temperature(losses, mixture_loss)
    chosen = {"auto": t_auto, "evidence": t_ev, "loo": t_loo}
    out = {}
    for t in (*FIXED, *CHOSEN):
        w = _weights(losses, chosen.get(t, t))
        out[t] = float(np.sqrt(np.mean((w @ F[:, rest] - y[rest]) ** 2)))
    out["t_auto"] = float(t_auto)
    out["t_evidence"] = float(t_ev)
    out["t_loo"] = float(t_loo)
    return out


def _summarize(records: list[dict]) -> dict:
    """Mean RMSE per temperature, auto vs the best fixed one and vs T=1 (paired)."""
    rmse = {t: np.array([r[t] for r in records]) for t in (*FIXED, *CHOSEN)}
    means = {t: float(v.mean()) for t, v in rmse.items()}
    best_t = min(FIXED, key=lambda t: means[t])
    rel = lambda a, b: float(np.mean(rmse[a] / rmse[b] - 1.0))  # noqa: E731
    return {
        "n": len(records),
        "mean_rmse": {str(t): v for t, v in means.items()},
        "best_fixed": float(best_t),
        "auto_vs_best_fixed": rel("auto", best_t),
        "auto_vs_T1": rel("auto", 1.0),
        "auto_vs_uniform": rel("auto", np.inf),
        "median_t_auto": float(np.median([r["t_auto"] for r in records])),
        "evidence_vs_best_fixed": rel("evidence", best_t),
        "evidence_vs_T1": rel("evidence", 1.0),
        "evidence_vs_uniform": rel("evidence", np.inf),
        "median_t_evidence": float(np.median([r["t_evidence"] for r in records])),
        "loo_vs_uniform": rel("loo", np.inf),
        "median_t_loo": float(np.median([r["t_loo"] for r in records])),
    }


def run_gp(n_repeats: int, n_adapt: int, noise: float, seed: int, bar) -> dict:
    rng = np.random.default_rng([seed, int(noise * 1000)])
    records = []
    for _ in range(n_repeats):
        data = make_gp_functions(
            n_functions=101, n_points=200, noise=0.0, random_state=int(rng.integers(2**31))
        )
        F, y = data.F[:-1], data.F[-1] + noise * rng.standard_normal(200)
        adapt = rng.choice(200, size=n_adapt, replace=False)
        records.append(evaluate(F, y, adapt))
        bar.update()
    return _summarize(records)


def _cached_fits(cache_dir: Path) -> dict:
    """``{(dataset, ensemble): {seed: path}}`` of the cached member predictions."""
    fits: dict = {}
    for path in sorted(cache_dir.glob("*.npz")):
        head, _, seed = path.stem.rpartition("_")
        name, _, ens = head.partition("_")
        if not (seed.isdigit() and name and ens):
            continue
        fits.setdefault((name, ens), {})[int(seed)] = path
    return fits


def check_provenance(fits: dict, study_json: Path) -> tuple[int, int]:
    """How many cached fits reproduce ``uci_shift.json``'s random-arm uniform RMSE.

    The study draws its random adaptation rows with
    ``default_rng([seed, 20241]).choice(n_ood, n_adapt)`` (``n_adapt`` from its
    meta) and scores the uniform ensemble on the other OOD rows; a cached fit
    of the same run gives the same number (to float32 rounding). Returns
    ``(matching, checked)``.
    """
    if not study_json.is_file():
        return 0, 0
    import json

    study = json.loads(study_json.read_text())
    n_adapt = int(study.get("meta", {}).get("n_adapt", 32))
    runs = {(r["dataset"], r["ensemble"], r["seed"]): r for r in study.get("runs", [])}
    matching = checked = 0
    for (name, ens), by_seed in fits.items():
        for seed, path in by_seed.items():
            rec = runs.get((name, ens, seed))
            if rec is None or "T=1" not in rec.get("random", {}):
                continue
            z = np.load(path)
            F, y = z["F"], z["y"]
            idx = np.random.default_rng([seed, 20_241]).choice(y.shape[0], n_adapt, replace=False)
            rest = np.setdiff1d(np.arange(y.shape[0]), idx)
            uni = float(np.sqrt(np.mean((F[:, rest].mean(axis=0) - y[rest]) ** 2)))
            checked += 1
            matching += bool(np.isclose(uni, rec["random"]["T=1"]["uniform"], rtol=1e-5))
    return matching, checked


def run_uci(fits: dict, n_draws: int, n_adapt: int, bar) -> dict:
    """Per dataset x ensemble cell: ``n_draws`` random adaptation sets per cached fit."""
    results = {}
    for (name, ens), by_seed in sorted(fits.items()):
        recs = []
        for _seed, path in sorted(by_seed.items()):
            z = np.load(path)
            F, y = z["F"], z["y"]
            rng = np.random.default_rng(zlib.crc32(path.stem.encode()))  # stable across runs
            recs += [
                evaluate(F, y, rng.choice(y.shape[0], size=n_adapt, replace=False))
                for _ in range(n_draws)
            ]
            bar.update()
        results[f"{name}/{ens}"] = {**_summarize(recs), "seeds": sorted(by_seed)}
    return results


def shown_indices(path: Path) -> str:
    """``path`` relative to the repository when inside it (no home folders in reports)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _fmt_t(t: float) -> str:
    return "∞" if np.isinf(t) else f"{t:g}"


def _rows(label: str, s: dict) -> list:
    return [
        label,
        s["n"],
        f"{s['mean_rmse']['auto']:.4f}",
        f"{s['mean_rmse']['1.0']:.4f}",
        f"{s['mean_rmse']['inf']:.4f}",
        f"{s['mean_rmse'][str(s['best_fixed'])]:.4f} (T={_fmt_t(s['best_fixed'])})",
        f"{100 * s['auto_vs_best_fixed']:+.2f}%",
        f"{100 * s['auto_vs_T1']:+.2f}%",
        f"{100 * s['auto_vs_uniform']:+.2f}%",
        _fmt_t(s["median_t_auto"]),
        f"{s['mean_rmse']['evidence']:.4f}",
        f"{100 * s['evidence_vs_best_fixed']:+.2f}%",
        f"{100 * s['evidence_vs_uniform']:+.2f}%",
        _fmt_t(s["median_t_evidence"]),
        f"{100 * s['loo_vs_uniform']:+.2f}%",
        _fmt_t(s["median_t_loo"]),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    parser.add_argument(
        "--cache-dir",
        default=str(ROOT / "benchmarks" / ".cache" / "uci_full"),
        help="cached UCI member predictions (from uci_shift.py --cache-dir)",
    )
    parser.add_argument("--n-adapt", type=int, default=32)
    args = parser.parse_args(argv)

    n_rep = 40 if args.quick else 300
    noises = (0.1, 0.3, 1.0)
    cache = Path(args.cache_dir)
    fits = _cached_fits(cache) if cache.is_dir() else {}
    n_cached = sum(len(v) for v in fits.values())
    t0 = time.perf_counter()
    with tqdm(total=n_rep * len(noises) + n_cached, desc="temperature") as bar:
        gp = {noise: run_gp(n_rep, args.n_adapt, noise, 0, bar) for noise in noises}
        uci = run_uci(fits, 4 if args.quick else 20, args.n_adapt, bar) if n_cached else {}
    seconds = time.perf_counter() - t0
    study_json = Path(args.out) / "uci_shift.json"
    if not study_json.is_file():
        study_json = RESULTS / "uci_shift.json"
    matching, checked = check_provenance(fits, study_json)

    header = [
        "setting",
        "repeats",
        "auto",
        "T=1",
        "uniform (T=∞)",
        "best fixed T (hindsight)",
        "auto vs best fixed",
        "auto vs T=1",
        "auto vs uniform",
        "median T auto",
        "evidence",
        "evidence vs best fixed",
        "evidence vs uniform",
        "median T evidence",
        "loo (no floor) vs uniform",
        "median T loo",
    ]
    rows = [_rows(f"GP, noise sd {noise:g}", s) for noise, s in gp.items()]
    rows += [_rows(f"UCI {cell}", s) for cell, s in uci.items()]
    if not uci:
        provenance = ""
    elif checked and matching == checked == n_cached:
        provenance = (
            f"UCI rows: the {n_cached} fits behind `{shown_indices(study_json.with_suffix('.md'))}` "
            f"(cached in "
            f"`{shown_indices(cache)}`; every fit's uniform RMSE on the study's random-arm evaluation "
            "rows matches `uci_shift.json`), each with its own random adaptation sets, pooled "
            "over the seeds of a cell.\n\n"
        )
    else:
        provenance = (
            f"UCI rows: {n_cached} cached fits from `{shown_indices(cache)}`; **not** the fits behind "
            f"`{shown_indices(study_json.with_suffix('.md'))}` ({matching} of {checked} matched it; "
            f"{n_cached - checked} have no run there), so settings may differ.\n\n"
        )
    md = (
        f"**`temperature=\"auto\"` and `\"evidence\"` vs fixed temperatures** — RMSE of the "
        "weighted mean on the "
        f"non-adaptation rows after {args.n_adapt} random labels, squared-error losses on "
        "standardized targets; mean over repeats; the relative changes are paired means of "
        "per-repeat ratios. The best fixed temperature is chosen *in hindsight* on the "
        "evaluation rows (an oracle over the grid "
        f"{', '.join(_fmt_t(t) for t in FIXED)}).\n\n"
        + md_table(header, rows)
        + "\n\n"
        + (
            provenance
            if uci
            else "_No cached UCI member predictions: run `python benchmarks/uci_shift.py "
            "--n-jobs 2 --cache-dir benchmarks/.cache/uci_full` first for the UCI rows._\n\n"
        )
        + f"{seconds:.0f} s; {machine_line()}. Generated by `python benchmarks/temperature.py"
        + "".join(" " + shlex.quote(w) for w in (sys.argv[1:] if argv is None else argv))
        + "`.\n"
    )
    print(md)
    payload = {
        "gp": {str(k): v for k, v in gp.items()},
        "uci": uci,
        "uci_provenance": {"cache_dir": shown_indices(cache), "matching": matching, "checked": checked},
        "seconds": seconds,
    }
    path = write_results("temperature", payload, md, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
