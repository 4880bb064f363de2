"""The hot path at the speed of the network: what a user waits for, against the forward pass.

For each model (K=100 members, hidden (50, 50), 16 features per row or per
response; trained for one epoch, since prediction time does not depend on
the weights): the Shared-Base and Epinet classifiers with C = 2 and 10
classes, the Shared-Base regressor and the Shared-Base reward model (pair
rows of 2 x 16 features), on pools of n rows:

- **raw forward**: the torch module alone on every row, in the estimator's
  chunks (eval mode, no gradient, outputs left in torch): the baseline;
- **before (torch softmax + permute)**: what ``predict_members`` did before
  issue #30, rebuilt here from torch calls: the same input checks,
  ``torch.softmax`` (or the pair sigmoids) on each chunk,
  ``permute(1, 0, 2).contiguous()``, a copy into the ``(K, n, C)`` matrix;
  for the regressor, the permute, the copy and the float64 original units;
- ``predict_members``; ``predict_proba`` (classifiers, reward model) or
  ``predict(return_std=True)`` (regressor); ``query(pool, 10)``;
  ``active_adapt(pool, labels, 32)``.

Each is reported as a ratio to the raw forward measured in the same run:
the repeats are interleaved (every repeat times every step once), and each
figure is the median of ``--repeats`` (>= 5). Beside the timings (a
``track`` figure, as scikit-learn's asv benchmarks keep one): the largest
difference between ``predict_members`` and the torch reference, and between
``predict_proba`` and the mixture of the reference's members.

Then the cold and warm start: ``skhyre demo`` and a script that fits a small
classifier and runs its first ``query``, each in a fresh process, first on an
empty ``NUMBA_CACHE_DIR`` (every kernel compiles) and then again on the
filled one. GPU rows are added when torch sees a CUDA device.

Threads: torch and Numba both run ``--threads`` threads (default 1: the
ratios of a shared 2-core machine are steadiest on one).

Run ``python benchmarks/hot_path.py`` (n = 10^4 and 10^5; about 10 minutes on
2 busy cores), with ``--large`` to add 10^6 rows for the Shared-Base C=2
classifier (20+ minutes more), or ``--quick`` (n = 10^4 only, no demo: a
smoke run); results go to
``benchmarks/results/hot_path.{json,md}`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from _common import ROOT, machine_info, machine_line, md_table, write_results

K = 100
N_FEATURES = 16
HIDDEN = (50, 50)
CHUNK_NOTE = "in the estimator's forward chunks (3,355 rows for these K=100, width-50 models)"

#: model key -> (label, estimator class name, parameters, classes or None)
MODELS = {
    "clf_sb_c2": ("Shared-Base classifier, C=2", "HyReClassifier", {"ensemble": "shared_base"}, 2),
    "clf_sb_c10": (
        "Shared-Base classifier, C=10",
        "HyReClassifier",
        {"ensemble": "shared_base"},
        10,
    ),
    "clf_epi_c2": ("Epinet classifier, C=2", "HyReClassifier", {"ensemble": "epinet"}, 2),
    "clf_epi_c10": ("Epinet classifier, C=10", "HyReClassifier", {"ensemble": "epinet"}, 10),
    "reg_sb": ("Shared-Base regressor", "HyReRegressor", {"ensemble": "shared_base"}, None),
    "reward_sb": ("Shared-Base reward model", "HyReRewardModel", {"ensemble": "shared_base"}, None),
}
#: pool sizes per model (``--large`` adds 10^6 rows for the headline model: over
#: 20 minutes on 2 busy cores, so it is not in the default run)
FULL_SIZES = dict.fromkeys(MODELS, (10_000, 100_000))
LARGE = {"clf_sb_c2": 1_000_000}
QUICK_SIZES = dict.fromkeys(MODELS, (10_000,))
TARGETS = {"predict_members": 1.3, "query10_1e5": 1.5}
STEPS = ("raw", "before", "predict_members", "predict", "query10", "active32")
STEP_LABELS = {
    "raw": "raw forward",
    "before": "before: torch softmax + permute",
    "predict_members": "predict_members",
    "predict": "predict_proba / predict(return_std)",
    "query10": "query(10)",
    "active32": "active_adapt(32)",
}


def set_threads(n: int) -> None:
    import numba
    import torch

    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def fit_model(key: str, device: str = "cpu"):
    import skhyre

    _, cls_name, params, C = MODELS[key]
    rng = np.random.default_rng(0)
    width = 2 * N_FEATURES if cls_name == "HyReRewardModel" else N_FEATURES
    X = rng.normal(size=(2_000, width)).astype(np.float32)
    if cls_name == "HyReClassifier":
        y = rng.integers(0, C, X.shape[0])
    elif cls_name == "HyReRewardModel":
        y = (X[:, 0] > X[:, N_FEATURES]).astype(int)
    else:
        y = X[:, 0] + 0.1 * rng.normal(size=X.shape[0])
    est = getattr(skhyre, cls_name)(
        n_members=K,
        hidden_layer_sizes=HIDDEN,
        max_epochs=1,
        random_state=0,
        device=device,
        **params,
    )
    return est.fit(X, y), width


def pool(n: int, width: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width)).astype(np.float32)
    labels = (X[:, 0] > 0).astype(int)
    return X, labels


def step_functions(est, X, labels) -> dict:
    """Closures for every step of one model on one pool."""
    import torch

    from skhyre._net import _eval_mode  # the benchmark rebuilds the old path

    module, device = est.net_.module_, est.net_.device
    rows = est._member_block_rows()
    kind = type(est).__name__
    n = X.shape[0]

    def chunks():
        for i0 in range(0, n, rows):
            yield i0, torch.tensor(X[i0 : i0 + rows], dtype=torch.float32, device=device)

    def raw():
        with _eval_mode(module), torch.no_grad():
            for _, xb in chunks():
                module(xb)

    def before():
        out = None
        est._validated_X(X)  # the same input checks as predict_members
        with _eval_mode(module), torch.no_grad():
            for i0, xb in chunks():
                yb = module(xb)
                if kind == "HyReClassifier":
                    yb = torch.softmax(yb, dim=-1)
                elif kind == "HyReRewardModel":
                    yb = torch.cat([torch.sigmoid(-yb), torch.sigmoid(yb)], dim=-1)
                yb = yb.permute(1, 0, 2).contiguous().to("cpu", torch.float32).numpy()
                if out is None:
                    out = np.empty((yb.shape[0], n, yb.shape[2]), dtype=np.float32)
                out[:, i0 : i0 + yb.shape[1]] = yb
        if kind == "HyReRegressor":  # predict_members' float64, original units
            est._to_original(out[..., 0])
        return out

    if kind == "HyReRegressor":
        labels = X[:, 0].astype(np.float64)

        def predict():
            return est.predict(X, return_std=True)

    else:

        def predict():
            return est.predict_proba(X)

    def active():
        est.reset_weights()
        est.active_adapt(X, labels, n_queries=32)
        est.reset_weights()

    return {
        "raw": raw,
        "before": before,
        "predict_members": lambda: est.predict_members(X),
        "predict": predict,
        "query10": lambda: est.query(X, n_queries=10),
        "active32": active,
    }


def accuracy(est, fns) -> dict:
    """Largest differences of the new path from the torch reference (``before``)."""
    from skhyre import _kernels

    ref = fns["before"]()
    kind = type(est).__name__
    out = {}
    if kind == "HyReRegressor":
        M = est._member_matrix(fns["__X"])
        out["members_max_abs_diff"] = float(np.abs(M - ref[..., 0]).max())
        mean, _ = est.predict(fns["__X"], return_std=True)
        m_ref, _ = _kernels.weighted_mean_std(np.ascontiguousarray(ref[..., 0]), est.weights_)
        out["predict_max_abs_diff"] = float(np.abs(est._to_original(m_ref) - mean).max())
        return out
    M = est.predict_members(fns["__X"])
    out["members_max_abs_diff"] = float(np.abs(M.astype(np.float64) - ref).max())
    P = est.predict_proba(fns["__X"])
    Q = _kernels.mixture(ref, est.weights_)
    out["predict_max_abs_diff"] = float(np.abs(P - Q / Q.sum(axis=1, keepdims=True)).max())
    return out


def time_model(key: str, sizes, repeats: int, device: str = "cpu") -> dict:
    est, width = fit_model(key, device)
    res = {"label": MODELS[key][0], "device": device, "sizes": {}}
    for n in sizes:
        X, labels = pool(n, width)
        fns = step_functions(est, X, labels)
        steps = list(STEPS)
        for name in steps:  # warm-up: compilation, first-touch allocations
            fns[name]()
        times = {name: [] for name in steps}
        for _ in range(repeats):
            for name in steps:
                t0 = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - t0)
        fns["__X"] = X
        med = {name: statistics.median(t) for name, t in times.items()}
        row = {
            "median_s": med,
            "all_s": times,
            "ratio_to_raw": {name: med[name] / med["raw"] for name in steps},
            "accuracy": accuracy(est, fns),
        }
        res["sizes"][str(n)] = row
        print(
            f"  {MODELS[key][0]:<30} n={n:>9,}  raw {med['raw'] * 1e3:8.1f} ms  "
            + "  ".join(f"{name} {row['ratio_to_raw'][name]:5.2f}x" for name in steps[1:]),
            flush=True,
        )
        del X, fns
    return res


# --------------------------------------------------------------------------- cold start
QUERY_SCRIPT = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    import numpy as np
    from skhyre import HyReClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = HyReClassifier(n_members=20, max_epochs=2, random_state=0).fit(X, y)
    t1 = time.perf_counter()
    clf.query(X, n_queries=5)
    t2 = time.perf_counter()
    print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
    """
)


def _run(cmd: list[str], cache: str, cwd: str) -> tuple[float, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, done.stdout


def cold_start(with_demo: bool) -> dict:
    """Wall seconds of fresh processes on an empty Numba cache, then on the filled one."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "numba_cache")
        cases = {"first_query": [sys.executable, "-c", QUERY_SCRIPT]}
        if with_demo:
            cases["demo"] = [sys.executable, "-m", "skhyre", "demo", "--out", str(Path(tmp) / "d")]
        for name, cmd in cases.items():
            Path(cache).mkdir(exist_ok=True)
            for f in Path(cache).rglob("*"):  # every case starts on an empty cache
                if f.is_file():
                    f.unlink()
            cold, text_cold = _run(cmd, cache, tmp)
            warm, text_warm = _run(cmd, cache, tmp)
            rec = {"cold_s": cold, "warm_s": warm}
            if name == "first_query":
                (fit_c, q_c), (fit_w, q_w) = (map(float, t.split()) for t in (text_cold, text_warm))
                rec.update(query_cold_s=q_c, query_warm_s=q_w, import_fit_cold_s=fit_c,
                           import_fit_warm_s=fit_w)  # fmt: skip
            out[name] = rec
            print(f"  {name}: cold {cold:.1f} s, warm {warm:.1f} s", flush=True)
    return out


# --------------------------------------------------------------------------- report
def markdown(payload: dict) -> str:
    m = payload["machine"]
    lines = [
        "# The hot path against the network's forward pass",
        "",
        f"K={K} members, hidden {HIDDEN}, {N_FEATURES} features per row (reward model: per "
        f"response), {CHUNK_NOTE}; ratios to the raw forward pass measured in the same run, "
        f"medians of {payload['repeats']} interleaved repeats; torch and Numba on "
        f"{payload['threads']} thread(s).",
        "",
        f"Machine: {machine_line(m)}.",
        "",
        "## Ratios to the raw forward",
        "",
        '"before" is the pre-#30 `predict_members` (torch softmax, permute, copy) rebuilt '
        "from torch calls. `predict` is `predict_proba` for classifiers and the reward model, "
        "`predict(return_std=True)` for the regressor; it never forms the member matrix.",
        "",
    ]
    header = ["model", "device", "n", "raw forward"] + [STEP_LABELS[s] for s in STEPS[1:]]
    rows = []
    for res in payload["models"].values():
        for n, row in res["sizes"].items():
            r = row["ratio_to_raw"]
            rows.append(
                [
                    res["label"],
                    res["device"],
                    f"{int(n):,}",
                    f"{row['median_s']['raw'] * 1e3:.1f} ms",
                ]
                + [f"{r[s]:.2f}x" for s in STEPS[1:]]
            )
    lines.append(md_table(header, rows))
    lines += ["", "## Agreement with the torch reference", ""]
    rows = []
    for res in payload["models"].values():
        for n, row in res["sizes"].items():
            a = row["accuracy"]
            rows.append(
                [res["label"], f"{int(n):,}", f"{a['members_max_abs_diff']:.2g}",
                 f"{a['predict_max_abs_diff']:.2g}"]
            )  # fmt: skip
    lines.append(
        md_table(["model", "n", "members: max abs diff", "prediction: max abs diff"], rows)
    )
    lines += [
        "",
        "Member probabilities are computed in float64 and rounded once to float32 (torch's "
        "float32 softmax is within a few float32 ulps of them).",
    ]
    t = payload["targets"]
    lines += ["", "## Targets", ""]
    lines.append(
        md_table(
            ["target", "measured", "met"],
            [
                [f"`predict_members` <= {TARGETS['predict_members']}x the raw forward (worst model, n >= 10^5)",
                 f"{t['predict_members_worst']:.2f}x", "yes" if t["predict_members_met"] else "no"],
                [f"`query(10)` on 100,000 rows <= {TARGETS['query10_1e5']}x (worst classifier)",
                 "n/a" if t["query10_worst"] is None else f"{t['query10_worst']:.2f}x",
                 "n/a" if t["query10_met"] is None else ("yes" if t["query10_met"] else "no")],
            ],
        )
    )  # fmt: skip
    cs = payload.get("cold_start")
    if cs:
        lines += ["", "## Cold and warm start (fresh processes, empty then filled Numba cache)", ""]
        rows = []
        if "demo" in cs:
            rows.append(
                ["`skhyre demo`", f"{cs['demo']['cold_s']:.1f} s", f"{cs['demo']['warm_s']:.1f} s"]
            )
        q = cs["first_query"]
        rows.append(["fit a small classifier, first `query` (whole process)",
                     f"{q['cold_s']:.1f} s", f"{q['warm_s']:.1f} s"])  # fmt: skip
        rows.append(["the first `query` call alone", f"{q['query_cold_s']:.2f} s",
                     f"{q['query_warm_s']:.2f} s"])  # fmt: skip
        lines.append(md_table(["run", "cold cache", "warm cache"], rows))
    if not payload["cuda"]:
        lines += ["", "No CUDA device here: the GPU rows are skipped."]
    lines += ["", f"`{payload['command']}`"]
    return "\n".join(lines)


def targets(models: dict) -> dict:
    worst_pm, worst_q = 0.0, None
    for key, res in models.items():
        for n, row in res["sizes"].items():
            if int(n) >= 100_000 or len(res["sizes"]) == 1:
                worst_pm = max(worst_pm, row["ratio_to_raw"]["predict_members"])
            if int(n) == 100_000 and key.startswith("clf"):
                worst_q = max(worst_q or 0.0, row["ratio_to_raw"]["query10"])
    return {
        "predict_members_worst": worst_pm,
        "predict_members_met": worst_pm <= TARGETS["predict_members"],
        "query10_worst": worst_q,
        "query10_met": None if worst_q is None else worst_q <= TARGETS["query10_1e5"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 10^4 only, no demo (a smoke run)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--no-cold", action="store_true", help="skip the cold/warm start table")
    ap.add_argument("--large", action="store_true", help="add 10^6 rows for the headline model")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.repeats < 5:
        ap.error("--repeats must be >= 5 (medians of at least 5).")
    import torch

    set_threads(args.threads)
    sizes = dict(QUICK_SIZES if args.quick else FULL_SIZES)
    if args.large:
        sizes.update({key: (*sizes[key], n) for key, n in LARGE.items()})
    models = {}
    for key in args.models:
        print(MODELS[key][0], flush=True)
        models[key] = time_model(key, sizes[key], args.repeats)
    cuda = torch.cuda.is_available()
    if cuda:
        for key in ("clf_sb_c10", "reg_sb"):
            if key in args.models:
                models[f"{key}_cuda"] = time_model(key, sizes[key], args.repeats, device="cuda")
    cold = None if args.no_cold else cold_start(with_demo=not args.quick)
    payload = {
        "machine": machine_info(),
        "threads": args.threads,
        "repeats": args.repeats,
        "quick": args.quick,
        "cuda": cuda,
        "models": models,
        "targets": targets(models),
        "cold_start": cold,
        "command": "python benchmarks/hot_path.py"
        + (" --quick" if args.quick else "")
        + (" --large" if args.large else ""),
    }
    folder = write_results("hot_path", payload, markdown(payload), args.out)
    print(f"wrote {folder / 'hot_path.json'} and hot_path.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
