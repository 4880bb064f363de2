"""The paper's UCI regression study under distribution shift (Table 1).

:func:`run_uci_study` reproduces the HyRe paper's Table 1 (Section 6.1 and
Appendix B) on Energy, Kin8nm and CCPP, using :func:`skhyre.datasets.ood_split`:
rows are sorted by the average of their standardized inputs; the lowest and
highest 5% form the out-of-distribution (OOD) set, the middle 90% is split at
random into training (80%) and validation (20%, unused). Inputs and target are
standardized with the training statistics. Each ensemble (K=100 members;
learnable, base and prior networks are MLPs with two hidden layers of 50) is
fitted once per seed; then, from the same fitted model,

* ``random`` arm: 32 OOD examples drawn at random adapt the weights; RMSE is
  measured on the other OOD examples;
* ``active`` arm: 32 OOD examples queried one at a time by weighted member
  variance, the top-scoring row at each step (``active_adapt``, the OOD
  labels as oracle; the paper's appendix); RMSE on the OOD examples that were
  not queried;
* ``sampled`` arm: as ``active``, but each query is drawn with probability
  proportional to the weighted variance (``sampling="power"``), so the
  labelled points are not all the extreme rows the members disagree on most;

the random and sampled arms average several draws of labelled points per fit
(5 in the full run). Every arm is run

with the paper's temperature 1, the estimator's default (``default``:
``HyReRegressor()``'s ``temperature="auto"`` with ``max_temperature=1``),
``temperature="auto"`` and ``temperature="evidence"`` uncapped
(``max_temperature=None``: the rules themselves) and fixed temperatures. The
uniform ensemble is scored on exactly the same evaluation rows as the HyRe
model it is compared with, and the relative change is computed per seed
(paired) before averaging. A further variant, ``loo``, re-weights the auto
run's labelled points at the temperature of the plain leave-one-out search
over the whole grid (:func:`skhyre.reweighting.loo_temperature`, what
``"auto"`` was before it got its evidence floor), to show what the floor
changes.

On the random arm's draws (the same labelled points and evaluation rows) the
study also scores what a user would pick instead: fine-tuning (a copy of the
fitted ensemble, ``partial_fit`` for 5 epochs on the training rows plus the
labelled points, the uniform ensemble of the result), and histogram gradient
boosting and a random forest (100 trees) trained on the training rows
(``hgb``, ``rf``) and refitted on them plus the labelled points
(``hgb_refit``, ``rf_refit``); the trees, which do not depend on the
ensemble, run once per dataset and seed.

Every "A vs B" figure of the report is paired: per draw, the relative change
of A's RMSE over B's on the same evaluation rows (in the query arms, where
each rule labels its own points, each rule's RMSE is first taken relative to
the uniform ensemble on its own rows), averaged over the seed's draws; then
the mean over seeds with a two-sided 95% Student-t interval, and a verdict
(better, level or worse: does the interval exclude 0?).

``skhyre uci`` runs it, prints the report and writes ``uci_shift.json``,
``uci_shift.md`` and ``uci_shift.png`` (:meth:`UCIStudyResult.save`). The
computing of one fit is in ``skhyre/studies/_uci_fit.py``, the report's
rendering in ``skhyre/studies/_uci_report.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import _uci_fit, _uci_report
from . import _uci_settings as _settings
from ._uci_fit import prequential_change

__all__ = [
    "ARMS",
    "BASELINES",
    "PAPER_TABLE1",
    "UCI_DATASETS",
    "UCI_ENSEMBLES",
    "VARIANTS",
    "UCIDataNotFoundError",
    "UCIStudyResult",
    "check_uci_data",
    "prequential_change",
    "run_uci_study",
]

#: The datasets of the paper's Table 1.
UCI_DATASETS = _settings.UCI_DATASETS
#: The ensembles of the paper's Table 1.
UCI_ENSEMBLES = _settings.UCI_ENSEMBLES
#: The adaptation arms: labelled points drawn at random (``"random"``); queried
#: one at a time by the weighted variance, taking the top row (``"active"``,
#: the paper's appendix, ``sampling="top"``); queried one at a time by drawing
#: rows with probability proportional to the weighted variance (``"sampled"``,
#: ``sampling="power"``).
ARMS = _settings.ARMS
#: Reported variants: temperature 1 (the paper's rule), the library's ``"auto"``
#: (leave-one-out above an evidence floor), the plain leave-one-out search on
#: the auto run's labelled points (``"loo"``), the library's ``"evidence"``
#: (empirical Bayes), and the fixed temperatures 0.01, 0.1, 3 and 10 of the
#: trade-off table (from sharp, about one member, to gentle, close to uniform).
VARIANTS = _settings.VARIANTS
#: The baselines scored on the random arm's draws: fine-tuning (``"finetune"``),
#: histogram gradient boosting and a random forest on the training rows
#: (``"hgb"``, ``"rf"``) and refitted with the labelled points (``"hgb_refit"``,
#: ``"rf_refit"``).
BASELINES = _settings.BASELINES
#: The paper's Table 1 as ``(uniform, HyRe)``; MC Dropout is reported without HyRe.
PAPER_TABLE1 = _settings.PAPER_TABLE1


class UCIDataNotFoundError(FileNotFoundError):
    """A UCI CSV file is missing: the message says where it was looked for.

    Attributes
    ----------
    dataset : str
        The missing dataset.
    places : list of pathlib.Path
        The folders searched, in order.
    details : str
        :func:`skhyre.datasets.load_uci`'s full message (every place, the
        columns expected, how to download).

    Examples
    --------
    >>> from pathlib import Path
    >>> from skhyre.studies.uci import UCIDataNotFoundError
    >>> err = UCIDataNotFoundError("energy", [Path("/data")], "details")
    >>> msg = str(err)
    >>> msg.startswith("energy.csv not found in /data. Download the three files")
    True
    >>> "load_uci(n, data_home='DIR')" in msg and "--data-home DIR" in msg
    True
    """

    def __init__(self, dataset: str, places: Sequence[Path], details: str = ""):
        self.dataset = dataset
        self.places = list(places)
        self.details = details
        where = ", ".join(str(p) for p in self.places) or "no folder"
        super().__init__(
            f"{dataset}.csv not found in {where}. Download the three files (checked against "
            'SHA-256 sums, written as the CSVs this study reads) with python -c "from '
            "skhyre.datasets import load_uci; [load_uci(n, data_home='DIR') for n in "
            "('energy', 'kin8nm', 'ccpp')]\", then pass --data-home DIR (or set "
            "SKHYRE_DATA=DIR)"
        )


def check_uci_data(datasets: Sequence[str] = _settings.UCI_DATASETS, data_home=None) -> None:
    """Raise :class:`UCIDataNotFoundError` unless every dataset's CSV is found.

    Looks where :func:`skhyre.datasets.load_uci` looks (``data_home``, then
    ``SKHYRE_DATA``, then ``~/skhyre_data``) and never downloads.

    Parameters
    ----------
    datasets : sequence of str, default=("energy", "kin8nm", "ccpp")
        The datasets needed.
    data_home : str or os.PathLike, default=None
        Folder searched first.

    Raises
    ------
    UCIDataNotFoundError
        Naming the first missing dataset and every folder searched.
    ValueError
        If a dataset name is unknown.

    Examples
    --------
    >>> from skhyre.studies.uci import check_uci_data
    >>> check_uci_data(["energy"], data_home="/nowhere")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    skhyre.studies.uci.UCIDataNotFoundError: energy.csv not found in /nowhere, ...
    """
    from ..datasets import data_homes, load_uci

    for name in datasets:
        if name not in _settings.UCI_DATASETS:
            raise ValueError(
                f"Unknown UCI dataset {name!r}; valid names are {list(_settings.UCI_DATASETS)}"
            )
        try:
            load_uci(name, data_home=data_home, download=False, return_X_y=True)
        except FileNotFoundError as exc:
            places = [home for home, _ in data_homes(data_home)]
            raise UCIDataNotFoundError(name, places, str(exc)) from exc


@dataclass
class UCIStudyResult:
    """Results of :func:`run_uci_study`.

    Attributes
    ----------
    summary : dict
        Per ``"dataset/ensemble"`` cell: ``n_seeds``, ``fit_seconds``,
        ``steps``, ``y_sd``; per ``"arm/variant"`` (arms ``random`` and
        ``active`` and ``sampled`` of :data:`ARMS`; variants in :data:`VARIANTS`:
        ``T=1``, ``default``, ``auto``, ``loo``, ``evidence`` and the fixed
        temperatures), the mean and std over seeds of ``uniform`` and ``hyre``
        OOD RMSE (standardized target and original units), ``rel_change_pct``
        (paired), ``hyre_wins`` (seeds at or below uniform), temperatures,
        effective members, the best single member (an oracle),
        ``prequential_change_pct`` and ``prequential_ci``
        (:func:`prequential_change` on the labelled points, for ``T=1``,
        ``default``, ``auto`` and ``evidence``; ``None`` for the others) and
        ``hyre_at_or_below_uniform_in_mean``; ``baselines`` (per baseline of
        :data:`BASELINES`: its RMSE and the uniform ensemble's on the same
        draws, mean and std over seeds); ``comparisons`` (per
        ``"arm/A vs B"``: the paired relative change ``mean``, its 95%
        t-interval ``lo`` and ``hi``, the ``verdict`` and the ``per_seed``
        values).
    runs : list of dict
        One record per fit (dataset, ensemble, seed) with every arm and
        variant, and the fine-tuning baseline (``baselines``).
    tree_runs : list of dict
        One record per dataset and seed: the tree baselines on the random
        arm's draws.
    meta : dict
        The settings, the machine, the date and the wall time.

    Examples
    --------
    >>> from skhyre.studies.uci import UCIStudyResult
    >>> res = UCIStudyResult(summary={}, runs=[], meta={})
    >>> res.auto_at_or_below_uniform
    {}
    """

    summary: dict
    runs: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    tree_runs: list[dict] = field(default_factory=list)

    def at_or_below_uniform(self, variant: str = "auto", arms=None) -> dict[str, bool]:
        """Per cell: is HyRe ``variant`` at or below uniform in the mean, in every arm?

        Parameters
        ----------
        variant : {"T=1", "auto", "loo", "evidence"} or "T=<t>", default="auto"
        arms : sequence of {"random", "active", "sampled"}, default=None
            The arms that must be at or below; ``None``: every arm the
            results have.

        Returns
        -------
        dict
            ``"dataset/ensemble"`` -> bool (cells without the variant are left out).
        """
        arms = self.arms() if arms is None else tuple(arms)
        return {
            k: all(c[f"{arm}/{variant}"]["hyre_at_or_below_uniform_in_mean"] for arm in arms)
            for k, c in self.summary.items()
            if all(f"{arm}/{variant}" in c for arm in arms)
        }

    @property
    def auto_at_or_below_uniform(self) -> dict[str, bool]:
        """Per cell: is HyRe ``"auto"`` at or below uniform in the mean, in every arm?"""
        return self.at_or_below_uniform("auto")

    def arms(self) -> tuple[str, ...]:
        """The arms these results have, in :data:`ARMS` order.

        Results from before the sampled arm lack it.
        """
        return tuple(
            a for a in _settings.ARMS if any(f"{a}/T=1" in c for c in self.summary.values())
        )

    def cells(self):
        """Iterate over ``(dataset, ensemble, cell)`` in the run's order; cells not run are skipped."""
        for name in self.meta.get("datasets", _settings.UCI_DATASETS):
            for ens in self.meta.get("ensembles", _settings.UCI_ENSEMBLES):
                c = self.summary.get(f"{name}/{ens}")
                if c is not None:
                    yield name, ens, c

    def to_dict(self) -> dict:
        """A JSON-ready dict: meta, the paper's table, summary, verdicts and runs."""
        return {
            "benchmark": "uci_shift",
            "meta": self.meta,
            "paper_table1": {
                e: {d: list(v) for d, v in t.items()} for e, t in _settings.PAPER_TABLE1.items()
            },
            "summary": self.summary,
            "auto_at_or_below_uniform": self.auto_at_or_below_uniform,
            "evidence_at_or_below_uniform": self.at_or_below_uniform("evidence"),
            "runs": self.runs,
            "tree_runs": self.tree_runs,
        }

    def markdown(self) -> str:
        """The report (Markdown): every arm, what auto's evidence floor does, the paper.

        Rendered by ``skhyre/studies/_uci_report.py`` from :attr:`summary` and
        :attr:`meta`.
        """
        return _uci_report.render_markdown(self)

    def plot(self, path) -> Path:
        """Bar chart of the paired relative change per dataset, arm and ensemble.

        Parameters
        ----------
        path : str or os.PathLike
            Where the PNG is written (needs matplotlib).

        Returns
        -------
        pathlib.Path
        """
        return _uci_report.plot(self, path)

    def save(self, out, plot: bool = True) -> list[Path]:
        """Write ``uci_shift.json``, ``uci_shift.md`` and (if ``plot``) ``uci_shift.png``.

        Returns the paths written. A missing matplotlib skips the PNG.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "uci_shift.json").write_text(
            json.dumps(self.to_dict(), indent=1, allow_nan=True) + "\n", encoding="utf-8"
        )
        (out / "uci_shift.md").write_text(self.markdown(), encoding="utf-8")
        written = [out / "uci_shift.json", out / "uci_shift.md"]
        if plot:
            try:
                written.append(self.plot(out / "uci_shift.png"))
            except ImportError:
                pass
        return written


def run_uci_study(
    datasets: Sequence[str] = _settings.UCI_DATASETS,
    ensembles: Sequence[str] = _settings.UCI_ENSEMBLES,
    seeds: int | Sequence[int] | None = None,
    quick: bool = False,
    data_home=None,
    progress: bool = True,
    *,
    steps: int | None = None,
    vanilla_steps: int | None = None,
    mc_dropout_steps: int | None = None,
    n_members: int = 100,
    hidden_layer_sizes: Sequence[int] = (50, 50),
    n_adapt: int = 32,
    draws: int | None = None,
    refit_draws: int | None = None,
    prior_scale: float = _settings.DEFAULT_PRIOR_SCALE,
    dropout: float = 0.1,
    batch_size: int = 128,
    lr: float = 1e-3,
    n_jobs: int = 1,
    threads: int | None = None,
    cache_dir=None,
    command: str = "skhyre.studies.uci.run_uci_study",
    machine: str | None = None,
) -> UCIStudyResult:
    """The paper's UCI distribution-shift study (Table 1), from data to summary.

    See the module docstring for the protocol. Every (dataset, ensemble, seed)
    is one fit; every adaptation arm, every temperature variant and the
    fine-tuning baseline are scored from that same fit. The tree baselines
    are one job per (dataset, seed).

    Parameters
    ----------
    datasets : sequence of {"energy", "kin8nm", "ccpp"}, default=all three
    ensembles : sequence of {"vanilla", "epinet", "shared_base", "mc_dropout"}, default=all
    seeds : int or sequence of int, default=None
        Number of seeds (``0 .. seeds-1``) or the seeds themselves; ``None``:
        10 for the full run, 1 with ``quick``.
    quick : bool, default=False
        Short training (a smoke run, not a result): 300 steps (100 vanilla,
        150 MC dropout) instead of 6,000 (1,500, 3,000).
    data_home : str or os.PathLike, default=None
        Folder with ``energy.csv``, ``kin8nm.csv``, ``ccpp.csv``; else
        ``SKHYRE_DATA``, else ``~/skhyre_data`` (nothing is downloaded).
    progress : bool, default=True
        Show a tqdm progress bar over fits (on stderr).
    steps, vanilla_steps, mc_dropout_steps : int, default=None
        Training steps (Adam updates) of shared_base and epinet, vanilla, and
        mc_dropout; ``None`` takes the full or quick default.
    n_members : int, default=100
    hidden_layer_sizes : sequence of int, default=(50, 50)
    n_adapt : int, default=32
        Labelled OOD examples per arm.
    draws : int, default=None
        Draws of labelled points per fit in the random and sampled arms,
        averaged (each rule is scored on each draw); ``None``: 5 for the full
        run, 1 with ``quick``. The top-variance arm is deterministic.
    refit_draws : int, default=None
        The baselines that learn from the labelled points (fine-tuning and
        the refitted trees) run on the first ``refit_draws`` draws of each
        fit; ``None``: on every draw.
    prior_scale : float, default=1.0
        Prior scale of shared_base and epinet.
    dropout : float, default=0.1
        Dropout rate of mc_dropout.
    batch_size : int, default=128
    lr : float, default=1e-3
    n_jobs : int, default=1
        Fits run in parallel processes (joblib); each uses ``threads`` torch
        threads.
    threads : int, default=None
        torch threads per fit; ``None`` leaves torch's setting (1 when
        ``n_jobs > 1``).
    cache_dir : str or os.PathLike, default=None
        If given, every fit's member predictions on the OOD rows are saved
        there as ``<dataset>_<ensemble>_<seed>.npz`` (``F``, ``y``, ``y_sd``,
        ``y_scale``), for studying adaptation rules without refitting.
    command : str, default="skhyre.studies.uci.run_uci_study"
        How the run was started, for the report.
    machine : str, default=None
        A description of the machine for the report; ``None`` describes it here
        (CPU, cores, torch version and threads, load).

    Returns
    -------
    UCIStudyResult

    Raises
    ------
    UCIDataNotFoundError
        Before any training, if a dataset's CSV is missing.
    ValueError
        For an unknown dataset or ensemble, or no seeds.

    Examples
    --------
    A tiny run (one dataset, one small ensemble, one seed; seconds):

    >>> from skhyre.studies.uci import run_uci_study
    >>> res = run_uci_study(["energy"], ["shared_base"], seeds=1, quick=True,
    ...                     n_members=8, steps=50, progress=False)  # doctest: +SKIP
    >>> sorted(res.summary)  # doctest: +SKIP
    ['energy/shared_base']
    """
    datasets, ensembles = list(datasets), list(ensembles)
    for e in ensembles:
        if e not in _settings.UCI_ENSEMBLES:
            raise ValueError(
                f"Unknown ensemble {e!r}; valid names are {list(_settings.UCI_ENSEMBLES)}"
            )
    if not datasets or not ensembles:
        raise ValueError("run_uci_study needs at least one dataset and one ensemble.")
    cfg = dict(_settings.QUICK if quick else _settings.FULL)
    for key, val in (
        ("steps", steps),
        ("vanilla_steps", vanilla_steps),
        ("mc_dropout_steps", mc_dropout_steps),
    ):
        if val is not None:
            cfg[key] = int(val)
    if seeds is None:
        seeds = cfg["seeds"]
    seed_list = list(range(int(seeds))) if isinstance(seeds, int | np.integer) else list(seeds)
    if not seed_list:
        raise ValueError("run_uci_study needs at least one seed.")
    if draws is not None and (
        isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1
    ):
        raise ValueError(f"draws must be a positive integer, got {draws!r}.")
    if refit_draws is not None and (
        isinstance(refit_draws, bool)
        or not isinstance(refit_draws, int | np.integer)
        or refit_draws < 1
    ):
        raise ValueError(f"refit_draws must be a positive integer or None, got {refit_draws!r}.")
    check_uci_data(datasets, data_home)

    params = {
        "n_members": int(n_members),
        "hidden_layer_sizes": [int(h) for h in hidden_layer_sizes],
        "prior_scale": float(prior_scale),
        "dropout": float(dropout),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "n_adapt": int(n_adapt),
        "draws": int(cfg["draws"] if draws is None else draws),
        "refit_draws": cfg["refit_draws"] if refit_draws is None else int(refit_draws),
        "finetune_epochs": _settings.FINETUNE_EPOCHS,
        "rf_trees": _settings.RF_TREES,
        "steps": {
            e: {"vanilla": cfg["vanilla_steps"], "mc_dropout": cfg["mc_dropout_steps"]}.get(
                e, cfg["steps"]
            )
            for e in ensembles
        },
    }
    n_jobs = max(1, int(n_jobs))
    if threads is None and n_jobs > 1:
        threads = 1
    home = None if data_home is None else os.fspath(data_home)
    tasks = [
        {
            "dataset": name,
            "ensemble": ens,
            "seed": int(seed),
            "params": params,
            "data_home": home,
            "threads": threads,
            "cache_dir": None if cache_dir is None else os.fspath(cache_dir),
        }
        for name in datasets
        for seed in seed_list
        for ens in ensembles
    ]
    # the tree baselines do not depend on the ensemble: one job per dataset and seed
    tasks += [
        {
            "kind": "trees",
            "dataset": name,
            "seed": int(seed),
            "params": params,
            "data_home": home,
            "threads": threads,
        }
        for name in datasets
        for seed in seed_list
    ]
    default_t, default_cap = _uci_fit.default_rule()
    meta = {
        "quick": bool(quick),
        "machine": machine or _uci_fit.machine(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "datasets": datasets,
        "ensembles": ensembles,
        "seeds": len(seed_list),
        "seed_list": seed_list,
        **{k: v for k, v in params.items() if k != "steps"},
        "steps": params["steps"],
        "n_jobs": n_jobs,
        "threads": threads if threads is not None else _uci_fit.torch_threads(),
        "default_rule": {"temperature": default_t, "max_temperature": default_cap},
        "ood_fraction": 0.1,
        "val_fraction": 0.2,
        "metric": "OOD RMSE on the target standardized with training mean and std "
        "(original units = that times the training std)",
        "command": command,
    }
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    records: list[dict] = []
    with tqdm(
        total=len(tasks),
        desc="uci fits",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        if n_jobs == 1:
            for task in tasks:
                bar.set_postfix_str(_job_label(task))
                records.append(_uci_fit.run_job(task))
                bar.update(1)
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            for rec in parallel(delayed(_uci_fit.run_job)(t) for t in tasks):
                records.append(rec)
                bar.set_postfix_str(_job_label(rec))
                bar.update(1)
    order = {_job_key(t): i for i, t in enumerate(tasks)}
    records.sort(key=lambda r: order[_job_key(r)])
    runs = [r for r in records if "ensemble" in r]
    tree_runs = [r for r in records if "ensemble" not in r]
    meta["wall_seconds"] = time.perf_counter() - t_start
    meta["finetune_seconds"] = float(sum(r["baselines"]["finetune_seconds"] for r in runs))
    meta["tree_seconds"] = float(sum(r["seconds"] for r in tree_runs))
    return UCIStudyResult(
        summary=_uci_fit.summarize(runs, datasets, ensembles, tree_runs),
        runs=runs,
        meta=meta,
        tree_runs=tree_runs,
    )


def _job_key(job: dict) -> tuple:
    """A fit's (dataset, ensemble, seed), a tree job's (dataset, "trees", seed)."""
    return (job["dataset"], job.get("ensemble", "trees"), job["seed"])


def _job_label(job: dict) -> str:
    return f"{job['dataset']} seed {job['seed']} {job.get('ensemble', 'trees')}"
