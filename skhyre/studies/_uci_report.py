"""The UCI study's report: Markdown tables and a figure, from a result.

Rendering only: :func:`render_markdown` and :func:`plot` read a
:class:`~skhyre.studies.uci.UCIStudyResult` (its ``summary`` and ``meta``)
and compute nothing but table cells. The study itself is in
:mod:`skhyre.studies.uci` and :mod:`skhyre.studies._uci_fit`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._uci_settings import (
    BASELINES,
    PAPER_TABLE1,
    PREQUENTIAL_VARIANTS,
    STOCHASTIC_ARMS,
    SWEEP_TEMPERATURES,
    UCI_DATASETS,
    UCI_ENSEMBLES,
)
from ._verdict import Verdict, format_verdict

__all__ = ["plot", "render_markdown"]

#: Titles of the arms in the report.
_ARM_TITLES = {
    "random": "random OOD adaptation examples",
    "active": "OOD adaptation examples queried by weighted variance, the top row at each step "
    "(the paper's appendix)",
    "sampled": "OOD adaptation examples queried by weighted variance, drawn at each step with "
    'probability proportional to it (`sampling="power"`)',
}


def _pm(ms, digits: int = 4) -> str:
    return f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"


def _temp(t: float) -> str:
    return "∞" if not math.isfinite(t) else f"{t:.3g}"


#: How the report names the variants and baselines.
_NAMES = {
    "uniform": "uniform",
    "T=1": "HyRe T=1",
    "default": "HyRe default",
    "auto": "HyRe auto (uncapped)",
    "evidence": "HyRe evidence (uncapped)",
    "loo": "leave-one-out (no floor)",
    "finetune": "fine-tuning",
    "hgb": "HGB",
    "rf": "RF",
    "hgb_refit": "HGB refit",
    "rf_refit": "RF refit",
}

#: The rows of the verdict-count table: (A, B, random arm only).
_GLANCE = (
    ("T=1", "uniform"),
    ("default", "uniform"),
    ("auto", "uniform"),
    ("evidence", "uniform"),
    ("default", "T=1"),
    ("default", "auto"),
    *(("default", b) for b in BASELINES),
    *((b, "uniform") for b in BASELINES),
)


def _cell(v) -> str:
    """A stored comparison as ``"-10.30% [-13.80, -6.80] better"``; one seed:
    ``"-10.30% (1 seed)"`` (no interval)."""

    def num(x: float) -> float:
        return round(x, 2) + 0.0  # + 0.0: no "-0.00"

    if not (math.isfinite(v["lo"]) and math.isfinite(v["hi"])):
        return f"{num(v['mean']):+.2f}% (1 seed)"
    cleaned = Verdict(num(v["mean"]), num(v["lo"]), num(v["hi"]), v["verdict"])
    return format_verdict(cleaned, digits=2, unit="%")


def _cmp(c: dict, arm: str, a: str, b: str) -> dict | None:
    """The paired comparison ``a`` vs ``b`` in ``arm`` of cell ``c`` (None if not run)."""
    return c.get("comparisons", {}).get(f"{arm}/{a} vs {b}")


def _vs(c: dict, arm: str, a: str, b: str = "uniform") -> str:
    """A table cell: ``"-10.30% [-13.80, -6.80] better"`` (or "—")."""
    v = _cmp(c, arm, a, b)
    return "—" if v is None else _cell(v)


def _counts(result, arm: str, a: str, b: str) -> str:
    """``"9 / 3 / 0 (-5.21%)"``: cells where ``a`` is better / level / worse than ``b``,
    and the mean change over those cells."""
    vs = [v for _, _, c in result.cells() if (v := _cmp(c, arm, a, b)) is not None]
    if not vs:
        return "—"
    n = [sum(v["verdict"] == w for v in vs) for w in ("better", "level", "worse")]
    return f"{n[0]} / {n[1]} / {n[2]} ({np.mean([v['mean'] for v in vs]):+.2f}%)"


def _glance_lines(result) -> list[str]:
    """The verdict counts of the report's main comparisons, per arm."""
    meta, arms = result.meta, result.arms()
    if not any(c.get("comparisons") for _, _, c in result.cells()):
        return []
    n_cells = len(list(result.cells()))
    titles = {"random": "random labels", "active": "top-variance queries (paper)",
              "sampled": "variance-sampled queries"}  # fmt: skip
    rule = meta.get("default_rule") or {}
    lines = [
        '**Verdicts at a glance.** Every "A vs B" figure of this report is paired: per '
        "draw of labelled points, the relative change 100 · (RMSE A / RMSE B - 1) on the same "
        "evaluation rows (in the query arms each rule labels its own points, so each rule's "
        "RMSE is first taken relative to the uniform ensemble on its own rows), averaged over "
        f"the seed's draws; then the mean over the {meta.get('seeds', '?')} seeds with a "
        "two-sided 95% Student-t interval in brackets, and a verdict for A: better or worse "
        "when the interval excludes 0, else level. `default` is the estimator's default "
        f"(`HyReRegressor()`: `temperature={rule.get('temperature', 'auto')!r}`, "
        f"`max_temperature={rule.get('max_temperature', 1.0)}`, the leave-one-out choice "
        "capped at T=1); `auto` and `evidence` are the rules uncapped "
        "(`max_temperature=None`); `T=1` is the paper's rule. Below: of the "
        f"{n_cells} dataset x ensemble cells, those where A is better / level / worse than B, "
        "and in brackets the mean change over them. The baselines (fine-tuning, HGB, RF and "
        'their refits: the section "Against what a user would pick instead") are scored '
        "on the random arm's draws only.",
        "",
        "| A vs B | " + " | ".join(titles[a] for a in arms) + " |",
        "|---|" + "---:|" * len(arms),
    ]
    for a, b in _GLANCE:
        cells = [_counts(result, arm, a, b) for arm in arms]
        if all(x == "—" for x in cells):
            continue
        lines.append(f"| {_NAMES[a]} vs {_NAMES[b]} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_markdown(result) -> str:
    """The report of a :class:`~skhyre.studies.uci.UCIStudyResult`: the verdicts at a
    glance, every arm, the baselines, what auto's evidence floor does, the fixed
    temperatures, the prequential check, the paper."""
    meta = result.meta
    lines: list[str] = _glance_lines(result)
    draws = int(meta.get("draws", 1))
    for arm in result.arms():
        title = f"{meta.get('n_adapt', 32)} {_ARM_TITLES[arm]}"
        averaged = (
            f"; each fit averages {draws} draws of labelled points"
            if arm in STOCHASTIC_ARMS and draws > 1
            else ""
        )
        own = (
            ""
            if arm == "random"
            else " Each rule queries its own points: the uniform column is on T=1's "
            "evaluation rows, and each Δ compares a rule with the uniform ensemble on its "
            "own rows."
        )
        lines += [
            f"**{title}** — OOD RMSE on the standardized target (train statistics), "
            f"mean ± std over {meta.get('seeds', '?')} seeds{averaged}; Δ = paired relative "
            "change of HyRe vs the uniform ensemble, with its 95% interval over seeds and "
            f"verdict; default vs T=1 likewise.{own}",
            "",
        ]
        if arm == "random":
            lines += [
                "T (median): the median over seeds of the temperature the rule chose "
                "(with an even number of seeds, the midpoint of the middle two, ∞ when the "
                "upper one is ∞); the default's is at most 1. default ≤ uniform (seeds) "
                "counts ties: at T = ∞ HyRe is the uniform ensemble exactly.",
                "",
            ]
        same = "" if arm == "random" else " (T=1's rows)"
        lines.append(
            f"| dataset | ensemble | uniform{same} | HyRe T=1 | HyRe default | "
            "HyRe auto (uncapped) | Δ T=1 | Δ default | Δ auto | default vs T=1 | "
            "T default (median) | T auto (median) | default ≤ uniform (seeds) | "
            f"uniform (orig. units{same.replace(' (', ', ').rstrip(')')}) | "
            "HyRe default (orig. units) |"
        )
        lines.append("|---|---|" + "---:|" * 13)
        for name, ens, c in result.cells():
            t1, df, au = c[f"{arm}/T=1"], c[f"{arm}/default"], c[f"{arm}/auto"]
            lines.append(
                f"| {name} | {ens} | {_pm(t1['uniform'])} | {_pm(t1['hyre'])} | "
                f"{_pm(df['hyre'])} | {_pm(au['hyre'])} | {_vs(c, arm, 'T=1')} | "
                f"{_vs(c, arm, 'default')} | {_vs(c, arm, 'auto')} | "
                f"{_vs(c, arm, 'default', 'T=1')} | {_temp(df['temperature_median'])} | "
                f"{_temp(au['temperature_median'])} | {df['hyre_wins']}/{c['n_seeds']} | "
                f"{_pm(df['uniform_original_units'], 3)} | "
                f"{_pm(df['hyre_original_units'], 3)} |"
            )
        lines.append("")
    lines += _baseline_lines(result)
    lines += [
        "**What `auto`'s floor does.** `auto` keeps the candidate temperature with the "
        "lowest mean leave-one-out loss on the labelled points, but searches only "
        "temperatures at or above the empirical-Bayes one (`evidence`, next table). "
        "Without that floor (`loo`: the search over the whole grid, what `auto` was before, "
        "on the same labelled points and evaluation rows as `auto`), a minimum over 26 "
        "candidates on 32 noisy points is optimistic (a winner's curse), and its misses "
        "lean to the sharpest temperatures, which put the weight on one or two members "
        "that were lucky on those points; on kin8nm and ccpp even the best member on the "
        "evaluation rows (an oracle, last column: paired mean over seeds) is at most a few "
        "percent better than the uniform average. In the active arm the labelled points "
        "are the ones the members disagree on most, so no score computed on them is an "
        "unbiased estimate of the loss on the other OOD rows. Both uncapped.",
        "",
        "| dataset | ensemble | arm | Δ auto | Δ loo (no floor) | T auto (median) | "
        "T loo (median) | effective members auto | effective members loo | "
        "best member (oracle) vs uniform |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ens, c in result.cells():
        for arm in result.arms():
            au, mn = c[f"{arm}/auto"], c[f"{arm}/loo"]
            oracle = au["best_member_oracle_change_pct"][0]  # paired, per seed
            lines.append(
                f"| {name} | {ens} | {arm} | {_vs(c, arm, 'auto')} | "
                f"{_vs(c, arm, 'loo')} | {_temp(au['temperature_median'])} | "
                f"{_temp(mn['temperature_median'])} | {au['effective_members'][0]:.1f} | "
                f"{mn['effective_members'][0]:.1f} | {oracle:+.2f}% |"
            )
    lines += [
        "",
        '**`temperature="evidence"` (empirical Bayes).** With the squared loss, HyRe\'s '
        "weights `softmax(-L / T)` are the Bayesian posterior over members under Gaussian "
        "label noise of variance `T / 2`. `evidence` estimates that noise from the 32 "
        "labels by maximizing their marginal likelihood (type-II maximum likelihood; "
        "`skhyre.reweighting.evidence_temperature`), re-chosen after every label. No "
        "held-out search, so no winner's curse: when the members' losses differ by little "
        "compared with the noise, the temperature is high and the weights stay near "
        "uniform. Same fitted models, labelled points (random arm) and query rule as "
        "the other columns; uncapped.",
        "",
        "| dataset | ensemble | arm | Δ T=1 | Δ auto | Δ evidence | T evidence (median) | "
        "evidence ≤ uniform (seeds) | effective members evidence |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ens, c in result.cells():
        for arm in result.arms():
            ev = c.get(f"{arm}/evidence")
            if ev is None:
                continue
            lines.append(
                f"| {name} | {ens} | {arm} | {_vs(c, arm, 'T=1')} | {_vs(c, arm, 'auto')} | "
                f"{_vs(c, arm, 'evidence')} | {_temp(ev['temperature_median'])} | "
                f"{ev['hyre_wins']}/{c['n_seeds']} | {ev['effective_members'][0]:.1f} |"
            )
    lines += _tradeoff_lines(result)
    lines += _prequential_lines(result)
    lines += [
        "",
        "**Beside the paper's Table 1.** The paper does not pin its metric (RMSE or MSE, "
        "standardized or not, which OOD rows are scored); its uniform numbers are not "
        "reproducible as stated, so compare the *relative* change, not the levels. Ours: "
        "RMSE on the standardized target, active arm (the paper's appendix: 32 examples "
        "queried by variance), temperature 1 (the paper's rule), the default, auto and "
        "evidence. Each rule queries its own 32 points, so each is scored on its own "
        "remaining rows: the uniform ensemble is given on T=1's rows, and every Δ is paired "
        "with the uniform ensemble on the rule's own rows (95% interval over seeds).",
        "",
        "| ensemble | dataset | paper uniform | paper HyRe | paper Δ | ours uniform "
        "(T=1's rows) | ours HyRe T=1 | ours Δ T=1 | ours Δ default | ours Δ auto | "
        "ours Δ evidence |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ens in meta.get("ensembles", UCI_ENSEMBLES):
        for name in meta.get("datasets", UCI_DATASETS):
            c = result.summary.get(f"{name}/{ens}")
            if c is None:
                continue
            pu, ph = PAPER_TABLE1[ens][name]
            t1 = c["active/T=1"]
            paper_h = "—" if ph is None else f"{ph:.4f}"
            paper_d = "—" if ph is None else f"{100 * (ph - pu) / pu:+.2f}%"
            lines.append(
                f"| {ens} | {name} | {pu:.4f} | {paper_h} | {paper_d} | "
                f"{t1['uniform'][0]:.4f} | {t1['hyre'][0]:.4f} | {_vs(c, 'active', 'T=1')} | "
                f"{_vs(c, 'active', 'default')} | {_vs(c, 'active', 'auto')} | "
                f"{_vs(c, 'active', 'evidence')} |"
            )
    lines.append("")
    for variant in ("default", "auto", "evidence"):
        parts = []
        for arm in result.arms():
            by = {"better": [], "level": [], "worse": []}
            for name, ens, c in result.cells():
                v = _cmp(c, arm, variant, "uniform")
                if v is not None:
                    by[v["verdict"]].append(f"{name}/{ens}")
            n = sum(map(len, by.values()))
            if not n:
                continue
            parts.append(
                f"{arm} arm: better than the uniform ensemble in {len(by['better'])} of {n} "
                "cells, level in "
                + (", ".join(by["level"]) if by["level"] else "none")
                + ", worse in "
                + (", ".join(by["worse"]) if by["worse"] else "none")
            )
        if parts:
            lines += [f"**Verdict ({variant}):** " + "; ".join(parts) + ".", ""]
    lines.pop()
    if meta:
        steps = ", ".join(f"{e} {_steps(result, e)}" for e in meta.get("ensembles", UCI_ENSEMBLES))
        cost = ""
        if "finetune_seconds" in meta:
            cost = (
                f" The baselines took {meta['finetune_seconds'] / 60:.1f} min (fine-tuning) "
                f"and {meta['tree_seconds'] / 60:.1f} min (trees) of that, summed over jobs."
            )
        lines += [
            "",
            f"Setup: K={meta['n_members']} members, hidden {tuple(meta['hidden_layer_sizes'])}, "
            f"prior_scale={meta['prior_scale']} (shared_base, epinet), dropout="
            f"{meta['dropout']} (mc_dropout), Adam lr={meta['lr']}, batch "
            f"{meta['batch_size']}, training steps per fit: {steps}; {meta['n_adapt']} "
            f"adaptation examples; seeds {meta['seed_list']}. "
            f"{meta['wall_seconds'] / 60:.1f} min wall ({meta['n_jobs']} parallel jobs"
            + (f", {meta['threads']} torch thread(s) each" if meta.get("threads") else "")
            + f") on {meta['machine']}; {meta['date']}.{cost} Generated by "
            f"`{meta['command']}`.",
        ]
    return "\n".join(lines) + "\n"


def _baseline_lines(result) -> list[str]:
    """The baselines on the random arm's draws: their RMSE, and HyRe's default against each."""
    cells = [(n, e, c) for n, e, c in result.cells() if c.get("baselines")]
    if not cells:
        return []
    meta = result.meta
    draws = int(meta.get("draws", 1))
    k = min(b["n_draws"] for _, _, c in cells for b in c["baselines"].values())
    which = (
        f"every one of each fit's {draws} draws"
        if k >= draws
        else f"the first {k} of each fit's {draws} draws (comparisons on those draws; the "
        "RMSE levels below average each method's own draws)"
    )
    n_adapt = meta.get("n_adapt", 32)
    lines = [
        "**Against what a user would pick instead (random labels).** On the random arm's "
        f"draws, with the same {n_adapt} labelled points and the same evaluation rows as "
        "HyRe: fine-tuning (a copy of the fitted ensemble, `partial_fit` for "
        f"{meta.get('finetune_epochs', 5)} epochs on the training rows plus the "
        f"{n_adapt} labels, with the fit's optimizer, learning rate and batch size; then "
        "the uniform ensemble of the result), `HistGradientBoostingRegressor()` (HGB) and "
        f"`RandomForestRegressor(n_estimators={meta.get('rf_trees', 100)})` (RF) trained "
        "on the training rows, and both refitted on the training rows plus the labels "
        "(HGB refit, RF refit; the trees do not depend on the ensemble: one run per dataset "
        f"and seed). Fine-tuning and the refits are trained on {which}. First the OOD "
        "RMSE (standardized target), mean ± std over seeds; then HyRe's default against "
        "each, paired, with the 95% interval over seeds and the verdict for HyRe.",
        "",
        "| dataset | ensemble | uniform | HyRe default | "
        + " | ".join(_NAMES[b] for b in BASELINES)
        + " |",
        "|---|---|" + "---:|" * (2 + len(BASELINES)),
    ]
    for name, ens, c in cells:
        base = c["baselines"]
        lines.append(
            f"| {name} | {ens} | {_pm(c['random/T=1']['uniform'])} | "
            f"{_pm(c['random/default']['hyre'])} | "
            + " | ".join(_pm(base[b]["rmse"]) if b in base else "—" for b in BASELINES)
            + " |"
        )
    lines += [
        "",
        "| dataset | ensemble | "
        + " | ".join(f"default vs {_NAMES[b]}" for b in BASELINES)
        + " | fine-tuning vs uniform |",
        "|---|---|" + "---:|" * (len(BASELINES) + 1),
    ]
    for name, ens, c in cells:
        lines.append(
            f"| {name} | {ens} | "
            + " | ".join(_vs(c, "random", "default", b) for b in BASELINES)
            + f" | {_vs(c, 'random', 'finetune')} |"
        )
    return [*lines, ""]


def _tradeoff_lines(result) -> list[str]:
    """The fixed-temperature table: how much each rule gains, and where it loses."""
    fixed = [f"T={t:g}" for t in sorted((1.0, *SWEEP_TEMPERATURES))]
    cols = [
        v
        for v in (*fixed, "default", "auto", "evidence")
        if any(f"random/{v}" in c for _, _, c in result.cells())
    ]
    if not any(v != "T=1" and v in fixed for v in cols):
        return []
    lines = [
        "",
        "**The trade-off: fixed temperatures.** The same fitted models at fixed "
        "temperatures from sharp (0.01: about one member) to gentle (10: close to uniform), "
        "beside the default, `auto` and `evidence`; the random arm reuses the same labelled "
        "points, the query arms query under each rule's own weights. Δ vs the uniform "
        "ensemble, paired, with its 95% interval over seeds and verdict.",
        "",
        "| dataset | ensemble | arm | " + " | ".join(f"Δ {v}" for v in cols) + " |",
        "|---|---|---|" + "---:|" * len(cols),
    ]
    for name, ens, c in result.cells():
        for arm in result.arms():
            cells = [_vs(c, arm, v) for v in cols]
            lines.append(f"| {name} | {ens} | {arm} | " + " | ".join(cells) + " |")
    n_cells = len(list(result.cells()))
    counts, means, verdicts = [], [], []
    for v in cols:
        verdict = result.at_or_below_uniform(v)
        counts.append(f"{v} {sum(verdict.values())}")
        found = [
            x
            for _, _, c in result.cells()
            for arm in result.arms()
            if (x := _cmp(c, arm, v, "uniform")) is not None
        ]
        means.append(f"{v} {np.mean([x['mean'] for x in found]):+.2f}%")
        n = [sum(x["verdict"] == w for x in found) for w in ("better", "level", "worse")]
        verdicts.append(f"{v} {n[0]}/{n[1]}/{n[2]}")
    n_arms = n_cells * len(result.arms())
    lines += [
        "",
        f"Better / level / worse than uniform, of {n_arms} cell-arms: "
        + ", ".join(verdicts)
        + f". At or below uniform in the mean in every arm, of {n_cells} cells: "
        + ", ".join(counts)
        + ". Mean Δ over all cells and arms (the gain side): "
        + ", ".join(means)
        + ".",
    ]
    return lines


def _prequential_lines(result) -> list[str]:
    """Did the labelled points themselves warn? HyRe on them, each predicted before its label."""
    cols = [
        v
        for v in PREQUENTIAL_VARIANTS
        if any(
            (c.get(f"random/{v}") or {}).get("prequential_change_pct") for _, _, c in result.cells()
        )
    ]
    if not cols:
        return []
    lines = [
        "",
        "**Did the labelled points warn?** Each rule replayed label by label on its own 32 "
        "labelled points (in the order they were labelled): before each label, the members "
        "are weighted on the labels before it and the weighted prediction is scored on the "
        "new one (`skhyre.studies.prequential_change`). That is an honest, out-of-sample "
        "check that only uses the labels a user has; Δ labelled compares it with the "
        "uniform ensemble on the same points, Δ rest is the study's change on the other "
        "OOD rows. Mean over seeds, 95% interval and verdict.",
        "",
        "| dataset | ensemble | arm | "
        + " | ".join(f"Δ labelled {v} | Δ rest {v}" for v in cols)
        + " |",
        "|---|---|---|" + "---:|---:|" * len(cols),
    ]
    misled = {v: [] for v in cols}
    for name, ens, c in result.cells():
        for arm in result.arms():
            cells = []
            for v in cols:
                r = c.get(f"{arm}/{v}") or {}
                pq = r.get("prequential_change_pct")
                if pq is None:
                    cells += ["—", "—"]
                    continue
                ci = r.get("prequential_ci")
                cells += [_cell(ci) if ci else f"{pq[0]:+.2f}%", _vs(c, arm, v)]
                if pq[0] <= 0 < r["rel_change_pct"][0]:
                    misled[v].append(f"{name}/{ens} {arm}")
            lines.append(f"| {name} | {ens} | {arm} | " + " | ".join(cells) + " |")
    lines += [
        "",
        'Cells where the labelled points said "reweighting helps" (Δ labelled ≤ 0) and the '
        "other OOD rows said the opposite (Δ rest > 0), in the means: "
        + "; ".join(f"{v}: {', '.join(m) if m else 'none'}" for v, m in misled.items())
        + ".",
    ]
    return lines


def _steps(result, ens: str) -> str:
    steps = sorted({c["steps"] for k, c in result.summary.items() if k.endswith("/" + ens)})
    return "/".join(str(s) for s in steps)


def plot(result, path) -> Path:
    """Bar chart of the paired relative change per dataset, arm and ensemble, saved at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in result.meta.get("datasets", UCI_DATASETS)]
    ensembles = [e for e in result.meta.get("ensembles", UCI_ENSEMBLES)]
    arms = result.arms()
    fig, axes = plt.subplots(
        len(arms),
        len(datasets),
        figsize=(4.2 * len(datasets), 3.4 * len(arms)),
        squeeze=False,
    )
    x = np.arange(len(ensembles))
    width = 0.16
    bars = (
        ("T=1", "C0", "HyRe T=1 (paper)"),
        ("default", "C3", "HyRe default (auto, T ≤ 1)"),
        ("auto", "C1", "HyRe auto, uncapped"),
        ("loo", "0.6", "leave-one-out, no floor (auto before)"),
        ("evidence", "C2", "HyRe evidence, uncapped"),
    )
    for i, arm in enumerate(arms):
        for j, name in enumerate(datasets):
            ax = axes[i, j]
            for t, (tname, colour, label) in enumerate(bars):
                vs = [
                    _cmp(result.summary[f"{name}/{e}"], arm, tname, "uniform")
                    if f"{name}/{e}" in result.summary
                    else None
                    for e in ensembles
                ]
                mean = np.array([np.nan if v is None else v["mean"] for v in vs])
                lo = np.array([np.nan if v is None else v["lo"] for v in vs])
                hi = np.array([np.nan if v is None else v["hi"] for v in vs])
                # the 95% interval over seeds (none drawn with one seed)
                err = np.nan_to_num(np.vstack([mean - lo, hi - mean]), posinf=0.0, nan=0.0)
                ax.bar(
                    x + (t - (len(bars) - 1) / 2) * width,
                    mean,
                    width,
                    yerr=err,
                    capsize=2,
                    color=colour,
                    label=label,
                )
            ax.axhline(0.0, color="black", linewidth=0.8)
            ax.set_xticks(x)
            ax.set_xticklabels([e.replace("_", "\n") for e in ensembles], fontsize=8)
            ax.set_title(f"{name}, {arm} adaptation", fontsize=10)
            if j == 0:
                ax.set_ylabel("OOD RMSE change vs uniform (%)")
            if i == 0 and j == 0:
                ax.legend(fontsize=8)
    fig.suptitle(
        f"HyRe vs uniform ensemble under shift ({result.meta.get('n_adapt', 32)} OOD labels, "
        f"paired mean and 95% interval over {result.meta.get('seeds', '?')} seeds; "
        "below 0 = better)",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
