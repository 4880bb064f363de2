"""The HyRe paper's synthetic studies (Section 4), measured with skhyre.

(a) **Conflicting labelers** (``make_preference_labelers``, d=2): 2,000 points,
    each labelled by one of 100 random linear labelers; an ensemble is
    trained on the aggregated labels, then personalized to unseen labelers
    from N of their labels. Two trainings: ``pooled`` (the paper's: every
    member sees every label) and ``by_group`` (the labeler id of each label is
    given to ``fit``; members are split among labelers). Compared: HyRe with
    random and BALD-active labels, the uniform ensemble, a single network, the
    best member (an oracle that peeks at the test labels) and logistic
    regression fitted on the same N labels alone.
(b) **HyRe vs fine-tuning** (``make_shifted_binary``): training data that
    leave the boundary's orientation open; the target boundary is one of the
    candidates. Fine-tuning = the fitted ensemble trained further
    (``partial_fit``: its parameters and optimizer state carry on) on the
    training data plus the N adaptation examples (the paper's "adding the
    adaptation data to the training set"); HyRe reweights the same fit from
    the same N labels.
(c) **Function-space PCA** (``make_gp_functions``): an ensemble fitted on a
    few points of a GP draw; ``EnsemblePCA`` of its members on a grid; the
    first three principal functions, the members, and the members reweighted
    by HyRe after a few more points of the same draw.

Run ``python benchmarks/synthetic.py`` (a few minutes on 2 cores) or
``--quick`` (a smoke run). Writes ``synthetic.json``, ``synthetic.md``,
``synthetic.png`` (study a), ``synthetic_finetune.png`` (b) and
``synthetic_gp_pca.png`` (c) to ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paired_verdict

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

FULL = {
    "a_seeds": 5,
    "a_test_labelers": 20,
    "a_n_labels": (1, 5, 10, 20, 40),
    "a_epochs": 60,
    "b_seeds": 5,
    "b_n_labels": (1, 2, 5, 10, 20, 50, 100),
    "b_epochs": 50,
    "b_finetune_epochs": 25,
    "c_epochs": 1500,
}
QUICK = {
    "a_seeds": 1,
    "a_test_labelers": 5,
    "a_n_labels": (1, 5, 20),
    "a_epochs": 15,
    "b_seeds": 2,
    "b_n_labels": (1, 5, 20),
    "b_epochs": 15,
    "b_finetune_epochs": 8,
    "c_epochs": 200,
}

#: Study (a): one configuration for the ensembles (K=100, two layers of 50).
A_MODEL = {
    "max_temperature": None,  # the "auto"/"evidence" arms are the rules, uncapped
    "n_members": 100,
    "hidden_layer_sizes": (50, 50),
    "prior_scale": 3.0,
    "batch_size": 128,
    "lr": 3e-3,
}
#: Study (b): a large prior scale keeps the members' boundaries diverse where
#: the training data say nothing (best member 0.956 at 100 vs 0.931 at 30).
B_MODEL = {
    "max_temperature": None,  # the "auto"/"evidence" arms are the rules, uncapped
    "n_members": 100,
    "hidden_layer_sizes": (50, 50),
    "prior_scale": 100.0,
    "batch_size": 64,
    "lr": 1e-3,
}
#: Study (c).
C_MODEL = {
    "max_temperature": None,  # "auto" is the rule, uncapped
    "n_members": 100,
    "hidden_layer_sizes": (50, 50),
    "prior_scale": 3.0,
    "lr": 1e-3,
}
C_N_TRAIN, C_N_ADAPT, C_GRID = 8, 6, 200


# --------------------------------------------------------------------------- helpers
def machine_info() -> str:
    """One line describing the machine, the software and the load."""
    import torch

    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover
        load = "load average n/a"
    return (
        f"{platform.machine()} {platform.processor() or platform.system()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"{load} at start"
    )


def accuracy_of(P: np.ndarray, w: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the ``w``-weighted mixture of member probabilities ``P`` (K, n, C)."""
    mix = np.tensordot(w, P, axes=1)
    return float(np.mean(mix.argmax(axis=1) == y))


def logreg_on_labels(X, y, X_eval) -> np.ndarray:
    """Logistic regression fitted on ``(X, y)`` alone (a constant if one class)."""
    from sklearn.linear_model import LogisticRegression

    if np.unique(y).size < 2:
        return np.full(X_eval.shape[0], y[0])
    return LogisticRegression(C=1.0).fit(X, y).predict(X_eval)


def seed_stats(per_seed: np.ndarray) -> dict:
    """Mean and std over seeds (axis 0) of per-seed scores, one per N, and the
    per-seed scores themselves (seeds x N: what the paired verdicts read)."""
    a = np.asarray(per_seed, dtype=np.float64)
    std = a.std(axis=0, ddof=1) if a.shape[0] > 1 else np.zeros(a.shape[1])
    return {"mean": a.mean(axis=0).tolist(), "std": std.tolist(), "per_seed": a.tolist()}


def verdicts(a: dict, b: dict) -> list:
    """Paired verdicts of method ``a`` against ``b`` (:func:`seed_stats` dicts), one per
    N: the accuracy difference over seeds, its 95% t-interval, better/level/worse."""
    A, B = np.asarray(a["per_seed"]), np.asarray(b["per_seed"])
    return [paired_verdict(A[:, i], B[:, i], higher_is_better=True) for i in range(A.shape[1])]


def _vcell(v) -> str:
    return f"{v.mean:+.3f} [{v.lo:+.3f}, {v.hi:+.3f}] {v.verdict}"


def _tally(vs) -> str:
    words = [v.verdict for v in vs]
    return ", ".join(f"{words.count(w)} {w}" for w in ("better", "level", "worse"))


def verdict_table(acc: dict, pairs, ns) -> tuple[list[str], list]:
    """Markdown rows ``| a - b | cell per N |`` for each ``(a, b)`` of ``pairs`` present in
    ``acc`` with per-seed scores, and every verdict (for a tally)."""
    lines = [
        "| difference | " + " | ".join(f"N={n}" for n in ns) + " |",
        "|---|" + "---:|" * len(ns),
    ]
    flat = []
    for label, (a, b) in pairs.items():
        if a not in acc or b not in acc or "per_seed" not in acc[a] or "per_seed" not in acc[b]:
            continue
        vs = verdicts(acc[a], acc[b])
        flat += vs
        lines.append(f"| {label} | " + " | ".join(map(_vcell, vs)) + " |")
    return lines, flat


def _pm_row(name: str, stats: dict) -> str:
    cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(stats["mean"], stats["std"]))
    return f"| {name} | {cells} |"


# --------------------------------------------------------------------------- study (a)
A_METHODS = (
    "HyRe T=1, random labels",
    "HyRe T=1, BALD-active labels",
    "HyRe auto, random labels",
    "HyRe evidence, random labels",
    "uniform ensemble",
    "single network",
    "best member (oracle)",
    "logistic regression on the N labels",
)


#: Study (a)'s paired comparisons (same seed, same labelers and random draws).
A_PAIRS = {
    "HyRe T=1 random - uniform": ("HyRe T=1, random labels", "uniform ensemble"),
    "HyRe T=1 BALD - uniform": ("HyRe T=1, BALD-active labels", "uniform ensemble"),
    "HyRe auto random - uniform": ("HyRe auto, random labels", "uniform ensemble"),
    "HyRe evidence random - uniform": ("HyRe evidence, random labels", "uniform ensemble"),
    "HyRe auto - HyRe T=1 (random)": ("HyRe auto, random labels", "HyRe T=1, random labels"),
    "HyRe evidence - HyRe T=1 (random)": (
        "HyRe evidence, random labels",
        "HyRe T=1, random labels",
    ),
    "HyRe T=1: BALD - random labels": (
        "HyRe T=1, BALD-active labels",
        "HyRe T=1, random labels",
    ),
    "HyRe T=1 random - logistic regression": (
        "HyRe T=1, random labels",
        "logistic regression on the N labels",
    ),
    "HyRe T=1 BALD - logistic regression": (
        "HyRe T=1, BALD-active labels",
        "logistic regression on the N labels",
    ),
}


def member_diagnostics(P: np.ndarray) -> dict:
    """How sharp and how diverse the members are on the test inputs."""
    H = (P[:, :, 1] > 0.5).astype(np.float64)  # (K, n) hard votes
    n = H.shape[1]
    D = (H @ (1 - H).T + (1 - H) @ H.T) / n
    K = H.shape[0]
    off = D[~np.eye(K, dtype=bool)]
    return {
        "mean_confidence": float(np.mean(np.abs(2 * P[:, :, 1] - 1))),
        "mean_pairwise_disagreement": float(off.mean()),
    }


def study_a(cfg: dict, progress) -> dict:
    from sklearn.base import clone

    from skhyre import HyReClassifier
    from skhyre.baselines import best_member_oracle
    from skhyre.datasets import make_preference_labelers

    ns = cfg["a_n_labels"]
    trainings = ("pooled", "by_group")
    scores = {t: {m: [] for m in A_METHODS} for t in trainings}
    diagnostics = {t: [] for t in trainings}
    temps: dict = {t: {n: [] for n in ns} for t in trainings}
    fit_seconds = {t: [] for t in trainings}
    base = HyReClassifier(max_epochs=cfg["a_epochs"], **A_MODEL)
    for seed in range(cfg["a_seeds"]):
        data = make_preference_labelers(
            n_samples=2000,
            n_features=2,
            n_labelers=100,
            n_test_labelers=cfg["a_test_labelers"],
            n_test_samples=500,
            random_state=seed,
        )
        Xt = data.X_test
        single = clone(base).set_params(n_members=1, prior_scale=0.0, random_state=seed)
        single_pred = single.fit(data.X, data.y).predict(Xt)
        for training in trainings:
            model = clone(base).set_params(random_state=seed, training=training)
            t0 = time.perf_counter()
            if training == "pooled":
                model.fit(data.X, data.y)
            else:
                model.fit(data.X, data.y, groups=data.groups)
            fit_seconds[training].append(time.perf_counter() - t0)
            P = model.predict_members(Xt).astype(np.float64)
            K = P.shape[0]
            uniform_w = np.full(K, 1.0 / K)
            diagnostics[training].append(member_diagnostics(P))
            rng = np.random.default_rng([seed, 7])
            acc = {m: np.zeros((data.y_test.shape[0], len(ns))) for m in A_METHODS}
            for j, yt in enumerate(data.y_test):
                for c, n in enumerate(ns):
                    idx = rng.choice(Xt.shape[0], size=n, replace=False)
                    rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
                    yr = yt[rest]
                    model.set_params(temperature=1.0).adapt(Xt[idx], yt[idx])
                    acc["HyRe T=1, random labels"][j, c] = accuracy_of(
                        P[:, rest], model.weights_, yr
                    )
                    model.set_params(temperature="auto").adapt(Xt[idx], yt[idx])
                    acc["HyRe auto, random labels"][j, c] = accuracy_of(
                        P[:, rest], model.weights_, yr
                    )
                    temps[training][n].append(float(model.temperature_))
                    model.set_params(temperature="evidence").adapt(Xt[idx], yt[idx])
                    acc["HyRe evidence, random labels"][j, c] = accuracy_of(
                        P[:, rest], model.weights_, yr
                    )
                    model.set_params(temperature=1.0).reset_weights()
                    model.active_adapt(Xt, yt, n_queries=n, criterion="bald")
                    rest_a = np.setdiff1d(np.arange(Xt.shape[0]), model.queried_indices_)
                    acc["HyRe T=1, BALD-active labels"][j, c] = accuracy_of(
                        P[:, rest_a], model.weights_, yt[rest_a]
                    )
                    model.reset_weights()
                    acc["uniform ensemble"][j, c] = accuracy_of(P[:, rest], uniform_w, yr)
                    acc["single network"][j, c] = float(np.mean(single_pred[rest] == yr))
                    k = best_member_oracle(P[:, rest], yr, loss="zero_one")
                    acc["best member (oracle)"][j, c] = float(np.mean(P[k, rest].argmax(1) == yr))
                    acc["logistic regression on the N labels"][j, c] = float(
                        np.mean(logreg_on_labels(Xt[idx], yt[idx], Xt[rest]) == yr)
                    )
            for m in A_METHODS:
                scores[training][m].append(acc[m].mean(axis=0))  # mean over labelers
            progress.update(1)
    out = {
        "n_labels": list(ns),
        "n_seeds": cfg["a_seeds"],
        "n_test_labelers_per_seed": cfg["a_test_labelers"],
        "model": {**A_MODEL, "max_epochs": cfg["a_epochs"], "ensemble": "shared_base"},
        "single_network": "HyReClassifier(n_members=1, prior_scale=0), pooled, same training",
        "accuracy": {},
        "member_diagnostics": {},
        "auto_temperature_median": {},
        "fit_seconds_median": {},
    }
    for t in trainings:
        out["accuracy"][t] = {m: seed_stats(scores[t][m]) for m in A_METHODS}
        out["member_diagnostics"][t] = {
            k: float(np.mean([d[k] for d in diagnostics[t]])) for k in diagnostics[t][0]
        }
        out["auto_temperature_median"][t] = {str(n): float(np.median(temps[t][n])) for n in ns}
        out["fit_seconds_median"][t] = float(np.median(fit_seconds[t]))
    return out


def plot_a(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    from skhyre.plotting import plot_learning_curve

    trainings = list(res["accuracy"])
    fig, axes = plt.subplots(1, len(trainings), figsize=(6.2 * len(trainings), 4.4), sharey=True)
    for ax, t in zip(np.atleast_1d(axes), trainings):
        for m in A_METHODS:
            s = res["accuracy"][t][m]
            plot_learning_curve(res["n_labels"], s["mean"], ax=ax, label=m, std=s["std"])
        ax.set_xscale("log")
        ax.set_xticks(res["n_labels"])
        ax.set_xticklabels([str(n) for n in res["n_labels"]])
        diag = res["member_diagnostics"][t]
        ax.set_title(
            f"training={t!r}: member confidence {diag['mean_confidence']:.2f}, "
            f"pairwise disagreement {diag['mean_pairwise_disagreement']:.2f}",
            fontsize=9,
        )
        ax.set_xlabel("labels from the new labeler (N)")
        ax.legend(fontsize=7, loc="lower right")
    np.atleast_1d(axes)[0].set_ylabel("accuracy on the labeler's other points")
    fig.suptitle(
        f"Personalizing to unseen linear labelers (d=2), mean ± std over "
        f"{res['n_seeds']} seeds x {res['n_test_labelers_per_seed']} labelers",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- study (b)
B_METHODS = (
    "HyRe T=1, random labels",
    "HyRe T=1, BALD-active labels",
    "HyRe auto, random labels",
    "HyRe evidence, random labels",
    "fine-tuning, random labels",
    "fine-tuning, HyRe's BALD labels",
    "uniform ensemble (no adaptation)",
    "best member (oracle)",
)


#: Paired differences (same seed, same N): HyRe against the uniform ensemble and
#: between its temperature rules.
B_PAIRS_HYRE = {
    "HyRe T=1 random - uniform": ("HyRe T=1, random labels", "uniform ensemble (no adaptation)"),
    "HyRe T=1 BALD - uniform": ("HyRe T=1, BALD-active labels", "uniform ensemble (no adaptation)"),
    "HyRe auto random - uniform": ("HyRe auto, random labels", "uniform ensemble (no adaptation)"),
    "HyRe evidence random - uniform": (
        "HyRe evidence, random labels",
        "uniform ensemble (no adaptation)",
    ),
    "HyRe auto - HyRe T=1 (random)": ("HyRe auto, random labels", "HyRe T=1, random labels"),
    "HyRe evidence - HyRe T=1 (random)": (
        "HyRe evidence, random labels",
        "HyRe T=1, random labels",
    ),
    "fine-tuning random - uniform": (
        "fine-tuning, random labels",
        "uniform ensemble (no adaptation)",
    ),
}

#: Paired differences (same seed, same N): HyRe minus fine-tuning.
B_PAIRS = {
    "HyRe random - fine-tuning random (same labels)": (
        "HyRe T=1, random labels",
        "fine-tuning, random labels",
    ),
    "HyRe BALD - fine-tuning on the same BALD labels": (
        "HyRe T=1, BALD-active labels",
        "fine-tuning, HyRe's BALD labels",
    ),
    "HyRe BALD - fine-tuning random": (
        "HyRe T=1, BALD-active labels",
        "fine-tuning, random labels",
    ),
}


def study_b(cfg: dict, progress) -> dict:
    from sklearn.base import clone

    from skhyre import HyReClassifier
    from skhyre.datasets import make_shifted_binary

    ns = cfg["b_n_labels"]
    scores = {m: [] for m in B_METHODS}
    adapt_s, finetune_s, temps = [], [], {n: [] for n in ns}
    base = HyReClassifier(max_epochs=cfg["b_epochs"], **B_MODEL)
    for seed in range(cfg["b_seeds"]):
        data = make_shifted_binary(n_samples=500, n_features=2, n_target=1000, random_state=seed)
        X, y, Xt, yt = data.X, data.y, data.X_target, data.y_target
        model = clone(base).set_params(random_state=seed).fit(X, y)
        P = model.predict_members(Xt).astype(np.float64)
        K = P.shape[0]
        rng = np.random.default_rng([seed, 11])
        row = {m: [] for m in B_METHODS}
        for n in ns:
            idx = rng.choice(Xt.shape[0], size=n, replace=False)
            rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
            t0 = time.perf_counter()
            model.set_params(temperature=1.0).adapt(Xt[idx], yt[idx])
            adapt_s.append(time.perf_counter() - t0)
            row["HyRe T=1, random labels"].append(accuracy_of(P[:, rest], model.weights_, yt[rest]))
            model.set_params(temperature="auto").adapt(Xt[idx], yt[idx])
            temps[n].append(float(model.temperature_))
            row["HyRe auto, random labels"].append(
                accuracy_of(P[:, rest], model.weights_, yt[rest])
            )
            model.set_params(temperature="evidence").adapt(Xt[idx], yt[idx])
            row["HyRe evidence, random labels"].append(
                accuracy_of(P[:, rest], model.weights_, yt[rest])
            )
            model.set_params(temperature=1.0).reset_weights()
            model.active_adapt(Xt, yt, n_queries=n, criterion="bald")
            q = model.queried_indices_
            rest_q = np.setdiff1d(np.arange(Xt.shape[0]), q)
            row["HyRe T=1, BALD-active labels"].append(
                accuracy_of(P[:, rest_q], model.weights_, yt[rest_q])
            )
            model.reset_weights()
            row["uniform ensemble (no adaptation)"].append(
                accuracy_of(P[:, rest], np.full(K, 1.0 / K), yt[rest])
            )
            member_acc = np.mean(P[:, rest].argmax(axis=2) == yt[rest], axis=1)
            row["best member (oracle)"].append(float(member_acc.max()))
            for name, sel, ev in (
                ("fine-tuning, random labels", idx, rest),
                ("fine-tuning, HyRe's BALD labels", q, rest_q),
            ):
                # continue training the fitted ensemble (its parameters and
                # optimizer state) with the adaptation rows added to the training set
                tuned = copy.deepcopy(model).set_params(max_epochs=cfg["b_finetune_epochs"])
                t0 = time.perf_counter()
                tuned.partial_fit(np.vstack([X, Xt[sel]]), np.concatenate([y, yt[sel]]))
                finetune_s.append(time.perf_counter() - t0)
                row[name].append(float(tuned.score(Xt[ev], yt[ev])))
            progress.update(1)
        for m in B_METHODS:
            scores[m].append(row[m])
    return {
        "n_labels": list(ns),
        "n_seeds": cfg["b_seeds"],
        "model": {**B_MODEL, "max_epochs": cfg["b_epochs"], "ensemble": "shared_base"},
        "fine_tuning": f"the fitted ensemble trained {cfg['b_finetune_epochs']} more epochs "
        "(`partial_fit`: same parameters and optimizer state, every member) on the 500 "
        "training rows plus the N adaptation rows; uniform weights",
        "accuracy": {m: seed_stats(scores[m]) for m in B_METHODS},
        "paired_difference": {
            name: seed_stats(np.asarray(scores[h]) - np.asarray(scores[f]))
            for name, (h, f) in B_PAIRS.items()
        },
        "per_seed": {m: [list(map(float, r)) for r in scores[m]] for m in B_METHODS},
        "auto_temperature_median": {str(n): float(np.median(v)) for n, v in temps.items()},
        "hyre_adapt_seconds_median": float(np.median(adapt_s)),
        "finetune_seconds_median": float(np.median(finetune_s)),
    }


def plot_b(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    from skhyre.plotting import plot_learning_curve

    fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(13.0, 4.8))
    for m in B_METHODS:
        plot_learning_curve(res["n_labels"], res["accuracy"][m]["mean"], ax=ax, label=m)
        if m.startswith("fine-tuning"):
            ax.lines[-1].set_linestyle("--")
    ax.set_ylabel("target accuracy (other target points)")
    ax.set_title(
        f"Mean over {res['n_seeds']} seeds (each seed a different target boundary). "
        f"HyRe adapts in {1e3 * res['hyre_adapt_seconds_median']:.1f} ms,\n"
        f"a fine-tuning run takes {res['finetune_seconds_median']:.1f} s (medians)",
        fontsize=9,
    )
    acc = _with_per_seed(res)
    for name, (h, f) in B_PAIRS.items():
        vs = verdicts(acc[h], acc[f])
        plot_learning_curve(
            res["n_labels"],
            [v.mean for v in vs],
            ax=ax_d,
            label=name,
            std=[v.hi - v.mean for v in vs],  # the t-interval is symmetric
            ylabel="accuracy difference",
        )
    ax_d.axhline(0.0, color="black", linewidth=0.8)
    ax_d.set_title(
        "Paired difference, HyRe minus fine-tuning (mean and 95% t-interval over seeds;\n"
        "an interval above 0: HyRe better, holding 0: level)",
        fontsize=9,
    )
    for a in (ax, ax_d):
        a.set_xscale("log")
        a.set_xticks(res["n_labels"])
        a.set_xticklabels([str(n) for n in res["n_labels"]])
        a.set_xlabel("target labels (N)")
        a.legend(fontsize=7, loc="lower right" if a is ax else "best")
    fig.suptitle("HyRe vs fine-tuning on the shifted binary task (d=2)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- study (c)
def study_c(cfg: dict, seed: int = 0) -> dict:
    from skhyre import HyReRegressor
    from skhyre.datasets import make_gp_functions
    from skhyre.decomposition import EnsemblePCA

    gp = make_gp_functions(n_functions=1, n_points=C_GRID, length_scale=0.3, random_state=seed)
    x, f = gp.x, gp.F[0]
    rng = np.random.default_rng(seed)
    # training points in two clusters, leaving gaps where the task is underspecified
    train_idx = np.sort(
        np.concatenate(
            [
                rng.choice(np.arange(10, 80), C_N_TRAIN // 2, replace=False),
                rng.choice(np.arange(120, 190), C_N_TRAIN - C_N_TRAIN // 2, replace=False),
            ]
        )
    )
    X_grid = x[:, None]
    model = HyReRegressor(
        max_epochs=cfg["c_epochs"],
        batch_size=C_N_TRAIN,
        random_state=seed,
        temperature="auto",
        **C_MODEL,
    )
    t0 = time.perf_counter()
    model.fit(X_grid[train_idx], f[train_idx])
    fit_s = time.perf_counter() - t0
    M = model.predict_members(X_grid).astype(np.float64)
    pca = EnsemblePCA(n_components=3).fit(M)
    full = EnsemblePCA().fit(M)
    candidates = np.setdiff1d(np.arange(C_GRID), train_idx)
    adapt_idx = np.sort(rng.choice(candidates, C_N_ADAPT, replace=False))
    model.adapt(X_grid[adapt_idx], f[adapt_idx])
    w = model.weights_.copy()
    rest = np.setdiff1d(candidates, adapt_idx)
    uniform_rmse = float(np.sqrt(np.mean((M.mean(axis=0)[rest] - f[rest]) ** 2)))
    hyre_rmse = float(np.sqrt(np.mean(((w @ M)[rest] - f[rest]) ** 2)))
    return {
        "x": x,
        "f": f,
        "M": M,
        "pca": pca,
        "weights": w,
        "train_idx": train_idx,
        "adapt_idx": adapt_idx,
        "summary": {
            "n_train": C_N_TRAIN,
            "n_adapt_random": C_N_ADAPT,
            "auto_temperature": float(model.temperature_),
            "model": {
                **C_MODEL,
                "max_epochs": cfg["c_epochs"],
                "batch_size": C_N_TRAIN,
                "ensemble": "shared_base",
            },
            "gp": {"length_scale": 0.3, "n_points": C_GRID, "seed": seed},
            "explained_variance_ratio_top3": pca.explained_variance_ratio_.tolist(),
            "explained_variance_ratio_top3_sum": float(pca.explained_variance_ratio_.sum()),
            "n_components_for_90pct": int(
                np.searchsorted(np.cumsum(full.explained_variance_ratio_), 0.9) + 1
            ),
            "grid_rmse_uniform": uniform_rmse,
            "grid_rmse_hyre": hyre_rmse,
            "effective_members_hyre": float(1.0 / np.sum(w**2)),
            "fit_seconds": fit_s,
        },
    }


def plot_c(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    from skhyre.plotting import plot_components, plot_members

    x, f, M = res["x"], res["f"], res["M"]
    tr, ad = res["train_idx"], res["adapt_idx"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = plot_members(x, M, ax=axes[0], max_members=100)
    ax.plot(x, f, color="C3", linestyle="--", linewidth=1.2, label="GP draw (truth)")
    ax.scatter(x[tr], f[tr], color="C3", zorder=5, s=25, label="training points")
    ax.set_title(f"{M.shape[0]} members fitted on {tr.size} points", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax = plot_components(x, res["pca"], n_components=3, ax=axes[1])
    for i in tr:
        ax.axvline(x[i], color="0.8", linewidth=0.8, zorder=0)
    ax.set_title("first three principal functions (EnsemblePCA)", fontsize=10)
    ax = plot_members(x, M, weights=res["weights"], ax=axes[2], max_members=100)
    ax.plot(x, f, color="C3", linestyle="--", linewidth=1.2, label="GP draw (truth)")
    ax.scatter(x[tr], f[tr], color="C3", zorder=5, s=25)
    ax.scatter(
        x[ad], f[ad], color="C2", marker="s", zorder=6, s=30, label=f"{ad.size} adaptation points"
    )
    s = res["summary"]
    ax.set_title(
        f"HyRe (auto T={s['auto_temperature']:.3g}) after {ad.size} labels: "
        f"RMSE {s['grid_rmse_uniform']:.3f} "
        f"-> {s['grid_rmse_hyre']:.3f}",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- report
def markdown(results: dict, meta: dict) -> str:
    lines: list[str] = []
    a = results.get("a")
    if a is not None:
        head = "| method | " + " | ".join(f"N={n}" for n in a["n_labels"]) + " |"
        sep = "|---|" + "---:|" * len(a["n_labels"])
        for t, acc in a["accuracy"].items():
            d = a["member_diagnostics"][t]
            lines.append(
                f"**(a) Conflicting labelers, training={t!r}** — accuracy on unseen labelers "
                f"(mean ± std over {a['n_seeds']} seeds of the mean over "
                f"{a['n_test_labelers_per_seed']} labelers each). Members: mean confidence "
                f"|2p-1| {d['mean_confidence']:.2f}, mean pairwise disagreement "
                f"{d['mean_pairwise_disagreement']:.2f}."
            )
            lines += ["", head, sep]
            lines += [_pm_row(m, acc[m]) for m in A_METHODS]
            temps = ", ".join(f"N={n}: {_t(v)}" for n, v in a["auto_temperature_median"][t].items())
            lines += ["", f"Median auto temperature: {temps}."]
            table, vs = verdict_table(acc, A_PAIRS, a["n_labels"])
            if vs:
                lines += [
                    "",
                    f"Paired differences in accuracy (training={t!r}; same seeds, labelers and "
                    f"random draws; over {a['n_seeds']} seeds, mean [95% t-interval] and the "
                    f"verdict for the first method): {_tally(vs)}.",
                    "",
                    *table,
                    "",
                ]
            if t == "pooled":
                lines.append(
                    "Pooled labels carry no signal here: the labelers' normals are uniform "
                    "on the circle (agreement=0), so for every x the aggregated label is close "
                    "to a fair coin (P(y=1 | x) = 1/2 in the limit of many labelers; with 100 "
                    "labelers it ranges over about 0.4 to 0.6 with the direction of x). "
                    "Members trained on them stay unconfident "
                    "and differ only through their random priors, so reweighting them has "
                    "little to choose from (NOTES.md: pooled training drifts to the average "
                    f"labeler){_pooled_gain(acc, a['n_labels'])} The paper's claim that sharp "
                    "annotator-like members emerge from aggregate data is not reproduced in "
                    "this setting."
                )
            lines.append("")
    b = results.get("b")
    if b is not None:
        lines.append(
            f"**(b) HyRe vs fine-tuning** (shifted binary, d=2) — target accuracy, mean ± std "
            f"over {b['n_seeds']} seeds. Fine-tuning: {b['fine_tuning']}. HyRe adapts in "
            f"{1e3 * b['hyre_adapt_seconds_median']:.1f} ms (median), a fine-tuning run takes "
            f"{b['finetune_seconds_median']:.1f} s."
        )
        lines += [
            "",
            "| method | " + " | ".join(f"N={n}" for n in b["n_labels"]) + " |",
            "|---|" + "---:|" * len(b["n_labels"]),
        ]
        lines += [_pm_row(m, b["accuracy"][m]) for m in B_METHODS]
        acc_b = _with_per_seed(b)
        for title, pairs in (
            ("HyRe against the uniform ensemble and between its temperature rules", B_PAIRS_HYRE),
            ("HyRe minus fine-tuning", B_PAIRS),
        ):
            table, vs = verdict_table(acc_b, pairs, b["n_labels"])
            if not vs:
                continue
            lines += [
                "",
                f"{title} (paired: same seed and N; over {b['n_seeds']} seeds, mean difference "
                f"in accuracy [95% t-interval] and the verdict for the first method): "
                f"{_tally(vs)}.",
                "",
                *table,
            ]
        lines.append("")
    c = results.get("c")
    if c is not None:
        r = c["explained_variance_ratio_top3"]
        lines.append(
            f"**(c) Function-space PCA** — K={c['model']['n_members']} members fitted on "
            f"{c['n_train']} points of a GP draw (length scale {c['gp']['length_scale']}): "
            f"the first three principal functions explain "
            f"{', '.join(f'{100 * v:.1f}%' for v in r)} of the members' variance "
            f"({100 * c['explained_variance_ratio_top3_sum']:.1f}% together; "
            f"{c['n_components_for_90pct']} components reach 90%). After "
            f"{c['n_adapt_random']} random points of the same draw (one draw: an illustration, "
            "with no interval), HyRe (auto temperature "
            f"{_t(c['auto_temperature'])}) moves the RMSE on the other grid points from "
            f"{c['grid_rmse_uniform']:.3f} (uniform) to "
            f"{c['grid_rmse_hyre']:.3f} "
            f"({c['effective_members_hyre']:.1f} effective members)."
        )
        lines.append("")
    argv = " ".join(meta.get("argv") or [])
    lines.append(
        f"{meta['wall_seconds'] / 60:.1f} min wall on {meta['machine']}; {meta['date']}. "
        f"Generated by `python benchmarks/synthetic.py{' ' + argv if argv else ''}`."
        + (
            f" Report re-rendered from its JSON by `{meta['rerendered']['command']}` on "
            f"{meta['rerendered']['date']}."
            if meta.get("rerendered")
            else ""
        )
    )
    return "\n".join(lines) + "\n"


def _pooled_gain(acc: dict, ns) -> str:
    """The pooled members' personalization, read from the verdicts against uniform."""
    pairs = {k: v for k, v in A_PAIRS.items() if k.endswith("- uniform")}
    found = [
        (v, k, n)
        for k, (a, b) in pairs.items()
        if "per_seed" in acc.get(a, {}) and "per_seed" in acc.get(b, {})
        for v, n in zip(verdicts(acc[a], acc[b]), ns)
    ]
    if not found:
        return "."
    v, k, n = max(found, key=lambda x: x[0].mean)
    return (
        f": against the uniform ensemble HyRe is {_tally(x[0] for x in found)} over the "
        f"{len(found)} cells above, the largest mean gain {v.mean:+.3f} ({k.split(' - ')[0]}, "
        f"N={n}, {v.verdict})."
    )


def _with_per_seed(b: dict) -> dict:
    """Study (b)'s accuracy stats, with per-seed scores taken from ``b["per_seed"]`` where
    an older JSON kept them only there."""
    return {
        m: st
        if "per_seed" in st or m not in b.get("per_seed", {})
        else {**st, "per_seed": b["per_seed"][m]}
        for m, st in b["accuracy"].items()
    }


def _t(v: float) -> str:
    return "∞" if not math.isfinite(v) else f"{v:.3g}"


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer seeds, labelers and epochs")
    p.add_argument("--out", default=str(RESULTS), help="results folder (default: %(default)s)")
    p.add_argument("--studies", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the machine's cores)"
    )
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="re-render the report (synthetic.md) from an earlier run's JSON (no fitting)",
    )
    return p.parse_args(argv)


def rerender(path: Path, out: Path, argv) -> int:
    """``--from-json``: the Markdown report of an earlier run, rendered again from its JSON."""
    payload = json.loads(Path(path).read_text())
    meta = payload["meta"]
    meta["rerendered"] = {
        "command": " ".join(
            ["python benchmarks/synthetic.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    results = {k: payload[k] for k in ("a", "b", "c") if k in payload}
    md = markdown(results, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / "synthetic.md").write_text(md)
    print(md)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        return rerender(args.from_json, Path(args.out), argv)
    import matplotlib
    import torch
    from tqdm.auto import tqdm

    matplotlib.use("Agg")
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
    cfg = dict(QUICK if args.quick else FULL)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "quick": args.quick,
        "machine": machine_info(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "argv": sys.argv[1:] if argv is None else list(argv),
    }
    print(f"Synthetic studies (paper Section 4) on {meta['machine']}", flush=True)
    t_start = time.perf_counter()
    results: dict = {}
    written = []
    total = (
        (cfg["a_seeds"] if "a" in args.studies else 0)
        + (cfg["b_seeds"] * len(cfg["b_n_labels"]) if "b" in args.studies else 0)
        + (1 if "c" in args.studies else 0)
    )
    with tqdm(total=total, desc="synthetic", file=sys.stderr, dynamic_ncols=True) as bar:
        if "a" in args.studies:
            bar.set_postfix_str("(a) conflicting labelers")
            results["a"] = study_a(cfg, bar)
            plot_a(results["a"], out / "synthetic.png")
            written.append("synthetic.png")
        if "b" in args.studies:
            bar.set_postfix_str("(b) HyRe vs fine-tuning")
            results["b"] = study_b(cfg, bar)
            plot_b(results["b"], out / "synthetic_finetune.png")
            written.append("synthetic_finetune.png")
        if "c" in args.studies:
            bar.set_postfix_str("(c) GP function-space PCA")
            c = study_c(cfg)
            plot_c(c, out / "synthetic_gp_pca.png")
            results["c"] = c["summary"]
            written.append("synthetic_gp_pca.png")
            bar.update(1)
    meta["wall_seconds"] = time.perf_counter() - t_start
    md = markdown(results, meta)
    payload = {"benchmark": "synthetic", "meta": meta, **results}
    (out / "synthetic.json").write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")
    (out / "synthetic.md").write_text(md)
    print()
    print(md)
    print(
        f"Wrote synthetic.json, synthetic.md, {', '.join(written)} to {out} "
        f"in {meta['wall_seconds'] / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
