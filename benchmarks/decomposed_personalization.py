"""Personalization without annotator ids: decomposed reward heads + HyRe (issue 28, part b).

Every model is fitted on the **pooled** pairs of all user groups (no ids,
except the ``by_group`` reference), then personalized to each group from
N of that group's pool pairs, drawn at random or chosen by BALD, and scored by
pairwise accuracy on the group's test pairs. Methods, all on the same splits
and the same random labels (paired):

- ``decomposed + HyRe (rewards)``: ``HyReRewardModel(ensemble="decomposed")``
  (the base head and ``K - 1`` signed principal directions of the pooled
  ``phi(chosen) - phi(rejected)``), HyRe weights, the heads' rewards combined
  with the weights (``combine="reward"``, the DRMs rule);
- ``decomposed + HyRe (probabilities)``: the same weights, the heads'
  preference probabilities mixed (``combine="proba"``, HyRe's classifier rule);
- ``decomposed both signs + HyRe (log loss, rewards)``: the DRMs construction
  (``decomposed_signs="both"``: ``+v`` and ``-v`` heads per direction at unit
  scale, ``adapt_loss="log_loss"``), same K;
- ``decomposed + convex weights``: weights on the simplex minimising the
  log loss of the mixture on the same N pairs (:func:`skhyre.baselines.convex_weights`),
  rewards combined;
- ``Shared-Base pooled + HyRe`` and ``Shared-Base by_group + HyRe`` (the
  reference that uses the group ids at training), probabilities mixed;
- ``single RM``: one reward network on the pooled pairs (no adaptation);
- ``logistic regression (N labels)``: a ridge logistic regression on the
  embedding differences of the N pairs alone (no pooled data).

Settings: ``synthetic`` (response embeddings of four latent attributes that
four groups weigh differently, 24-d, anisotropic), ``dsp`` (four DSP domains
as users, MiniLM embeddings) and ``hh`` (helpful vs harmless). The
decomposed member count ``K`` is swept on every setting (closed form, cheap).
For DSP and HH the report also measures how much of the group differences
the leading components carry: each component's explained variance and a
between-group F ratio of the projections of the groups' ``chosen -
rejected`` differences.

Run ``python benchmarks/decomposed_personalization.py`` (embeddings cached in
``benchmarks/.cache/``) or ``--quick``; ``--settings synthetic`` runs one.
Writes ``decomposed_personalization.{json,md}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine_info, machine_line, md_table, paired_verdict
from _text_domains import CACHE_DIR, data_home

FULL = {
    "seeds": (0, 1, 2, 3, 4),
    "n_labels": (1, 5, 10, 20, 40),
    "n_repeats": 5,  # random draws per seed, group and N
    "n_active": 1,  # BALD runs per seed and group (70% pool subsample)
    "k_main": 21,  # decomposed members in the main comparison (base + 20 directions)
    "k_sweep": (5, 11, 21, 51),
    "sb": {
        "n_members": 100,
        "hidden_layer_sizes": (64,),
        "prior_scale": 1.0,
        "max_epochs": 30,
        "batch_size": 256,
        "lr": 3e-3,
    },
    "hh_pairs": 1000,
}
QUICK = {
    **FULL,
    "seeds": (0, 1),
    "n_repeats": 2,
    "k_sweep": (5, 21),
    "sb": {**FULL["sb"], "n_members": 30, "max_epochs": 10},
    "hh_pairs": 500,
}

DEC_R = "decomposed + HyRe (rewards)"
DEC_P = "decomposed + HyRe (probabilities)"
DEC_CVX = "decomposed + convex weights"
DEC_BOTH = "decomposed both signs + HyRe (log loss, rewards)"
SB_POOLED = "Shared-Base pooled + HyRe"
SB_GROUP = "Shared-Base by_group + HyRe"
SINGLE = "single RM (pooled)"
LOGREG = "logistic regression (N labels)"
DEC_UNIFORM = "decomposed, uniform weights"
SB_UNIFORM = "Shared-Base pooled, uniform"


# --------------------------------------------------------------------------- data
class Group:
    def __init__(self, name, X_train, y_train, X_pool, y_pool, X_test, y_test):
        self.name, self.X_train, self.y_train = name, X_train, y_train
        self.X_pool, self.y_pool, self.X_test, self.y_test = X_pool, y_pool, X_test, y_test


def attribute_groups(seed: int, n_train=1000, n_pool=300, n_test=1000, dim=24) -> list[Group]:
    """Four groups weighing four latent response attributes differently.

    A response has attributes ``a ~ N(0, I_4)`` and embedding
    ``phi = M a + 0.5 eps`` (``M`` 24 x 4 with column scales 2, 1.5, 1.2, 1, so
    the embedding is anisotropic; ``eps ~ N(0, I_24)``). Group ``g``'s reward is
    ``w_g . a`` with ``w_g = e_g + 0.2``; a pair's label is Bradley-Terry with
    logistic noise of scale 0.3. Features are standardized on the training
    responses, as the DSP features are.
    """
    rng = np.random.default_rng(10_000 + seed)
    M = rng.normal(size=(dim, 4)) * np.array([2.0, 1.5, 1.2, 1.0])
    W = np.eye(4) + 0.2

    def pairs(g, n):
        a, b = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
        pa = a @ M.T + 0.5 * rng.normal(size=(n, dim))
        pb = b @ M.T + 0.5 * rng.normal(size=(n, dim))
        y = ((a - b) @ W[g] + 0.3 * rng.logistic(size=n) > 0).astype(int)
        return np.hstack([pa, pb]), y

    raw = [(pairs(g, n_train), pairs(g, n_pool), pairs(g, n_test)) for g in range(4)]
    E = np.vstack([np.vstack([X[:, :dim], X[:, dim:]]) for (X, _), _, _ in raw])
    mu, sd = E.mean(axis=0), E.std(axis=0) + 1e-6

    def std(X):
        return np.hstack([(X[:, :dim] - mu) / sd, (X[:, dim:] - mu) / sd]).astype(np.float32)

    return [
        Group(f"attribute {g}", std(tr[0]), tr[1], std(po[0]), po[1], std(te[0]), te[1])
        for g, (tr, po, te) in enumerate(raw)
    ]


def _text_tables(cfg):
    from skhyre.studies._pref_settings import HH_BLOCK
    from skhyre.studies.preference_data import format_exchange, load_hh_rlhf, split_last_turn
    from skhyre.studies.preferences import _prepare, embed_items

    # benchmarks/kernels.py would shadow the ``kernels`` package that transformers
    # imports: load the text model with the benchmarks folder off sys.path
    here = Path(__file__).resolve().parent
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        _, _, embedder, dsp, prompt_ids, table = _prepare(
            False, None, None, False, None, CACHE_DIR, None, data_home()
        )
    finally:
        sys.path[:] = saved
    hh = {
        "helpful": load_hh_rlhf("helpful-base", data_home()),
        "harmless": load_hh_rlhf("harmless-base", data_home()),
    }
    hh_table = {}
    for data in hh.values():
        n = min(int(cfg["hh_pairs"]), len(data.chosen))
        items = [
            [
                format_exchange(*split_last_turn(data.chosen[i])),
                format_exchange(*split_last_turn(data.rejected[i])),
            ]
            for i in range(n)
        ]
        hh_table.update(embed_items(items, embedder, HH_BLOCK, None))
    return dsp, prompt_ids, table, hh, hh_table


def text_groups(setting, seed, cfg, tables) -> list[Group]:
    from skhyre.studies import _pref_runs

    dsp, prompt_ids, table, hh, hh_table = tables
    if setting == "dsp":
        groups = _pref_runs.dsp_task(dsp, table, prompt_ids, (0.5, 0.2, 0.3), seed)[0]
    else:
        groups = _pref_runs.hh_task(hh, hh_table, cfg["hh_pairs"], (0.5, 0.2, 0.3), seed)
    return [
        Group(g.name, g.X_train, g.y_train, g.X_pool, g.y_pool, g.X_test, g.y_test) for g in groups
    ]


# --------------------------------------------------------------------------- evaluation
def _diffs(model, X) -> np.ndarray:
    """(K, n) reward differences r_k(A) - r_k(B), float64."""
    d = X.shape[1] // 2
    return (model.reward_members(X[:, :d]) - model.reward_members(X[:, d:])).astype(np.float64)


def _acc_reward(R, w, y) -> float:
    return float(np.mean(((w @ R) > 0).astype(int) == y))


def _acc_proba(R, w, y) -> float:
    from scipy.special import expit

    return float(np.mean(((w @ expit(R)) > 0.5).astype(int) == y))


def _logreg(X, y) -> np.ndarray:
    """Ridge logistic regression (C=1, no intercept) on the pairs' differences."""
    from sklearn.linear_model import LogisticRegression

    d = X.shape[1] // 2
    D = X[:, :d] - X[:, d:]
    lr = LogisticRegression(C=1.0, fit_intercept=False, max_iter=2000)
    lr.fit(np.vstack([D, -D]), np.concatenate([y, 1 - y]))
    return lr.coef_[0]


def _draws(grp, cfg, rng):
    n_pool = grp.y_pool.size
    rand = [
        (n, rng.choice(n_pool, size=min(n, n_pool), replace=False))
        for _ in range(cfg["n_repeats"])
        for n in cfg["n_labels"]
    ]
    subs = [
        np.sort(rng.choice(n_pool, size=int(0.7 * n_pool), replace=False))
        for _ in range(cfg["n_active"])
    ]
    return rand, subs


def _hyre_runs(model, grp, R_test, rand, subs, cfg, combos):
    """{(combine, how): {N: [acc]}} for HyRe weights of ``model`` on random and BALD labels."""
    out: dict = {}
    for n, idx in rand:
        model.adapt(grp.X_pool[idx], grp.y_pool[idx])
        for c in combos:
            f = _acc_reward if c == "reward" else _acc_proba
            out.setdefault((c, "random"), {}).setdefault(n, []).append(
                f(R_test, model.weights_, grp.y_test)
            )
    nmax = max(cfg["n_labels"])
    for sub in subs:
        model.reset_weights()
        model.active_adapt(grp.X_pool[sub], grp.y_pool[sub], n_queries=min(nmax, sub.size))
        order = sub[model.queried_indices_]
        for n in cfg["n_labels"]:
            model.adapt(grp.X_pool[order[:n]], grp.y_pool[order[:n]])
            for c in combos:
                f = _acc_reward if c == "reward" else _acc_proba
                out.setdefault((c, "BALD"), {}).setdefault(n, []).append(
                    f(R_test, model.weights_, grp.y_test)
                )
    model.reset_weights()
    return out


def run_setting(setting, groups, seed, cfg, rows, extra):
    from skhyre import HyReRewardModel
    from skhyre.baselines import convex_weights

    X_train = np.vstack([g.X_train for g in groups])
    y_train = np.concatenate([g.y_train for g in groups])
    ids = np.concatenate([[g.name] * g.y_train.size for g in groups])
    t0 = time.perf_counter()
    m = X_train.shape[1] // 2  # at most m directions exist
    dec = {
        K: HyReRewardModel(ensemble="decomposed", n_members=K).fit(X_train, y_train)
        for K in cfg["k_sweep"]
        if K <= m + 1
    }
    both = HyReRewardModel(
        ensemble="decomposed",
        n_members=cfg["k_main"],
        decomposed_signs="both",
        adapt_loss="log_loss",
    ).fit(X_train, y_train)
    if cfg["k_main"] not in dec:
        dec[cfg["k_main"]] = HyReRewardModel(ensemble="decomposed", n_members=cfg["k_main"]).fit(
            X_train, y_train
        )
    t_dec = time.perf_counter() - t0
    sb = HyReRewardModel(random_state=seed, **cfg["sb"]).fit(X_train, y_train)
    sbg = HyReRewardModel(random_state=seed, training="by_group", **cfg["sb"]).fit(
        X_train, y_train, groups=ids
    )
    single = HyReRewardModel(
        random_state=seed, **{**cfg["sb"], "n_members": 1, "prior_scale": 0.0}
    ).fit(X_train, y_train)
    t_all = time.perf_counter() - t0
    extra.setdefault("fit_seconds", []).append(
        {"setting": setting, "seed": seed, "decomposed_all_K": t_dec, "all": t_all}
    )
    rng = np.random.default_rng(seed + 1000)

    def add(grp, method, runs, **kw):
        for n, accs in runs.items():
            rows.append(
                dict(
                    setting=setting,
                    seed=seed,
                    group=grp.name,
                    method=method,
                    n_labels=int(n),
                    accuracy=float(np.mean(accs)),
                    n_runs=len(accs),
                    **kw,
                )
            )

    for grp in groups:
        rand, subs = _draws(grp, cfg, rng)
        # decomposed, every K (the sweep), both combinations
        for K, model in dec.items():
            R_test = _diffs(model, grp.X_test)
            runs = _hyre_runs(model, grp, R_test, rand, subs, cfg, ("reward", "proba"))
            for (c, how), r in runs.items():
                name = DEC_R if c == "reward" else DEC_P
                add(grp, f"{name} [{how}]", r, K=K)
            u = np.full(K, 1.0 / K)
            add(grp, DEC_UNIFORM, {0: [_acc_reward(R_test, u, grp.y_test)]}, K=K, combine="reward")
            add(
                grp, DEC_UNIFORM + " (probabilities)", {0: [_acc_proba(R_test, u, grp.y_test)]}, K=K
            )
            add(
                grp,
                "decomposed base head alone",
                {0: [_acc_reward(R_test[:1], np.ones(1), grp.y_test)]},
                K=K,
            )
            best = max(_acc_reward(R_test[k : k + 1], np.ones(1), grp.y_test) for k in range(K))
            add(grp, "decomposed best head (oracle)", {0: [best]}, K=K)
            if K == cfg["k_main"]:
                from scipy.special import expit

                R_pool = _diffs(model, grp.X_pool)
                P_pool = expit(R_pool)
                P_pool = np.stack([1 - P_pool, P_pool], axis=-1)
                acc = {}
                for n, idx in rand:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        w = convex_weights(P_pool[:, idx], grp.y_pool[idx], loss="log_loss")
                    acc.setdefault(n, []).append(_acc_reward(R_test, w, grp.y_test))
                add(grp, DEC_CVX + " [random]", acc, K=K)
        # the DRMs construction: +v / -v heads at unit scale, log-loss weights
        R_test = _diffs(both, grp.X_test)
        runs = _hyre_runs(both, grp, R_test, rand, subs, cfg, ("reward", "proba"))
        for (c, how), r in runs.items():
            add(
                grp,
                f"{DEC_BOTH if c == 'reward' else DEC_BOTH + ' (probabilities)'} [{how}]",
                r,
                K=cfg["k_main"],
            )
        # Shared-Base pooled / by_group: HyRe, probabilities mixed (and rewards, for reference)
        for name, model in ((SB_POOLED, sb), (SB_GROUP, sbg)):
            R_test = _diffs(model, grp.X_test)
            runs = _hyre_runs(model, grp, R_test, rand, subs, cfg, ("proba", "reward"))
            for (c, how), r in runs.items():
                add(grp, f"{name}{'' if c == 'proba' else ' (rewards)'} [{how}]", r)
            if model is sb:
                u = np.full(R_test.shape[0], 1.0 / R_test.shape[0])
                add(grp, SB_UNIFORM, {0: [_acc_proba(R_test, u, grp.y_test)]})
        add(grp, SINGLE, {0: [float(single.score(grp.X_test, grp.y_test))]})
        acc = {}
        d = grp.X_test.shape[1] // 2
        Dt = grp.X_test[:, :d] - grp.X_test[:, d:]
        for n, idx in rand:
            w = _logreg(grp.X_pool[idx], grp.y_pool[idx])
            acc.setdefault(n, []).append(float(np.mean(((Dt @ w) > 0).astype(int) == grp.y_test)))
        add(grp, LOGREG + " [random]", acc)
    return dec[cfg["k_main"]]


def component_report(model, groups, n_show=10) -> dict:
    """Explained variance of the leading components, and how well they separate the groups.

    ``F``: between-group variance of the mean projection of each group's
    ``chosen - rejected`` training differences over the mean within-group
    variance (one-way ANOVA ratio; about 1 when a component does not tell
    the groups apart).
    """
    info = model.decomposition_
    d = groups[0].X_train.shape[1] // 2
    Z = [
        ((g.X_train[:, :d] - g.X_train[:, d:]) * np.where(g.y_train == 1, 1, -1)[:, None]).astype(
            np.float64
        )
        for g in groups
    ]
    V = info.components[:n_show]
    proj = [z @ V.T for z in Z]
    means = np.array([p.mean(axis=0) for p in proj])
    within = np.mean([p.var(axis=0, ddof=1) for p in proj], axis=0)
    n_bar = np.mean([p.shape[0] for p in proj])
    F = n_bar * means.var(axis=0, ddof=1) / within
    # the group-only logistic regressions, projected on the components
    return {
        "explained_variance_ratio": info.explained_variance_ratio[:n_show].tolist(),
        "cumulative": np.cumsum(info.explained_variance_ratio)[:n_show].tolist(),
        "between_group_F": F.tolist(),
        "group_means": {g.name: m.tolist() for g, m in zip(groups, means, strict=True)},
        "scales": info.scales[:n_show].tolist(),
        "agreement": info.agreement[: n_show + 1].tolist(),
    }


# --------------------------------------------------------------------------- report
def summarize(rows, setting, method, n, K=None):
    """Per-seed mean accuracy (over groups and draws) of ``method`` at ``n``."""
    sel = [
        r
        for r in rows
        if r["setting"] == setting
        and r["method"] == method
        and r["n_labels"] == n
        and (K is None or r.get("K") == K)
    ]
    seeds = sorted({r["seed"] for r in sel})
    return np.array([np.mean([r["accuracy"] for r in sel if r["seed"] == s]) for s in seeds])


def _fmt(v):
    return "n/a" if not np.isfinite(v) else f"{100 * v:.1f}"


def _cmp(a, b):
    if a.size == 0 or b.size == 0 or a.size != b.size:
        return "n/a"
    m, lo, hi, verdict = paired_verdict(a, b, higher_is_better=True)
    return f"{100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] {verdict}"


def verdict(rows, cfg, s) -> list[str]:
    """The issue's targets at N=5 with BALD labels, and the combination rule, in words."""
    K = cfg["k_main"]
    sbu = summarize(rows, s, SB_UNIFORM, 0, None)
    lines = []
    for name in (DEC_R, DEC_BOTH):
        a = summarize(rows, s, f"{name} [BALD]", 5, K)
        g = summarize(rows, s, f"{SB_GROUP} [BALD]", 5, None)
        if a.size == 0 or a.size != sbu.size or a.size != g.size:
            continue
        m, lo, hi, _ = paired_verdict(a, sbu, higher_is_better=True)
        gap = float((a - g).mean())
        met1 = m >= 0.05 and lo > 0
        met2 = gap >= -0.02
        lines.append(
            f"- {name}, N=5 BALD: {100 * m:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points over "
            f"the pooled uniform Shared-Base ensemble (target >= +5 with the interval above 0: "
            f"{'met' if met1 else 'missed'}); {100 * gap:+.1f} points from Shared-Base "
            f"by_group + HyRe (target within 2: {'met' if met2 else 'missed'})."
        )
    diffs = []
    for how in ("random", "BALD"):
        for n in cfg["n_labels"]:
            a = summarize(rows, s, f"{DEC_R} [{how}]", n, K)
            b = summarize(rows, s, f"{DEC_P} [{how}]", n, K)
            if a.size and a.size == b.size:
                diffs.append(float((a - b).mean()))
    if diffs:
        lines.append(
            f"- Combining the heads' rewards vs mixing their probabilities (same weights): the "
            f"mean paired difference ranges over {100 * min(diffs):+.2f} to "
            f"{100 * max(diffs):+.2f} points across N and label choice."
        )
    return lines


def markdown(rows, cfg, comps, settings) -> str:
    K = cfg["k_main"]
    out = []
    for s in settings:
        out.append(f"## {s}\n")
        out.append("\n".join(verdict(rows, cfg, s)) + "\n")
        header = ["method", *[f"N={n}" for n in cfg["n_labels"]]]
        table = []
        methods = [
            (f"{DEC_R} [random]", K),
            (f"{DEC_R} [BALD]", K),
            (f"{DEC_P} [random]", K),
            (f"{DEC_P} [BALD]", K),
            (f"{DEC_CVX} [random]", K),
            (f"{DEC_BOTH} [random]", K),
            (f"{DEC_BOTH} [BALD]", K),
            (f"{DEC_BOTH} (probabilities) [BALD]", K),
            (f"{SB_POOLED} [random]", None),
            (f"{SB_POOLED} [BALD]", None),
            (f"{SB_POOLED} (rewards) [BALD]", None),
            (f"{SB_GROUP} [random]", None),
            (f"{SB_GROUP} [BALD]", None),
            (f"{LOGREG} [random]", None),
        ]
        for m, k in methods:
            table.append(
                [
                    m,
                    *[
                        _fmt(summarize(rows, s, m, n, k).mean())
                        if summarize(rows, s, m, n, k).size
                        else ""
                        for n in cfg["n_labels"]
                    ],
                ]
            )
        for m, k in (
            (DEC_UNIFORM, K),
            (DEC_UNIFORM + " (probabilities)", K),
            ("decomposed base head alone", K),
            ("decomposed best head (oracle)", K),
            (SB_UNIFORM, None),
            (SINGLE, None),
        ):
            v = summarize(rows, s, m, 0, k)
            table.append([m + " (no labels)", *([_fmt(v.mean())] * len(cfg["n_labels"]))])
        out.append(
            f"Pairwise test accuracy (%), mean over {len(cfg['seeds'])} seeds, the "
            f"groups and the draws; decomposed K = {K} (base head + {K - 1} "
            "directions).\n"
        )
        out.append(md_table(header, table) + "\n")
        # paired comparisons
        cmp_rows = []
        pairs = [
            (
                "rewards vs probabilities (decomposed, random)",
                f"{DEC_R} [random]",
                K,
                f"{DEC_P} [random]",
                K,
            ),
            (
                "rewards vs probabilities (decomposed, BALD)",
                f"{DEC_R} [BALD]",
                K,
                f"{DEC_P} [BALD]",
                K,
            ),
            (
                "decomposed+HyRe (rewards, BALD) vs Shared-Base pooled+HyRe (BALD)",
                f"{DEC_R} [BALD]",
                K,
                f"{SB_POOLED} [BALD]",
                None,
            ),
            (
                "decomposed+HyRe (rewards, BALD) vs Shared-Base by_group+HyRe (BALD)",
                f"{DEC_R} [BALD]",
                K,
                f"{SB_GROUP} [BALD]",
                None,
            ),
            (
                "both signs (log loss, rewards) vs fitted signs (rewards), BALD",
                f"{DEC_BOTH} [BALD]",
                K,
                f"{DEC_R} [BALD]",
                K,
            ),
            (
                "both signs: rewards vs probabilities, BALD",
                f"{DEC_BOTH} [BALD]",
                K,
                f"{DEC_BOTH} (probabilities) [BALD]",
                K,
            ),
            (
                "both signs (BALD) vs Shared-Base pooled+HyRe (BALD)",
                f"{DEC_BOTH} [BALD]",
                K,
                f"{SB_POOLED} [BALD]",
                None,
            ),
            (
                "both signs (BALD) vs Shared-Base by_group+HyRe (BALD)",
                f"{DEC_BOTH} [BALD]",
                K,
                f"{SB_GROUP} [BALD]",
                None,
            ),
            (
                "decomposed+HyRe (rewards, random) vs convex weights (random)",
                f"{DEC_R} [random]",
                K,
                f"{DEC_CVX} [random]",
                K,
            ),
            (
                "decomposed+HyRe (rewards, random) vs logistic regression (random)",
                f"{DEC_R} [random]",
                K,
                f"{LOGREG} [random]",
                None,
            ),
        ]
        for label, a, ka, b, kb in pairs:
            cmp_rows.append(
                [
                    label,
                    *[
                        _cmp(summarize(rows, s, a, n, ka), summarize(rows, s, b, n, kb))
                        for n in cfg["n_labels"]
                    ],
                ]
            )
        unif = summarize(rows, s, DEC_UNIFORM, 0, K)
        sbu = summarize(rows, s, SB_UNIFORM, 0, None)
        cmp_rows.append(
            [
                "decomposed+HyRe (rewards, BALD) vs pooled uniform Shared-Base",
                *[_cmp(summarize(rows, s, f"{DEC_R} [BALD]", n, K), sbu) for n in cfg["n_labels"]],
            ]
        )
        cmp_rows.append(
            [
                "both signs (log loss, rewards, BALD) vs pooled uniform Shared-Base",
                *[
                    _cmp(summarize(rows, s, f"{DEC_BOTH} [BALD]", n, K), sbu)
                    for n in cfg["n_labels"]
                ],
            ]
        )
        cmp_rows.append(
            [
                "decomposed+HyRe (rewards, BALD) vs decomposed uniform",
                *[_cmp(summarize(rows, s, f"{DEC_R} [BALD]", n, K), unif) for n in cfg["n_labels"]],
            ]
        )
        out.append(
            "Paired differences A - B in points, 95% t-interval over seeds "
            "(each seed averaged over groups and draws):\n"
        )
        out.append(md_table(["A vs B", *[f"N={n}" for n in cfg["n_labels"]]], cmp_rows) + "\n")
        # K sweep
        sweep = []
        for k in cfg["k_sweep"]:
            sweep.append(
                [
                    k,
                    *[
                        _fmt(summarize(rows, s, f"{DEC_R} [BALD]", n, k).mean())
                        for n in cfg["n_labels"]
                    ],
                    _fmt(summarize(rows, s, f"{DEC_P} [BALD]", 5, k).mean()),
                    _fmt(summarize(rows, s, "decomposed best head (oracle)", 0, k).mean()),
                ]
            )
        out.append(
            "Decomposed member count K (rewards combined, BALD labels; last columns: "
            "probabilities mixed at N=5, and the best single head, an oracle):\n"
        )
        out.append(
            md_table(["K", *[f"N={n}" for n in cfg["n_labels"]], "proba N=5", "best head"], sweep)
            + "\n"
        )
        if s in comps:
            c = comps[s]
            crow = [
                [
                    j + 1,
                    f"{100 * c['explained_variance_ratio'][j]:.1f}",
                    f"{100 * c['cumulative'][j]:.1f}",
                    f"{c['between_group_F'][j]:.1f}",
                    f"{c['scales'][j]:+.2f}",
                    f"{100 * c['agreement'][j + 1]:.1f}",
                ]
                for j in range(len(c["explained_variance_ratio"]))
            ]
            out.append(
                "Leading components (seed 0): explained variance of the pooled "
                "differences (%), cumulative, between-group F ratio of the groups' "
                "projections (about 1: no group signal), the fitted Bradley-Terry "
                "scale, and the share of pooled training pairs the head orders right.\n"
            )
            out.append(
                md_table(["component", "var %", "cum %", "F", "scale", "agrees %"], crow) + "\n"
            )
    return "\n".join(out)


def _report(rows, cfg, comps, settings, seconds, info, command) -> str:
    return (
        "# Personalization without annotator ids: decomposed reward heads (issue 28)\n\n"
        f"Machine: {machine_line(info)}\n\n"
        f"Command: `{command}` ({seconds:.0f} s).\n\n"
        + __doc__.split("\n\n", 1)[1].split("Run ``")[0]
        + "\n"
        + markdown(rows, cfg, comps, settings)
    )


def _render(folder: Path) -> int:
    import json

    name = "decomposed_personalization"
    data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    cfg = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data["config"].items()}
    settings = list(dict.fromkeys(r["setting"] for r in data["rows"]))
    md = _report(
        data["rows"],
        cfg,
        data["components"],
        settings,
        data["seconds"],
        data["machine"],
        data.get("command", f"python benchmarks/{name}.py"),
    )
    (folder / f"{name}.md").write_text(md.rstrip() + "\n", encoding="utf-8")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument(
        "--settings",
        nargs="+",
        default=["synthetic", "dsp", "hh"],
        choices=["synthetic", "dsp", "hh"],
    )
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument(
        "--render",
        action="store_true",
        help="rewrite the Markdown from the JSON in --out (no runs)",
    )
    args = p.parse_args(argv)
    if args.render:
        return _render(Path(args.out))
    import torch

    torch.set_num_threads(1)
    cfg = dict(QUICK if args.quick else FULL)
    if args.seeds:
        cfg["seeds"] = tuple(args.seeds)
    t0 = time.perf_counter()
    tables = _text_tables(cfg) if {"dsp", "hh"} & set(args.settings) else None
    rows: list = []
    extra: dict = {}
    comps: dict = {}
    for s in args.settings:
        for seed in cfg["seeds"]:
            groups = (
                attribute_groups(seed) if s == "synthetic" else text_groups(s, seed, cfg, tables)
            )
            model = run_setting(s, groups, seed, cfg, rows, extra)
            if seed == cfg["seeds"][0]:
                comps[s] = component_report(model, groups)
            print(f"{s} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    info = machine_info()
    command = (
        f"python benchmarks/decomposed_personalization.py"
        f"{' --quick' if args.quick else ''} --settings {' '.join(args.settings)}"
        f"{' --seeds ' + ' '.join(map(str, cfg['seeds'])) if args.seeds else ''}"
    )
    md = _report(rows, cfg, comps, args.settings, seconds, info, command)
    from _common import write_results

    name = "decomposed_personalization"
    cfg_out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}
    folder = write_results(
        name,
        {
            "config": cfg_out,
            "rows": rows,
            "components": comps,
            "seconds": seconds,
            "machine": info,
            "command": command,
            **extra,
        },
        md,
        args.out,
    )
    print(md)
    print(f"wrote {folder}/{name}.json|md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
