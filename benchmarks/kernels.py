"""Speed of the HyRe engine's Numba kernels against NumPy, in one process.

For each case, our kernel (through its public entry point) and, measured in
the same run on the same data:

- **best NumPy**: the fastest vectorised NumPy we know (``scipy.special.xlogy``,
  the BLAS mixture ``w @ P.reshape(K, -1)`` with ``w`` cast to float32 so that
  BLAS reads the float32 pool without a float64 copy, cached member
  entropies, preallocated buffers);
- **naive NumPy**: the straightforward version (``np.tensordot`` in float64,
  member entropies recomputed at every call, ``np.average``,
  ``scipy.special.softmax``).

Cases (``--quick`` shrinks the pools):

- ``reweight``: one ``HypothesisWeights.update`` with K=100 members and n=32
  examples, per-call latency including Python dispatch, versus a NumPy
  softmax of the updated cumulative loss;
- ``bald``: BALD over a cached float32 pool P=100k, K=100, C=10, plus K=10
  and C=2 variants;
- ``sequential``: 32 labels picked one at a time from that pool by BALD,
  re-scoring after every label (ours: ``select_sequential``; NumPy: a loop
  re-scoring the pool from scratch each step; both compute the member
  entropies once inside the timed call);
- ``variance``: the weighted member variance over a regression pool of
  P=1M rows, K=100;
- ``parallel``: our serial and parallel drivers side by side at several pool
  sizes (why ``PARALLEL_MIN_ELEMENTS`` is what it is);
- ``compile``: numba's cold compile time (a subprocess with a fresh
  ``NUMBA_CACHE_DIR``) and the warm start of a second process once the cache
  exists (its first call, which loads the cached machine code).

Each pool pass is compared with the memory-bandwidth floor: the bytes of the
cached matrices the kernel reads, divided by the machine's copy bandwidth
(``np.copyto`` of an equal-sized array, counted as read + write, best of one
and all threads).

Timings are medians of ``--repeats`` (>= 5) runs after a warm-up, in one
process; the numba threading layer and thread count (and the BLAS thread
count, the same) are set explicitly before numba is imported and written to
the results. Run ``python benchmarks/kernels.py`` (a few minutes; about 3 GB
of memory) or ``--quick``; results go to ``benchmarks/results/kernels.{json,md}``
(``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

SIZES = {
    "full": {
        "pool_n": 100_000,
        "pool_K": 100,
        "pool_C": 10,
        "variants": [(10, 10), (100, 2)],  # (K, C)
        "seq_labels": 32,
        "naive_seq_labels": 4,  # the naive loop is timed on fewer labels and scaled
        "var_n": 1_000_000,
        "var_K": 100,
        "parallel_n": [256, 1024, 4096, 16384, 100_000],
    },
    "quick": {
        "pool_n": 10_000,
        "pool_K": 100,
        "pool_C": 10,
        "variants": [(10, 10), (100, 2)],
        "seq_labels": 32,
        "naive_seq_labels": 32,
        "var_n": 100_000,
        "var_K": 100,
        "parallel_n": [256, 4096, 10_000],
    },
}
RE_K, RE_N = 100, 32
TARGETS = {
    "vs_best": 1.0,  # at least as fast as the best NumPy
    "vs_naive": 3.0,  # at least 3x faster than the naive NumPy
    "bald_floor": 1.5,  # BALD within 1.5x of the bandwidth floor
    "sequential_s": 1.0,  # 32 labels under 1 s (on 2 cores)
    "warm_start_s": 0.5,  # first call of a second process with the cache
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller pools (a smoke run)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (>= 5)")
    p.add_argument("--threads", type=int, default=None, help="numba and BLAS threads (all CPUs)")
    p.add_argument(
        "--threading-layer",
        default="workqueue",
        choices=["workqueue", "omp", "tbb"],
        help="numba threading layer",
    )
    p.add_argument("--out", type=Path, default=None, help="results folder")
    p.add_argument("--skip-compile", action="store_true", help="skip the compile-time subprocesses")
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="measure nothing: rebuild the report (targets, notes, Markdown) from a results JSON",
    )
    args = p.parse_args(argv)
    if args.repeats < 5 and not args.quick:
        p.error("--repeats must be >= 5 for a full run")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
THREADS = (ARGS.threads if ARGS and ARGS.threads else None) or os.cpu_count() or 1
LAYER = ARGS.threading_layer if ARGS else "workqueue"
# before numpy, BLAS and numba are imported
os.environ["NUMBA_THREADING_LAYER"] = LAYER
os.environ["NUMBA_NUM_THREADS"] = str(THREADS)
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import softmax, xlogy  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, md_table, median_time, write_results  # noqa: E402

from skhyre import HypothesisWeights, _kernels, acquisition  # noqa: E402


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def fmt_s(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def timed(fn, repeats, warmup=1, inner=1) -> dict:
    r = median_time(fn, repeats=repeats, warmup=warmup, inner=inner)
    return {k: r[k] for k in ("median_s", "min_s", "max_s", "repeats", "inner")}


def copy_bandwidth(nbytes: int, repeats: int) -> dict:
    """Copy bandwidth (bytes read + written per second) on ``nbytes``: one thread and all."""
    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    one = timed(lambda: np.copyto(dst, src), repeats)["median_s"]
    parts = np.array_split(np.arange(src.size), THREADS)
    bounds = [(p[0], p[-1] + 1) for p in parts if p.size]

    def multi():
        ts = [threading.Thread(target=np.copyto, args=(dst[a:b], src[a:b])) for a, b in bounds]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    many = timed(multi, repeats)["median_s"]
    bw1, bwn = 2 * nbytes / one, 2 * nbytes / many
    return {
        "bytes": nbytes,
        "one_thread_GBps": bw1 / 1e9,
        "all_threads_GBps": bwn / 1e9,
        "GBps": max(bw1, bwn) / 1e9,
    }


def make_pool(rng, K, n, C):
    P = rng.random((K, n, C), dtype=np.float32)
    P **= 3  # sharper, more varied member distributions than uniform draws
    P /= P.sum(axis=2, keepdims=True)
    return P


def make_weights(rng, K):
    w = rng.random(K)
    return w / w.sum()


# --------------------------------------------------------------------------
# NumPy implementations
# --------------------------------------------------------------------------
def np_best_entropies(P):
    """Member entropies, (K, n) float64, with xlogy (float32 terms, float64 sums)."""
    return -xlogy(P, P).sum(axis=2, dtype=np.float64)


def np_best_bald(P2, w32, w, Hm, n, C):
    M = (w32 @ P2).reshape(n, C)
    return np.maximum(-xlogy(M, M).sum(axis=1, dtype=np.float64) - w @ Hm, 0.0)


def np_naive_bald(P, w):
    M = np.tensordot(w, P, axes=1)
    Hm = -xlogy(P, P).sum(axis=2)
    return np.maximum(-xlogy(M, M).sum(axis=1) - w @ Hm, 0.0)


def np_softmax_best(L, T):
    a = L * (-1.0 / T)
    a -= a.max()
    np.exp(a, out=a)
    a /= a.sum()
    return a


def np_sequential(P, y, n_labels, T, naive):
    """Pick ``n_labels`` by BALD, re-scoring the whole pool from scratch after each label."""
    K, n, C = P.shape
    P2 = P.reshape(K, -1)
    L = np.zeros(K)
    taken = np.zeros(n, dtype=bool)
    Hm = None if naive else np_best_entropies(P)
    picked = []
    for _ in range(n_labels):
        if naive:
            w = softmax(-L / T)
            s = np_naive_bald(P, w)
        else:
            w = np_softmax_best(L, T)
            s = np_best_bald(P2, w.astype(np.float32), w, Hm, n, C)
        s[taken] = -np.inf
        i = int(np.argmax(s))
        picked.append(i)
        taken[i] = True
        L += P[:, i].argmax(axis=1) != y[i]
    return np.array(picked), L


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------
def bench_reweight(rng, reps) -> dict:
    losses = rng.random((RE_K, RE_N))
    hw = HypothesisWeights(RE_K, temperature=1.0)
    state = {"L": np.zeros(RE_K)}

    def best():
        state["L"] = state["L"] + losses.sum(axis=1)
        return np_softmax_best(state["L"], 1.0)

    def naive():
        state["L"] = state["L"] + losses.sum(axis=1)
        return softmax(-state["L"] / 1.0)

    inner = 2000
    out = {
        "ours": timed(lambda: hw.update(losses), reps, warmup=50, inner=inner),
        "best": timed(best, reps, warmup=50, inner=inner),
        "naive": timed(naive, reps, warmup=50, inner=inner),
    }
    ref = HypothesisWeights(RE_K).update(losses).weights
    state["L"] = np.zeros(RE_K)
    out["max_abs_diff_vs_best"] = float(np.abs(ref - best()).max())
    return out


def bench_bald(rng, K, n, C, reps, bw) -> dict:
    P = make_pool(rng, K, n, C)
    P2 = P.reshape(K, -1)
    w = make_weights(rng, K)
    w32 = w.astype(np.float32)
    Hm = _kernels.member_entropies(P)
    Hm_np = np_best_entropies(P)
    out = {
        "shape": [K, n, C],
        "ours": timed(lambda: acquisition.bald(P, w, member_entropies=Hm, check_input=False), reps),
        "best": timed(lambda: np_best_bald(P2, w32, w, Hm_np, n, C), reps),
        "naive": timed(lambda: np_naive_bald(P, w), reps),
        "ours_member_entropies": timed(lambda: _kernels.member_entropies(P), reps),
        "best_member_entropies": timed(lambda: np_best_entropies(P), reps),
        "ours_validate": timed(lambda: acquisition.check_member_probabilities(P), reps),
    }
    ours = acquisition.bald(P, w, member_entropies=Hm, check_input=False)
    out["max_abs_diff_vs_naive"] = float(np.abs(ours - np_naive_bald(P, w)).max())
    out["max_abs_diff_best_vs_naive"] = float(
        np.abs(np_best_bald(P2, w32, w, Hm_np, n, C) - np_naive_bald(P, w)).max()
    )
    nbytes = P.nbytes + Hm.nbytes
    out["bytes_read"] = nbytes
    out["floor_s"] = nbytes / (bw["GBps"] * 1e9)
    out["x_floor"] = out["ours"]["median_s"] / out["floor_s"]
    return out


def bench_sequential(rng, K, n, C, n_labels, naive_labels, reps, bw) -> dict:
    P = make_pool(rng, K, n, C)
    y = rng.integers(0, C, n)
    T = 1.0

    def ours():
        return acquisition.select_sequential(
            P, y, n_labels, criterion="bald", temperature=T, check_input=False
        )

    out = {
        "shape": [K, n, C],
        "n_labels": n_labels,
        "ours": timed(ours, reps),
        "best": timed(lambda: np_sequential(P, y, n_labels, T, naive=False), reps),
        "naive_labels_timed": naive_labels,
    }
    naive = timed(lambda: np_sequential(P, y, naive_labels, T, naive=True), reps, warmup=0)
    scale = n_labels / naive_labels
    out["naive"] = {k: (v * scale if k.endswith("_s") else v) for k, v in naive.items()}
    out["naive"]["scaled_from_labels"] = naive_labels
    picked, _ = ours()
    ref_picked, _ = np_sequential(P, y, n_labels, T, naive=True)
    out["same_picks_as_naive"] = bool(np.array_equal(picked, ref_picked))
    out["n_same_picks_as_naive"] = int((picked == ref_picked).sum())
    best_picked, _ = np_sequential(P, y, n_labels, T, naive=False)
    out["n_same_picks_best_vs_naive"] = int((best_picked == ref_picked).sum())
    # what the compiled loop reads: the pool once for the entropies, once per
    # full re-sum, the changed members' slabs otherwise (not counted here)
    out["floor_per_pass_s"] = (P.nbytes + K * n * 8) / (bw["GBps"] * 1e9)
    return out


def bench_variance(rng, K, n, reps, bw) -> dict:
    F = rng.normal(size=(K, n)).astype(np.float32)
    w = make_weights(rng, K)
    w32 = w.astype(np.float32)
    buf = np.empty_like(F)

    def best():
        m = w32 @ F
        np.subtract(F, m, out=buf)
        np.square(buf, out=buf)
        return w32 @ buf

    def naive():
        m = np.average(F, axis=0, weights=w)
        return np.average((F - m) ** 2, axis=0, weights=w)

    out = {
        "shape": [K, n],
        "ours": timed(lambda: acquisition.variance(F, w, check_input=False), reps),
        "best": timed(best, reps),
        "naive": timed(naive, reps),
    }
    ours = acquisition.variance(F, w, check_input=False)
    out["max_rel_diff_vs_naive"] = float(np.abs(ours - naive()).max() / np.abs(naive()).max())
    out["max_rel_diff_best_vs_naive"] = float(
        np.abs(best() - naive()).max() / np.abs(naive()).max()
    )
    out["bytes_read"] = F.nbytes
    out["floor_s"] = F.nbytes / (bw["GBps"] * 1e9)
    out["x_floor"] = out["ours"]["median_s"] / out["floor_s"]
    return out


def bench_parallel(rng, K, C, sizes, reps) -> list:
    rows = []
    real = _kernels._use_parallel
    try:
        for n in sizes:
            P = make_pool(rng, K, n, C)
            w = make_weights(rng, K)
            Hm = _kernels.member_entropies(P)
            F = P[:, :, 0].copy()
            row = {"K": K, "n": n, "C": C, "values": P.size}
            for mode in ("serial", "parallel"):
                _kernels._use_parallel = lambda _n, m=mode: m == "parallel"
                inner = max(1, 20_000_000 // max(P.size, 1))
                row[f"bald_{mode}"] = timed(
                    lambda P=P, w=w, Hm=Hm: _kernels.bald_scores(P, w, Hm), reps, inner=inner
                )
                row[f"variance_{mode}"] = timed(
                    lambda F=F, w=w: _kernels.variance_scores(F, w), reps, inner=inner
                )
            _kernels._use_parallel = real
            row["default_is_parallel"] = bool(real(P.size))
            rows.append(row)
    finally:
        _kernels._use_parallel = real
    return rows


_WORKLOAD = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    import numpy as np
    from skhyre import HypothesisWeights, _kernels, acquisition
    t1 = time.perf_counter()
    # numba's own one-off start-up (typing and target registries), paid by the
    # first call of any jitted function in a process: a tiny cached kernel
    _kernels.zero_one_loss_labels(np.zeros((1, 1), np.int64), np.zeros(1, np.int64))
    t2 = time.perf_counter()

    def workload(K, n, C):
        rng = np.random.default_rng(0)
        P = rng.random((K, n, C), dtype=np.float32)
        P /= P.sum(axis=2, keepdims=True)
        F = np.ascontiguousarray(P[:, :, 0])
        w = np.full(K, 1 / K)
        y = rng.integers(0, C, n)
        HypothesisWeights(K).update(rng.random((K, 32)))
        acquisition.bald(P, w)
        acquisition.entropy(P, w)
        acquisition.variance(F, w)
        acquisition.select_sequential(P, y, 4)
        acquisition.select_sequential(F, F[0].astype(np.float64), 4)

    workload(20, 8000, 4)  # below PARALLEL_MIN_ELEMENTS: serial drivers
    t3 = time.perf_counter()
    workload(50, 25000, 4)  # above it: the parallel drivers load too
    t4 = time.perf_counter()
    print(json.dumps({
        "import_s": t1 - t0,
        "numba_init_s": t2 - t1,
        "small_pool_s": t3 - t2,
        "large_pool_s": t4 - t3,
        "first_call_s": t3 - t1,
    }))
    """
)
WORKLOAD_TEXT = (
    "in a fresh process: `HypothesisWeights.update`, `bald`, `entropy`, `variance` and "
    "`select_sequential` (classification and regression, 4 labels) on a float32 pool "
    "of K=20, n=8000, C=4 (serial drivers), then the same on K=50, n=25000, C=4 "
    "(parallel drivers)"
)


def bench_compile() -> dict:
    """Cold compile (fresh cache dir) and warm start (later processes, same cache dir)."""
    with tempfile.TemporaryDirectory(prefix="skhyre-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, SKHYRE_NUMBA_CACHE="1")
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _WORKLOAD],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["process_s"] = time.perf_counter() - t0
            runs.append(res)
    warm = runs[1:]
    best = min(warm, key=lambda r: r["first_call_s"])
    return {
        "workload": WORKLOAD_TEXT,
        "cold": runs[0],
        "warm": warm,
        "warm_first_call_s": best["first_call_s"],
        "warm_numba_init_s": best["numba_init_s"],
        "warm_ours_s": best["small_pool_s"],
    }


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def ratio_row(name, res, extra=""):
    o, b, nv = (res[k]["median_s"] for k in ("ours", "best", "naive"))
    return [name, fmt_s(o), fmt_s(b), fmt_s(nv), f"{b / o:.2f}x", f"{nv / o:.1f}x", extra]


def check_targets(results) -> list:
    rows = []

    def add(name, value, target, ok, unit=""):
        rows.append(
            {"target": name, "measured": value, "goal": target, "met": bool(ok), "unit": unit}
        )

    cases = [("reweight", results["reweight"])]
    cases += [(f"bald {tuple(r['shape'])}", r) for r in results["bald"]]
    cases += [("sequential", results["sequential"]), ("variance", results["variance"])]
    for name, r in cases:
        o, b, nv = (r[k]["median_s"] for k in ("ours", "best", "naive"))
        add(f"{name}: speed-up vs best NumPy", b / o, ">= 1.0x", b / o >= TARGETS["vs_best"])
        add(f"{name}: speed-up vs naive NumPy", nv / o, ">= 3x", nv / o >= TARGETS["vs_naive"])
    for r in results["bald"]:
        add(
            f"bald {tuple(r['shape'])}: time / bandwidth floor",
            r["x_floor"],
            "<= 1.5x",
            r["x_floor"] <= TARGETS["bald_floor"],
        )
    seq = results["sequential"]["ours"]["median_s"]
    add(
        f"sequential {results['sequential']['n_labels']} labels",
        seq,
        "< 1 s",
        seq < TARGETS["sequential_s"],
        "s",
    )
    if results.get("compile"):
        c = results["compile"]
        ws = c["warm_first_call_s"]
        add("warm start: first call, second process", ws, "< 0.5 s", ws < 0.5, "s")
        add(
            "warm start without numba's start-up",
            c["warm_ours_s"],
            "< 0.5 s",
            c["warm_ours_s"] < 0.5,
            "s",
        )
    return rows


def render_md(results, targets) -> str:
    meta = results["meta"]
    lines = [
        "# HyRe engine kernels vs NumPy",
        "",
        f"Machine: {machine_line(meta['machine'])}.",
        "",
        f"Run: `python benchmarks/kernels.py{' --quick' if meta['quick'] else ''}`; "
        f"numba threading layer `{meta['threading_layer']}` with {meta['threads']} threads, "
        f"BLAS with {meta['threads']} threads ({meta['blas']}); median of "
        f"{meta['repeats']} runs after a warm-up, all in one process. Other jobs shared "
        f"the machine (load average {meta['machine']['load_average']} at the start, "
        f"{meta['load_average_end']} at the end), so timings are noisy.",
        "",
        "*best NumPy*: xlogy, BLAS mixture `w32 @ P.reshape(K, -1)`, cached member "
        "entropies, preallocated buffers. *naive NumPy*: `np.tensordot`, member entropies "
        "recomputed every call, `np.average`, `scipy.special.softmax`. Speed-ups are "
        "NumPy time / our time.",
        "",
    ]
    rw = results["reweight"]
    rows = [ratio_row(f"reweight K={RE_K}, n={RE_N} (per call)", rw)]
    for r in results["bald"]:
        K, n, C = r["shape"]
        rows.append(ratio_row(f"BALD K={K}, n={n:,}, C={C}", r, f"{r['x_floor']:.2f}x floor"))
    sq = results["sequential"]
    K, n, C = sq["shape"]
    note = (
        f"naive timed on {sq['naive_labels_timed']} labels, scaled"
        if sq["naive_labels_timed"] != sq["n_labels"]
        else ""
    )
    rows.append(ratio_row(f"sequential BALD, {sq['n_labels']} labels, n={n:,}", sq, note))
    vr = results["variance"]
    K, n = vr["shape"]
    rows.append(ratio_row(f"variance K={K}, n={n:,}", vr, f"{vr['x_floor']:.2f}x floor"))
    lines += [
        "## Timings",
        "",
        md_table(
            ["case", "ours", "best NumPy", "naive NumPy", "vs best", "vs naive", "note"], rows
        ),
        "",
    ]
    bw = results["bandwidth"]
    floor_rows = []
    for r in results["bald"]:
        K, n, C = r["shape"]
        floor_rows.append(
            [
                f"BALD K={K}, n={n:,}, C={C}",
                f"{r['bytes_read'] / 2**20:,.0f} MiB",
                fmt_s(r["floor_s"]),
                fmt_s(r["ours"]["median_s"]),
                f"{r['x_floor']:.2f}x",
            ]
        )
    floor_rows.append(
        [
            f"variance K={vr['shape'][0]}, n={vr['shape'][1]:,}",
            f"{vr['bytes_read'] / 2**20:,.0f} MiB",
            fmt_s(vr["floor_s"]),
            fmt_s(vr["ours"]["median_s"]),
            f"{vr['x_floor']:.2f}x",
        ]
    )
    lines += [
        "## Memory-bandwidth floor",
        "",
        f"Copy bandwidth (`np.copyto`, read + write, on {bw['bytes'] / 2**20:,.0f} MiB): "
        f"{bw['one_thread_GBps']:.1f} GB/s on one thread, {bw['all_threads_GBps']:.1f} GB/s "
        f"on {meta['threads']}; the floor uses the larger. Floor = bytes of the cached "
        "matrices read (pool + member entropies for BALD) / that bandwidth.",
        "",
        md_table(["pass", "bytes read", "floor", "ours", "ours / floor"], floor_rows),
        "",
    ]
    b0 = results["bald"][0]
    extra = [
        ["member entropies (once per pool)", fmt_s(b0["ours_member_entropies"]["median_s"]),
         fmt_s(b0["best_member_entropies"]["median_s"])],
        ["pool validation (`check_member_probabilities`)", fmt_s(b0["ours_validate"]["median_s"]),
         "-"],
    ]  # fmt: skip
    lines += [
        f"Per-pool work on the K={b0['shape'][0]}, n={b0['shape'][1]:,}, C={b0['shape'][2]} "
        "pool (not in the BALD row above; the sequential row includes the entropies):",
        "",
        md_table(["", "ours", "best NumPy (xlogy)"], extra),
        "",
        f"Sequential selection: our picks equal the naive loop's in "
        f"{sq['n_same_picks_as_naive']}/{sq['n_labels']} places (the best-NumPy loop's, "
        f"float32 mixture, in {sq['n_same_picks_best_vs_naive']}/{sq['n_labels']}); one "
        f"full pass over the pool costs at least {fmt_s(sq['floor_per_pass_s'])}.",
        "",
    ]
    par_rows = []
    for r in results["parallel"]:
        par_rows.append(
            [
                f"n={r['n']:,} ({r['values']:,} values)",
                fmt_s(r["bald_serial"]["median_s"]),
                fmt_s(r["bald_parallel"]["median_s"]),
                fmt_s(r["variance_serial"]["median_s"]),
                fmt_s(r["variance_parallel"]["median_s"]),
                "parallel" if r["default_is_parallel"] else "serial",
            ]
        )
    K, C = results["parallel"][0]["K"], results["parallel"][0]["C"]
    lines += [
        f"## Serial or parallel (K={K}, C={C}; variance over the first class column)",
        "",
        md_table(
            [
                "pool",
                "BALD serial",
                "BALD parallel",
                "variance serial",
                "variance parallel",
                "default",
            ],
            par_rows,
        ),
        "",
        f"Pools of at least `PARALLEL_MIN_ELEMENTS` = {_kernels.PARALLEL_MIN_ELEMENTS:,} "
        "values run the parallel driver.",
        "",
    ]
    if results.get("compile"):
        c = results["compile"]
        cold = c["cold"]
        lines += [
            "## Compilation and warm start",
            "",
            f"Workload: {c['workload']}. First call = numba's own start-up (the first "
            "call of any jitted function in a process loads numba's typing and target "
            "registries) + the small-pool workload.",
            "",
            md_table(
                ["process", "import skhyre", "numba start-up", "small pool", "large pool"],
                [
                    ["cold (fresh `NUMBA_CACHE_DIR`: compiles)", fmt_s(cold["import_s"]),
                     fmt_s(cold["numba_init_s"]), fmt_s(cold["small_pool_s"]),
                     fmt_s(cold["large_pool_s"])],
                    *[
                        [f"warm #{i + 1} (same cache)", fmt_s(r["import_s"]),
                         fmt_s(r["numba_init_s"]), fmt_s(r["small_pool_s"]),
                         fmt_s(r["large_pool_s"])]
                        for i, r in enumerate(c["warm"])
                    ],
                ],
            ),
            "",
        ]  # fmt: skip
    trows = []
    for t in targets:
        v = t["measured"]
        shown = fmt_s(v) if t["unit"] == "s" else f"{v:.2f}x"
        trows.append([t["target"], shown, t["goal"], "met" if t["met"] else "**missed**"])
    lines += ["## Targets", "", md_table(["target", "measured", "goal", "status"], trows), ""]
    missed = [t for t in targets if not t["met"]]
    lines += ["### Missed targets", ""]
    if not missed:
        lines += ["None.", ""]
    else:
        lines += [f"- {t['target']}: {t['measured']:.3g} (goal {t['goal']})." for t in missed]
        lines += ["", *results.get("notes", []), ""]
    return "\n".join(lines)


def explain_misses(results, targets) -> list:
    """Why a missed target was missed, from the measurements."""
    notes = []
    names = {t["target"] for t in targets if not t["met"]}
    if any("vs naive" in n and n.startswith("reweight") for n in names):
        rw = results["reweight"]
        notes.append(
            "- reweight vs naive: a K=100, n=32 update is a few microseconds of arithmetic; "
            f"`scipy.special.softmax` takes {fmt_s(rw['naive']['median_s'])} and our update "
            f"{fmt_s(rw['ours']['median_s'])}, most of it Python and numba dispatch "
            "(argument checks, three output arrays, the call into compiled code)."
        )
    for r in results["bald"]:
        K, n, C = r["shape"]
        if f"bald {(K, n, C)}: time / bandwidth floor" not in names:
            continue
        # the logarithm rate of the same run: member entropies of the first pool
        b0 = results["bald"][0]
        per_log = b0["ours_member_entropies"]["median_s"] / math.prod(b0["shape"])
        logs_s = n * C * per_log
        text = (
            f"- BALD K={K}, n={n:,}, C={C}: {r['x_floor']:.2f}x the floor "
            f"({fmt_s(r['ours']['median_s'])} for {fmt_s(r['floor_s'])}). "
        )
        serial = [p for p in results["parallel"] if (p["K"], p["n"], p["C"]) == (K, n, C)]
        if serial:
            t = serial[0]["bald_serial"]["median_s"]
            text += (
                f"The same pass with the serial driver, later in the same run, took "
                f"{fmt_s(t)} ({t / r['floor_s']:.2f}x the floor): the two threads did not "
                "find two free cores (load average above), and neither did the copy whose "
                "bandwidth defines the floor. "
            )
        else:
            text += (
                "The pass and the copy that defines the floor ran at different moments "
                "of a shared machine (load average above). "
            )
        if logs_s > 0.5 * r["floor_s"]:
            text += (
                f"It also computes {n * C:,} mixture logarithms: at this run's rate "
                f"({per_log * 1e9:.1f} ns per value, from the member entropies) that is "
                f"{fmt_s(logs_s)} of arithmetic against a {fmt_s(r['floor_s'])} floor"
                + (
                    ", so with few members the pass is bound by the logarithm, not by memory."
                    if logs_s >= r["floor_s"]
                    else f"; the two together ({fmt_s(logs_s + r['floor_s'])}) are most of "
                    "the measured time: with few members the logarithms cost about as much as "
                    "reading the pool."
                )
            )
        notes.append(text.rstrip())
    if any(n.startswith("sequential") and "labels" in n for n in names):
        notes.append(
            "- sequential: each label re-scores the whole pool; the incremental mixture "
            "reads only the members whose 0-1 loss differs from the majority's (at most "
            "half), but every re-sum (every 8 labels, or when a weight factor would "
            "amplify rounding) reads the whole pool."
        )
    if any(n.startswith("warm start") for n in names):
        c = results["compile"]
        notes.append(
            f"- warm start: of the {fmt_s(c['warm_first_call_s'])} first call, "
            f"{fmt_s(c['warm_numba_init_s'])} is numba's own start-up, paid once per "
            "process by the first call of any jitted function (it imports numba's "
            "typing and lowering registries); loading our cached kernels and running "
            f"the workload takes {fmt_s(c['warm_ours_s'])}."
        )
    return notes


def main(args: argparse.Namespace) -> dict:
    sizes = SIZES["quick" if args.quick else "full"]
    reps = args.repeats
    numba.set_num_threads(THREADS)
    info_start = machine_info()
    rng = np.random.default_rng(0)
    with threadpool_limits(THREADS):
        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('num_threads')} threads"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        )
        K, n, C = sizes["pool_K"], sizes["pool_n"], sizes["pool_C"]
        print(f"threading layer {LAYER}, {THREADS} threads; BLAS: {blas}", flush=True)
        bw = copy_bandwidth(K * n * C * 4, reps)
        print(f"copy bandwidth {bw['GBps']:.1f} GB/s", flush=True)
        results = {"bandwidth": bw}
        results["reweight"] = bench_reweight(rng, reps)
        print("reweight done", flush=True)
        results["bald"] = [bench_bald(rng, K, n, C, reps, bw)]
        for Kv, Cv in sizes["variants"]:
            results["bald"].append(bench_bald(rng, Kv, n, Cv, reps, bw))
        print("bald done", flush=True)
        results["sequential"] = bench_sequential(
            rng, K, n, C, sizes["seq_labels"], sizes["naive_seq_labels"], reps, bw
        )
        print("sequential done", flush=True)
        results["variance"] = bench_variance(rng, sizes["var_K"], sizes["var_n"], reps, bw)
        print("variance done", flush=True)
        results["parallel"] = bench_parallel(rng, K, C, sizes["parallel_n"], reps)
        print("parallel done", flush=True)
    results["compile"] = None if args.skip_compile else bench_compile()
    info = machine_info()
    info["load_average"] = info_start["load_average"]
    results["meta"] = {
        "machine": info,
        "load_average_end": machine_info()["load_average"],
        "quick": bool(args.quick),
        "repeats": reps,
        "threads": THREADS,
        "threading_layer": numba.threading_layer(),
        "blas": blas,
        "sizes": sizes,
        "targets": TARGETS,
        "parallel_min_elements": _kernels.PARALLEL_MIN_ELEMENTS,
    }
    targets = check_targets(results)
    results["targets"] = targets
    results["notes"] = explain_misses(results, targets)
    md = render_md(results, targets)
    folder = write_results("kernels", results, md, args.out)
    print(md)
    print(f"\nwrote {folder / 'kernels.json'} and {folder / 'kernels.md'}")
    return results


def render(path: Path, out: Path | None) -> dict:
    """Rebuild the derived parts of a results JSON and its Markdown report."""
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    targets = check_targets(results)
    results["targets"] = targets
    results["notes"] = explain_misses(results, targets)
    md = render_md(results, targets)
    folder = write_results("kernels", results, md, out if out is not None else Path(path).parent)
    print(md)
    print(f"\nwrote {folder / 'kernels.json'} and {folder / 'kernels.md'}")
    return results


if __name__ == "__main__":
    if ARGS.render is not None:
        render(ARGS.render, ARGS.out)
    else:
        main(ARGS)
