"""``skhyre uci`` and ``skhyre preferences``: run a study, print and write its report.

Internal: called by :mod:`skhyre.cli` (which parses the arguments and checks ``--out``
first). Each command checks its data before any training: a missing file is a
``FileNotFoundError`` naming every place looked in; a malformed or unreadable
one is a single line on stderr naming the file and the problem, exit 2.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# the command-line drivers: called by skhyre.cli, not a library API
__all__: list[str] = []


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (the loaders' messages name the file)."""
    return " ".join(str(exc).splitlines())


def run_uci(args) -> int:
    """``skhyre uci``: run the UCI study, print the report, write the results.

    Parameters
    ----------
    args : argparse.Namespace
        ``data_home``, ``out`` and ``quick``; ``no_plot`` and ``no_progress``
        when present.

    Returns
    -------
    int
        0 on success; 2 if a dataset's CSV is missing (a message on stderr says
        where it was looked for and how to get it) or cannot be read (one line
        naming the file and the problem).
    """
    import torch

    from .uci import UCI_DATASETS, UCIDataNotFoundError, check_uci_data, run_uci_study

    get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    # One torch thread per fit: these nets are small, and several threads on a
    # busy machine spin-wait (a 20x slowdown was measured with 2 threads at load 7).
    torch.set_num_threads(1)
    quick = bool(get("quick", False))
    print(
        "skhyre uci: the HyRe paper's UCI distribution-shift study (Table 1)"
        + (" — quick smoke run, not a result" if quick else ""),
        flush=True,
    )
    try:  # the data first, before minutes of training: a missing or malformed CSV in one line
        with warnings.catch_warnings():  # run_uci_study's own check says it, once
            warnings.filterwarnings("ignore", message=".*differs from the published")
            check_uci_data(UCI_DATASETS, get("data_home"))
    except UCIDataNotFoundError as exc:
        print(f"skhyre uci: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"skhyre uci: cannot read the data: {_one_line(exc)}", file=sys.stderr)
        return 2
    res = run_uci_study(
        quick=quick,
        data_home=get("data_home"),
        progress=not get("no_progress", False),
        command="skhyre uci" + (" --quick" if quick else ""),
    )
    written = res.save(get("out") or "skhyre_uci", plot=not get("no_plot", False))
    print()
    print(res.markdown())
    print(
        f"Done in {res.meta['wall_seconds'] / 60:.1f} min. Wrote: " + ", ".join(map(str, written))
    )
    return 0


def check_preference_data(data_home) -> None:
    """Load every file the preference study reads; the loaders' errors name the file.

    Raises
    ------
    FileNotFoundError
        A file is missing (the message names every place looked in).
    ValueError
        A file is malformed or fails its checksum.
    """
    from .preference_data import load_dsp, load_hh_rlhf

    load_dsp(data_home)
    for subset in ("helpful-base", "harmless-base"):
        load_hh_rlhf(subset, data_home)


def run_preferences(args) -> int:
    """``skhyre preferences``: run the preference study and write its report.

    Parameters
    ----------
    args : argparse.Namespace
        ``quick``, ``data_home``, ``out`` and, when present, ``seeds``,
        ``cache_dir``, ``training``, ``no_domains`` and ``no_progress``.

    Returns
    -------
    int
        Exit status: 0, or 2 if a data file is malformed or unreadable (one
        line on stderr names it and the problem). A missing file raises the
        loaders' FileNotFoundError, which names every place looked in.
    """
    import torch

    from .preferences import run_preference_study, write_report

    try:  # the data first, before the (slow) model load
        check_preference_data(args.data_home)
    except FileNotFoundError:
        raise  # skhyre.cli prints the loaders' message: every place looked in
    except (ValueError, OSError) as exc:  # malformed or unreadable: one line naming the file
        print(f"skhyre preferences: cannot read the data: {_one_line(exc)}", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = Path(args.out)
    cache_dir = getattr(args, "cache_dir", None) or out / "embedding_cache"
    print(
        "skhyre preferences: personalize a reward ensemble to user groups with conflicting "
        "preferences (DSP domains; HH-RLHF helpful vs harmless) from a few of their pairs.\n"
        f"Embedding answers with all-MiniLM-L6-v2 (cached in {cache_dir}; the first run "
        "embeds ~15 answers a second on a CPU), then training reward ensembles...",
        flush=True,
    )
    result = run_preference_study(
        quick=bool(args.quick),
        seeds=getattr(args, "seeds", None),
        data_home=args.data_home,
        cache_dir=cache_dir,
        include_domains=not getattr(args, "no_domains", False),
        trainings=tuple(getattr(args, "training", None) or ("pooled",)),
        progress=not getattr(args, "no_progress", False),
    )
    print("\n" + result.markdown)
    files = write_report(result, out)
    print(f"\nDone in {result.seconds:.0f} s. Wrote: " + ", ".join(str(p) for p in files))
    return 0
