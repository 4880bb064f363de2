"""The preference study's report: Markdown tables and a figure, from rows.

Rendering only: every function here reads the rows of accuracies that
:mod:`skhyre.studies._pref_runs` produced (one per setting, seed, group,
method and N) and returns text (or a figure); the means over seeds and
groups that the tables show are computed on the way. The study itself is
:mod:`skhyre.studies.preferences`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._pref_settings import (
    BASELINE_NAMES,
    DEFAULT_MAX_SEQ_LENGTH,
    GROUP_ONLY,
    HYRE_BALD,
    HYRE_RANDOM,
    SINGLE_RM,
)
from ._verdict import Verdict, format_verdict, paired_verdict
from .preference_data import DSP_GROUPS

__all__ = ["domain_section", "encoder_name", "n_headline", "personalization_markdown", "plot"]


def n_headline(cfg: dict) -> int:
    """The N of the headline tables: 5 when measured, else the second smallest N."""
    ns = sorted(cfg["n_labels"])
    return 5 if 5 in ns else ns[min(1, len(ns) - 1)]


def _summarize(rows: list[dict], keys: Sequence[str]) -> list[dict]:
    """Mean and std over seeds of the per-seed accuracies, grouped by ``keys``."""
    buckets: dict[tuple, list[float]] = {}
    for r in rows:
        buckets.setdefault(tuple(r.get(k) for k in keys), []).append(r["accuracy"])
    out = []
    for key, accs in buckets.items():
        a = np.asarray(accs)
        out.append(
            {
                **dict(zip(keys, key)),
                "mean": float(a.mean()),
                "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
                "n_seeds": int(a.size),
            }
        )
    return out


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def _lookup(summary, **match):
    for s in summary:
        if all(s.get(k) == v for k, v in match.items()):
            return s
    return None


def seed_group_means(rows, method, n, setting, groups) -> dict:
    """Per-seed mean over groups of ``method`` at ``n`` (for the 'mean' column)."""
    per_seed: dict[int, list[float]] = {}
    for r in rows:
        if (
            r["setting"] == setting
            and r["method"] == method
            and r["n_labels"] == n
            and r["group"] in groups
        ):
            per_seed.setdefault(r["seed"], []).append(r["accuracy"])
    vals = [np.mean(v) for v in per_seed.values() if len(v) == len(groups)]
    return {
        "mean": float(np.mean(vals)) if vals else float("nan"),
        "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
    }


def _method_n(method: str, n: int) -> int:
    """The N at which a method is read for an 'at N' table (adaptation-free: 0)."""
    return n if method in (HYRE_RANDOM, HYRE_BALD, BASELINE_NAMES["convex"]) else 0


def _personalization_table(rows, setting, groups, n) -> tuple[str, dict]:
    """Markdown table of every method at ``N = n`` per group, plus the mean over groups."""
    methods = [HYRE_RANDOM, HYRE_BALD, SINGLE_RM, *BASELINE_NAMES.values(), GROUP_ONLY]
    summary = _summarize(
        [r for r in rows if r["setting"] == setting], ("method", "group", "n_labels")
    )
    lines = ["| method | " + " | ".join(groups) + " | mean |", "|---|" + "---|" * (len(groups) + 1)]
    means = {}
    for m in methods:
        nn = _method_n(m, n)
        cells = []
        for g in groups:
            s = _lookup(summary, method=m, group=g, n_labels=nn)
            cells.append("—" if s is None else _fmt(s["mean"], s["std"]))
        avg = seed_group_means(rows, m, nn, setting, groups)
        means[m] = avg
        label = f"{m} (N={n})" if nn else m
        if m == BASELINE_NAMES["oracle"]:
            label += " **[oracle]**"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_fmt(avg['mean'], avg['std'])} |")
    return "\n".join(lines), means


def _curve_table(rows, setting, groups, n_labels) -> str:
    methods = [HYRE_RANDOM, HYRE_BALD, BASELINE_NAMES["convex"]]
    lines = [
        "| method | " + " | ".join(f"N={n}" for n in n_labels) + " |",
        "|---|" + "---|" * len(n_labels),
    ]
    for m in methods:
        cells = [_fmt(**seed_group_means(rows, m, n, setting, groups)) for n in n_labels]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cross_table(rows, setting, groups) -> str:
    """Accuracy of each group-only model on every group (rows: trained on)."""
    summary = _summarize(
        [r for r in rows if r["setting"] == setting and "trained_on" in r], ("trained_on", "group")
    )
    lines = [
        "| trained on \\ tested on | " + " | ".join(groups) + " |",
        "|---|" + "---|" * len(groups),
    ]
    for own in groups:
        cells = []
        for g in groups:
            s = _lookup(summary, trained_on=own, group=g)
            cells.append("—" if s is None else _fmt(s["mean"], s["std"]))
        lines.append(f"| {own} only | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_values(rows, method, n, setting, groups, **match) -> dict:
    """``{seed: accuracy}`` of ``method`` at ``n``: on one group when ``groups`` holds
    one, else the mean over ``groups`` (seeds missing a group are left out)."""
    per_seed: dict[int, list[float]] = {}
    for r in rows:
        if (
            r["setting"] == setting
            and r["method"] == method
            and r["n_labels"] == n
            and r["group"] in groups
            and all(r.get(k) == v for k, v in match.items())
        ):
            per_seed.setdefault(r["seed"], []).append(r["accuracy"])
    return {s: float(np.mean(v)) for s, v in per_seed.items() if len(v) == len(groups)}


def compare(a: dict, b: dict) -> Verdict | None:
    """Paired verdict of ``{seed: accuracy}`` ``a`` against ``b`` on their common seeds."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    return paired_verdict([a[s] for s in seeds], [b[s] for s in seeds], higher_is_better=True)


def _cell(v: Verdict | None) -> str:
    return "—" if v is None else format_verdict(v)


def verdict_counts(verdicts) -> str:
    """``"3 better, 5 level, 0 worse"`` over the verdicts given (``None`` skipped)."""
    words = [v.verdict for v in verdicts if v is not None]
    return ", ".join(f"{words.count(w)} {w}" for w in ("better", "level", "worse"))


def _target_lines(rows, setting, groups, n) -> list[str]:
    """The issue's target, read from paired verdicts: HyRe at N is *better* than the
    uniform ensemble and the single RM on every group, and than every non-oracle
    reference on the mean over groups (a level result does not meet it)."""
    n_seeds = len({r["seed"] for r in rows if r["setting"] == setting})
    refs = [(SINGLE_RM, 0)] + [
        (name, _method_n(name, n)) for key, name in BASELINE_NAMES.items() if key != "oracle"
    ]
    per_group_refs = (BASELINE_NAMES["uniform"], SINGLE_RM)
    lines = [
        f"HyRe at N={n} minus each reference (pairwise accuracy; paired over "
        f"{n_seeds} seeds, mean difference [95% t-interval] and verdict; the groups' "
        "columns for the uniform ensemble and the single RM only; the group-only model, "
        "an upper bound, is not part of the target):",
        "",
    ]
    table = [
        f"| HyRe at N={n} - reference | " + " | ".join(groups) + " | mean |",
        "|---|" + "---|" * (len(groups) + 1),
    ]
    summaries = []
    for hyre in (HYRE_RANDOM, HYRE_BALD):
        h_mean = seed_values(rows, hyre, n, setting, groups)
        group_v, mean_v, short = [], [], []
        for name, nn in refs:
            cells = []
            for g in groups:
                if name in per_group_refs:
                    v = compare(
                        seed_values(rows, hyre, n, setting, [g]),
                        seed_values(rows, name, nn, setting, [g]),
                    )
                    group_v.append(v)
                    if v is None or v.verdict != "better":
                        short.append(g)
                    cells.append(_cell(v))
                else:
                    cells.append("")
            v = compare(h_mean, seed_values(rows, name, nn, setting, groups))
            mean_v.append((name, v))
            table.append(f"| {hyre} - {name} | " + " | ".join(cells) + f" | {_cell(v)} |")
        up = compare(h_mean, seed_values(rows, GROUP_ONLY, 0, setting, groups))
        if up is not None:  # the upper bound: shown, not part of the target
            blank = " | ".join("" for _ in groups)
            table.append(f"| {hyre} - {GROUP_ONLY} (not in the target) | {blank} | {_cell(up)} |")
        not_better = [name for name, v in mean_v if v is None or v.verdict != "better"]
        short = list(dict.fromkeys(short))
        summaries.append(
            f"- {hyre}, N={n}: per group against the uniform ensemble and the single RM "
            f"{verdict_counts(group_v)}"
            + (f" (not better on: {', '.join(short)})" if short else "")
            + f"; on the mean over groups against the {len(mean_v)} non-oracle references "
            f"{verdict_counts(v for _, v in mean_v)}"
            + (f" (not better than: {', '.join(not_better)})" if not_better else "")
            + f". Target {'met' if not short and not not_better else 'MISSED'}."
        )
    return lines + table + [""] + summaries


def _domain_verdicts(sel, setting, groups, modes, n) -> list[str]:
    """Paired verdicts on the mean over domains at N = n: each aware mode against
    pooled (same HyRe method), and HyRe against the uniform ensemble of its mode."""

    def vals(mode, method, nn):
        return seed_values(sel, method, nn, setting, groups, training=mode)

    methods = (HYRE_RANDOM, HYRE_BALD)
    n_seeds = len({r["seed"] for r in sel})
    rows = [
        (f"{aware} - pooled", [compare(vals(aware, m, n), vals("pooled", m, n)) for m in methods])
        for aware in modes
        if aware != "pooled" and "pooled" in modes
    ]
    rows += [
        (
            f"{mode}: HyRe - uniform ensemble",
            [compare(vals(mode, m, n), vals(mode, "uniform ensemble", 0)) for m in methods],
        )
        for mode in modes
    ]
    table = [f"| mean over domains, N={n} | " + " | ".join(methods) + " |", "|---|---|---|"]
    table += [f"| {label} | " + " | ".join(_cell(v) for v in vs) + " |" for label, vs in rows]
    return [
        f"Paired differences in pairwise accuracy ({setting}; over {n_seeds} seeds, mean "
        "difference [95% t-interval] and verdict): "
        f"{verdict_counts(v for _, vs in rows for v in vs)}.",
        "",
        *table,
    ]


def domain_markdown(rows, groups, n_labels, modes, n=5) -> tuple[str, dict]:
    """The annotator-aware section: training modes x settings at N = n."""
    verdict = {}
    parts = []
    for setting in ("in-domain", "leave-one-domain-out"):
        sel = [r for r in rows if r["setting"] == setting]
        summary = _summarize(sel, ("training", "method", "group", "n_labels"))
        lines = [
            f"**{setting}** (pairwise accuracy on the target domain's test pairs; HyRe at N={n})",
            "",
            "| training | method | " + " | ".join(groups) + " | mean |",
            "|---|---|" + "---|" * (len(groups) + 1),
        ]
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
        curve = [
            "| training | " + " | ".join(f"N={k}" for k in n_labels) + " |",
            "|---|" + "---|" * len(n_labels),
        ]
        for mode in modes:
            cells = []
            for k in n_labels:
                per_seed = {}
                for r in sel:
                    if r["training"] == mode and r["method"] == HYRE_RANDOM and r["n_labels"] == k:
                        per_seed.setdefault(r["seed"], []).append(r["accuracy"])
                vals = [np.mean(v) for v in per_seed.values()]
                cells.append(
                    _fmt(
                        float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
                    )
                )
            curve.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines += [f"HyRe (random) over N, mean over domains ({setting}):", "", *curve, ""]
        lines += _domain_verdicts(sel, setting, groups, modes, n)
        lines.append("")
        parts.append("\n".join(lines))
    return "\n".join(parts), {f"{s}|{m}|{meth}": v for (s, m, meth), v in verdict.items()}


def encoder_name(embedder) -> str:
    """How the report names the text encoder (``None``: the study's default)."""
    if embedder is None:
        return f"all-MiniLM-L6-v2 (first {DEFAULT_MAX_SEQ_LENGTH} tokens"
    return f"the given embedder ({type(embedder).__name__}"


def personalization_markdown(
    rows, cfg: dict, *, encoder: str, n_prompts: int, trainings: Sequence[str], hh_groups=None
) -> tuple[str, dict]:
    """The personalization report: DSP, then HH-RLHF, then one section per training
    mode with the group ids; and the headline means over groups at the headline N.

    ``rows`` must already hold, for every mode after ``"pooled"``, the pooled
    run's single-RM and group-only rows copied under that mode's setting (the
    study does it: they are not refitted). ``hh_groups`` is ``None`` when the
    helpful-vs-harmless setting was not run.
    """
    dsp_groups = list(DSP_GROUPS)
    n5 = n_headline(cfg)
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
        f"### DSP: four domains as user groups ({n_prompts} prompts), N={n5}\n",
    ]
    table_md, dsp_means = _personalization_table(rows, "dsp", dsp_groups, n5)
    md += [
        table_md,
        "",
        *_target_lines(rows, "dsp", dsp_groups, n5),
        "",
        "HyRe over N (mean over domains):",
        "",
        _curve_table(rows, "dsp", dsp_groups, cfg["n_labels"]),
        "",
        "Group-only models on every domain (the cost of fine-tuning to one group):",
        "",
        _cross_table(rows, "dsp", dsp_groups),
        "",
    ]
    headline = {"dsp": {k: v["mean"] for k, v in dsp_means.items()}}
    if hh_groups is not None:
        hh_groups = list(hh_groups)
        md += [
            f"### HH-RLHF: helpful vs harmless (first {cfg['hh_pairs']} pairs of each), N={n5}\n"
        ]
        table_md, hh_means = _personalization_table(rows, "hh", hh_groups, n5)
        md += [
            table_md,
            "",
            *_target_lines(rows, "hh", hh_groups, n5),
            "",
            "HyRe over N (mean over the two groups):",
            "",
            _curve_table(rows, "hh", hh_groups, cfg["n_labels"]),
            "",
            "Group-only models on both groups (paper's Table 3 fine-tune rows):",
            "",
            _cross_table(rows, "hh", hh_groups),
            "",
        ]
        headline["hh"] = {k: v["mean"] for k, v in hh_means.items()}
    for mode in list(trainings)[1:]:
        md += [
            f"### With the group ids: `training={mode!r}`, N={n5}\n",
            f"The same splits, draws and references, but the ensemble is trained with the "
            f"group of every training pair given to `fit(groups=...)` "
            f"(`training={mode!r}`); the single RM and the group-only rows are the pooled "
            "section's (not refitted). Baselines combine this ensemble's members.\n",
        ]
        names = [("dsp", "DSP domains", dsp_groups)]
        if hh_groups is not None:
            names.append(("hh", "HH-RLHF helpful vs harmless", hh_groups))
        for key, title, grps in names:
            setting = f"{key}, {mode}"
            table_md, means = _personalization_table(rows, setting, grps, n5)
            md += [
                f"**{title}** (`training={mode!r}`)\n",
                table_md,
                "",
                *_target_lines(rows, setting, grps, n5),
                "",
                f"HyRe over N (mean over groups, `training={mode!r}`):",
                "",
                _curve_table(rows, setting, grps, cfg["n_labels"]),
                "",
            ]
            headline[setting] = {k: v["mean"] for k, v in means.items()}
    return "\n".join(md), headline


def domain_section(rows, cfg: dict, modes: Sequence[str]) -> tuple[str, dict]:
    """The annotator-aware section (a ``##`` heading, the setup, both settings) and
    its headline: the mean over domains per setting, mode and method."""
    md, verdict = domain_markdown(rows, list(DSP_GROUPS), cfg["n_labels"], modes, n_headline(cfg))
    header = (
        "## Annotator-aware training on DSP domains (issue 8, text)\n\n"
        f"Domain ids given to `fit(groups=...)`; training modes {', '.join(modes)}; "
        f"{len(cfg['seeds'])} seed(s); mean ± std over seeds of the per-seed accuracy "
        "(averaged over that seed's random draws / BALD runs). Leave-one-domain-out removes "
        "the held-out domain's pairs and answers from training.\n"
    )
    return header + "\n" + md, verdict


def plot(result, path) -> Path:
    """Accuracy versus N (mean over groups) per setting of ``result``, saved as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = [s for s in ("dsp", "hh") if any(r["setting"] == s for r in result.rows)]
    has_domains = any(r["setting"] == "leave-one-domain-out" for r in result.rows)
    n_panels = len(settings) + (2 if has_domains else 0)
    fig, axes = plt.subplots(
        1, max(n_panels, 1), figsize=(5.2 * max(n_panels, 1), 4.2), squeeze=False
    )
    axes = axes[0]
    ns = list(result.config["n_labels"])
    titles = {"dsp": "DSP domains (4 groups)", "hh": "HH-RLHF helpful vs harmless"}
    for ax, setting in zip(axes, settings):
        groups = sorted({r["group"] for r in result.rows if r["setting"] == setting})
        for m, style in ((HYRE_RANDOM, "o-"), (HYRE_BALD, "s-"), (BASELINE_NAMES["convex"], "^--")):
            ys = [seed_group_means(result.rows, m, n, setting, groups)["mean"] for n in ns]
            ax.plot(ns, ys, style, label=m)
        for m, ls in (
            (BASELINE_NAMES["uniform"], ":"),
            (SINGLE_RM, "-."),
            (BASELINE_NAMES["oracle"], "--"),
            (GROUP_ONLY, "-"),
        ):
            v = seed_group_means(result.rows, m, 0, setting, groups)["mean"]
            label = m + (" [oracle]" if m == BASELINE_NAMES["oracle"] else "")
            ax.axhline(v, ls=ls, color="gray" if m != GROUP_ONLY else "k", lw=1, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("pairs labelled by the group (N)")
        ax.set_ylabel("pairwise accuracy (mean over groups)")
        ax.set_title(titles[setting])
        ax.legend(fontsize=7)
    if has_domains:
        for ax, setting in zip(axes[len(settings) :], ("in-domain", "leave-one-domain-out")):
            sel = [r for r in result.rows if r["setting"] == setting]
            for mode in sorted({r["training"] for r in sel}):
                ys = []
                for n in ns:
                    vals: dict = {}
                    for r in sel:
                        if (
                            r["training"] == mode
                            and r["method"] == HYRE_RANDOM
                            and r["n_labels"] == n
                        ):
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
