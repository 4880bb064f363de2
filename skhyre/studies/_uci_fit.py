"""The UCI study's computing: one fit evaluated in every arm, and the summary.

:func:`fit_and_evaluate` is one job of :func:`skhyre.studies.uci.run_uci_study`
(one dataset, ensemble and seed: fit, then adapt and score every arm at
every temperature rule); :func:`summarize` turns the jobs' records into the
means and spreads over seeds that the report renders
(:mod:`skhyre.studies._uci_report`). Nothing here formats text.
"""

from __future__ import annotations

import math
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from ._uci_settings import (
    ARMS,
    BASELINE_PAIRS,
    BASELINES,
    FINETUNE_EPOCHS,
    PREQUENTIAL_VARIANTS,
    RF_TREES,
    STOCHASTIC_ARMS,
    SWEEP_TEMPERATURES,
    TIE,
    VARIANT_PAIRS,
    VARIANTS,
)
from ._verdict import paired_verdict

__all__ = [
    "adapt_draws",
    "default_rule",
    "fit_and_evaluate",
    "fit_trees",
    "load_split",
    "machine",
    "prequential_change",
    "run_job",
    "summarize",
]


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def machine() -> str:
    """One line describing the machine, the software and the load."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.lower().startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        load = "load average n/a"
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, {load} at start"
    )


def _rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def _mean_std(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def _effective_members(w: np.ndarray) -> float:
    """Effective number of members ``1 / sum(w**2)`` (K for uniform weights)."""
    return float(1.0 / np.sum(np.square(w)))


def _weights_at(cumulative_loss: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(-cumulative_loss / temperature)``; uniform for an infinite temperature."""
    K = cumulative_loss.shape[0]
    if not math.isfinite(temperature):
        return np.full(K, 1.0 / K)
    z = -cumulative_loss / temperature
    w = np.exp(z - z.max())
    return w / w.sum()


def load_split(name: str, seed: int, data_home) -> dict:
    """The paper's OOD split of one dataset, standardized with training statistics."""
    from ..datasets import load_uci, ood_split

    with warnings.catch_warnings():
        # run_uci_study's check_uci_data has said it once; not again in every fit
        warnings.filterwarnings(
            "ignore", message=".*differs from the published", category=UserWarning
        )
        X, y = load_uci(name, data_home=data_home, download=False, return_X_y=True)
    s = ood_split(X, y, ood_fraction=0.1, val_fraction=0.2, random_state=seed)
    x_mu, x_sd = s.X_train.mean(axis=0), s.X_train.std(axis=0)
    x_sd = np.where(x_sd > 0, x_sd, 1.0)
    y_mu, y_sd = float(s.y_train.mean()), float(s.y_train.std())
    return {
        "X_train": (s.X_train - x_mu) / x_sd,
        "y_train": (s.y_train - y_mu) / y_sd,
        "X_ood": (s.X_ood - x_mu) / x_sd,
        "y_ood": (s.y_ood - y_mu) / y_sd,
        "y_sd": y_sd,
        "n_train": int(s.X_train.shape[0]),
        "n_val": int(s.X_val.shape[0]),
        "n_ood": int(s.X_ood.shape[0]),
    }


def _plain_loo_temperature(L: np.ndarray, F_a: np.ndarray, y_a: np.ndarray, scale: float) -> float:
    """The leave-one-out search over the whole default grid, without a floor.

    ``L = scale * (F_a - y_a) ** 2`` are the labelled points' member losses.
    """
    from ..reweighting import loo_temperature

    def mixture_loss(W: np.ndarray) -> np.ndarray:  # (G, n, K) -> (G, n)
        return scale * (np.einsum("gik,ki->gi", W, F_a) - y_a) ** 2

    return loo_temperature(L, mixture_loss)[0]


def prequential_change(model, X, y, order=None) -> float:
    """How HyRe did on its own labelled points, each predicted *before* its label.

    Replays the labels one at a time, in ``order``, from uniform weights:
    before each label the model's current weights (its own temperature rule,
    ``"auto"`` and ``"evidence"`` included) predict it, then
    :meth:`partial_adapt` adds it. The sequence of those honest predictions is
    compared with the uniform ensemble's on the same points. It uses only the
    labels a user has: a negative change means the labelled points themselves
    say "reweighting helps". The model ends adapted on all of them, as after
    ``adapt(X[order], y[order])`` (up to float32 rounding: each row's member
    predictions are computed on their own).

    Parameters
    ----------
    model : fitted HyReRegressor or HyReEnsemble (regression)
        Anything with ``predict_members``, ``reset_weights``,
        ``partial_adapt`` and ``weights_``.
    X : array-like of shape (n, n_features)
        Inputs.
    y : array-like of shape (n,)
        Their targets.
    order : array-like of int, default=None
        The labelled rows of ``X``, in the order they were labelled (for
        instance ``queried_indices_``); ``None`` takes every row in turn.

    Returns
    -------
    float
        Relative change (%) in RMSE over the labelled points, HyRe vs the
        uniform ensemble.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HyReRegressor
    >>> from skhyre.studies import prequential_change
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> reg = HyReRegressor(n_members=8, max_epochs=5, temperature=0.1,
    ...                     random_state=0).fit(X, X[:, 0])
    >>> X_new = rng.normal(loc=2.0, size=(10, 2))
    >>> change = prequential_change(reg, X_new, 2 * X_new[:, 0])
    >>> reg.n_adapt_samples_
    10
    """
    from sklearn.utils import check_consistent_length

    X = np.asarray(X)
    y = np.asarray(y, dtype=np.float64)
    check_consistent_length(X, y)
    order = np.arange(X.shape[0]) if order is None else np.asarray(order, dtype=np.intp)
    if order.ndim != 1 or order.size == 0:
        raise ValueError("order must be a non-empty 1-D list of row indices: nothing to replay.")
    if order.min() < -X.shape[0] or order.max() >= X.shape[0]:
        raise IndexError(f"order has row indices outside X's {X.shape[0]} rows.")
    F = np.asarray(model.predict_members(X[order]), dtype=np.float64)
    if F.ndim != 2:
        raise TypeError(
            "prequential_change scores regression (RMSE): the model's predict_members gave "
            f"shape {F.shape}, expected (n_members, n_rows)."
        )
    y_o = y[order]
    model.reset_weights()
    sq_hyre = sq_uniform = 0.0
    for t in range(order.size):
        sq_hyre += float((model.weights_ @ F[:, t] - y_o[t]) ** 2)
        sq_uniform += float((F[:, t].mean() - y_o[t]) ** 2)
        model.partial_adapt(X[order[t : t + 1]], y_o[t : t + 1])
    if sq_uniform == 0.0:
        return 0.0
    return 100.0 * (math.sqrt(sq_hyre / sq_uniform) - 1.0)


# --------------------------------------------------------------------------- one fit
def _score_variants(model, F, X_ood, y_ood, idx, uniform_pred, tname: str) -> dict:
    """Score the adapted ``model`` (and, for ``auto``, the plain leave-one-out
    search on the same labelled points) on the OOD rows outside ``idx``."""
    n_ood = F.shape[1]
    rest = np.setdiff1d(np.arange(n_ood), idx)
    uni = _rmse(uniform_pred[rest], y_ood[rest])
    member_rmse = np.sqrt(np.mean((F[:, rest] - y_ood[rest]) ** 2, axis=1))
    variants = [(tname, model.weights_, float(model.temperature_))]
    if tname == "auto":
        # the plain leave-one-out search (no floor): same labelled points, same rows
        scale = 1.0 / model.y_scale_**2
        L = scale * (F[:, idx] - y_ood[idx]) ** 2
        t_loo = _plain_loo_temperature(L, F[:, idx], y_ood[idx], scale)
        variants.append(("loo", _weights_at(L.sum(axis=1), t_loo), t_loo))
    preq = None
    if tname in PREQUENTIAL_VARIANTS:
        # a replay on the same labels; the weights scored below are the study's
        preq = prequential_change(model, X_ood, y_ood, idx)
    out = {}
    for vname, w, temp in variants:
        hyre = _rmse(w @ F[:, rest], y_ood[rest])
        out[vname] = {
            "prequential_change_pct": preq if vname == tname else None,
            "uniform": uni,
            "hyre": hyre,
            "rel_change_pct": 100.0 * (hyre - uni) / uni,
            "temperature": temp,
            "effective_members": _effective_members(w),
            "best_member_oracle": float(member_rmse.min()),
            "n_eval": int(rest.size),
        }
    return out


def _average_draws(per_draw: list[dict]) -> dict:
    """One record per variant from several draws of labelled points: the mean of
    each figure (the median of the temperatures), each draw's change and each
    draw's uniform RMSE (the baselines are compared on the same rows)."""
    if len(per_draw) == 1:
        return per_draw[0]
    out = {}
    for vname in per_draw[0]:
        recs = [d[vname] for d in per_draw]
        avg = {}
        for key in recs[0]:
            vals = [r[key] for r in recs]
            if key == "temperature":
                avg[key] = float(np.median(vals))
            elif any(v is None for v in vals):
                avg[key] = None
            else:
                avg[key] = float(np.mean(vals))
        avg["rel_change_pct_draws"] = [r["rel_change_pct"] for r in recs]
        avg["temperature_draws"] = [r["temperature"] for r in recs]
        avg["uniform_draws"] = [r["uniform"] for r in recs]
        out[vname] = avg
    return out


def adapt_draws(seed: int, n_ood: int, n_adapt: int, draws: int) -> list[np.ndarray]:
    """The random arm's labelled points, draw by draw: shared by every rule and
    baseline of one dataset and seed (paired)."""
    rng = np.random.default_rng([seed, 20_241])
    return [rng.choice(n_ood, size=n_adapt, replace=False) for _ in range(draws)]


def default_rule() -> tuple:
    """``HyReRegressor()``'s ``(temperature, max_temperature)``: the default arm."""
    from .._regressor import HyReRegressor

    params = HyReRegressor().get_params()
    return params["temperature"], params["max_temperature"]


def _n_refit(p: dict) -> int:
    """How many of the random arm's draws the refitted baselines run on."""
    draws = int(p.get("draws", 1))
    cap = p.get("refit_draws")
    return draws if cap is None else min(draws, int(cap))


def _tree_baselines(seed: int, n_trees: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

    return {
        "hgb": HistGradientBoostingRegressor(random_state=seed),
        "rf": RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1),
    }


def fit_trees(task: dict) -> dict:
    """The tree baselines of one dataset and seed, on the random arm's draws (one job).

    ``hgb`` and ``rf`` are trained on the training rows once and scored on each
    draw's evaluation rows; ``hgb_refit`` and ``rf_refit`` are trained on the
    training rows plus the draw's labelled points (the first ``refit_draws``
    draws). They do not depend on the ensemble, so each dataset and seed runs
    once, on the draws every ensemble's fit uses (:func:`adapt_draws`).
    """
    from threadpoolctl import threadpool_limits

    name, seed, p = task["dataset"], task["seed"], task["params"]
    n_trees = int(p.get("rf_trees", RF_TREES))
    t0 = time.perf_counter()
    data = load_split(name, seed, task["data_home"])
    X_tr, y_tr, X_ood, y_ood = data["X_train"], data["y_train"], data["X_ood"], data["y_ood"]
    n_ood = X_ood.shape[0]
    draws = adapt_draws(seed, n_ood, p["n_adapt"], int(p.get("draws", 1)))
    rec: dict = {"dataset": name, "seed": seed, "n_ood": n_ood}
    with threadpool_limits(limits=task.get("threads") or 1):
        for key, model in _tree_baselines(seed, n_trees).items():
            pred = model.fit(X_tr, y_tr).predict(X_ood)
            rec[key] = [_rmse(pred[_rest(n_ood, idx)], y_ood[_rest(n_ood, idx)]) for idx in draws]
        for idx in draws[: _n_refit(p)]:
            rest = _rest(n_ood, idx)
            X_aug = np.concatenate([X_tr, X_ood[idx]])
            y_aug = np.concatenate([y_tr, y_ood[idx]])
            for key, model in _tree_baselines(seed, n_trees).items():
                pred = model.fit(X_aug, y_aug).predict(X_ood[rest])
                rec.setdefault(f"{key}_refit", []).append(_rmse(pred, y_ood[rest]))
    rec["seconds"] = time.perf_counter() - t0
    return rec


def _rest(n: int, idx: np.ndarray) -> np.ndarray:
    return np.setdiff1d(np.arange(n), idx)


def run_job(task: dict) -> dict:
    """One job of the study: a fit (:func:`fit_and_evaluate`) or a dataset and
    seed's tree baselines (:func:`fit_trees`, ``task["kind"] == "trees"``)."""
    if task.get("kind") == "trees":
        return fit_trees(task)
    return fit_and_evaluate(task)


def _finetune(model, data: dict, draws: list[np.ndarray], epochs: int) -> tuple[list, float]:
    """The fine-tuning baseline on each draw: a copy of the fitted ``model``,
    ``partial_fit`` for ``epochs`` epochs on the training rows plus the draw's
    labelled points, then the uniform ensemble's RMSE on the draw's other OOD rows."""
    import copy

    X_ood, y_ood = data["X_ood"], data["y_ood"]
    model.reset_weights()
    t0 = time.perf_counter()
    scores = []
    for idx in draws:
        rest = _rest(X_ood.shape[0], idx)
        ft = copy.deepcopy(model).set_params(max_epochs=epochs)
        ft.partial_fit(
            np.concatenate([data["X_train"], X_ood[idx]]),
            np.concatenate([data["y_train"], y_ood[idx]]),
        )
        scores.append(_rmse(ft.reset_weights().predict(X_ood[rest]), y_ood[rest]))
    return scores, time.perf_counter() - t0


def fit_and_evaluate(task: dict) -> dict:
    """Fit one ensemble and evaluate every arm at every temperature rule (one job);
    then the fine-tuning baseline on the random arm's draws."""
    import torch

    from .._regressor import HyReRegressor

    if task.get("threads"):
        torch.set_num_threads(task["threads"])
    warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
    name, ens, seed, p = task["dataset"], task["ensemble"], task["seed"], task["params"]
    data = load_split(name, seed, task["data_home"])
    steps = p["steps"][ens]
    per_epoch = math.ceil(data["n_train"] / p["batch_size"])
    max_epochs = max(1, round(steps / per_epoch))
    model = HyReRegressor(
        ensemble=ens,
        n_members=p["n_members"],
        hidden_layer_sizes=tuple(p["hidden_layer_sizes"]),
        prior_scale=p["prior_scale"],
        dropout=p["dropout"],
        max_epochs=max_epochs,
        early_stopping=False,  # the paper's protocol: a fixed number of steps
        batch_size=p["batch_size"],
        lr=p["lr"],
        temperature=1.0,
        # the "auto" and "evidence" arms are the rules themselves, uncapped
        max_temperature=None,
        random_state=seed,
    )
    t0 = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    fit_s = time.perf_counter() - t0

    X_ood, y_ood = data["X_ood"], data["y_ood"]
    n_ood, n_adapt = X_ood.shape[0], p["n_adapt"]
    if n_adapt >= n_ood:
        raise ValueError(f"n_adapt={n_adapt} leaves no {name} OOD rows to score (n_ood={n_ood}).")
    F = model.predict_members(X_ood).astype(np.float64)  # (K, n_ood), standardized units
    if task.get("cache_dir"):
        cache = Path(task["cache_dir"])
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache / f"{name}_{ens}_{seed}.npz",
            F=F,
            y=y_ood,
            y_sd=data["y_sd"],
            y_scale=float(model.y_scale_),
        )
    uniform_pred = F.mean(axis=0)
    rec: dict = {
        "dataset": name,
        "ensemble": ens,
        "seed": seed,
        "y_sd": data["y_sd"],
        "n_train": data["n_train"],
        "n_ood": n_ood,
        "fit_seconds": fit_s,
        "steps": per_epoch * max_epochs,
        "max_epochs": max_epochs,
        "train_rmse_uniform": _rmse(
            model.reset_weights().predict(data["X_train"]), data["y_train"]
        ),
    }
    t1 = time.perf_counter()
    draws = int(p.get("draws", 1))
    # the random arm's labelled points: draw d is shared by every rule (paired)
    random_draws = adapt_draws(seed, n_ood, n_adapt, draws)
    # (name, temperature, max_temperature): the named rules run uncapped; "default"
    # is HyReRegressor()'s temperature with its cap
    default_t, default_cap = default_rule()
    runs = [("T=1", 1.0, None), ("auto", "auto", None), ("evidence", "evidence", None)]
    runs += [(f"T={t:g}", t, None) for t in SWEEP_TEMPERATURES]
    runs += [("default", default_t, default_cap)]
    rec["default_rule"] = {"temperature": default_t, "max_temperature": default_cap}
    for arm in ARMS:
        per_draw: list[dict] = []
        for d in range(draws if arm in STOCHASTIC_ARMS else 1):
            # the sampled arm's draw d: every rule starts from the same random state
            sample_state = int(np.random.SeedSequence([seed, 20_241, d]).generate_state(1)[0])
            out: dict = {}
            for tname, T, cap in runs:
                model.set_params(temperature=T, max_temperature=cap).reset_weights()
                if arm == "random":
                    idx = random_draws[d]
                    model.adapt(X_ood[idx], y_ood[idx])
                else:
                    model.active_adapt(
                        X_ood,
                        y_ood,
                        n_queries=n_adapt,
                        criterion="variance",
                        sampling="top" if arm == "active" else "power",
                        random_state=sample_state,
                    )
                    idx = model.queried_indices_
                out.update(_score_variants(model, F, X_ood, y_ood, idx, uniform_pred, tname))
            per_draw.append(out)
        rec[arm] = _average_draws(per_draw)
    rec["adapt_seconds"] = time.perf_counter() - t1
    # fine-tuning, after every arm (it trains; nothing above sees it)
    scores, seconds = _finetune(
        model, data, random_draws[: _n_refit(p)], int(p.get("finetune_epochs", FINETUNE_EPOCHS))
    )
    rec["baselines"] = {"finetune": scores, "finetune_seconds": seconds}
    return rec


# --------------------------------------------------------------------------- summary
def _ratios(run: dict, arm: str, name: str, trees: dict | None) -> list[float] | None:
    """Per draw: ``name``'s RMSE over the uniform ensemble's on the same rows (a
    rule's own rows in the query arms); ``None`` where the run lacks ``name``.

    ``name`` is ``"uniform"``, a variant or (random arm only) a baseline;
    ``trees`` is the dataset and seed's :func:`fit_trees` record. Refitted
    baselines have the first draws only.
    """
    ref = run.get(arm, {}).get("T=1")
    if ref is None:
        return None
    uniform = ref.get("uniform_draws", [ref["uniform"]])
    if name == "uniform":
        return [1.0] * len(uniform)
    if name in BASELINES:
        if arm != "random":
            return None
        source = run.get("baselines") if name == "finetune" else trees
        values = (source or {}).get(name)
        return [v / u for v, u in zip(values, uniform)] if values else None
    r = run[arm].get(name)
    if r is None:
        return None
    return [1.0 + c / 100.0 for c in r.get("rel_change_pct_draws", [r["rel_change_pct"]])]


def _compare(rs: list[dict], arm: str, a: str, b: str, trees: dict) -> dict | None:
    """``a`` vs ``b``: per draw ``100 * (a / b - 1)`` (both relative to the uniform
    ensemble on their own rows, so on the same rows this is the plain relative
    change), averaged over the draws both have, per seed; the mean over seeds
    with its two-sided 95% t-interval and verdict (:func:`paired_verdict`)."""
    per_seed, n_draws = [], []
    for r in rs:
        ra = _ratios(r, arm, a, trees.get((r["dataset"], r["seed"])))
        rb = _ratios(r, arm, b, trees.get((r["dataset"], r["seed"])))
        if ra is None or rb is None:
            return None
        k = min(len(ra), len(rb))
        per_seed.append(float(np.mean([100.0 * (ra[i] / rb[i] - 1.0) for i in range(k)])))
        n_draws.append(k)
    v = paired_verdict(per_seed, np.zeros(len(per_seed)))
    return {
        **v._asdict(),
        "n_seeds": len(per_seed),
        "n_draws": min(n_draws),
        "per_seed": per_seed,
    }


def _baseline_levels(rs: list[dict], trees: dict) -> dict:
    """Each baseline's OOD RMSE, mean and std over seeds (each seed averaged over
    the draws it has), and the uniform ensemble's on the same draws."""
    out = {}
    for name in BASELINES:
        own, uni, k = [], [], []
        for r in rs:
            source = (
                r.get("baselines") if name == "finetune" else trees.get((r["dataset"], r["seed"]))
            )
            values = (source or {}).get(name)
            if not values:
                break
            u = r["random"]["T=1"].get("uniform_draws", [r["random"]["T=1"]["uniform"]])
            own.append(float(np.mean(values)))
            uni.append(float(np.mean(u[: len(values)])))
            k.append(len(values))
        else:
            if own:
                out[name] = {
                    "rmse": _mean_std(own),
                    "uniform_same_draws": _mean_std(uni),
                    "n_draws": min(k),
                }
    return out


def summarize(runs: list[dict], datasets, ensembles, tree_runs=()) -> dict:
    """Mean and std over seeds of every cell (dataset x ensemble x arm x variant),
    the baselines' levels and the paired comparisons (``"comparisons"``:
    ``"arm/A vs B"`` -> mean, interval, verdict)."""
    trees = {(t["dataset"], t["seed"]): t for t in tree_runs}
    out: dict = {}
    for name in datasets:
        for ens in ensembles:
            rs = [r for r in runs if r["dataset"] == name and r["ensemble"] == ens]
            if not rs:
                continue
            cell: dict = {
                "n_seeds": len(rs),
                "fit_seconds": _mean_std([r["fit_seconds"] for r in rs]),
                "steps": rs[0]["steps"],
                "y_sd": float(np.mean([r["y_sd"] for r in rs])),
            }
            for arm in ARMS:
                for tname in VARIANTS:
                    if any(tname not in r.get(arm, {}) for r in rs):
                        continue  # a record from before the variant (or arm) existed
                    cell[f"{arm}/{tname}"] = _variant_summary(rs, arm, tname)
            if all(r.get("baselines") for r in rs):
                cell["baselines"] = _baseline_levels(rs, trees)
            comparisons = {}
            for arm in ARMS:
                pairs = [(v, "uniform") for v in VARIANTS] + list(VARIANT_PAIRS)
                pairs += list(BASELINE_PAIRS) if arm == "random" else []
                for a, b in pairs:
                    c = _compare(rs, arm, a, b, trees)
                    if c is not None:
                        comparisons[f"{arm}/{a} vs {b}"] = c
            cell["comparisons"] = comparisons
            out[f"{name}/{ens}"] = cell
    return out


def _variant_summary(rs: list[dict], arm: str, tname: str) -> dict:
    """Mean and std over seeds of one arm and variant's figures."""
    vals = [r[arm][tname] for r in rs]
    uni = [v["uniform"] for v in vals]
    hyre = [v["hyre"] for v in vals]
    preq = None
    if all(v.get("prequential_change_pct") is not None for v in vals):
        pq = [v["prequential_change_pct"] for v in vals]
        preq = _mean_std(pq)
        ci = paired_verdict(pq, np.zeros(len(pq)))._asdict()
    return {
        "uniform": _mean_std(uni),
        "hyre": _mean_std(hyre),
        "rel_change_pct": _mean_std([v["rel_change_pct"] for v in vals]),
        "uniform_original_units": _mean_std([v["uniform"] * r["y_sd"] for v, r in zip(vals, rs)]),
        "hyre_original_units": _mean_std([v["hyre"] * r["y_sd"] for v, r in zip(vals, rs)]),
        "hyre_wins": int(sum(h <= u * (1 + TIE) for h, u in zip(hyre, uni))),
        "temperature_median": float(np.median([v["temperature"] for v in vals])),
        "temperatures": [v["temperature"] for v in vals],
        "effective_members": _mean_std([v["effective_members"] for v in vals]),
        "best_member_oracle": _mean_std([v["best_member_oracle"] for v in vals]),
        "best_member_oracle_change_pct": _mean_std(
            [100.0 * (v["best_member_oracle"] - v["uniform"]) / v["uniform"] for v in vals]
        ),
        "prequential_change_pct": preq,
        # the replay's change on the labelled points: mean, 95% t-interval, verdict
        "prequential_ci": ci if preq is not None else None,
        "hyre_at_or_below_uniform_in_mean": bool(np.mean(hyre) <= np.mean(uni) * (1 + TIE)),
    }
