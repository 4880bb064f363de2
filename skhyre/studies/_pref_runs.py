"""The preference study's computing: splits, reward-model fits, adaptation runs.

Each function returns rows of accuracies (dicts); :mod:`skhyre.studies._pref_report`
renders them and :mod:`skhyre.studies.preferences` runs the whole study.
Nothing here formats text.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._pref_settings import BASELINE_NAMES, GROUP_ONLY, HYRE_BALD, HYRE_RANDOM, SINGLE_RM
from .preference_data import DSP_GROUPS, make_dsp_pairs, make_hh_pairs

__all__ = [
    "Features",
    "Group",
    "adaptation_runs",
    "domain_rows",
    "dsp_task",
    "hh_task",
    "personalization",
    "reward_model",
    "split_ids",
    "without_domain",
]


class Features:
    """Text pairs -> standardized pair rows (a scaler fitted on single responses)."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def fit(self, text_pairs: np.ndarray) -> Features:
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


def split_ids(ids: np.ndarray, fractions, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
class Group:
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


def dsp_task(dsp: Bunch, table, prompt_ids, fractions, seed: int) -> tuple[list[Group], Bunch]:
    """Per-domain groups of DSP pairs with a prompt split shared by all domains."""
    rng = check_random_state(seed)
    tr, po, te = split_ids(np.asarray(prompt_ids), fractions, rng)
    parts = {
        name: make_dsp_pairs(dsp, DSP_GROUPS, np.sort(ids), random_state=rng)
        for name, ids in (("train", tr), ("pool", po), ("test", te))
    }
    feats = Features(table).fit(parts["train"].X)
    groups = []
    for g in DSP_GROUPS:
        sel = {k: p.groups == g for k, p in parts.items()}
        groups.append(
            Group(
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


def hh_task(hh: dict[str, Bunch], table, n_pairs, fractions, seed: int) -> list[Group]:
    """Helpful and harmless as two groups (each its own prompts, split by pair)."""
    rng = check_random_state(seed)
    pairs = {}
    for name, data in hh.items():
        n = len(data.chosen) if n_pairs is None else min(int(n_pairs), len(data.chosen))
        ids = split_ids(np.arange(n), fractions, rng)
        pairs[name] = [make_hh_pairs(data, np.sort(i), random_state=rng) for i in ids]
    train_texts = np.vstack([p[0].X for p in pairs.values()])
    feats = Features(table).fit(train_texts)
    return [
        Group(
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


def reward_model(model_cfg: dict, seed: int, **overrides):
    from .._reward import HyReRewardModel

    params = {**model_cfg, **overrides}
    return HyReRewardModel(random_state=seed, **params)


def _accuracy(P_or_q: np.ndarray, y: np.ndarray) -> float:
    """Pairwise accuracy of ``(n, 2)`` mixture probabilities (a tie predicts B)."""
    q = np.asarray(P_or_q)
    return float(np.mean((q[:, 1] > q[:, 0]).astype(int) == y))


def adaptation_runs(
    model, grp: Group, n_labels, n_repeats: int, n_active: int, rng
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


def _baseline_runs(P_train, y_train, grp: Group, P_pool, P_test, draws) -> dict:
    """Accuracies of every :mod:`skhyre.baselines` method (convex: per random draw)."""
    from ..baselines import BASELINES

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


def personalization(
    groups: list[Group], cfg: dict, seed: int, setting: str, progress=None,
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
    model = reward_model(cfg["model"], seed, training=training)
    model.fit(X_train, y_train, groups=None if training == "pooled" else ids)
    _tick(progress)
    single = None
    if training == "pooled":
        single = reward_model(cfg["model"], seed, n_members=1, prior_scale=0.0)
        single.fit(X_train, y_train)
        _tick(progress)
    P_train = model.predict_members(X_train)
    rng = check_random_state((seed + 1000) % 2**32)  # any valid seed, up to 2**32 - 1
    for grp in groups:
        runs, draws = adaptation_runs(
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
        alone = reward_model(cfg["model"], seed, training="pooled").fit(own.X_train, own.y_train)
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


def without_domain(pairs: Bunch, domain: str) -> np.ndarray:
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


def domain_rows(groups, parts, feats, cfg, seed, modes, progress) -> list[dict]:
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
        runs, _ = adaptation_runs(model, grp, n_labels, cfg["n_repeats"],
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
        model = reward_model(cfg["model"], seed, training=mode).fit(X_train, y_train, groups=ids)
        _tick(progress)
        for grp in groups:
            record("in-domain", mode, grp, model)
    # leave one domain out: its pairs and its answers are removed from training
    train, pool, test = parts["train"], parts["pool"], parts["test"]
    for held in groups:
        keep = without_domain(train, held.name)
        # the scaler sees only the training responses, not the held-out domain's answers
        f = Features(feats.table).fit(train.X[keep])
        Xk, yk, gk = f(train.X[keep]), train.y[keep], train.groups[keep]
        in_pool, in_test = pool.groups == held.name, test.groups == held.name
        target = Group(held.name, held.X_train, held.y_train, f(pool.X[in_pool]),
                        pool.y[in_pool], f(test.X[in_test]), test.y[in_test])
        for mode in modes:
            model = reward_model(cfg["model"], seed, training=mode).fit(Xk, yk, groups=gk)
            _tick(progress)
            record("leave-one-domain-out", mode, target, model)
    return rows
