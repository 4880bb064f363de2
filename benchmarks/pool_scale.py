"""Scoring pools beyond memory: peak memory and throughput of ``query`` versus pool size.

For pools of 10^5, 10^6 and 10^7 rows (8 features), one ``query(X_pool,
n_queries=10)`` under uniform weights is timed in three modes:

* ``in-memory``: the pool is a NumPy array and the whole cached member matrix
  is built (``pool_memory_budget=inf``), as before pools could stream;
* ``streamed``: the pool is a callable returning a fresh iterator of
  65,536-row chunks generated on the fly (as if read from disk), scored
  block by block under the default 1 GiB budget;
* ``dask``: the pool is a ``dask.array`` generated on the workers of a
  2-worker, 1-thread-per-worker ``LocalCluster`` (32,768-row chunks), scored
  there; only each block's top candidates come back.

Two tasks with K=100 members: classification with C=10 classes (BALD, the
cached matrix is K x n x C float32 plus K x n float64 member entropies:
4,800 bytes per row) and regression (weighted variance, K x n float32: 400
bytes per row). The members are a *stand-in*: a fitted estimator with the
AdaptationMixin hooks whose ``_member_matrix`` is a cheap deterministic
function of each row (classification: class probabilities looked up from a
fixed random K x 4096 x C table by a hash of the row; regression: a random
linear map of the features). A torch ensemble of that size forwards about
10^4 rows/s on these 2 cores, so 10^7 rows would take hours per mode; the
stand-in keeps the benchmark about the pool machinery: building, scoring and
merging member matrices.

Peak memory is the process's resident high-water mark (``VmHWM`` from
``/proc/self/status``). Local modes run one subprocess per configuration;
the Dask mode runs one subprocess per task with one cluster and resets the
high-water marks (``/proc/self/clear_refs``) of the client and both
workers before each size. A configuration whose in-memory matrix would not
fit in 80% of the available memory is skipped and reported with the reason.
Every mode's 10 picks are compared with the in-memory picks (or, where that
was skipped, with the streamed ones): they must be identical.

Run ``python benchmarks/pool_scale.py`` (about 15-30 minutes on 2 shared
cores) or ``--quick`` (10^4 and 10^5 rows). Writes ``pool_scale.json`` and
``pool_scale.md`` to ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, md_table, write_results

from skhyre._adaptation import AdaptationMixin

K = 100
C = 10
D = 8
N_QUERIES = 10
CHUNK = 65_536  # rows per generated chunk (the pool's deterministic content)
DASK_CHUNK = 32_768
BUCKETS = 4096
FULL_SIZES = (10**5, 10**6, 10**7)
QUICK_SIZES = (10**4, 10**5)
MODES = ("in-memory", "streamed", "dask")
TASKS = ("classification", "regression")


# --------------------------------------------------------------------------
# the stand-in ensemble
# --------------------------------------------------------------------------
class StandInEnsemble(AdaptationMixin, BaseEstimator):
    """K members whose predictions are a cheap deterministic function of each row.

    Parameters
    ----------
    task : {"classification", "regression"}
    n_members, n_classes, n_features : int
    temperature : float, default=1.0
    adapt_loss : str or None, default=None
    random_state : int, default=0
    """

    _adapt_loss_names = ("zero_one", "log_loss", "brier", "squared", "absolute")

    def __init__(
        self,
        task="classification",
        n_members=K,
        n_classes=C,
        n_features=D,
        temperature=1.0,
        adapt_loss=None,
        random_state=0,
    ):
        self.task = task
        self.n_members = n_members
        self.n_classes = n_classes
        self.n_features = n_features
        self.temperature = temperature
        self.adapt_loss = adapt_loss
        self.random_state = random_state

    @property
    def _task(self):
        return self.task

    @property
    def _default_adapt_loss(self):
        return "zero_one" if self.task == "classification" else "squared"

    def fit(self, X=None, y=None):
        rng = np.random.RandomState(self.random_state)
        self.n_features_in_ = self.n_features
        self.classes_ = np.arange(self.n_classes)
        self.hash_ = rng.normal(size=self.n_features)
        logits = 2.0 * rng.normal(size=(self.n_members, BUCKETS, self.n_classes))
        table = np.exp(logits - logits.max(axis=2, keepdims=True))
        self.table_ = (table / table.sum(axis=2, keepdims=True)).astype(np.float32)
        self.coef_ = rng.normal(size=(self.n_features, self.n_members)).astype(np.float32)
        self._init_adaptation_state()
        return self

    def _n_members_fitted(self):
        return self.n_members

    def _member_block_rows(self):
        return 1  # every row is predicted on its own

    def _member_matrix(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {X.shape}.")
        if self.task == "regression":
            return self.coef_.T @ X.T.astype(np.float32)  # (K, n), no transposed copy
        h = np.floor(np.abs(X @ self.hash_) * 997.0).astype(np.int64) % BUCKETS
        out = np.empty((self.n_members, X.shape[0], self.n_classes), dtype=np.float32)
        for k in range(self.n_members):  # row gathers of one member's table at a time
            np.take(self.table_[k], h, axis=0, out=out[k])
        return out

    def _encode_adapt_y(self, y):
        return np.asarray(y)

    def _loss_functions(self):
        return {}


# --------------------------------------------------------------------------
# the pool: 65,536-row chunks, each from its own seed
# --------------------------------------------------------------------------
def _chunk(c: int, rows: int = CHUNK) -> np.ndarray:
    return np.random.RandomState(1000 + c).standard_normal((CHUNK, D))[:rows]


def _chunks(n: int):
    for c in range((n + CHUNK - 1) // CHUNK):
        yield _chunk(c, min(CHUNK, n - c * CHUNK))


def _dask_block(block_info=None):
    (r0, r1), _ = block_info[None]["array-location"]
    c0, c1 = r0 // CHUNK, (r1 - 1) // CHUNK
    X = np.concatenate([_chunk(c) for c in range(c0, c1 + 1)])
    return X[r0 - c0 * CHUNK : r1 - c0 * CHUNK]


def _dask_pool(n: int):
    import dask.array as da

    rows = (DASK_CHUNK,) * (n // DASK_CHUNK) + ((n % DASK_CHUNK,) if n % DASK_CHUNK else ())
    return da.map_blocks(_dask_block, chunks=(rows, (D,)), dtype=np.float64)


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _mem_available_bytes() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def in_memory_bytes(task: str, n: int) -> int:
    """The in-memory path's cached matrices plus the pool itself."""
    per_row = K * C * 4 + K * 8 if task == "classification" else K * 4
    return n * (per_row + D * 8)


# --------------------------------------------------------------------------
# one configuration (in a subprocess)
# --------------------------------------------------------------------------
def _criterion(task: str) -> str:
    return "bald" if task == "classification" else "variance"


def run_local(task: str, mode: str, n: int) -> dict:
    est = StandInEnsemble(task=task).fit()
    crit = _criterion(task)
    est.query(np.concatenate(list(_chunks(1000))), n_queries=2, criterion=crit)  # compile
    est.query(lambda: _chunks(1000), n_queries=2, criterion=crit)
    rss0 = _status_kib("VmRSS")
    _reset_peak()
    if mode == "in-memory":
        X = np.concatenate(list(_chunks(n)))
        t0 = time.perf_counter()
        picks = est.query(X, n_queries=N_QUERIES, criterion=crit, pool_memory_budget=np.inf)
    else:
        t0 = time.perf_counter()
        picks = est.query(lambda: _chunks(n), n_queries=N_QUERIES, criterion=crit)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "rows_per_s": n / wall,
        "rss_before_mib": rss0 / 1024,
        "peak_rss_mib": _status_kib("VmHWM") / 1024,
        "picks": picks.tolist(),
    }


def _worker_reset_and_rss():
    return _reset_peak(), _status_kib("VmRSS")


def _worker_peak():
    return _status_kib("VmHWM")


def run_dask(task: str, sizes: list[int]) -> list[dict]:
    os.environ["NUMBA_NUM_THREADS"] = "1"  # one core per worker, inherited by the workers
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    startup = time.perf_counter() - t0
    est = StandInEnsemble(task=task).fit()
    crit = _criterion(task)
    est.query(_dask_pool(1000), n_queries=2, criterion=crit)  # ship + compile on workers
    out = []
    try:
        for n in sizes:
            pool = _dask_pool(n)
            rss0 = _status_kib("VmRSS")
            _reset_peak()
            workers0 = client.run(_worker_reset_and_rss)
            t0 = time.perf_counter()
            picks = est.query(pool, n_queries=N_QUERIES, criterion=crit)
            wall = time.perf_counter() - t0
            peaks = client.run(_worker_peak)
            out.append(
                {
                    "n": n,
                    "wall_s": wall,
                    "rows_per_s": n / wall,
                    "rss_before_mib": rss0 / 1024,
                    "peak_rss_mib": _status_kib("VmHWM") / 1024,
                    "worker_rss_before_mib": [v[1] / 1024 for v in workers0.values()],
                    "worker_peak_rss_mib": [v / 1024 for v in peaks.values()],
                    "cluster_startup_s": startup,
                    "picks": picks.tolist(),
                }
            )
    finally:
        client.close()
        cluster.close()
    return out


def _subprocess(args: list[str], timeout: float) -> dict | list:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout)[-1500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------
def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^4 and 10^5 rows only")
    parser.add_argument("--out", default=None, help="results folder")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # JSON: one configuration
    args = parser.parse_args(argv)
    if args.one:
        cfg = json.loads(args.one)
        if cfg["mode"] == "dask":
            result = run_dask(cfg["task"], cfg["sizes"])
        else:
            result = run_local(cfg["task"], cfg["mode"], cfg["n"])
        print(json.dumps(result))
        return result

    sizes = list(QUICK_SIZES if args.quick else FULL_SIZES)
    info = machine_info()
    print(machine_line(info))
    results = []
    for task in args.tasks:
        dask_rows = {}
        if "dask" in args.modes:
            got = _subprocess(
                ["--one", json.dumps({"task": task, "mode": "dask", "sizes": sizes})],
                args.timeout * len(sizes),
            )
            if isinstance(got, dict):  # an error
                dask_rows = {n: {"error": got["error"]} for n in sizes}
            else:
                dask_rows = {r.pop("n"): r for r in got}
        for n in sizes:
            for mode in args.modes:
                row = {"task": task, "mode": mode, "n": n}
                need = in_memory_bytes(task, n)
                if mode == "in-memory" and need > 0.8 * _mem_available_bytes():
                    row["skipped"] = (
                        f"needs about {need / 2**30:.1f} GiB (member matrix, entropies and pool) "
                        f"> 80% of the {_mem_available_bytes() / 2**30:.1f} GiB available"
                    )
                elif mode == "dask":
                    row.update(dask_rows[n])
                else:
                    cfg = {"task": task, "mode": mode, "n": n}
                    row.update(_subprocess(["--one", json.dumps(cfg)], args.timeout))
                results.append(row)
                print(_line(row), flush=True)
    _check_picks(results)
    payload = {
        "benchmark": "pool_scale",
        "quick": args.quick,
        "machine": info,
        "settings": {
            "n_members": K,
            "n_classes": C,
            "n_features": D,
            "n_queries": N_QUERIES,
            "chunk_rows": CHUNK,
            "dask_chunk_rows": DASK_CHUNK,
            "memory_budget_bytes": 2**30,
            "estimator": "StandInEnsemble (cheap deterministic members; see module docstring)",
        },
        "results": results,
    }
    folder = write_results("pool_scale", payload, _markdown(payload), args.out)
    print(f"wrote {folder / 'pool_scale.json'} and pool_scale.md")
    return payload


def _check_picks(results: list[dict]) -> None:
    """``same_picks``: this mode's picks equal the in-memory (else the streamed) picks."""
    for task in {r["task"] for r in results}:
        for n in {r["n"] for r in results if r["task"] == task}:
            rows = {r["mode"]: r for r in results if r["task"] == task and r["n"] == n}
            ref = next((rows[m]["picks"] for m in MODES if m in rows and "picks" in rows[m]), None)
            for r in rows.values():
                if "picks" in r:
                    r["same_picks"] = r["picks"] == ref


def _fmt(row: dict, key: str, spec: str) -> str:
    return "-" if key not in row else format(row[key], spec)


def _line(row: dict) -> str:
    head = f"{row['task']:<14} {row['mode']:<9} n={row['n']:>9,}"
    if "skipped" in row:
        return f"{head}  skipped: {row['skipped']}"
    if "error" in row:
        return f"{head}  ERROR: {row['error'].strip().splitlines()[-1]}"
    workers = ""
    if "worker_peak_rss_mib" in row:
        workers = "  workers peak " + "/".join(f"{v:,.0f}" for v in row["worker_peak_rss_mib"])
    return (
        f"{head}  {row['wall_s']:8.2f} s  {row['rows_per_s']:12,.0f} rows/s  "
        f"peak RSS {row['peak_rss_mib']:9,.0f} MiB{workers}"
    )


def _markdown(payload: dict) -> str:
    rows = []
    for r in payload["results"]:
        if "skipped" in r or "error" in r:
            note = r.get("skipped") or "error: " + r["error"].strip().splitlines()[-1]
            rows.append([r["task"], r["mode"], f"{r['n']:,}", "-", "-", "-", "-", "-", note])
            continue
        workers = (
            " / ".join(f"{v:,.0f}" for v in r["worker_peak_rss_mib"])
            if "worker_peak_rss_mib" in r
            else "-"
        )
        rows.append(
            [
                r["task"],
                r["mode"],
                f"{r['n']:,}",
                f"{r['wall_s']:.2f}",
                f"{r['rows_per_s']:,.0f}",
                f"{r['rss_before_mib']:,.0f}",
                f"{r['peak_rss_mib']:,.0f}",
                workers,
                "yes" if r.get("same_picks") else "NO",
            ]
        )
    s = payload["settings"]
    startups = {
        r["task"]: r["cluster_startup_s"] for r in payload["results"] if "cluster_startup_s" in r
    }
    lines = [
        "# Scoring pools beyond memory" + (" (quick run)" if payload["quick"] else ""),
        "",
        f"Machine: {machine_line(payload['machine'])}",
        "",
        "The machine is shared with other engineers' jobs (see the load average): "
        "throughputs are indicative; the memory figures are not affected.",
        "",
        f"`query(X_pool, n_queries={s['n_queries']})` under uniform weights, K={s['n_members']} "
        f"members, {s['n_features']} features; classification: C={s['n_classes']} classes, "
        "BALD; regression: weighted variance. Members: a stand-in estimator "
        "(`StandInEnsemble` in `benchmarks/pool_scale.py`) with the estimator hooks and a "
        "cheap deterministic `_member_matrix` (classification: probabilities looked up "
        "from a fixed random K x 4096 x C table by a hash of the row; regression: a "
        "random linear map), so the figures measure the pool machinery rather than a "
        "torch forward pass.",
        "",
        "Modes: **in-memory**: a NumPy pool and the whole cached matrix "
        "(`pool_memory_budget=inf`); **streamed**: a callable pool yielding "
        f"{s['chunk_rows']:,}-row chunks generated on the fly, scored block by block (default "
        "1 GiB budget); **dask**: a `dask.array` pool generated and scored on a 2-worker "
        f"(1 thread each) `LocalCluster`, {s['dask_chunk_rows']:,}-row chunks. Local modes "
        "use both cores (torch and Numba threads); Dask workers use one each.",
        "",
        "Peak RSS: resident high-water mark (`VmHWM`) of the process that calls `query` "
        "(for Dask, the client), reset after imports and warm-up; RSS before is the "
        "resident size at that point (interpreter, NumPy, Numba, torch, skhyre). "
        "Dask workers: each worker's high-water mark during the query. "
        "Same picks: the 10 indices equal the in-memory ones (or the streamed ones "
        "where in-memory was skipped).",
        "",
        md_table(
            [
                "task",
                "mode",
                "pool rows",
                "time (s)",
                "rows/s",
                "RSS before (MiB)",
                "peak RSS (MiB)",
                "Dask workers' peak (MiB)",
                "same picks",
            ],
            rows,
        ),
        "",
    ]
    if startups:
        lines += [
            "Cluster start-up (not timed above): "
            + ", ".join(f"{t}: {v:.1f} s" for t, v in startups.items())
            + ".",
            "",
        ]
    lines += [
        "Streaming keeps the caller's peak memory flat as the pool grows: one block of "
        "member predictions (about 64 MiB) at a time, plus the top candidates. The "
        "in-memory path grows by the matrix size per row (4,800 bytes for the "
        "classifier, 400 for the regressor) and cannot hold 10^7 classifier rows here.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
