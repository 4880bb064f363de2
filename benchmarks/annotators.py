"""Annotator-aware ensembles (issue 8): personalizing to labelers never seen in training.

Synthetic conflicting labelers (:func:`skhyre.datasets.make_preference_labelers`):
2,000 training points in ``d`` = 2 or 8 dimensions, each labelled by one of
100 random linear labelers whose normals are either independent
(``agreement=0``, the labelers conflict fully) or share a common direction
(``agreement=0.8``, they agree on average). One ensemble per training mode —
``pooled`` (every member sees every label), ``by_group`` (members are split
among the labelers, ``fit(X, y, groups=...)``) and ``mixed`` (own labeler plus
a down-weighted share of everyone else) — is fitted once; then, for each of
20 *unseen* labelers, HyRe reweights its members from ``N`` of that labeler's
labels (random, or chosen one at a time by BALD) and is scored on the
labeler's other points, with :func:`skhyre.evaluation.adaptation_curve`.
Beside it: the uniform ensemble, the best single member (an oracle that peeks
at the test labels) and logistic regression fitted on the same ``N`` labels
alone (the learner with no ensemble).

Five further sections:

- **d=8 variants**: more members (several per labeler), wider networks,
  prior scales, temperatures (including ``"auto"``), ``adapt_loss`` and the
  mixed share, compared on *validation* labelers (other seeds of the
  generator, never the test labelers); the best at N=40 is then run on the
  test seeds.
- **Ceiling**: HyRe over *perfect* hypotheses (the labelers' exact rules,
  100 to 10,000 of them) at d=8, agreement 0: how many hypotheses
  reweighting needs to reach logistic regression.
- **More labelers**: d=8, agreement 0 with 1,000 training labelers of 50
  points each and one ``by_group`` member per labeler (K=1,000).
- **Training cost** of ``by_group`` and ``mixed`` against ``pooled``: same
  data, same epochs, median of repeats, interleaved in one process.
- **Text domains**: ``benchmarks/_text_domains.py`` (``run_domains``), when
  it is importable.

Run ``python benchmarks/annotators.py`` (about 30 min on 2 cores: 15 for the main
grid, the variant study and the cost, about 7 each for the ceiling and the
1,000-labeler section) or
``--quick`` (a smoke run, under 3 min). Writes ``annotators.json``,
``annotators.md`` and ``annotators.png`` to ``--out`` (default
``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS,
    machine_info,
    machine_line,
    md_table,
    paired_verdict,
    write_results,
)

#: The ensembles of every section (the demo's configuration).
MODEL = {
    "max_temperature": None,  # an "auto" arm is the rule, uncapped
    "n_members": 100,
    "hidden_layer_sizes": (32, 32),
    "prior_scale": 3.0,
    "batch_size": 128,
    "lr": 3e-3,
}
DATA = {"n_samples": 2000, "n_labelers": 100, "n_test_samples": 500}
SETTINGS = ((2, 0.0), (2, 0.8), (8, 0.0), (8, 0.8))
TRAININGS = ("pooled", "by_group", "mixed")
VALIDATION_SEED0 = 1000  # validation labelers: generator seeds 1000, 1001, ... (never test seeds)

FULL = {
    "seeds": 3,
    "test_labelers": 20,
    "n_labels": (1, 5, 10, 20, 40),
    "epochs": 40,
    "study_seeds": 2,
    "study_variants": None,  # all of VARIANTS
    "cost_repeats": 5,
}
QUICK = {
    "seeds": 1,
    "test_labelers": 5,
    "n_labels": (1, 5, 10, 20, 40),
    "epochs": 10,
    "study_seeds": 1,
    "study_variants": ("K=100 (base)", "mixed, share 0.01"),
    "cost_repeats": 3,
}

#: d=8 variants (training side): overrides of MODEL and of the training mode.
VARIANTS = {
    "K=100 (base)": {"training": "by_group"},
    "K=300 (3 per labeler)": {"training": "by_group", "n_members": 300},
    "hidden (64, 64)": {"training": "by_group", "hidden_layer_sizes": (64, 64)},
    "prior_scale 10": {"training": "by_group", "prior_scale": 10.0},
    "mixed, share 0.01": {"training": "mixed", "group_share": 0.01},
}
#: d=8 variants (test-time side), tried on every trained variant: (temperature, adapt_loss).
ADAPT_VARIANTS = (
    (1.0, "zero_one"),
    (2.0, "zero_one"),
    (3.0, "zero_one"),
    (5.0, "zero_one"),
    ("auto", "zero_one"),
    ("auto", "log_loss"),
)


def method_names(training: str) -> tuple[str, str, str, str]:
    """Row names of one training mode: HyRe random, HyRe BALD, uniform, oracle."""
    return (
        f"HyRe {training}, random labels",
        f"HyRe {training}, BALD labels",
        f"uniform ensemble ({training})",
        f"best member ({training}) (oracle)",
    )


LR_NAME = "logistic regression on the N labels"


# --------------------------------------------------------------------------- helpers
def make_data(d: int, agreement: float, seed: int, n_test_labelers: int):
    """One draw of the conflicting-labelers generator."""
    from skhyre.datasets import make_preference_labelers

    return make_preference_labelers(
        n_features=d,
        agreement=agreement,
        n_test_labelers=n_test_labelers,
        random_state=seed,
        **DATA,
    )


def draw_seed(seed: int, j: int, d: int, agreement: float) -> int:
    """Seed of unseen labeler ``j``'s random label draws (shared by every method)."""
    ss = np.random.SeedSequence([seed, j, d, round(100 * agreement)])
    return int(ss.generate_state(1)[0])


def random_draws(n_pool: int, ns, seed: int) -> list[np.ndarray]:
    """The label indices :func:`skhyre.evaluation.adaptation_curve` draws with ``seed``.

    ``adaptation_curve(..., criterion="random", n_repeats=1, random_state=seed)``
    draws ``RandomState(seed).choice(n_pool, N, replace=False)`` for each ``N``
    in turn; :func:`evaluate_model` checks that the two agree.
    """
    rng = np.random.RandomState(seed)
    return [rng.choice(n_pool, size=n, replace=False) for n in ns]


def logreg_accuracy(X, y, X_eval, y_eval) -> tuple[float, bool]:
    """Accuracy of logistic regression fitted on ``(X, y)`` alone.

    With one class among the ``N`` labels (always at ``N=1``), logistic
    regression cannot be fitted; it then predicts that class everywhere (the
    maximum-likelihood answer from those labels). Returns the accuracy and
    whether this fallback was used.
    """
    from sklearn.linear_model import LogisticRegression

    if np.unique(y).size < 2:
        return float(np.mean(y_eval == y[0])), True
    pred = LogisticRegression(C=1.0).fit(X, y).predict(X_eval)
    return float(np.mean(pred == y_eval)), False


def member_diagnostics(P: np.ndarray) -> dict:
    """How sharp (mean |2p-1|) and how diverse (pairwise disagreement) the members are."""
    H = (P[:, :, 1] > 0.5).astype(np.float64)
    n, K = H.shape[1], H.shape[0]
    D = (H @ (1 - H).T + (1 - H) @ H.T) / n
    return {
        "mean_confidence": float(np.mean(np.abs(2 * P[:, :, 1] - 1))),
        "mean_pairwise_disagreement": float(D[~np.eye(K, dtype=bool)].mean()) if K > 1 else 0.0,
    }


def seed_stats(per_seed) -> dict:
    """Mean and std (ddof=1) over seeds (axis 0), one value per N."""
    a = np.asarray(per_seed, dtype=np.float64)
    std = a.std(axis=0, ddof=1) if a.shape[0] > 1 else np.zeros(a.shape[1])
    return {"mean": a.mean(axis=0).tolist(), "std": std.tolist(), "per_seed": a.tolist()}


def fit_model(params: dict, data, seed: int, epochs: int):
    """Fit a HyReClassifier with ``MODEL`` updated by ``params``; returns (model, seconds)."""
    from skhyre import HyReClassifier

    p = {**MODEL, **params}
    training = p.pop("training")
    model = HyReClassifier(max_epochs=epochs, random_state=seed, training=training, **p)
    t0 = time.perf_counter()
    if training == "pooled":
        model.fit(data.X, data.y)
    else:
        model.fit(data.X, data.y, groups=data.groups)
    return model, time.perf_counter() - t0


def evaluate_model(model, data, ns, seeds_j, temperature=1.0, adapt_loss=None) -> dict:
    """Unseen-labeler accuracies of one fitted model, shape (J, len(ns)) each.

    For labeler ``j`` and each ``N``: HyRe on the random draw of
    :func:`random_draws` (``model.adapt``, then the weighted mixture of the
    cached member probabilities, scored on the labeler's other points), the
    uniform ensemble and the best member (oracle) on the same rows; and BALD
    through :func:`~skhyre.evaluation.adaptation_curve`. For the first
    labeler, the random rows are checked against ``adaptation_curve`` with
    the same seed (a float32 mixture there and a float64 one here may split
    an exact tie differently, so up to 2 rows may differ).
    """
    from skhyre.baselines import best_member_oracle
    from skhyre.evaluation import adaptation_curve

    model.set_params(temperature=temperature, adapt_loss=adapt_loss).reset_weights()
    Xt = data.X_test
    P = model.predict_members(Xt).astype(np.float64)
    J, C = data.y_test.shape[0], len(ns)
    out = {k: np.zeros((J, C)) for k in ("random", "bald", "uniform", "oracle")}
    uniform_pred = P.mean(axis=0).argmax(axis=1)
    for j, yt in enumerate(data.y_test):
        for c, idx in enumerate(random_draws(Xt.shape[0], ns, seeds_j[j])):
            rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
            yr = yt[rest]
            model.reset_weights().adapt(Xt[idx], yt[idx])
            mix = np.tensordot(model.weights_, P[:, rest], axes=1)
            out["random"][j, c] = float(np.mean(mix.argmax(axis=1) == yr))
            out["uniform"][j, c] = float(np.mean(uniform_pred[rest] == yr))
            k = best_member_oracle(P[:, rest], yr, loss="zero_one")
            out["oracle"][j, c] = float(np.mean(P[k, rest].argmax(axis=1) == yr))
        model.reset_weights()
        out["bald"][j] = adaptation_curve(
            model, Xt, yt, ns, criterion="bald", random_state=seeds_j[j]
        ).scores[0]
        if j == 0:
            ref = adaptation_curve(model, Xt, yt, ns, criterion="random", random_state=seeds_j[j])
            tol = 2.5 / (Xt.shape[0] - max(ns))
            if not (
                np.allclose(ref.scores[0], out["random"][j], atol=tol)
                and np.allclose(ref.uniform[0], out["uniform"][j], atol=tol)
            ):
                raise RuntimeError(
                    "random_draws no longer reproduces adaptation_curve's label draws "
                    f"({ref.scores[0]} vs {out['random'][j]}): the rows would not be paired."
                )
    model.set_params(temperature=1.0, adapt_loss=None).reset_weights()
    out["diagnostics"] = member_diagnostics(P)
    return out


def evaluate_logreg(data, ns, seeds_j) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression on the same random labels: accuracies and one-class flags (J, C)."""
    Xt = data.X_test
    J, C = data.y_test.shape[0], len(ns)
    acc, one = np.zeros((J, C)), np.zeros((J, C), dtype=bool)
    for j, yt in enumerate(data.y_test):
        for c, idx in enumerate(random_draws(Xt.shape[0], ns, seeds_j[j])):
            rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
            acc[j, c], one[j, c] = logreg_accuracy(Xt[idx], yt[idx], Xt[rest], yt[rest])
    return acc, one


def adapt_grid_accuracy(model, data, ns, seeds_j) -> dict:
    """Random-label accuracy (mean over labelers) for every (temperature, adapt_loss)."""
    Xt = data.X_test
    P = model.predict_members(Xt).astype(np.float64)
    res = {}
    for T, loss in ADAPT_VARIANTS:
        model.set_params(temperature=T, adapt_loss=loss)
        acc = np.zeros((data.y_test.shape[0], len(ns)))
        for j, yt in enumerate(data.y_test):
            for c, idx in enumerate(random_draws(Xt.shape[0], ns, seeds_j[j])):
                rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
                model.reset_weights().adapt(Xt[idx], yt[idx])
                mix = np.tensordot(model.weights_, P[:, rest], axes=1)
                acc[j, c] = float(np.mean(mix.argmax(axis=1) == yt[rest]))
        res[(T, loss)] = acc.mean(axis=0)
    model.set_params(temperature=1.0, adapt_loss=None).reset_weights()
    return res


def setting_key(d: int, agreement: float) -> str:
    return f"d={d}, agreement={agreement:g}"


# --------------------------------------------------------------------------- sections
def main_grid(cfg: dict, bar, fitted: dict) -> dict:
    """Every setting x training mode x seed on the test labelers."""
    ns = cfg["n_labels"]
    res: dict = {}
    for d, agr in SETTINGS:
        key = setting_key(d, agr)
        per_seed: dict = {}
        one_class, diags, fit_s = [], {t: [] for t in TRAININGS}, {t: [] for t in TRAININGS}
        for seed in range(cfg["seeds"]):
            data = make_data(d, agr, seed, cfg["test_labelers"])
            seeds_j = [draw_seed(seed, j, d, agr) for j in range(data.y_test.shape[0])]
            lr_acc, lr_one = evaluate_logreg(data, ns, seeds_j)
            per_seed.setdefault(LR_NAME, []).append(lr_acc.mean(axis=0))
            one_class.append(lr_one.mean(axis=0))
            for training in TRAININGS:
                bar.set_postfix_str(f"{key}, seed {seed}, {training}")
                model, secs = fit_model({"training": training}, data, seed, cfg["epochs"])
                fit_s[training].append(secs)
                if training == "by_group":
                    fitted[(d, agr, seed)] = model
                ev = evaluate_model(model, data, ns, seeds_j)
                diags[training].append(ev["diagnostics"])
                for name, part in zip(
                    method_names(training), ("random", "bald", "uniform", "oracle")
                ):
                    per_seed.setdefault(name, []).append(ev[part].mean(axis=0))
                bar.update(1)
        res[key] = {
            "d": d,
            "agreement": agr,
            "accuracy": {name: seed_stats(v) for name, v in per_seed.items()},
            "logreg_one_class_fraction": np.mean(one_class, axis=0).tolist(),
            "member_diagnostics": {
                t: {k: float(np.mean([x[k] for x in diags[t]])) for k in diags[t][0]}
                for t in TRAININGS
            },
            "fit_seconds_median": {t: float(np.median(v)) for t, v in fit_s.items()},
        }
    return res


def variant_study(cfg: dict, bar) -> dict:
    """d=8 variants on validation labelers; returns every score and the choice per agreement."""
    ns = cfg["n_labels"]
    names = cfg["study_variants"] or tuple(VARIANTS)
    out: dict = {}
    for agr in (0.0, 0.8):
        scores: dict = {}
        for s in range(cfg["study_seeds"]):
            seed = VALIDATION_SEED0 + s
            data = make_data(8, agr, seed, cfg["test_labelers"])
            seeds_j = [draw_seed(seed, j, 8, agr) for j in range(data.y_test.shape[0])]
            lr_acc, _ = evaluate_logreg(data, ns, seeds_j)
            scores.setdefault(("logistic regression", None, None), []).append(lr_acc.mean(0))
            for name in names:
                bar.set_postfix_str(f"d=8 variants, agreement {agr:g}, {name}")
                model, _ = fit_model(VARIANTS[name], data, seed, cfg["epochs"])
                for (T, loss), acc in adapt_grid_accuracy(model, data, ns, seeds_j).items():
                    scores.setdefault((name, T, loss), []).append(acc)
                bar.update(1)
        rows = []
        for (name, T, loss), v in scores.items():
            rows.append(
                {
                    "variant": name,
                    "temperature": T,
                    "adapt_loss": loss,
                    "mean": np.mean(v, axis=0).tolist(),
                }
            )
        hyre = [r for r in rows if r["temperature"] is not None]
        best = max(hyre, key=lambda r: r["mean"][-1])  # selection: validation accuracy at max N
        out[f"agreement={agr:g}"] = {
            "agreement": agr,
            "validation_seeds": [VALIDATION_SEED0 + s for s in range(cfg["study_seeds"])],
            "rows": rows,
            "chosen": {k: best[k] for k in ("variant", "temperature", "adapt_loss")},
        }
    return out


def tuned_on_test(cfg: dict, study: dict, grid: dict, fitted: dict, bar) -> None:
    """Run each agreement's chosen d=8 variant on the test seeds; adds rows to ``grid``."""
    ns = cfg["n_labels"]
    for entry in study.values():
        agr = entry["agreement"]
        ch = entry["chosen"]
        per: dict = {"random": [], "bald": []}
        for seed in range(cfg["seeds"]):
            bar.set_postfix_str(f"d=8, agreement {agr:g}: chosen variant on test seeds")
            data = make_data(8, agr, seed, cfg["test_labelers"])
            seeds_j = [draw_seed(seed, j, 8, agr) for j in range(data.y_test.shape[0])]
            params = VARIANTS[ch["variant"]]
            if params == {"training": "by_group"} and (8, agr, seed) in fitted:
                model = fitted[(8, agr, seed)]  # same fit as the main grid's by_group
            else:
                model, _ = fit_model(params, data, seed, cfg["epochs"])
            ev = evaluate_model(model, data, ns, seeds_j, ch["temperature"], ch["adapt_loss"])
            per["random"].append(ev["random"].mean(axis=0))
            per["bald"].append(ev["bald"].mean(axis=0))
            bar.update(1)
        label = f"{ch['variant']}, T={ch['temperature']}, {ch['adapt_loss']}"
        acc = grid[setting_key(8, agr)]["accuracy"]
        acc[f"HyRe chosen on validation ({label}), random labels"] = seed_stats(per["random"])
        acc[f"HyRe chosen on validation ({label}), BALD labels"] = seed_stats(per["bald"])


def training_cost(cfg: dict, bar) -> dict:
    """Fit time of by_group and mixed against pooled: same data and epochs, interleaved.

    Wall time and this process's CPU time (``time.process_time``; with one
    torch thread it is the compute itself, less sensitive than wall time to
    other processes on a shared machine).
    """
    data = make_data(8, 0.0, 0, cfg["test_labelers"])
    times: dict = {t: [] for t in TRAININGS}
    cpu: dict = {t: [] for t in TRAININGS}
    for t in TRAININGS:  # warm-up: first-call allocations, torch kernels
        fit_model({"training": t}, data, 0, cfg["epochs"])
    for r in range(cfg["cost_repeats"]):
        for t in TRAININGS:
            bar.set_postfix_str(f"training cost, repeat {r + 1}, {t}")
            c0 = time.process_time()
            times[t].append(fit_model({"training": t}, data, r, cfg["epochs"])[1])
            cpu[t].append(time.process_time() - c0)
        bar.update(1)
    med = {t: float(np.median(v)) for t, v in times.items()}
    med_cpu = {t: float(np.median(v)) for t, v in cpu.items()}
    return {
        "data": "d=8, agreement=0, seed 0: 2,000 rows, 100 labelers",
        "max_epochs": cfg["epochs"],
        "repeats": cfg["cost_repeats"],
        "seconds": times,
        "median_seconds": med,
        "ratio_to_pooled": {t: med[t] / med["pooled"] for t in TRAININGS},
        "cpu_seconds": cpu,
        "median_cpu_seconds": med_cpu,
        "cpu_ratio_to_pooled": {t: med_cpu[t] / med_cpu["pooled"] for t in TRAININGS},
    }


def text_domains(quick: bool, seeds, out: Path) -> dict:
    """The text-domain section from ``_text_domains.run_domains``, if it is there."""
    try:
        from _text_domains import run_domains
    except ImportError as exc:
        return {
            "available": False,
            "markdown": "Text-domain section: run `benchmarks/preferences.py` "
            f"(`benchmarks/_text_domains.py` is not importable here: {exc}).",
        }
    try:
        res = run_domains(quick=quick, seeds=seeds, out=out)
    except Exception as exc:  # keep the synthetic results; the error goes in the report
        traceback.print_exc()
        return {
            "available": True,
            "error": repr(exc),
            "markdown": f"Text-domain section failed: `{exc!r}`.",
        }
    return {"available": True, **res}


# --------------------------------------------------------------------------- ceiling
#: Hypothesis-set sizes of the ceiling section (the first is the training labelers).
CEILING_MEMBERS = (100, 300, 1000, 3000, 10000)
#: Temperatures tried in the ceiling section (the best on the test labelers is kept).
CEILING_TEMPERATURES = (0.5, 1.0, 2.0, 3.0, 5.0)


def ceiling_members(data, n_members: int, seed: int) -> np.ndarray:
    """Unit normals of ``n_members`` perfect hypotheses, ``(M, d)``.

    The first are the training labelers' own normals; the others are fresh
    labelers drawn as the generator draws them (``agreement=0``: uniform on
    the sphere), so a larger set contains every smaller one.
    """
    W = np.asarray(data.labeler_weights, dtype=np.float64)
    extra = max(0, n_members - W.shape[0])
    rng = np.random.default_rng([seed, 8, 0, 7])
    Z = rng.standard_normal((max(CEILING_MEMBERS), W.shape[1]))[:extra]
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    return np.vstack([W, Z])[:n_members]


def hard_bald_curve(P1: np.ndarray, y: np.ndarray, ns, temperature: float) -> np.ndarray:
    """HyRe accuracy after N BALD-chosen labels, members that are hard rules.

    ``P1`` (M, n) holds each member's P(y=1) in {0, 1}. Labels are queried one
    at a time by :func:`skhyre.acquisition.bald` (members' own entropies are 0),
    the weights come from :class:`skhyre.HypothesisWeights` with the 0-1 loss,
    and the mixture is scored on the points not queried.
    """
    from skhyre import HypothesisWeights
    from skhyre.acquisition import bald

    M, n = P1.shape
    P = np.stack([1.0 - P1, P1], axis=2)
    zeros = np.zeros((M, n))
    hw = HypothesisWeights(M, temperature=temperature)
    chosen: list[int] = []
    acc = []
    for N in range(1, max(ns) + 1):
        scores = bald(P, hw.weights, member_entropies=zeros, check_input=False)
        scores[chosen] = -np.inf
        i = int(np.argmax(scores))
        chosen.append(i)
        hw.update((P1[:, [i]] != y[i]).astype(np.float64))
        if N in ns:
            rest = np.setdiff1d(np.arange(n), chosen)
            mix = hw.weights @ P1[:, rest]
            acc.append(float(np.mean((mix > 0.5) == y[rest])))
    return np.asarray(acc)


def ceiling(cfg: dict, bar=None) -> dict:
    """HyRe over *perfect* hypotheses at d=8, agreement 0: how far can reweighting go?

    Members are the labelers' exact rules (``1[w . x > 0]``): first the
    training labelers themselves (M=100, members no training could beat),
    then up to 10,000 labelers drawn like them. For each unseen labeler of
    the test seeds, HyRe (0-1 loss) on the same random draws as the main
    table, and on BALD-chosen labels, for every temperature of
    :data:`CEILING_TEMPERATURES`; the temperature best at the largest N on
    the test labelers themselves is kept (an optimistic choice), next to the
    best member (oracle) and logistic regression on the same draws.
    """
    from skhyre import HypothesisWeights

    ns = list(cfg["n_labels"])
    d, agr = 8, 0.0
    sizes = cfg.get("ceiling_members", CEILING_MEMBERS)
    temps = CEILING_TEMPERATURES
    acc = {m: {(kind, T): [] for kind in ("random", "bald") for T in temps} for m in sizes}
    oracle = {m: [] for m in sizes}
    lr = []
    for seed in range(cfg["seeds"]):
        data = make_data(d, agr, seed, cfg["test_labelers"])
        seeds_j = [draw_seed(seed, j, d, agr) for j in range(data.y_test.shape[0])]
        Xt = data.X_test
        lr.append(evaluate_logreg(data, ns, seeds_j)[0].mean(axis=0))
        for m in sizes:
            if bar is not None:
                bar.set_postfix_str(f"ceiling, seed {seed}, M={m}")
            P1 = (ceiling_members(data, m, seed) @ Xt.T > 0).astype(np.float64)
            per = {k: np.zeros((data.y_test.shape[0], len(ns))) for k in acc[m]}
            orc = np.zeros(data.y_test.shape[0])
            for j, yt in enumerate(data.y_test):
                orc[j] = float(np.max(np.mean(P1 == yt, axis=1)))
                for c, idx in enumerate(random_draws(Xt.shape[0], ns, seeds_j[j])):
                    rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
                    hw = HypothesisWeights(m).update((P1[:, idx] != yt[idx]).astype(np.float64))
                    for T in temps:
                        mix = hw.weights_at(T) @ P1[:, rest]
                        per[("random", T)][j, c] = float(np.mean((mix > 0.5) == yt[rest]))
                for T in temps:
                    per[("bald", T)][j] = hard_bald_curve(P1, yt, ns, T)
            for k, v in per.items():
                acc[m][k].append(v.mean(axis=0))
            oracle[m].append(orc.mean())
            if bar is not None:
                bar.update(1)
    rows = []
    for m in sizes:
        for kind in ("random", "bald"):
            best = max(temps, key=lambda T: np.mean(acc[m][(kind, T)], axis=0)[-1])
            rows.append(
                {
                    "members": m,
                    "labels": kind,
                    "temperature": best,
                    **seed_stats(acc[m][(kind, best)]),
                    "all_temperatures": {
                        str(T): np.mean(acc[m][(kind, T)], axis=0).tolist() for T in temps
                    },
                }
            )
        rows.append({"members": m, "labels": "oracle", **seed_stats([[o] for o in oracle[m]])})
    return {
        "setting": setting_key(d, agr),
        "rows": rows,
        "logreg": seed_stats(lr),
        "temperatures": list(temps),
    }


def ceiling_markdown(c: dict, ns, trained: dict | None = None) -> list[str]:
    """The ceiling section of the report (``trained``: the main table's by_group BALD
    row of the same setting, :func:`seed_stats`, for comparison)."""
    lr = c["logreg"]
    last = len(ns) - 1
    L = [
        f"## Ceiling: HyRe over perfect hypotheses ({c['setting']})",
        "",
        "Why the d=8 target is missed with 100 training labelers. Here the members are the labelers' **exact rules** "
        "(`1[w . x > 0]`): first the 100 training labelers themselves (members that no "
        "training could beat), then up to 10,000 labelers drawn the same way. HyRe with the "
        "0-1 loss on the same unseen labelers and random draws as the tables above, and on "
        "BALD-chosen labels; for each row the temperature best at N="
        f"{ns[-1]} among {c['temperatures']} *on the test labelers* is kept (an optimistic "
        "choice). `best member (oracle)` is the closest rule to the unseen labeler, scored on "
        "all its test points (the same for every N). The last column: the row minus logistic "
        f"regression at N={ns[-1]}, paired over the seeds (mean [95% t-interval], verdict).",
        "",
    ]
    head = ["hypotheses", "labels", "T"] + [f"N={n}" for n in ns]
    head.append(f"minus logistic regression, N={ns[-1]}")
    body = [["logistic regression on the N labels", "random", "", *_cells(lr), ""]]
    vs = {}
    for r in c["rows"]:
        if r["labels"] == "oracle":
            cell = _cells(r)[0]
            body.append(
                [f"{r['members']} exact rules", "best member (oracle)", ""]
                + [cell] * len(ns)
                + [""]
            )
        else:
            v = vs[(r["members"], r["labels"])] = verdict_at(r, lr, last)
            body.append(
                [
                    f"{r['members']} exact rules",
                    r["labels"],
                    f"{r['temperature']:g}",
                    *_cells(r),
                    vcell(v),
                ]
            )
    L += [md_table(head, body), ""]
    first = next(r for r in c["rows"] if r["labels"] == "bald")
    v_first = vs[(first["members"], "bald")]
    reach = [
        r
        for r in c["rows"]
        if r["labels"] == "bald" and vs[(r["members"], "bald")].verdict != "worse"
    ]
    per = DATA["n_samples"] // DATA["n_labelers"]
    trained_txt = ""
    if trained is not None:
        v = verdict_at(trained, first, last)
        word = {"worse": "below", "level": "level with", "better": "above"}[v.verdict]
        trained_txt = (
            f" The trained by_group members of the {c['setting']} table reach "
            f"{trained['mean'][last]:.3f} (BALD, N={ns[-1]}; minus the {first['members']} exact "
            f"rules: {vcell(v)}): {word} this ceiling, since each learns its labeler from "
            f"only {per} points."
        )
    L.append(
        f"With the {first['members']} training labelers as perfect members, HyRe (BALD) "
        f"reaches {first['mean'][last]:.3f} at N={ns[-1]} against logistic regression's "
        f"{lr['mean'][last]:.3f} ({vcell(v_first)}): reweighting a set of hypotheses cannot "
        "beat a learner that searches the whole linear class unless the set holds rules "
        "close to the new labeler, and in 8 dimensions that takes "
        + (
            f"about {reach[0]['members']:,} of them (the first size whose BALD row is not "
            f"worse than it here: {vs[(reach[0]['members'], 'bald')].verdict})."
            if reach
            else f"more than {c['rows'][-1]['members']:,} of them."
        )
        + trained_txt
        + " Two things limit HyRe here, then: how many hypotheses there are and how well "
        "each is learned; the next section trains many well-learned ones."
    )
    return [*L, ""]


# --------------------------------------------------------------------------- scaled
#: The d=8, agreement-0 setting with many more labelers (and labels per labeler).
SCALED = {
    "data": {"n_samples": 50_000, "n_labelers": 1000, "n_test_samples": 500},
    "model": {
        "training": "by_group",
        "n_members": 1000,
        "hidden_layer_sizes": (64, 64),
        "batch_size": 256,
    },
    "epochs": 20,
    # the test-time choice of the d=8 variant study on validation labelers
    "temperature": 3.0,
    "adapt_loss": "zero_one",
}
SCALED_QUICK = {
    **SCALED,
    "data": {"n_samples": 6000, "n_labelers": 200, "n_test_samples": 500},
    "model": {**SCALED["model"], "n_members": 200},
    "epochs": 5,
}


def scaled(cfg: dict, bar=None, quick: bool = False) -> dict:
    """d=8, agreement 0 with 1,000 training labelers of 50 points each, K=1,000 by_group.

    The ceiling section shows that reweighting needs a few hundred hypotheses
    near the sphere of labelers to reach logistic regression at d=8; this
    section trains them: one member per training labeler (``by_group``), the
    wider network and the test-time setting (T=3, 0-1 loss) the d=8 variant
    study chose on validation labelers, scored on the test seeds' unseen
    labelers exactly like the main table (same random draws, BALD through
    :func:`~skhyre.evaluation.adaptation_curve`).
    """
    from skhyre.datasets import make_preference_labelers

    sc = SCALED_QUICK if quick else SCALED
    ns = cfg["n_labels"]
    d, agr = 8, 0.0
    per_seed: dict = {}
    fit_s = []
    for seed in range(cfg["seeds"]):
        if bar is not None:
            bar.set_postfix_str(f"scaled, seed {seed}")
        data = make_preference_labelers(
            n_features=d,
            agreement=agr,
            n_test_labelers=cfg["test_labelers"],
            random_state=seed,
            **sc["data"],
        )
        seeds_j = [draw_seed(seed, j, d, agr) for j in range(data.y_test.shape[0])]
        per_seed.setdefault(LR_NAME, []).append(evaluate_logreg(data, ns, seeds_j)[0].mean(axis=0))
        model, secs = fit_model(sc["model"], data, seed, sc["epochs"])
        fit_s.append(secs)
        ev = evaluate_model(
            model, data, ns, seeds_j, temperature=sc["temperature"], adapt_loss=sc["adapt_loss"]
        )
        for name, part in zip(method_names("by_group"), ("random", "bald", "uniform", "oracle")):
            per_seed.setdefault(name, []).append(ev[part].mean(axis=0))
        if bar is not None:
            bar.update(1)
    model_cfg = {**MODEL, **sc["model"]}
    return {
        "setting": setting_key(d, agr),
        "data": sc["data"],
        "model": {k: list(v) if isinstance(v, tuple) else v for k, v in model_cfg.items()},
        "epochs": sc["epochs"],
        "temperature": sc["temperature"],
        "adapt_loss": sc["adapt_loss"],
        "accuracy": {name: seed_stats(v) for name, v in per_seed.items()},
        "fit_seconds_median": float(np.median(fit_s)),
    }


def scaled_markdown(s: dict, ns) -> list[str]:
    """The scaled section of the report."""
    m, dat = s["model"], s["data"]
    L = [
        f"## More labelers: {s['setting']} with {dat['n_labelers']:,} training labelers",
        "",
        f"{dat['n_samples']:,} training points, each labelled by one of "
        f"{dat['n_labelers']:,} labelers ({dat['n_samples'] // dat['n_labelers']} per labeler); "
        f"`HyReClassifier` `training='by_group'`, K={m['n_members']:,} (one member per "
        f"labeler), hidden {tuple(m['hidden_layer_sizes'])}, prior_scale {m['prior_scale']}, "
        f"{s['epochs']} epochs, batch {m['batch_size']}; at test time T={s['temperature']:g} "
        f"with the {s['adapt_loss']} loss (the d=8 variant study's choice on validation "
        "labelers, not tuned here). Same unseen-labeler protocol as the tables above, on a "
        "new draw of unseen labelers and test points (the generator draws 1,000 training "
        f"labelers first). Median fit: {s['fit_seconds_median']:.0f} s.",
        "",
        md_table(
            ["method"] + [f"N={n}" for n in ns],
            [[name, *_cells(v)] for name, v in s["accuracy"].items()],
        ),
        "",
    ]
    vrows, vs = grid_verdicts(s["accuracy"], ns)
    if vrows:
        n_seeds = len(next(iter(s["accuracy"].values()))["per_seed"])
        L += [
            f"Paired differences in accuracy over {n_seeds} seeds (mean [95% t-interval], "
            f"verdict for the HyRe row): {counts(vs)}.",
            "",
            md_table(["HyRe - reference"] + [f"N={n}" for n in ns], vrows),
            "",
        ]
    return L


# --------------------------------------------------------------------------- report
def _cells(stats: dict) -> list[str]:
    return [f"{m:.3f} ± {s:.3f}" for m, s in zip(stats["mean"], stats["std"])]


def verdict_at(a: dict, b: dict | float, i: int):
    """Paired verdict of ``a`` against ``b`` at the ``i``-th N, over seeds (higher accuracy
    is better). ``a`` and ``b`` are :func:`seed_stats` dicts (``per_seed``: seeds x N) of
    methods scored on the same seeds and draws; a number ``b`` is a fixed bar."""
    av = [row[i] for row in a["per_seed"]]
    bv = [b] * len(av) if isinstance(b, float) else [row[i] for row in b["per_seed"]]
    return paired_verdict(av, bv, higher_is_better=True)


def vcell(v) -> str:
    """A verdict as a report cell: ``+0.012 [-0.004, +0.028] level``."""
    return f"{v.mean:+.3f} [{v.lo:+.3f}, {v.hi:+.3f}] {v.verdict}"


def counts(verdicts) -> str:
    """``"3 better, 5 level, 0 worse"``."""
    words = [v.verdict for v in verdicts]
    return ", ".join(f"{words.count(w)} {w}" for w in ("better", "level", "worse"))


#: How a target reads its verdict: the paired interval above the bar (or the
#: reference), straddling it, or below it.
TARGET_STATUS = {"better": "met", "level": "level", "worse": "missed"}


def _target(text: str, value: float, v, **extra) -> dict:
    return {
        "target": text,
        "value": value,
        "difference": {"mean": v.mean, "lo": v.lo, "hi": v.hi},
        "verdict": v.verdict,
        "status": TARGET_STATUS[v.verdict],
        "met": v.verdict == "better",
        **extra,
    }


def targets(grid: dict, ns, scaled_result: dict | None = None) -> list[dict]:
    """The issue's targets, each read from a paired verdict over seeds.

    A target is ``met`` when the 95% interval of the paired difference (HyRe
    minus the bar or the reference) lies above 0, ``missed`` when it lies below,
    ``level`` when it holds 0. With ``scaled_result`` (the 1,000-labeler section),
    the d=8, agreement-0 target is also checked there, as its own line.
    """
    out = []
    i5, i40 = ns.index(5), ns.index(40)
    for agr in (0.0, 0.8):
        st = grid[setting_key(2, agr)]["accuracy"]["HyRe by_group, BALD labels"]
        out.append(
            _target(
                f"d=2, agreement {agr:g}: HyRe by_group BALD N=5 >= 0.90",
                st["mean"][i5],
                verdict_at(st, 0.90, i5),
            )
        )
    for agr in (0.0, 0.8):
        acc = grid[setting_key(8, agr)]["accuracy"]
        lr = acc[LR_NAME]["mean"][i40]
        # rows fixed in advance (no pick of the best row on the test labelers): the
        # variant chosen on validation labelers if the study ran, else by_group
        chosen = [k for k in acc if k.startswith("HyRe chosen on validation") and "BALD" in k]
        row = chosen[0] if chosen else "HyRe by_group, BALD labels"
        out.append(
            _target(
                f"d=8, agreement {agr:g}: HyRe at N=40 >= logistic regression ({lr:.3f})",
                acc[row]["mean"][i40],
                verdict_at(acc[row], acc[LR_NAME], i40),
                best_row=row,
                by_group_bald=acc["HyRe by_group, BALD labels"]["mean"][i40],
            )
        )
    if scaled_result:
        acc = scaled_result["accuracy"]
        lr = acc[LR_NAME]["mean"][i40]
        row = "HyRe by_group, BALD labels"
        n_lab = scaled_result["data"]["n_labelers"]
        out.append(
            _target(
                f"d=8, agreement 0, {n_lab:,} training labelers (K={n_lab:,}): "
                f"HyRe at N=40 >= logistic regression ({lr:.3f})",
                acc[row]["mean"][i40],
                verdict_at(acc[row], acc[LR_NAME], i40),
                best_row=f"{row}, section 'More labelers'",
            )
        )
    return out


def grid_verdicts(acc: dict, ns) -> tuple[list[list[str]], list]:
    """Rows of paired verdicts for one setting: every HyRe row against the uniform
    ensemble of its training mode and against logistic regression, at every N."""
    rows, flat = [], []
    pairs = []
    for t in TRAININGS:
        rnd, bald, uni, _ = method_names(t)
        pairs += [(h, uni) for h in (rnd, bald) if h in acc and uni in acc]
    pairs += [(h, LR_NAME) for h in acc if h.startswith("HyRe") and LR_NAME in acc]
    for a, b in pairs:
        vs = [verdict_at(acc[a], acc[b], i) for i in range(len(ns))]
        flat += vs
        rows.append([f"{a} - {'logistic regression' if b == LR_NAME else b}", *map(vcell, vs)])
    return rows, flat


def _target_line(t: dict) -> str:
    status = t.get("status", "met" if t["met"] else "missed")
    word = status if status == "met" else f"**{status}**"
    line = f"- {word}: {t['target']} — measured {t['value']:.3f}"
    if "best_row" in t:
        line += f" ({t['best_row']})"
    d = t.get("difference")
    if d is not None:
        what = "logistic regression" if "logistic" in t["target"] else "the bar"
        line += f"; minus {what}: {d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] {t['verdict']}"
    return line


def text_markdown(text: dict) -> str:
    """The text-domain section, rendered again from its rows when the payload has them
    (so a report rewrite picks up the current verdicts), else as stored."""
    rows, cfg = text.get("rows"), text.get("config")
    if not rows or not cfg:
        return text["markdown"]
    from skhyre.studies._pref_report import domain_section

    modes = tuple(dict.fromkeys(r["training"] for r in rows))
    return domain_section(rows, cfg, modes)[0]


def markdown(payload: dict) -> str:
    cfg, meta = payload["config"], payload["meta"]
    ns = cfg["n_labels"]
    head = ["method"] + [f"N={n}" for n in ns]
    L = [
        "# Annotator-aware ensembles: personalizing to unseen labelers (issue 8)",
        "",
        f"Synthetic conflicting labelers (`make_preference_labelers`, {DATA['n_samples']} "
        f"training points, {DATA['n_labelers']} training labelers, each point labelled by one). "
        f"Accuracy on **{cfg['test_labelers']} unseen labelers** per seed, each adapted from N "
        f"of its labels and scored on its other {DATA['n_test_samples']} - N points; mean ± std "
        f"over {cfg['seeds']} seeds (each seed: new labelers, inputs and networks) of the mean "
        f"over labelers. Ensembles: `HyReClassifier` Shared-Base, K={MODEL['n_members']}, hidden "
        f"{MODEL['hidden_layer_sizes']}, prior_scale {MODEL['prior_scale']}, "
        f"{cfg['epochs']} epochs, batch {MODEL['batch_size']}, lr {MODEL['lr']}, temperature 1, "
        "0-1 adaptation loss; `mixed` uses the default `group_share=0.1` (everyone else's "
        "examples carry 10% of a mixed member's training weight, its own labeler's 90%). "
        "BALD rows come from `skhyre.evaluation.adaptation_curve` (one label at a time); random "
        "rows reweight by `adapt` and score the cached member predictions (checked against "
        "`adaptation_curve` on the first labeler of every fit). "
        "Random labels are the same draws for every method of a seed (paired). "
        "`(oracle)` rows peek at the test labels: an upper reference for picking one member, "
        "not a method. Logistic regression (C=1) is fitted on the same N random labels alone; "
        "when those N labels hold one class (always at N=1) it cannot be fitted and predicts "
        "that class everywhere (the fraction of such draws is given under each table).",
        "",
        "## Targets",
        "",
        "Each target reads a paired 95% t-interval over the seeds (HyRe minus the bar or "
        "the reference): met when it lies above 0, missed when below, level when it holds 0.",
        "",
    ]
    L += [_target_line(t) for t in payload["targets"]]
    verdicts = {key: grid_verdicts(s["accuracy"], ns) for key, s in payload["grid"].items()}
    L += [
        "",
        f"Paired verdicts in the {len(verdicts)} tables below (every HyRe row against the "
        "uniform ensemble of its training mode and against logistic regression on the same "
        f"labels, at every N): {counts(v for _, vs in verdicts.values() for v in vs)}.",
        "",
    ]
    for key, s in payload["grid"].items():
        L += [f"## {key}", "", md_table(head, [[m, *_cells(v)] for m, v in s["accuracy"].items()])]
        vrows, vs = verdicts[key]
        L += [
            "",
            f"Paired differences in accuracy over {cfg['seeds']} seeds (mean [95% t-interval], "
            f"verdict for the HyRe row): {counts(vs)}.",
            "",
            md_table(["HyRe - reference"] + [f"N={n}" for n in ns], vrows),
        ]
        one = ", ".join(f"N={n}: {f:.2f}" for n, f in zip(ns, s["logreg_one_class_fraction"]))
        diag = "; ".join(
            f"{t}: confidence {v['mean_confidence']:.2f}, disagreement "
            f"{v['mean_pairwise_disagreement']:.2f}"
            for t, v in s["member_diagnostics"].items()
        )
        L += [
            "",
            f"Logistic regression saw one class in this fraction of draws: {one}. "
            f"Members on the test inputs (mean |2p-1|, mean pairwise disagreement): {diag}.",
            "",
        ]
    study = payload.get("variant_study")
    if study:
        L += [
            "## d=8 variants (validation labelers only)",
            "",
            "Each variant is trained on the validation seeds' data "
            f"({next(iter(study.values()))['validation_seeds']}: other labelers and inputs "
            "than the test seeds) and scored on their unseen labelers with random labels; "
            "every test-time option (temperature, adaptation loss) is tried on each. The "
            f"best at N={ns[-1]} is then run on the test seeds (rows 'chosen on validation' "
            "above). Mean over validation seeds and labelers.",
            "",
        ]
        for sk, entry in study.items():
            rows = sorted(entry["rows"], key=lambda r: -r["mean"][-1])
            L += [
                f"**d=8, {sk}** — chosen: {entry['chosen']['variant']}, "
                f"T={entry['chosen']['temperature']}, {entry['chosen']['adapt_loss']}",
                "",
                md_table(
                    ["variant", "temperature", "adapt_loss", *[f"N={n}" for n in ns]],
                    [
                        [
                            r["variant"],
                            r["temperature"] or "",
                            r["adapt_loss"] or "",
                            *[f"{v:.3f}" for v in r["mean"]],
                        ]
                        for r in rows
                    ],
                ),
                "",
            ]
    if payload.get("ceiling"):
        acc = payload["grid"].get(payload["ceiling"]["setting"], {}).get("accuracy", {})
        L += ceiling_markdown(payload["ceiling"], ns, acc.get("HyRe by_group, BALD labels"))
    if payload.get("scaled"):
        L += scaled_markdown(payload["scaled"], ns)
    cost = payload.get("training_cost")
    if cost:
        L += [
            "## Training cost",
            "",
            f"Fit time on one data set ({cost['data']}), {cost['max_epochs']} epochs, the same "
            f"model; median of {cost['repeats']} fits per mode, modes interleaved in one "
            "process after one warm-up fit each (target: within 1.3x of pooled). CPU time is this "
            "process's (`time.process_time`, one torch thread): on a shared machine it tracks "
            "the compute better than wall time. The machine's load average is in the footer.",
            "",
            md_table(
                [
                    "training",
                    "median wall (s)",
                    "all walls (s)",
                    "wall ratio to pooled",
                    "median CPU (s)",
                    "CPU ratio to pooled",
                ],
                [
                    [
                        t,
                        f"{cost['median_seconds'][t]:.2f}",
                        ", ".join(f"{x:.2f}" for x in cost["seconds"][t]),
                        f"{cost['ratio_to_pooled'][t]:.2f}x",
                        f"{cost['median_cpu_seconds'][t]:.2f}" if "cpu_seconds" in cost else "",
                        f"{cost['cpu_ratio_to_pooled'][t]:.2f}x" if "cpu_seconds" in cost else "",
                    ]
                    for t in TRAININGS
                ],
            ),
            "",
        ]
    text_md = text_markdown(payload["text"]).strip()
    if not text_md.startswith("## "):  # run_domains' section brings its own heading
        L += ["## Text domains", ""]
    L += [text_md, ""]
    syn = meta.get("synthetic_seconds")
    before = "" if syn is None else f" ({syn / 60:.1f} min before the text-domain section)"
    L.append(
        f"{meta['wall_seconds'] / 60:.1f} min wall{before}; {meta['machine_line']}. Generated by "
        f"`python benchmarks/annotators.py{' --quick' if meta['quick'] else ''}`."
    )
    for r in meta.get("reruns", []):
        if r["section"] == "report":
            L.append(
                "Report text rewritten from these results with `--only report` "
                f"({r['machine_line']}); no measurement changed"
                + (
                    "; the paired verdicts computed from the stored seeds."
                    if r.get("verdicts")
                    else "."
                )
            )
            continue
        L.append(
            f"Section '{r['section']}' re-run with `--only {r['section']}` "
            f"({r['seconds'] / 60:.1f} min; {r['machine_line']})."
        )
    return "\n".join(L) + "\n"


def plot(payload: dict, path: Path) -> None:
    """Accuracy vs N, one panel per (d, agreement)."""
    import matplotlib.pyplot as plt

    ns = payload["config"]["n_labels"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5), sharex=True)
    colors = {"pooled": "C0", "by_group": "C1", "mixed": "C2"}
    for ax, (key, s) in zip(axes.ravel(), payload["grid"].items()):
        acc = s["accuracy"]
        for t in TRAININGS:
            rnd, bald, _, orc = method_names(t)
            for name, ls in ((bald, "-"), (rnd, ":")):
                st = acc[name]
                ax.errorbar(
                    ns,
                    st["mean"],
                    yerr=st["std"],
                    color=colors[t],
                    linestyle=ls,
                    marker="o",
                    markersize=3,
                    capsize=2,
                    label=name,
                )
            ax.plot(ns, acc[orc]["mean"], color=colors[t], linestyle="--", linewidth=0.9, label=orc)
        ax.plot(
            ns,
            acc[f"uniform ensemble ({TRAININGS[0]})"]["mean"],
            color="0.5",
            linestyle="-.",
            label="uniform ensemble (pooled)",
        )
        for name in acc:
            if name.startswith("HyRe chosen on validation") and "BALD" in name:
                ax.errorbar(
                    ns,
                    acc[name]["mean"],
                    yerr=acc[name]["std"],
                    color="C3",
                    marker="s",
                    markersize=3,
                    capsize=2,
                    # the chosen variant differs per panel (named in the table)
                    label="HyRe, variant chosen on validation seeds (BALD)",
                )
        st = acc[LR_NAME]
        ax.errorbar(
            ns,
            st["mean"],
            yerr=st["std"],
            color="black",
            marker="^",
            markersize=3,
            capsize=2,
            label=LR_NAME,
        )
        ax.set_xscale("log")
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_ylim(0.4, 1.0)
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_xlabel("labels from the unseen labeler (N)")
        ax.set_ylabel("accuracy on its other points")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7)
    cfg = payload["config"]
    fig.suptitle(
        f"Unseen labelers: mean ± std over {cfg['seeds']} seeds x {cfg['test_labelers']} "
        "labelers (solid: BALD, dotted: random labels, dashed: best member oracle)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(payload: dict) -> None:
    ns = payload["config"]["n_labels"]
    for key, s in payload["grid"].items():
        print(f"\n{key}")
        print(f"{'method':<72}" + "".join(f"{'N=' + str(n):>8}" for n in ns))
        for name, st in s["accuracy"].items():
            print(f"{name[:71]:<72}" + "".join(f"{v:>8.3f}" for v in st["mean"]))
    for t in payload["targets"]:
        print(
            f"{t.get('status', 'met' if t['met'] else 'missed'):<7}{t['target']}: {t['value']:.3f}"
        )


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 seed, 5 labelers, fewer epochs")
    p.add_argument("--out", default=str(RESULTS), help="results folder (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--no-study", action="store_true", help="skip the d=8 variant study")
    p.add_argument("--no-cost", action="store_true", help="skip the training-cost section")
    p.add_argument("--no-text", action="store_true", help="skip the text-domain section")
    p.add_argument(
        "--no-ceiling", action="store_true", help="skip the perfect-hypotheses ceiling section"
    )
    p.add_argument("--no-scaled", action="store_true", help="skip the 1,000-labeler d=8 section")
    p.add_argument(
        "--only",
        choices=("cost", "text", "ceiling", "scaled", "report"),
        default=None,
        help="re-run one section and merge it into the annotators.json already in --out "
        "(written by a run with the same --quick); the report and figure are rewritten "
        "('report': only rewrite them from that JSON)",
    )
    return p.parse_args(argv)


def rerun_section(args, cfg: dict, info: dict, out: Path) -> int:
    """``--only``: re-run one section into an existing payload and rewrite the report."""
    import json

    from tqdm.auto import tqdm

    path = out / "annotators.json"
    if not path.is_file():
        raise SystemExit(f"--only needs a previous full run's {path}.")
    payload = json.loads(path.read_text(encoding="utf-8"))
    if payload["meta"]["quick"] != args.quick:
        raise SystemExit(f"{path} comes from a run with quick={payload['meta']['quick']}.")
    t0 = time.perf_counter()
    if args.only == "report":  # the targets' verdicts are recomputed from the stored seeds
        payload["targets"] = targets(
            payload["grid"], list(payload["config"]["n_labels"]), payload.get("scaled")
        )
        payload["text"]["markdown"] = text_markdown(payload["text"])
    elif args.only == "cost":
        payload["config"]["cost_repeats"] = cfg["cost_repeats"]
        with tqdm(total=cfg["cost_repeats"], desc="training cost", file=sys.stderr) as bar:
            payload["training_cost"] = training_cost(cfg, bar)
    elif args.only == "ceiling":
        total = cfg["seeds"] * len(CEILING_MEMBERS)
        with tqdm(total=total, desc="ceiling", file=sys.stderr) as bar:
            payload["ceiling"] = ceiling(cfg, bar)
    elif args.only == "scaled":
        with tqdm(total=cfg["seeds"], desc="scaled", file=sys.stderr) as bar:
            payload["scaled"] = scaled(cfg, bar, quick=args.quick)
        payload["targets"] = targets(payload["grid"], list(cfg["n_labels"]), payload["scaled"])
    else:
        payload["text"] = text_domains(args.quick, tuple(range(cfg["seeds"])), out)
    payload["meta"].setdefault("reruns", []).append(
        {
            "section": args.only,
            "machine_line": machine_line(info),
            "seconds": time.perf_counter() - t0,
            "verdicts": True,
        }
    )
    write_results("annotators", payload, markdown(payload), out)
    plot(payload, out / "annotators.png")
    if args.only == "cost":
        print(markdown(payload).split("## Training cost")[-1][:1500])
    elif args.only == "ceiling":
        print(markdown(payload).split("## Ceiling")[-1].split("## More labelers")[0])
    return 1 if payload["text"].get("error") else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(max(1, args.threads))
    warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
    cfg = dict(QUICK if args.quick else FULL)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print(f"Annotator-aware ensembles on {machine_line(info)}", flush=True)
    if args.only:
        return rerun_section(args, cfg, info, out)
    n_study = (
        0 if args.no_study else 2 * cfg["study_seeds"] * len(cfg["study_variants"] or VARIANTS)
    )
    total = (
        len(SETTINGS) * cfg["seeds"] * len(TRAININGS)
        + n_study
        + (0 if args.no_study else 2 * cfg["seeds"])
        + (0 if args.no_cost else cfg["cost_repeats"])
        + (0 if args.no_ceiling else cfg["seeds"] * len(CEILING_MEMBERS))
        + (0 if args.no_scaled else cfg["seeds"])
    )
    t0 = time.perf_counter()
    fitted: dict = {}
    payload: dict = {
        "benchmark": "annotators",
        "config": {**cfg, "model": MODEL, "data": DATA, "settings": SETTINGS},
    }
    with tqdm(total=total, desc="annotators", file=sys.stderr, dynamic_ncols=True) as bar:
        payload["grid"] = main_grid(cfg, bar, fitted)
        if not args.no_study:
            payload["variant_study"] = variant_study(cfg, bar)
            tuned_on_test(cfg, payload["variant_study"], payload["grid"], fitted, bar)
        if not args.no_cost:
            payload["training_cost"] = training_cost(cfg, bar)
        if not args.no_ceiling:
            payload["ceiling"] = ceiling(cfg, bar)
        if not args.no_scaled:
            payload["scaled"] = scaled(cfg, bar, quick=args.quick)
    fitted.clear()
    payload["targets"] = targets(payload["grid"], list(cfg["n_labels"]), payload.get("scaled"))
    synthetic_s = time.perf_counter() - t0

    def finish(text: dict) -> None:
        payload["text"] = text
        payload["meta"] = {
            "quick": args.quick,
            "machine": info,
            "machine_line": machine_line(info),
            "torch_threads": torch.get_num_threads(),
            "synthetic_seconds": synthetic_s,
            "wall_seconds": time.perf_counter() - t0,
            "argv": sys.argv[1:] if argv is None else list(argv),
        }
        write_results("annotators", payload, markdown(payload), out)

    if args.no_text:
        finish({"available": None, "markdown": "Text-domain section skipped (--no-text)."})
    else:  # write the synthetic results first: the text section can take a while
        finish({"available": None, "markdown": "Text-domain section: still running."})
        plot(payload, out / "annotators.png")
        print("text-domain section ...", flush=True)
        finish(text_domains(args.quick, tuple(range(cfg["seeds"])), out))
    plot(payload, out / "annotators.png")
    print_table(payload)
    print(
        f"\nWrote annotators.json, annotators.md, annotators.png to {out} in "
        f"{payload['meta']['wall_seconds'] / 60:.1f} min"
    )
    return 1 if payload["text"].get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
