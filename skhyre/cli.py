"""The ``skhyre`` command line: ``skhyre demo`` and the paper's studies.

Run ``skhyre --help`` or ``skhyre COMMAND --help``. Also available as
``python -m skhyre``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import torch

    from .demo import run_demo

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kw = dict(training=args.training, random_state=args.seed, progress=not args.no_progress)
    if args.quick:
        kw.update(n_members=16, n_test_labelers=5, max_epochs=10)
    print(
        "skhyre demo: personalize to an unseen labeler from a few labels.\n"
        "Training an ensemble on 2,000 points labelled by 100 conflicting linear labelers, "
        "then adapting to new ones...",
        flush=True,
    )
    res = run_demo(**kw)
    s = res.setup
    print(
        f"\nAccuracy on {s['n_test_labelers']} unseen labelers "
        f"(d={s['n_features']}, K={s['n_members']} members, training={s['training']!r}; "
        f"N = labels from the new labeler):\n"
    )
    print(res.table())
    print(
        "\nHyRe reweights the members with softmax(-cumulative 0-1 loss / T) on the N labels:"
        "\nno gradient step. The oracle peeks at the test labels (an upper reference, not a "
        "method)."
    )
    payload = {
        "n_labels": list(res.n_labels),
        "accuracy": res.rows,
        "std_over_labelers": res.spread,
        "setup": res.setup,
        "seconds": res.seconds,
    }
    (out / "demo.json").write_text(json.dumps(payload, indent=2))
    command = f"skhyre demo --out {shlex.quote(str(args.out))}"
    if args.quick:
        command += " --quick"
    if args.seed != 0:
        command += f" --seed {args.seed}"
    if args.training != "by_group":
        command += f" --training {args.training}"
    (out / "demo.md").write_text(res.markdown(command) + "\n")
    wrote = [out / "demo.json", out / "demo.md"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .plotting import plot_learning_curve

        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for name, vals in res.rows.items():
            plot_learning_curve(list(res.n_labels), vals, ax=ax, label=name)
        ax.set_xlabel("labels from the new labeler (N)")
        ax.set_title(f"Personalization to unseen labelers (training={s['training']})")
        fig.tight_layout()
        fig.savefig(out / "demo.png", dpi=120)
        plt.close(fig)
        wrote.append(out / "demo.png")
    except ImportError:
        print('(matplotlib is not installed: no PNG; pip install "skhyre[plot]")')
    print(f"\nDone in {res.seconds:.1f} s. Wrote: " + ", ".join(str(p) for p in wrote))
    return 0


def _uci(args: argparse.Namespace) -> int:
    from .studies import commands

    return commands.run_uci(args)


def _preferences(args: argparse.Namespace) -> int:
    from .studies import commands

    return commands.run_preferences(args)


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="skhyre",
        description="Test-time alignment by Hypothesis Reweighting (HyRe).",
    )
    p.add_argument("--version", action="version", version=f"skhyre {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "demo",
        help="personalize an ensemble to unseen synthetic labelers (no download, < 1 min)",
        description=(
            "Fit an ensemble on labels from many conflicting synthetic labelers, then adapt it "
            "to unseen labelers from 1, 5 and 10 of their labels (random and BALD-active), "
            "against a single network, the uniform ensemble, the best-member oracle and "
            "logistic regression on the same labels. Prints a table, writes demo.json, demo.md and "
            "demo.png."
        ),
    )
    d.add_argument("--out", default="skhyre_demo", help="output folder (default: %(default)s)")
    d.add_argument(
        "--training",
        choices=["by_group", "mixed", "pooled"],
        default="by_group",
        help="how members use the labeler ids (default: %(default)s)",
    )
    d.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    d.add_argument("--quick", action="store_true", help="a smaller, faster run")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(func=_demo)

    u = sub.add_parser(
        "uci",
        help="the paper's UCI distribution-shift study (Table 1)",
        description=(
            "Energy, Kin8nm and CCPP under the paper's input shift: OOD RMSE of uniform vs "
            "HyRe-adapted ensembles from 32 labels. Needs the CSV files (see --data-home)."
        ),
    )
    u.add_argument(
        "--data-home",
        default=None,
        help="folder with energy.csv, kin8nm.csv, ccpp.csv (default: $SKHYRE_DATA, then "
        "~/skhyre_data)",
    )
    u.add_argument("--out", default="skhyre_uci", help="output folder (default: %(default)s)")
    u.add_argument("--quick", action="store_true", help="a smaller, faster run")
    u.set_defaults(func=_uci)

    pr = sub.add_parser(
        "preferences",
        help="personalize a reward ensemble to user groups on real text preferences",
        description=(
            "Train a HyRe reward ensemble on the aggregate of conflicting text preferences (DSP "
            "domains; HH-RLHF helpful vs harmless), then personalize it to each group from 1-40 "
            "of its pairs (random and BALD), against a single reward model, the "
            "ensemble-combination baselines and per-group fine-tuning; plus annotator-aware "
            "training. Needs the data files (see --data-home) and sentence-transformers "
            '(pip install "skhyre[text]").'
        ),
    )
    pr.add_argument(
        "--data-home",
        default=None,
        help="folder holding dsp/ and hh-rlhf/ (default: $SKHYRE_PREFERENCE_DATA, then "
        "~/skhyre_data)",
    )
    pr.add_argument(
        "--out", default="skhyre_preferences", help="output folder (default: %(default)s)"
    )
    pr.add_argument("--quick", action="store_true", help="a smaller, faster run")
    pr.add_argument(
        "--training",
        nargs="+",
        choices=("pooled", "by_group", "mixed"),
        default=["pooled", "by_group"],
        help="how the personalized ensemble is trained: without the group ids (pooled, "
        "always run) and/or with them (default: %(default)s)",
    )
    pr.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="seeds to average over (default: the study's own: 0 1 2; --quick: 0)",
    )
    pr.add_argument(
        "--cache-dir",
        default=None,
        help="folder for cached answer embeddings (default: OUT/embedding_cache)",
    )
    pr.add_argument(
        "--no-domains",
        action="store_true",
        help="skip the annotator-aware study on the DSP domains",
    )
    pr.add_argument("--no-progress", action="store_true", help="no progress bars")
    pr.set_defaults(func=_preferences)
    return p


def _os_problem(exc: OSError) -> str:
    """``exc`` in words: what the system said, and about which path."""
    what = exc.strerror or str(exc)
    return f"{what} ({exc.filename})" if exc.filename else what


def _out_problem(out: str) -> str | None:
    """Why results cannot be written under ``out``, checked before any work; else None.

    Creates the missing folders of ``out`` and a file in the last one, then
    removes what it made: every refusal (a file in the way, a read-only or
    virtual file system such as ``/proc``, a name too long, no permission)
    shows up here, before a study that can run for minutes, not after it.
    """
    try:
        path = Path(out).absolute()
        missing = []
        for parent in (path, *path.parents):
            if os.path.lexists(parent):
                break
            missing.append(parent)
        if not parent.is_dir():
            return f"{parent} is a file, not a folder"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"{parent} is not writable"
    except OSError as exc:  # a name too long, a path into a file, ...
        return _os_problem(exc)
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileNotFoundError as exc:  # /proc, /sys: the parent exists, takes no folders
                return (
                    f"cannot create {folder}: {folder.parent} does not accept new folders "
                    f"({exc.strerror})"
                )
            made.append(folder)
        fd, probe = tempfile.mkstemp(prefix=".skhyre-write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return _os_problem(exc)
    finally:
        for folder in reversed(made):  # leave no trace: the command creates them for real
            with contextlib.suppress(OSError):
                folder.rmdir()
    return None


def _within(filename, out: str) -> bool:
    """Whether the path an OSError names lies in (or is) the folder ``out``."""
    if not filename:
        return False
    try:
        path, folder = Path(os.fsdecode(filename)).absolute(), Path(out).absolute()
    except (TypeError, ValueError):
        return False
    return path == folder or folder in path.parents


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skhyre`` console script.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (``sys.argv[1:]`` when ``None``).

    Returns
    -------
    int
        Exit status.

    Examples
    --------
    >>> from skhyre.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    data_home = getattr(args, "data_home", None)
    if data_home is not None and not os.path.isdir(data_home):
        # the study loaders then fall back to the default folders (they never
        # download): say so, a mistyped folder is easy to miss
        print(
            f"skhyre {args.command}: --data-home {data_home} does not exist; looking in the "
            "default folders next (see --help).",
            file=sys.stderr,
        )
    problem = _out_problem(args.out) if getattr(args, "out", None) else None
    if problem:  # before a study that can run for minutes, not after it
        print(
            f"skhyre {args.command}: cannot write results to --out {args.out}: {problem}.",
            file=sys.stderr,
        )
        return 2
    try:
        return int(args.func(args) or 0)
    except OSError as exc:
        if getattr(args, "out", None) and _within(exc.filename, args.out):
            # written after the work: a full disk, a folder removed meanwhile
            print(
                f"skhyre {args.command}: cannot write results to --out {args.out}: "
                f"{_os_problem(exc)}.",
                file=sys.stderr,
            )
            return 2
        if isinstance(exc, FileNotFoundError):  # missing data: the loaders say where they looked
            print(f"skhyre {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
