"""skhyre's BALD, entropy and BatchBALD against peer active-learning libraries, in one run.

Peers (the ``peers`` extra: ``pip install -e ".[peers]"``; never a dependency
of skhyre): **baal**, **scikit-activeml** and **batchbald-redux**. Every
method gets the same float32 member probabilities of a synthetic pool (K=100
members, C=10 classes; each member a perturbed linear softmax classifier,
pool rows noisy copies of cluster centres, so the top of BALD holds near
duplicates), each in the layout its library takes: skhyre ``(K, n, C)``
probabilities, baal ``(n, C, K)``, scikit-activeml ``(K, n, C)``,
batchbald-redux ``(n, K, C)`` log-probabilities as a torch tensor. Layout
conversions happen before the clock starts. The peers weight members
uniformly, so skhyre gets uniform weights too.

**Single point** (n in ``--single-n``): BALD and entropy scores of every pool
row. skhyre ``acquisition.bald`` / ``entropy`` (public call, input validated;
also with ``check_input=False``); baal ``BALD`` / ``Entropy``
(``get_uncertainties``); scikit-activeml ``batch_bald(probas, 1)`` and
``average_kl_divergence`` (its query-by-committee KL disagreement, the same
quantity as BALD), and ``uncertainty_scores`` of the member mean for
entropy; batchbald-redux ``compute_entropy - compute_conditional_entropy``
(what its ``get_bald_batch`` ranks) and ``compute_entropy``. Agreement: the
largest absolute difference from skhyre's scores over the pool.

**Batches** (n in ``--batch-n``, sizes ``--batch-sizes``): skhyre
``batchbald`` (``max_configurations=M``; also on one thread),
``select_top(bald)`` (top of BALD), ``sample_power(bald)`` (power sampling)
and ``select_sequential`` (labels revealed one at a time from a hidden
member: simulated sequential, not a batch method); baal ``BatchBALD``
(``num_draw = M // K`` label draws per member) and ``PowerSampling(BALD)``;
scikit-activeml ``batch_bald`` (``n_MC_samples = M``); batchbald-redux
``get_batchbald_batch`` (``num_samples = M``, float64 joint). Every batch is
scored by **one** reference function, :func:`batch_mutual_information`:
``I(y_batch; member)`` under the uniform member mixture, exact by enumeration
where ``C ** b <= 2 ** 16`` and otherwise a stratified Monte-Carlo estimate
(``--ref-samples`` label configurations drawn from each member, the same
draws for every batch of a size) with its standard error: no library can
enumerate ``10 ** 32`` configurations, this reference included.

**How it is measured.** Each (method, pool) runs in a fresh subprocess: it
loads the pool from a ``.npy`` file, converts the layout, warms up on 200
rows (compilation, first calls), then resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``), reads its resident size, and runs the method
(``--repeats`` times for single points; batches as many times as fit in
``--batch-budget`` seconds, at least once). Time: median wall time. Memory:
**peak extra resident memory**, the peak RSS (``VmHWM``) minus the RSS just
before the first timed call: everything the call allocates (NumPy, torch,
Numba), not what it was given. numba, OpenBLAS and OpenMP use ``--threads``
threads (all CPUs by default); torch uses ``--torch-threads`` (1 by default:
the peers' many small per-candidate matrix products ran about 100x slower
with torch's 2 OpenMP threads than with 1 on this shared 2-core machine).
A peer run past ``--peer-timeout`` seconds is stopped and reported as a
lower bound; a peer whose estimated memory exceeds ``--mem-limit-gib`` is
not started (its estimate is reported).

Run ``python benchmarks/peers.py`` (about half an hour here; ``--quick`` for
a smoke run); results go to ``benchmarks/results/peers.{json,md}``
(``--out`` to change). batchbald-redux depends on torchvision; with torch's
CPU build the PyPI torchvision wheel fails to load, and baal (through
torchmetrics) then fails to import: ``pip uninstall -y torchvision`` after
installing the extra (neither peer uses it here).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, md_table, write_results

SIZES = {
    "full": {
        "K": 100,
        "C": 10,
        "single_n": [10_000, 100_000],
        "batch_n": [10_000, 100_000],
        "batch_sizes": [10, 32],
        "configurations": 1000,
        "ref_samples": 2000,
    },
    "quick": {
        "K": 12,
        "C": 4,
        "single_n": [2_000],
        "batch_n": [400],
        "batch_sizes": [3, 6],
        "configurations": 64,
        "ref_samples": 200,
    },
}
TARGETS = {
    "bald_speedup": 3.0,  # single-point BALD at the largest n: >= 3x faster than the fastest peer
    "bald_memory_fraction": 1 / 3,  # ... with <= 1/3 of that peer's peak extra memory
}
PEERS = ("baal", "skactiveml", "batchbald_redux")
MARK = "PEERS-RESULT "
START = "PEERS-START "

# method -> (library, task, label)
SINGLE = {
    "skhyre_bald": ("skhyre", "bald", "skhyre `acquisition.bald`"),
    "skhyre_bald_nocheck": ("skhyre", "bald", "skhyre `bald(check_input=False)`"),
    "baal_bald": ("baal", "bald", "baal `BALD`"),
    "skal_bald": ("skactiveml", "bald", "scikit-activeml `batch_bald(b=1)`"),
    "skal_kl": ("skactiveml", "bald", "scikit-activeml `average_kl_divergence`"),
    "redux_bald": ("batchbald_redux", "bald", "batchbald-redux BALD scores"),
    "skhyre_entropy": ("skhyre", "entropy", "skhyre `acquisition.entropy`"),
    "skhyre_entropy_nocheck": ("skhyre", "entropy", "skhyre `entropy(check_input=False)`"),
    "baal_entropy": ("baal", "entropy", "baal `Entropy`"),
    "skal_entropy": ("skactiveml", "entropy", "scikit-activeml `uncertainty_scores` of the mean"),
    "redux_entropy": ("batchbald_redux", "entropy", "batchbald-redux `compute_entropy`"),
}
BATCH = {
    "skhyre_batchbald": ("skhyre", "batchbald", "skhyre `batchbald`"),
    "skhyre_batchbald_1t": ("skhyre", "batchbald", "skhyre `batchbald`, 1 thread"),
    "skhyre_top": ("skhyre", "top", "skhyre top of BALD"),
    "skhyre_power": ("skhyre", "power", "skhyre power sampling"),
    "skhyre_sequential": ("skhyre", "sequential", "skhyre `select_sequential` (labels seen)"),
    "baal_batchbald": ("baal", "batchbald", "baal `BatchBALD`"),
    "baal_power": ("baal", "power", "baal `PowerSampling(BALD)`"),
    "skal_batchbald": ("skactiveml", "batchbald", "scikit-activeml `batch_bald`"),
    "redux_batchbald": ("batchbald_redux", "batchbald", "batchbald-redux `get_batchbald_batch`"),
}


# --------------------------------------------------------------------------
# the pool and the reference
# --------------------------------------------------------------------------
def make_pool(K: int, n: int, C: int, seed: int = 0, d: int = 16):
    """Member probabilities ``(K, n, C)`` float32, and labels drawn from one hidden member.

    Member k is a linear softmax classifier ``softmax(x W_k)`` with ``W_k`` a
    perturbation of a shared ``W_0``; pool rows are noisy copies of
    ``n // 50`` cluster centres (about 50 near duplicates each).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 50), d))
    X = centres[rng.integers(0, centres.shape[0], n)] + 0.05 * rng.normal(size=(n, d))
    X = X.astype(np.float32)
    W0 = rng.normal(size=(d, C))
    P = np.empty((K, n, C), dtype=np.float32)
    for k in range(K):
        Wk = ((W0 + 0.15 * rng.normal(size=(d, C))) * (4.0 / math.sqrt(d))).astype(np.float32)
        L = X @ Wk
        L -= L.max(axis=1, keepdims=True)
        np.exp(L, out=L)
        L /= L.sum(axis=1, keepdims=True)
        P[k] = L
    np.maximum(P, np.float32(1e-30), out=P)  # no exact 0: batchbald-redux takes logs
    P /= P.sum(axis=2, keepdims=True)
    hidden = int(rng.integers(K))
    cum = np.cumsum(P[hidden].astype(np.float64), axis=1)
    y = np.minimum((rng.random((n, 1)) > cum).sum(axis=1), C - 1)
    return P, y.astype(np.int64), hidden


def batch_mutual_information(P, w, batch, samples_per_member: int = 2000, seed: int = 0):
    """``I(y_batch; member)`` in nats under the member mixture ``w``, and its standard error.

    ``H[p(y_batch)] - sum_k w_k sum_i H[p_k(x_i)]`` with ``p(y) = sum_k w_k
    prod_i p_k(y_i | x_i)``. Exact (standard error 0) when the ``C ** b``
    configurations number at most ``2 ** 16``; otherwise ``H[p(y_batch)] =
    sum_k w_k E_{y ~ p_k}[-log p(y)]`` is estimated from
    ``samples_per_member`` configurations drawn from each member (stratified
    over members; the draws depend only on ``seed``, ``K`` and ``b``).
    """
    Q = np.asarray(P, dtype=np.float64)[:, np.asarray(batch), :]  # (K, b, C)
    w = np.asarray(w, dtype=np.float64)
    K, b, C = Q.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        logq = np.log(Q)
        cond = float(-(w @ np.where(Q > 0, Q * logq, 0.0).sum(axis=2)).sum())
    logw = np.log(np.where(w > 0, w, 1.0))
    live = w > 0
    if C**b <= 2**16:
        ys = np.indices((C,) * b).reshape(b, -1).T  # (C ** b, b)
        ll = logq[:, np.arange(b), ys].sum(axis=2)  # (K, M)
        lp = _logsumexp(ll[live] + logw[live, None])
        p = np.exp(lp)
        return float(-(p * lp).sum()) - cond, 0.0
    rng = np.random.default_rng(seed)
    cum = np.cumsum(Q, axis=2)
    means = np.zeros(K)
    variances = np.zeros(K)
    for k in np.flatnonzero(live):
        u = rng.random((samples_per_member, b))
        ys = np.minimum((u[:, :, None] > cum[k][None]).sum(axis=2), C - 1)  # (S, b)
        ll = logq[:, np.arange(b), ys].sum(axis=2)  # (K, S)
        nlp = -_logsumexp(ll[live] + logw[live, None])
        means[k] = nlp.mean()
        variances[k] = nlp.var(ddof=1) / samples_per_member
    return float(w @ means) - cond, float(math.sqrt((w**2) @ variances))


def _logsumexp(a):
    m = a.max(axis=0)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.exp(a - m).sum(axis=0))


# --------------------------------------------------------------------------
# the worker: one method on one pool in a fresh process
# --------------------------------------------------------------------------
def _status() -> dict:
    out = {}
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, val = line.split(":")
                out[key] = int(val.split()[0]) * 1024
    return out


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _prepare(method: str, P, y, cfg: dict):
    """A zero-argument callable running ``method`` on the pool (layout converted here)."""
    lib, task, _ = {**SINGLE, **BATCH}[method]
    K = P.shape[0]
    b = cfg.get("n_queries", 1)
    M = cfg.get("configurations", 1000)
    w = np.full(K, 1.0 / K)
    if lib == "skhyre":
        import numba

        from skhyre import acquisition as acq

        if method.endswith("_1t"):
            numba.set_num_threads(1)
        check = not method.endswith("_nocheck")
        fns = {
            "bald": lambda: acq.bald(P, w, check_input=check),
            "entropy": lambda: acq.entropy(P, w, check_input=check),
            "batchbald": lambda: acq.batchbald(P, w, b, random_state=0, max_configurations=M)[0],
            "top": lambda: acq.select_top(acq.bald(P, w), b),
            "power": lambda: acq.sample_power(acq.bald(P, w), b, random_state=0),
            "sequential": lambda: acq.select_sequential(P, y, b, criterion="bald")[0],
        }
        return fns[task]
    if lib == "baal":
        from baal.active.heuristics import BALD, BatchBALD, Entropy
        from baal.active.heuristics.stochastics import PowerSampling

        pb = np.ascontiguousarray(P.transpose(1, 2, 0))  # (n, C, K)
        if task == "bald":
            return lambda: BALD().get_uncertainties(pb)
        if task == "entropy":
            return lambda: Entropy().get_uncertainties(pb)
        if task == "batchbald":
            return lambda: BatchBALD(num_samples=b, num_draw=max(1, M // K)).get_ranks(pb)[0][:b]

        def power():
            np.random.seed(0)  # noqa: NPY002 - baal draws from NumPy's global state
            return PowerSampling(BALD(), query_size=b).get_ranks(pb)[0]

        return power
    if lib == "skactiveml":
        from skactiveml.pool import batch_bald
        from skactiveml.pool._query_by_committee import average_kl_divergence
        from skactiveml.pool._uncertainty_sampling import uncertainty_scores

        # batch_bald and average_kl_divergence clip (and renormalise) their input in place
        if task == "bald" and method == "skal_bald":
            return lambda: batch_bald(P, 1, random_state=0)[0]
        if task == "bald":
            return lambda: average_kl_divergence(P)
        if task == "entropy":
            return lambda: uncertainty_scores(P.mean(axis=0), method="entropy")

        def skal_batch():
            u = batch_bald(P, b, n_MC_samples=M, random_state=0)
            return np.array([int(np.nanargmax(row)) for row in u])

        return skal_batch
    if lib == "batchbald_redux":
        import torch
        from batchbald_redux.batchbald import (
            compute_conditional_entropy,
            compute_entropy,
            get_batchbald_batch,
        )

        lp = torch.from_numpy(np.ascontiguousarray(np.log(P).transpose(1, 0, 2)))  # (n, K, C)
        if task == "bald":
            return lambda: (compute_entropy(lp) - compute_conditional_entropy(lp)).numpy()
        if task == "entropy":
            return lambda: compute_entropy(lp).numpy()
        return lambda: np.array(get_batchbald_batch(lp, b, M, dtype=torch.double).indices)
    raise ValueError(method)


def worker(cfg: dict) -> dict:
    """Run one measurement (``cfg``: method, pool path, repeats, ...); print its result."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        import torch

        torch.set_num_threads(int(cfg["torch_threads"]))
    except ImportError:  # pragma: no cover - torch is a dependency of skhyre
        pass
    data = np.load(cfg["pool"])
    P, y = data["P"], data["y"]
    method = cfg["method"]
    small = _prepare(method, np.ascontiguousarray(P[:, :200]), y[:200], {**cfg, "n_queries": 2})
    small()  # compilation, imports, first calls
    del small
    fn = _prepare(method, P, y, cfg)
    peak_ok = _reset_peak()
    rss0 = _status()["VmRSS"]
    print(START + json.dumps({"t": time.time()}), flush=True)
    times = []
    out = None
    t_all = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= cfg["repeats"] or time.perf_counter() - t_all > cfg["budget_s"]:
            break
    st = _status()
    result = {
        "method": method,
        "times_s": times,
        "median_s": statistics.median(times),
        "peak_extra_bytes": max(0, st["VmHWM"] - rss0) if peak_ok else None,
        "rss_before_bytes": rss0,
    }
    out = np.asarray(out)
    if cfg.get("scores_out"):
        np.save(cfg["scores_out"], out.astype(np.float64))
    else:
        result["indices"] = out.astype(np.int64).tolist()
    print(MARK + json.dumps(result), flush=True)
    return result


def run_worker(cfg: dict, args, threads: int) -> dict:
    """``worker(cfg)`` in a fresh subprocess; a dict with ``error`` or ``timed_out`` on failure."""
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TQDM_DISABLE"] = "1"
    env.setdefault("PYTHONWARNINGS", "ignore")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    t0 = time.time()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=args.peer_timeout
        )
    except subprocess.TimeoutExpired as exc:
        text = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        started = [json.loads(s[len(START) :]) for s in text.splitlines() if s.startswith(START)]
        start = started[0]["t"] if started else t0
        return {"timed_out": True, "lower_bound_s": time.time() - start}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {proc.returncode}"}


# --------------------------------------------------------------------------
# the parent: pools, measurements, report
# --------------------------------------------------------------------------
def peers_available() -> dict:
    """Which peer libraries import here (``True``, or the reason they do not)."""
    out = {}
    for name in PEERS:
        mod = {"baal": "baal.active.heuristics"}.get(name, name)
        code = f"import {mod}"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if proc.returncode == 0:
            out[name] = True
        else:
            lines = proc.stderr.strip().splitlines()
            out[name] = lines[-1] if lines else f"exit status {proc.returncode}"
    return out


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("skhyre", "baal", "scikit-activeml", "batchbald-redux", "torch", "numba"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _mem_estimate(method: str, n: int, K: int, C: int, M: int) -> int:
    """Bytes a batch method's largest arrays take (to skip runs that cannot fit)."""
    if method == "baal_batchbald":  # (n, M, C) float64 joint, plus xlogy of 10,000-row chunks
        m = K * max(1, M // K)
        return n * m * C * 8 + 2 * min(n, 10_000) * m * C * 8
    if method == "skal_batchbald":  # (n, M, C) float64 and two temporaries of it
        return 3 * n * M * C * 8
    return 0


def _fmt_s(s) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _fmt_mib(b) -> str:
    return "-" if b is None else f"{b / 2**20:.1f}"


def measure(args) -> dict:
    sizes = SIZES["quick" if args.quick else "full"]
    if args.single_n:
        sizes["single_n"] = args.single_n
    if args.batch_n:
        sizes["batch_n"] = args.batch_n
    if args.batch_sizes:
        sizes["batch_sizes"] = args.batch_sizes
    if args.configurations:
        sizes["configurations"] = args.configurations
    K, C, M = sizes["K"], sizes["C"], sizes["configurations"]
    threads = args.threads or os.cpu_count() or 1
    avail = peers_available()
    for name, ok in avail.items():
        print(f"{name}: {'available' if ok is True else 'not available: ' + str(ok)}", flush=True)
    info = machine_info()
    print(machine_line(info), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="skhyre-peers-"))
    pools = {}

    def pool(n):
        if n not in pools:
            t0 = time.perf_counter()
            P, y, hidden = make_pool(K, n, C, seed=args.seed)
            path = tmp / f"pool_{n}.npz"
            np.savez(path, P=P, y=y)
            pools[n] = (path, P, y, hidden)
            print(f"pool n={n}: {time.perf_counter() - t0:.1f} s", flush=True)
        return pools[n]

    base = {"threads": threads, "torch_threads": args.torch_threads, "configurations": M}
    single = []
    for n in sizes["single_n"]:
        path, P, _, _ = pool(n)
        ref = {}
        for method, (lib, task, label) in SINGLE.items():
            row = {"n": n, "method": method, "library": lib, "task": task, "label": label}
            if lib != "skhyre" and avail.get(lib) is not True:
                row["skipped"] = f"{lib} not available"
                single.append(row)
                continue
            scores_path = tmp / f"scores_{method}_{n}.npy"
            cfg = {
                **base,
                "method": method,
                "pool": str(path),
                "repeats": args.repeats,
                "budget_s": 1e9,
                "scores_out": str(scores_path),
            }
            res = run_worker(cfg, args, threads)
            row.update(res)
            if "median_s" in res:
                scores = np.load(scores_path)
                if method in ("skhyre_bald", "skhyre_entropy"):
                    ref[task] = scores
                if task in ref:
                    row["max_abs_diff"] = float(np.max(np.abs(scores - ref[task])))
            print(f"  {label:55s} n={n:>7d}: {_status_line(row)}", flush=True)
            single.append(row)

    batches = []
    for n in sizes["batch_n"]:
        path, P, _, _ = pool(n)
        w = np.full(K, 1.0 / K)
        for b in sizes["batch_sizes"]:
            for method, (lib, task, label) in BATCH.items():
                row = {"n": n, "n_queries": b, "method": method, "library": lib, "task": task}
                row["label"] = label
                if lib != "skhyre" and avail.get(lib) is not True:
                    row["skipped"] = f"{lib} not available"
                    batches.append(row)
                    continue
                need = _mem_estimate(method, n, K, C, M)
                if need > args.mem_limit_gib * 2**30:
                    row["skipped"] = (
                        f"needs about {need / 2**30:.0f} GiB (its (n, M, C) float64 joint "
                        f"and temporaries) > --mem-limit-gib {args.mem_limit_gib:g}"
                    )
                    print(f"  {label:55s} n={n:>7d} b={b}: skipped ({row['skipped']})")
                    batches.append(row)
                    continue
                cfg = {
                    **base,
                    "method": method,
                    "pool": str(path),
                    "n_queries": b,
                    "repeats": args.repeats,
                    "budget_s": args.batch_budget,
                }
                res = run_worker(cfg, args, 1 if method.endswith("_1t") else threads)
                row.update(res)
                if "indices" in res:
                    idx = np.asarray(res["indices"])
                    row["distinct"] = int(np.unique(idx).size)
                    mi, se = batch_mutual_information(
                        P, w, idx, sizes["ref_samples"], seed=args.seed + b
                    )
                    row["batch_mi"], row["batch_mi_se"] = mi, se
                print(f"  {label:55s} n={n:>7d} b={b}: {_status_line(row)}", flush=True)
                batches.append(row)
    for path, *_ in pools.values():
        path.unlink(missing_ok=True)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return {
        "single": single,
        "batches": batches,
        "meta": {
            "machine": info,
            "load_average_end": machine_info()["load_average"],
            "versions": _versions(),
            "peers": {k: (v if v is True else str(v)) for k, v in avail.items()},
            "quick": bool(args.quick),
            "sizes": sizes,
            "repeats": args.repeats,
            "batch_budget_s": args.batch_budget,
            "threads": threads,
            "torch_threads": args.torch_threads,
            "peer_timeout_s": args.peer_timeout,
            "mem_limit_gib": args.mem_limit_gib,
            "seed": args.seed,
            "memory_method": (
                "peak RSS (VmHWM, reset through /proc/self/clear_refs) minus RSS before the "
                "first timed call, one fresh subprocess per measurement"
            ),
            "targets": TARGETS,
        },
    }


def _status_line(row: dict) -> str:
    if "skipped" in row:
        return f"skipped ({row['skipped']})"
    if row.get("timed_out"):
        return f"stopped after {row['lower_bound_s']:.0f} s"
    if "error" in row:
        return f"error: {row['error']}"
    s = f"{_fmt_s(row['median_s'])} ({len(row['times_s'])} runs), peak extra "
    s += f"{_fmt_mib(row['peak_extra_bytes'])} MiB"
    if "max_abs_diff" in row:
        s += f", max |diff| {row['max_abs_diff']:.2e}"
    if "batch_mi" in row:
        s += f", batch MI {row['batch_mi']:.4f} ± {row['batch_mi_se']:.4f}"
    return s


# --------------------------------------------------------------------------
# targets and report
# --------------------------------------------------------------------------
def _time_of(row) -> float | None:
    if row is None or "skipped" in row or "error" in row:
        return None
    return row["lower_bound_s"] if row.get("timed_out") else row["median_s"]


def check_targets(results: dict) -> list[dict]:
    out = []
    single = [r for r in results["single"] if r["task"] == "bald"]
    if single:
        n = max(r["n"] for r in single)
        ours = next(r for r in single if r["n"] == n and r["method"] == "skhyre_bald")
        peers = [r for r in single if r["n"] == n and r["library"] != "skhyre" and "median_s" in r]
        if peers and "median_s" in ours:
            fastest = min(peers, key=lambda r: r["median_s"])
            speedup = fastest["median_s"] / ours["median_s"]
            out.append(
                {
                    "name": f"single-point BALD, n={n}: speed-up over the fastest peer "
                    f"({fastest['label']})",
                    "value": speedup,
                    "target": f">= {TARGETS['bald_speedup']:g}x",
                    "met": speedup >= TARGETS["bald_speedup"],
                }
            )
            if ours.get("peak_extra_bytes") is not None and fastest.get("peak_extra_bytes"):
                frac = ours["peak_extra_bytes"] / fastest["peak_extra_bytes"]
                out.append(
                    {
                        "name": f"single-point BALD, n={n}: peak extra memory / the fastest peer's",
                        "value": frac,
                        "target": f"<= {TARGETS['bald_memory_fraction']:.3f}",
                        "met": frac <= TARGETS["bald_memory_fraction"],
                    }
                )
    bb = [r for r in results["batches"] if r["task"] == "batchbald"]
    if bb:
        n = max(r["n"] for r in bb)
        b = max(r["n_queries"] for r in bb)
        here = [r for r in bb if r["n"] == n and r["n_queries"] == b]
        ours = next((r for r in here if r["method"] == "skhyre_batchbald"), None)
        peers = [r for r in here if r["library"] != "skhyre" and _time_of(r) is not None]
        if ours is not None and "median_s" in ours and peers:
            fastest = min(peers, key=_time_of)
            ratio = _time_of(fastest) / ours["median_s"]
            bound = " (a lower bound: stopped)" if fastest.get("timed_out") else ""
            out.append(
                {
                    "name": f"BatchBALD b={b}, n={n}: speed-up over the fastest peer "
                    f"({fastest['label']}){bound}",
                    "value": ratio,
                    "target": "> 1x",
                    "met": ratio > 1.0,
                }
            )
            finished = [r for r in peers if "batch_mi" in r]
            where = n
            if not finished:  # no peer finished at this size: the largest size where one did
                done = [
                    r
                    for r in bb
                    if r["n_queries"] == b and r["library"] != "skhyre" and "batch_mi" in r
                ]
                if done:
                    where = max(r["n"] for r in done)
                    finished = [r for r in done if r["n"] == where]
                    ours = next(
                        r
                        for r in bb
                        if r["n"] == where
                        and r["n_queries"] == b
                        and r["method"] == "skhyre_batchbald"
                    )
            if finished and "batch_mi" in ours:
                best = max(finished, key=lambda r: r["batch_mi"])
                se = math.hypot(ours["batch_mi_se"], best["batch_mi_se"])
                diff = ours["batch_mi"] - best["batch_mi"]
                note = "" if where == n else f" (no peer BatchBALD finished at n={n})"
                out.append(
                    {
                        "name": f"BatchBALD b={b}, n={where}: batch MI minus the best peer's "
                        f"({best['label']}), nats{note}",
                        "value": diff,
                        "target": f">= 0 within 2 standard errors ({2 * se:.4f})",
                        "met": diff >= -2 * se,
                    }
                )
            else:
                out.append(
                    {
                        "name": f"BatchBALD b={b}: batch MI against the peers",
                        "value": None,
                        "target": ">= the fastest peer's",
                        "met": None,
                    }
                )
    return out


def render_md(results: dict, targets: list[dict]) -> str:
    meta = results["meta"]
    sizes = meta["sizes"]
    v = meta["versions"]
    lines = [
        "# skhyre against peer active-learning libraries",
        "",
        f"Machine: {machine_line(meta['machine'])}.",
        "",
        f"Versions: skhyre {v['skhyre']}, baal {v['baal']}, scikit-activeml "
        f"{v['scikit-activeml']}, batchbald-redux {v['batchbald-redux']}, torch {v['torch']}, "
        f"numba {v['numba']}. numba/BLAS/OpenMP threads: {meta['threads']}; torch threads: "
        f"{meta['torch_threads']}. Load average at the end: {meta['load_average_end']}.",
        "",
        f"Pool: K={sizes['K']} members, C={sizes['C']} classes, float32; uniform member "
        "weights (the peers weight members uniformly). Members are perturbed linear softmax "
        "classifiers; pool rows are noisy copies of cluster centres (about 50 near duplicates "
        "each). Every time is a median in one run on this machine; ratios compare rows of the "
        f"same pool. Memory: {meta['memory_method']}. Written by `benchmarks/peers.py`"
        + (" (`--quick`)" if meta["quick"] else "")
        + ".",
        "",
        "## Targets",
        "",
    ]
    rows = []
    for t in targets:
        val = "-" if t["value"] is None else f"{t['value']:.3g}"
        met = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        rows.append([t["name"], val, t["target"], met])
    lines += [md_table(["target", "value", "wanted", ""], rows), ""]

    lines += [
        "## Single point: BALD and entropy scores of every pool row",
        "",
        f"Median of {meta['repeats']} runs. `max |diff|`: the largest absolute difference "
        "from skhyre's scores (`acquisition.bald` / `entropy`) over the pool.",
        "",
    ]
    rows = []
    for r in results["single"]:
        ours = next(
            x
            for x in results["single"]
            if x["n"] == r["n"] and x["method"] == f"skhyre_{r['task']}"
        )
        t, t0 = _time_of(r), _time_of(ours)
        ratio = "-" if t is None or t0 is None else f"{t / t0:.2f}"
        m, m0 = r.get("peak_extra_bytes"), ours.get("peak_extra_bytes")
        mratio = "-" if not m or not m0 else f"{m / m0:.1f}"
        diff = "-" if "max_abs_diff" not in r else f"{r['max_abs_diff']:.1e}"
        status = r.get("skipped") or r.get("error") or ""
        rows.append(
            [
                r["task"],
                f"{r['n']:,}",
                r["label"],
                _fmt_s(t) if not status else status,
                ratio,
                _fmt_mib(m),
                mratio,
                diff,
            ]
        )
    lines += [
        md_table(
            [
                "score",
                "n",
                "method",
                "time",
                "time / skhyre",
                "peak extra MiB",
                "memory / skhyre",
                "max \\|diff\\|",
            ],
            rows,
        ),
        "",
    ]
    lines += [
        "## Batches",
        "",
        f"Batch MI: `I(y_batch; member)` in nats under the uniform member mixture, by one "
        f"reference function for every batch (exact where C^b <= 2^16, else a Monte-Carlo "
        f"estimate from {sizes['ref_samples']} configurations per member, ± its standard "
        f"error; the entropy of the member is log K = {math.log(sizes['K']):.3f}, the most any "
        f"batch can reach). BatchBALD methods use M = {sizes['configurations']} label "
        "configurations (skhyre `max_configurations`, batchbald-redux `num_samples`, "
        "scikit-activeml `n_MC_samples`, baal `num_draw` = M / K per member). Times: median "
        f"of up to {meta['repeats']} runs within {meta['batch_budget_s']:g} s (the run count "
        "is shown). `select_sequential` sees each label before the next pick (simulated "
        "sequential labelling, labels from a hidden member): not a batch method, shown for "
        "reference.",
        "",
    ]
    rows = []
    for r in results["batches"]:
        ours = next(
            (
                x
                for x in results["batches"]
                if x["n"] == r["n"]
                and x["n_queries"] == r["n_queries"]
                and x["method"] == "skhyre_batchbald"
            ),
            None,
        )
        t, t0 = _time_of(r), _time_of(ours)
        if r.get("timed_out"):
            time_cell = f"> {r['lower_bound_s']:.0f} s (stopped)"
        elif "skipped" in r or "error" in r:
            time_cell = r.get("skipped") or r.get("error")
        else:
            time_cell = f"{_fmt_s(t)} ({len(r['times_s'])})"
        ratio = "-" if t is None or t0 is None else f"{t / t0:.2f}"
        if r.get("timed_out") and ratio != "-":
            ratio = "> " + ratio
        mi = "-" if "batch_mi" not in r else f"{r['batch_mi']:.4f} ± {r['batch_mi_se']:.4f}"
        rows.append(
            [
                f"{r['n']:,}",
                r["n_queries"],
                r["label"],
                time_cell,
                ratio,
                _fmt_mib(r.get("peak_extra_bytes")),
                mi,
            ]
        )
    lines += [
        md_table(
            [
                "n",
                "b",
                "method",
                "time (runs)",
                "time / skhyre batchbald",
                "peak extra MiB",
                "batch MI (nats)",
            ],
            rows,
        ),
        "",
        "## Notes",
        "",
        "- Definitions: every BALD here is the mutual information between a row's label and the "
        "member under uniform weights. baal computes it in float32 (its input's dtype); "
        "scikit-activeml clips probabilities to at least 1e-7 before taking logs (and its "
        "`average_kl_divergence` renormalises the clipped rows); batchbald-redux takes "
        "float32 log-probabilities. Differences up to about 1e-6 come from these, not from "
        "the definitions.",
        "- baal's `BatchBALD` draws `num_draw` label configurations per member at every step "
        "(it never enumerates), stops adding once gains stay below 0.1 for more than 10 "
        "steps, and ranks the pool by the gains it recorded: its batch is the top `b` of that "
        "ranking, as a baal user gets it.",
        "- scikit-activeml's and baal's BatchBALD hold the `(n, M, C)` float64 joint of every "
        "candidate at once; batchbald-redux computes it in chunks, one candidate's "
        "`(M x K) @ (K x C)` product at a time. skhyre's `batchbald` evaluates candidates "
        "lazily (in order of their last gain, stopping once no remaining candidate can beat "
        "the best) in parallel tiles.",
        "- skhyre `batchbald, 1 thread`: the same call on one numba thread, to separate the "
        "algorithm from the second core.",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny pools (a smoke run)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (>= 5)")
    p.add_argument("--batch-budget", type=float, default=60.0, help="seconds of repeats per batch")
    p.add_argument("--threads", type=int, default=None, help="numba/BLAS threads (all CPUs)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch threads of the peers")
    p.add_argument("--peer-timeout", type=float, default=600.0, help="seconds per measurement")
    p.add_argument("--mem-limit-gib", type=float, default=6.0, help="skip runs needing more")
    p.add_argument("--single-n", type=int, nargs="+", default=None)
    p.add_argument("--batch-n", type=int, nargs="+", default=None)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    p.add_argument("--configurations", type=int, default=None, help="M, for every BatchBALD")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="results folder")
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="measure nothing: rebuild the targets and the Markdown from a results JSON",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is None and args.render is None and args.repeats < 5 and not args.quick:
        p.error("--repeats must be >= 5 for a full run")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(json.loads(args.worker))
    if args.render is not None:
        results = json.loads(args.render.read_text(encoding="utf-8"))
        out = args.out if args.out is not None else args.render.parent
    else:
        results = measure(args)
        out = args.out
    targets = check_targets(results)
    results["targets"] = targets
    md = render_md(results, targets)
    folder = write_results("peers", results, md, out)
    print(md)
    print(f"\nwrote {folder / 'peers.json'} and {folder / 'peers.md'}")
    return results


if __name__ == "__main__":
    main()
