"""Paired verdicts for the studies' reports: a mean difference, its interval, a word.

The one implementation: ``benchmarks/_common`` re-exports
:func:`paired_verdict` and :class:`Verdict` from here (the package cannot
import ``benchmarks/``, the other way round works). Two methods scored on the same seeds (each seed
already averaged over its draws), the paired difference averaged over seeds
with a two-sided Student-t interval, and ``"better"`` / ``"level"`` /
``"worse"`` read from the interval, never from the sign of the mean alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["Verdict", "format_verdict", "paired_verdict"]


class Verdict(NamedTuple):
    """What :func:`paired_verdict` returns (unpacks as ``mean, lo, hi, verdict``)."""

    mean: float
    lo: float
    hi: float
    verdict: str


def paired_verdict(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    higher_is_better: bool = False,
) -> Verdict:
    """Paired comparison of method ``a`` with method ``b`` over seeds.

    ``a[i]`` and ``b[i]`` are the two methods' scores on seed ``i``. The
    difference ``a - b`` is averaged over seeds, with a two-sided Student-t
    interval at ``confidence`` (``n - 1`` degrees of freedom). The verdict
    reads for ``a``: ``"better"`` or ``"worse"`` when the interval excludes 0
    (lower scores are better unless ``higher_is_better``), else ``"level"``.
    With one seed the interval is infinite; with no spread it is the mean.

    Returns
    -------
    Verdict
        ``(mean, lo, hi, verdict)``.
    """
    from scipy import stats

    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"a and b need the same non-zero length; got {a.size} and {b.size}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    d = a - b
    n = d.size
    mean = float(d.mean())
    if n < 2:
        return Verdict(mean, -math.inf, math.inf, "level")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    lo, hi = mean - half, mean + half
    if lo > 0:
        verdict = "better" if higher_is_better else "worse"
    elif hi < 0:
        verdict = "worse" if higher_is_better else "better"
    else:
        verdict = "level"
    return Verdict(mean, lo, hi, verdict)


def format_verdict(v, digits: int = 3, unit: str = "") -> str:
    """``v`` as a report cell: ``+0.012 [-0.004, +0.028] level``.

    ``v`` is a :class:`Verdict` or a mapping with ``mean``, ``lo``, ``hi`` and
    ``verdict`` (a stored one); ``unit`` follows the mean
    (``unit="%"``: ``-10.30% [-13.80, -6.80] better``).
    """
    if not isinstance(v, Verdict):
        v = Verdict(v["mean"], v["lo"], v["hi"], v["verdict"])
    return f"{v.mean:+.{digits}f}{unit} [{v.lo:+.{digits}f}, {v.hi:+.{digits}f}] {v.verdict}"
