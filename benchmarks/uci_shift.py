"""The HyRe paper's Table 1: UCI regression under distribution shift.

A thin wrapper over :func:`skhyre.studies.uci.run_uci_study` (the same study as ``skhyre uci``;
the protocol is in that module's docstring): energy, kin8nm and ccpp; vanilla,
epinet, shared_base (K=100, two hidden layers of 50) and mc_dropout; 10 seeds;
32 OOD adaptation examples drawn at random or queried by weighted variance;
HyRe at temperature 1 (the paper's rule), the estimator's default
(``"auto"`` capped at 1), ``"auto"`` and ``"evidence"`` uncapped, the
leave-one-out search without ``"auto"``'s evidence floor (``loo``) and a sweep
of fixed temperatures; on the random draws, the baselines a user would pick
instead (fine-tuning, gradient boosting and a random forest, before and after
refitting with the labels); paired 95% intervals and verdicts over seeds;
a prequential check on the labelled points; the paper's values beside ours.

Run ``python benchmarks/uci_shift.py --n-jobs 2`` (the report states its wall
time; add ``--cache-dir benchmarks/.cache/uci_full`` to keep the member
predictions for ``benchmarks/temperature.py``) or
``--quick`` (1 seed, short training: a smoke run, not a result). Writes
``uci_shift.json``, ``uci_shift.md`` and ``uci_shift.png`` to ``--out``
(default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import inspect
import os
import shlex
import sys
from pathlib import Path

from _common import RESULTS, ROOT, machine_line

from skhyre.studies.uci import UCI_DATASETS, UCI_ENSEMBLES, run_uci_study

#: run_uci_study's default prior scale of shared_base and epinet (shown in --help).
PRIOR_SCALE = inspect.signature(run_uci_study).parameters["prior_scale"].default


def default_data_home() -> str | None:
    """``SKHYRE_DATA``, else the shared data folder next to the repository."""
    env = os.environ.get("SKHYRE_DATA")
    if env:
        return env
    shared = ROOT.parent / "shared" / "data" / "uci"
    return str(shared) if shared.is_dir() else None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 seed, short training (smoke run)")
    p.add_argument("--out", default=str(RESULTS), help="results folder (default: %(default)s)")
    p.add_argument(
        "--data-home",
        default=default_data_home(),
        help="folder with energy.csv, kin8nm.csv, ccpp.csv (default: $SKHYRE_DATA, "
        "else ../shared/data/uci next to the repository)",
    )
    p.add_argument("--datasets", nargs="+", default=list(UCI_DATASETS), choices=UCI_DATASETS)
    p.add_argument("--ensembles", nargs="+", default=list(UCI_ENSEMBLES), choices=UCI_ENSEMBLES)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (full 10, quick 1)")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps of shared_base and epinet (full 6000)",
    )
    p.add_argument("--vanilla-steps", type=int, default=None, help="(full 1500)")
    p.add_argument("--mc-dropout-steps", type=int, default=None, help="(full 3000)")
    p.add_argument(
        "--prior-scale",
        type=float,
        default=PRIOR_SCALE,
        help="prior scale of shared_base and epinet (default: %(default)s)",
    )
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--n-members", type=int, default=100)
    p.add_argument("--n-adapt", type=int, default=32)
    p.add_argument(
        "--draws",
        type=int,
        default=None,
        help="draws of labelled points per fit in the random and sampled arms (full 5, quick 1)",
    )
    p.add_argument(
        "--refit-draws",
        type=int,
        default=None,
        help="fine-tune and refit the baselines on the first N draws of each fit (default: all)",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--n-jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="fits in parallel processes, 1 torch thread each (default: the cores, %(default)s)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads per fit (default: 1)")
    p.add_argument(
        "--cache-dir",
        default=None,
        help="save every fit's OOD member predictions here (e.g. benchmarks/.cache/uci)",
    )
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    words = sys.argv[1:] if argv is None else list(argv)
    command = "python benchmarks/uci_shift.py" + "".join(" " + shlex.quote(w) for w in words)
    import torch

    # One torch thread per fit: these nets are small, and several threads on a
    # busy machine spin-wait (a 20x slowdown was measured with 2 threads at load 7).
    torch.set_num_threads(args.threads or 1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    res = run_uci_study(
        args.datasets,
        args.ensembles,
        seeds=args.seeds,
        quick=args.quick,
        data_home=args.data_home,
        progress=not args.no_progress,
        steps=args.steps,
        vanilla_steps=args.vanilla_steps,
        mc_dropout_steps=args.mc_dropout_steps,
        n_members=args.n_members,
        n_adapt=args.n_adapt,
        draws=args.draws,
        refit_draws=args.refit_draws,
        prior_scale=args.prior_scale,
        dropout=args.dropout,
        batch_size=args.batch_size,
        lr=args.lr,
        n_jobs=args.n_jobs,
        threads=args.threads,
        cache_dir=args.cache_dir,
        command=command,
        machine=machine_line(date=False),  # the report prints the date itself
    )
    written = res.save(args.out, plot=not args.no_plot)
    print()
    print(res.markdown())
    print(
        f"Done in {res.meta['wall_seconds'] / 60:.1f} min. Wrote: " + ", ".join(map(str, written))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
