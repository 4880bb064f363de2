"""Shared helpers of the benchmark scripts.

- :func:`machine_info` and :func:`machine_line`: the machine (CPU model, cores,
  RAM), the software (python, numpy, numba, torch) and the date, as a dict and
  as one line for tables.
- :func:`median_time`: median wall time of a callable over repeats, after
  warm-up calls.
- :func:`write_results`: a JSON payload and a Markdown report side by side in
  ``benchmarks/results/`` (or any folder).
- :func:`md_table`: a Markdown table from rows of cells.
- :func:`paired_verdict`: the paired mean difference of two methods over
  seeds, its t-interval and a better/level/worse verdict (the package's
  ``skhyre.studies._verdict``, one implementation for the scripts and the
  studies' reports).

Scripts import it as ``from _common import ...`` (the scripts' folder is on
``sys.path`` when they run as ``python benchmarks/<name>.py``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from skhyre.studies._verdict import Verdict, paired_verdict

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

__all__ = [
    "RESULTS",
    "ROOT",
    "Verdict",
    "cpu_model",
    "machine_info",
    "machine_line",
    "md_table",
    "median_time",
    "paired_verdict",
    "ram_gib",
    "write_results",
]


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux, else :mod:`platform`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float | None:
    """Total physical memory in GiB, or ``None`` where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):
        return None


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", None)


def machine_info() -> dict:
    """The machine, the software versions, the numba threads and the date.

    Returns
    -------
    dict
        ``cpu``, ``cores`` (logical CPUs), ``ram_gib``, ``os``, ``python``,
        ``numpy``, ``numba``, ``torch`` (``None`` when not installed),
        ``numba_threading_layer`` (the layer configured, or the one used once a
        parallel kernel has run), ``numba_threads``, ``load_average`` and
        ``date`` (UTC, ISO 8601).
    """
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = f"{numba.config.THREADING_LAYER} (configured)"
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        load = None
    ram = ram_gib()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "torch": _version("torch"),
        "numba_threading_layer": layer,
        "numba_threads": numba.get_num_threads(),
        "load_average": load,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def machine_line(info: dict | None = None, *, date: bool = True) -> str:
    """:func:`machine_info` as one human-readable line (``date=False``: without the date,
    for a report that prints its own)."""
    i = machine_info() if info is None else info
    ram = "?" if i["ram_gib"] is None else f"{i['ram_gib']:g} GiB"
    return (
        f"{i['cpu']}, {i['cores']} cores, {ram} RAM; Python {i['python']}, "
        f"NumPy {i['numpy']}, Numba {i['numba']} ({i['numba_threading_layer']}, "
        f"{i['numba_threads']} threads), torch {i['torch']}; load {i['load_average']}"
        + (f"; {i['date']}" if date else "")
    )


def median_time(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, inner: int = 1
) -> dict:
    """Median wall time per call of ``fn``.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    repeats : int, default=5
        Number of timed blocks; the median over blocks is reported.
    warmup : int, default=1
        Untimed calls first (compilation, first-touch allocations, caches).
    inner : int, default=1
        Calls per timed block (for microsecond-scale calls); the block time is
        divided by ``inner``.

    Returns
    -------
    dict
        ``median_s``, ``min_s``, ``max_s``, ``repeats``, ``inner`` and
        ``all_s`` (every block's per-call time).
    """
    if repeats < 1 or inner < 1 or warmup < 0:
        raise ValueError("repeats and inner must be >= 1 and warmup >= 0.")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
        "inner": inner,
        "all_s": times,
    }


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (cells are formatted with ``str``)."""
    lines = [
        "| " + " | ".join(map(str, header)) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, payload: dict, markdown: str, out: Path | str | None = None) -> Path:
    """Write ``<name>.json`` and ``<name>.md`` into ``out`` (default ``benchmarks/results``).

    Returns the folder written to.
    """
    folder = RESULTS if out is None else Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(
        json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8"
    )
    (folder / f"{name}.md").write_text(markdown.rstrip() + "\n", encoding="utf-8")
    return folder


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


if __name__ == "__main__":  # pragma: no cover - a quick look at the machine line
    print(machine_line())
    sys.exit(0)
