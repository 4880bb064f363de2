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

Every comparison is paired: the difference in RMSE between two choices on the
same draws, averaged over the independent units (GP: each repeat is a fresh
draw of members, target and labels; UCI: each seed's fit, averaged over its
draws of labels), with a two-sided 95% Student-t interval and a verdict
(better / level / worse). The JSON keeps the per-unit RMSEs.

Usage::

    python benchmarks/temperature.py [--quick] [--out DIR] [--cache-dir DIR]
    python benchmarks/temperature.py --from-json benchmarks/results/temperature.json

Writes ``temperature.{json,md}`` to ``benchmarks/results/`` (or ``--out``). Without
cached UCI member predictions, the UCI rows of the ``temperature.json`` already in
``--out`` are carried over and marked as such (their means only, when that run kept
no per-seed values).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from _common import RESULTS, ROOT, machine_line, md_table, paired_verdict, write_results
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


#: The choices whose per-unit RMSEs the JSON keeps: the fixed grid and the rules.
KEPT = (*FIXED, *CHOSEN)


def _summarize(records: list[dict], units: list | None = None) -> dict:
    """Mean RMSE per temperature, the best fixed one in hindsight, the median chosen
    temperatures, and the per-unit RMSEs behind the paired verdicts.

    ``records`` holds one :func:`evaluate` result per draw; ``units`` (same length) the
    unit each draw belongs to (a UCI seed): draws of one unit are averaged first. By
    default every draw is its own unit (the GP repeats).
    """
    units = list(range(len(records))) if units is None else list(units)
    order = list(dict.fromkeys(units))
    per_unit = {
        str(t): [
            float(np.mean([r[t] for r, u in zip(records, units) if u == unit])) for unit in order
        ]
        for t in KEPT
    }
    means = {t: float(np.mean([r[t] for r in records])) for t in KEPT}
    best_t = min(FIXED, key=lambda t: means[t])
    return {
        "n": len(records),
        "n_units": len(order),
        "mean_rmse": {str(t): v for t, v in means.items()},
        "best_fixed": float(best_t),
        "median_t_auto": float(np.median([r["t_auto"] for r in records])),
        "median_t_evidence": float(np.median([r["t_evidence"] for r in records])),
        "median_t_loo": float(np.median([r["t_loo"] for r in records])),
        "per_unit_rmse": per_unit,
    }


#: The report's paired comparisons: (label, a, b), RMSE of ``a`` minus ``b``.
#: ``"best"`` is the best fixed temperature in hindsight.
COMPARISONS = (
    ("auto - best fixed", "auto", "best"),
    ("auto - T=1", "auto", "1.0"),
    ("auto - uniform", "auto", "inf"),
    ("evidence - best fixed", "evidence", "best"),
    ("evidence - uniform", "evidence", "inf"),
    ("auto - evidence", "auto", "evidence"),
    ("auto - loo (no floor)", "auto", "loo"),
    ("loo (no floor) - uniform", "loo", "inf"),
)


def compare(s: dict, a: str, b: str):
    """Paired verdict of RMSE ``a`` minus ``b`` over the units of summary ``s`` (lower is
    better), or ``None`` when ``s`` kept no per-unit values."""
    per = s.get("per_unit_rmse")
    if not per:
        return None
    key = lambda t: str(s["best_fixed"]) if t == "best" else t  # noqa: E731
    return paired_verdict(per[key(a)], per[key(b)])


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
    of the same run gives the same number on the first draw (to float32
    rounding). Returns
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
            t1 = rec["random"]["T=1"]
            # the study's first draw (it averages several since its sampled arm; each is kept)
            first = t1.get("uniform_draws", [t1["uniform"]])[0]
            matching += bool(np.isclose(uni, first, rtol=1e-5))
    return matching, checked


def run_uci(fits: dict, n_draws: int, n_adapt: int, bar) -> dict:
    """Per dataset x ensemble cell: ``n_draws`` random adaptation sets per cached fit."""
    results = {}
    for (name, ens), by_seed in sorted(fits.items()):
        recs, units = [], []
        for _seed, path in sorted(by_seed.items()):
            z = np.load(path)
            F, y = z["F"], z["y"]
            rng = np.random.default_rng(zlib.crc32(path.stem.encode()))  # stable across runs
            recs += [
                evaluate(F, y, rng.choice(y.shape[0], size=n_adapt, replace=False))
                for _ in range(n_draws)
            ]
            units += [_seed] * n_draws
            bar.update()
        results[f"{name}/{ens}"] = {**_summarize(recs, units), "seeds": sorted(by_seed)}
    return results


def shown_indices(path: Path) -> str:
    """``path`` relative to the repository when inside it (no home folders in reports)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _fmt_t(t: float) -> str:
    return "∞" if np.isinf(t) else f"{t:g}"


def _mean_row(label: str, s: dict) -> list:
    m = s["mean_rmse"]
    units = s.get("n_units")
    return [
        label,
        s["n"] if units in (None, s["n"]) else f"{s['n']} ({units} seeds)",
        f"{m['auto']:.4f}",
        f"{m['1.0']:.4f}",
        f"{m['inf']:.4f}",
        f"{m[str(s['best_fixed'])]:.4f} (T={_fmt_t(s['best_fixed'])})",
        f"{m['evidence']:.4f}",
        f"{m['loo']:.4f}",
        _fmt_t(s["median_t_auto"]),
        _fmt_t(s["median_t_evidence"]),
        _fmt_t(s["median_t_loo"]),
    ]


def _verdict_row(label: str, s: dict) -> tuple[list, list]:
    cells, verdicts = [label], []
    for _, a, b in COMPARISONS:
        v = compare(s, a, b)
        if v is None:
            cells.append("—")
            continue
        verdicts.append(v)
        cells.append(f"{v.mean:+.4f} [{v.lo:+.4f}, {v.hi:+.4f}] {v.verdict}")
    return cells, verdicts


def _tally(verdicts) -> str:
    words = [v.verdict for v in verdicts]
    return ", ".join(f"{words.count(w)} {w}" for w in ("better", "level", "worse"))


MEAN_HEADER = [
    "setting",
    "repeats",
    "auto",
    "T=1",
    "uniform (T=∞)",
    "best fixed T (hindsight)",
    "evidence",
    "loo (no floor)",
    "median T auto",
    "median T evidence",
    "median T loo",
]


def report(payload: dict, n_adapt: int, provenance: str, footer: str) -> str:
    """The Markdown report: mean RMSEs, then the paired verdicts, from a payload."""
    gp, uci = payload["gp"], payload["uci"]
    named = [(f"GP, noise sd {float(k):g}", v) for k, v in gp.items()]
    named += [(f"UCI {cell}", v) for cell, v in uci.items()]
    vrows, verdicts = [], []
    for label, s in named:
        if s.get("per_unit_rmse"):
            row, vs = _verdict_row(label, s)
            vrows.append(row)
            verdicts += vs
    missing = [label for label, s in named if not s.get("per_unit_rmse")]
    if missing and all(m.startswith("UCI ") for m in missing) and len(missing) == len(uci):
        missing = ["the UCI rows"]
    return (
        f'**`temperature="auto"` and `"evidence"` vs fixed temperatures** — RMSE of the '
        "weighted mean on the "
        f"non-adaptation rows after {n_adapt} random labels, squared-error losses on "
        "standardized targets; mean over repeats. The best fixed temperature is chosen *in "
        "hindsight* on the evaluation rows (an oracle over the grid "
        f"{', '.join(_fmt_t(t) for t in FIXED)}).\n\n"
        + md_table(MEAN_HEADER, [_mean_row(label, s) for label, s in named])
        + "\n\n"
        + "**Paired differences in RMSE** (negative: the first choice is lower), on the same "
        "draws; GP: over the repeats (each a fresh draw of members, target and labels); UCI: "
        "over the seeds of a cell (each fit's draws of labels averaged first). Mean difference "
        "[95% t-interval] and the verdict for the first choice: "
        f"{_tally(verdicts)}.\n\n"
        + md_table(["setting", *[c[0] for c in COMPARISONS]], vrows)
        + "\n\n"
        + (
            f"No per-unit values were stored for {', '.join(missing)} (an older run): no "
            "verdict there until it is re-run.\n\n"
            if missing
            else ""
        )
        + provenance
        + footer
    )


def _provenance(
    uci: dict, cache: Path, study_json: Path, matching, checked, n_cached, carried: dict | None
) -> str:
    if not uci:
        return (
            "_No cached UCI member predictions: run `python benchmarks/uci_shift.py "
            "--n-jobs 2 --cache-dir benchmarks/.cache/uci_full` first for the UCI rows._\n\n"
        )
    if carried:
        return (
            f"UCI rows: carried over from {carried['source']} ({carried['date']}), not "
            f"recomputed: no cached UCI member predictions in `{shown_indices(cache)}`. "
            "To recompute them with intervals: `python benchmarks/uci_shift.py --n-jobs 2 "
            "--cache-dir benchmarks/.cache/uci_full` (about 13 min on 2 cores), then this "
            "script.\n\n"
        )
    if checked and matching == checked == n_cached:
        return (
            f"UCI rows: the {n_cached} fits behind `{shown_indices(study_json.with_suffix('.md'))}` "
            f"(cached in "
            f"`{shown_indices(cache)}`; every fit's uniform RMSE on the study's random-arm evaluation "
            "rows matches `uci_shift.json`), each with its own random adaptation sets, pooled "
            "over the seeds of a cell.\n\n"
        )
    return (
        f"UCI rows: {n_cached} cached fits from `{shown_indices(cache)}`; **not** the fits behind "
        f"`{shown_indices(study_json.with_suffix('.md'))}` ({matching} of {checked} matched it; "
        f"{n_cached - checked} have no run there), so settings may differ.\n\n"
    )


def _carry_uci(out: Path) -> tuple[dict, dict | None]:
    """The UCI rows of the ``temperature.json`` already in ``out``, and where they came
    from (``None`` when there is none)."""
    import json
    import re

    path = out / "temperature.json"
    if not path.is_file():
        return {}, None
    old = json.loads(path.read_text(encoding="utf-8"))
    if not old.get("uci"):
        return {}, None
    carried = old.get("uci_carried")
    if carried is None:
        date = old.get("date")
        md = path.with_suffix(".md")
        if date is None and md.is_file():
            found = re.findall(r"(\d{4}-\d\d-\d\d)T\d\d:\d\d", md.read_text(encoding="utf-8"))
            date = found[-1] if found else None
        carried = {"source": "the previous `temperature.json`", "date": f"run of {date}"}
    return old["uci"], carried


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
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="re-render the report from an earlier run's JSON (no computing)",
    )
    args = parser.parse_args(argv)
    command = "python benchmarks/temperature.py" + "".join(
        " " + shlex.quote(w) for w in (sys.argv[1:] if argv is None else argv)
    )
    if args.from_json is not None:
        return rerender(args.from_json, Path(args.out), command)

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
    carried = None
    if not uci:
        uci, carried = _carry_uci(Path(args.out))
    study_json = Path(args.out) / "uci_shift.json"
    if not study_json.is_file():
        study_json = RESULTS / "uci_shift.json"
    matching, checked = check_provenance(fits, study_json)
    payload = {
        "gp": {str(k): v for k, v in gp.items()},
        "uci": uci,
        "uci_provenance": {
            "cache_dir": shown_indices(cache),
            "matching": matching,
            "checked": checked,
        },
        "uci_carried": carried,
        "n_adapt": args.n_adapt,
        "seconds": seconds,
        "machine_line": machine_line(),
        "command": command,
    }
    payload["provenance_md"] = _provenance(
        uci, cache, study_json, matching, checked, n_cached, carried
    )
    md = report(payload, args.n_adapt, payload["provenance_md"], _footer(payload))
    print(md)
    path = write_results("temperature", payload, md, args.out)
    print(f"wrote {path}")
    return 0


def _footer(payload: dict, rerendered: str = "") -> str:
    return (
        f"{payload['seconds']:.0f} s; {payload['machine_line']}. Generated by "
        f"`{payload['command']}`.{rerendered}\n"
    )


def rerender(path: Path, out: Path, command: str) -> int:
    """``--from-json``: the report of an earlier run, rendered again from its JSON."""
    import json
    from datetime import datetime, timezone

    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    if "machine_line" not in payload:
        raise SystemExit(f"{path} predates --from-json (no machine line stored): re-run instead.")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = report(
        payload,
        payload["n_adapt"],
        payload.get("provenance_md", ""),
        _footer(payload, f" Report re-rendered from its JSON by `{command}` on {now}."),
    )
    print(md)
    write_results("temperature", payload, md, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
