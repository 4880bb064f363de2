"""Annotator-aware training on real text: the DSP domains as annotators (issue 8).

:func:`run_domains` runs :func:`skhyre.studies.preferences.run_domain_study`
(``training="by_group"`` and ``"mixed"`` against ``"pooled"``, in-domain and
leave-one-domain-out, HyRe personalization from N pairs) with the
benchmarks' embedding cache, and returns its rows and a Markdown section.
``benchmarks/preferences.py`` reports it; ``benchmarks/annotators.py`` can
import it (``from _text_domains import run_domains``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Embedding cache shared by the text benchmarks (ignored by git).
CACHE_DIR = ROOT / "benchmarks" / ".cache" / "preferences"

__all__ = ["CACHE_DIR", "data_home", "run_domains"]


def data_home() -> Path | None:
    """Where the preference data are: ``$SKHYRE_PREFERENCE_DATA`` if set, else
    ``../shared/data`` next to the repository when it exists, else ``None``
    (the loaders then look in ``~/skhyre_data``)."""
    if os.environ.get("SKHYRE_PREFERENCE_DATA"):
        return None
    shared = ROOT.parent / "shared" / "data"
    return shared if (shared / "dsp").is_dir() else None


def run_domains(
    quick: bool,
    seeds: Sequence[int] | int | None = None,
    out: str | os.PathLike | None = None,
    *,
    progress: bool = True,
) -> dict:
    """Annotator-aware vs pooled HyRe on the DSP domains.

    Parameters
    ----------
    quick : bool
        The quick configuration (200 prompts, one seed, smaller ensembles).
    seeds : int or sequence of int, default=None
        Seeds (default: the configuration's, three for the full run).
    out : str or os.PathLike, default=None
        If given, a figure ``text_domains.png`` is written there.
    progress : bool, default=True

    Returns
    -------
    dict
        ``rows`` (one per setting, training mode, seed, domain, method, N),
        ``markdown`` (the section, starting with a ``##`` heading),
        ``headline`` (mean over domains at N=5 per setting, mode and method),
        ``config``, ``seconds`` and ``figure`` (path or ``None``).
    """
    from skhyre.studies.preferences import run_domain_study

    res = run_domain_study(
        quick=quick, seeds=seeds, data_home=data_home(), cache_dir=CACHE_DIR, progress=progress
    )
    figure = None
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        try:
            figure = str(res.plot(Path(out) / "text_domains.png"))
        except ImportError:  # matplotlib is optional
            figure = None
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in res.config.items()}
    return {
        "rows": res.rows,
        "markdown": res.markdown,
        "headline": res.headline,
        "config": cfg,
        "seconds": res.seconds,
        "figure": figure,
    }
