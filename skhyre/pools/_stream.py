"""Streamed ``query`` and ``active_adapt``: pools read block by block, in one or many passes."""

from __future__ import annotations

import numpy as np

from .. import _kernels, acquisition
from .._config import (
    resolve_budget,
)
from .._validation import check_exclude, check_log_prior, check_n_queries
from ..reweighting import check_temperature
from ._blocks import (
    LazyExclusion,
    Pool,
    block_rows_for,
    local_pass,
    pool_kind,
    row_nbytes,
)
from ._dask import (
    DaskPool,
)


# --------------------------------------------------------------------------
# query
# --------------------------------------------------------------------------
def check_positive_n(n_queries) -> None:
    big = np.iinfo(np.int64).max
    check_n_queries(n_queries, big, big)


def stream_query(
    est, X_pool, n_queries, criterion, exclude, random_state, pool_memory_budget, sampling="top"
):
    """Streamed ``query`` (``criterion`` already resolved); see the module docstring."""
    resolve_budget(pool_memory_budget)  # validates
    check_positive_n(n_queries)
    if criterion == "random":
        plan = ("random",)
    else:
        seeds = est._step_seeds(est._query_rng(random_state), criterion, sampling, 1)
        plan = ("fresh", criterion, est.weights_, None if seeds is None else seeds[0])
    if pool_kind(X_pool) == "dask":
        pool = DaskPool(X_pool, est, criterion)
        mask = check_exclude(exclude, pool.n_rows)
        check_n_queries(n_queries, int((~mask).sum()), pool.n_rows)
        if criterion == "random":
            return pool.random_top(est._query_rng(random_state), n_queries, mask).idx
        pool.set_exclusion(mask)
        (top,), bad = pool.top([plan], [n_queries])
        est._warn_pool_nan(bad.size, int((~mask).sum()), "query")
        idx, _ = top.best(None, n_queries, refuse_nan=True)
        return idx
    pool = Pool(X_pool, pool_kind(X_pool), est)
    exclusion = LazyExclusion(exclude, pool.n_rows)
    n, (top,), _, bad = local_pass(
        est,
        pool,
        [plan],
        [n_queries + exclusion.n_negative],
        exclusion,
        block_rows_for(est, criterion),
        rng=est._query_rng(random_state) if criterion == "random" else None,
    )
    mask = check_exclude(exclude, n)
    check_n_queries(n_queries, int((~mask).sum()), n)
    est._warn_pool_nan(int((~mask[bad]).sum()), int((~mask).sum()), "query")
    idx, _ = top.best(mask, n_queries, refuse_nan=criterion != "random")
    return np.asarray(idx, dtype=np.int64)


# --------------------------------------------------------------------------
# active_adapt
# --------------------------------------------------------------------------
class CompiledSequence:
    """:func:`skhyre.acquisition.select_sequential`'s compiled loop, one step at a time.

    Mirrors ``_kernels._select_sequential_proba_impl`` and
    ``_select_sequential_regression_impl`` exactly (the same kernels and
    floating-point operations in the same order) so that a streamed pool
    gives the in-memory picks. The pool itself is not kept: each step's
    :meth:`plan` says how to score a block from scratch. For classification
    the loop keeps a weighted mixture per row, re-summed every
    ``resum_every`` picks and otherwise updated incrementally; a block's
    mixture is rebuilt by replaying the refreshes since the last re-sum (at
    most ``resum_every``), each over only the members whose weight changed.
    """

    def __init__(self, est, criterion: str):
        # the compiled loop's own settings, from where its defaults are defined
        self.eps = acquisition.SEQUENTIAL_EPS
        self.resum_every = acquisition.SEQUENTIAL_RESUM_EVERY
        self.classification = est._task == "classification"
        self.with_bald = criterion == "bald"
        self.T = check_temperature(float(est.temperature))
        self.L = np.array(est.cumulative_loss_, dtype=np.float64).reshape(-1)
        self.K = self.L.shape[0]
        self.lp = check_log_prior(None, self.K)
        self.w = self._weights()
        self.ops = [(0.0, self.w, _kernels._nonzero_members(self.w), True)]
        self.since = 0
        self.growth = 1.0
        self.loss = self.scale = None

    def set_loss(self, kernel_loss: tuple[str, float]) -> None:
        self.loss = acquisition.LOSS_CODES[kernel_loss[0]]
        self.scale = float(kernel_loss[1])

    def _weights(self) -> np.ndarray:
        return _kernels._weights_from_log(_kernels.log_softmax_weights(self.L, self.T, self.lp))

    def plan(self) -> tuple:
        if self.classification:
            return ("mixture", self.with_bald, list(self.ops))
        return ("variance", self._weights())

    def observe(self, col: np.ndarray, yi, last: bool) -> None:
        """Add the picked row's member losses (``col``: its ``(K, 1[, C])`` predictions)."""
        if not self.classification:
            d = col[:, 0].astype(np.float64) - np.float64(yi)
            if self.loss == _kernels.LOSS_SQUARED:
                self.L += self.scale * d * d
            else:
                self.L += self.scale * np.abs(d)
            return
        lrow = np.array(
            [
                _kernels._member_loss_proba(col, k, 0, int(yi), self.loss, self.eps)
                for k in range(self.K)
            ]
        )
        self.L += lrow
        if last:
            return
        w, w_new = self.w, self._weights()
        coef = np.zeros(self.K)
        changed = np.empty(self.K, dtype=np.int64)
        # The same refresh rule as the in-memory kernel (re-sum every
        # ``resum_every`` picks or when the drift growth would exceed
        # MAX_DRIFT_GROWTH), so both paths pick identical rows.
        incremental, s, n_changed, self.since, self.growth = _kernels._next_refresh(
            lrow, w, w_new, self.since, self.resum_every, self.growth, coef, changed
        )
        if incremental:
            self.ops.append((float(s), coef, changed[:n_changed].copy(), False))
        else:
            self.ops = [(0.0, w_new, _kernels._nonzero_members(w_new), True)]
        self.w = w_new


def one_shot_error(n_queries: int, budget: float) -> ValueError:
    return ValueError(
        f"active_adapt needs {n_queries} passes over this pool (one per label) because its "
        f"member predictions do not fit pool_memory_budget={budget:.0f} bytes, but the pool "
        "is a one-shot iterator that can be read only once. Pass a re-iterable pool (an "
        "array, a Dask array, a list of chunks, or a callable returning a fresh iterator), "
        "or raise pool_memory_budget."
    )


def check_oracle_rows(y_all, n: int) -> None:
    if y_all is not None and y_all.shape[0] != n:
        raise ValueError(f"oracle labels have {y_all.shape[0]} entries but the pool has {n} rows.")


def stream_active_adapt(
    est,
    X_pool,
    oracle,
    n_queries,
    criterion,
    exclude,
    random_state,
    pool_memory_budget,
    sampling="top",
):
    """Streamed ``active_adapt`` (``criterion`` already resolved); see the module docstring."""
    budget = resolve_budget(pool_memory_budget)
    check_positive_n(n_queries)
    loss_name, _ = est._resolve_adapt_loss()
    y_all = None if callable(oracle) else est._encode_adapt_y(oracle)
    rng = est._query_rng(random_state)
    state = rng.get_state()  # an in-memory loop after the first pass starts from here
    # one seed per pick, drawn as the in-memory loop draws them
    seeds = est._step_seeds(rng, criterion, sampling, n_queries)
    # The compiled loop (array oracle, fixed temperature, a kernel loss, top
    # sampling) or the Python loop; the first pass scores for both (the loop's
    # scoring also finds the rows a weighted member predicts NaN on, which are
    # counted).
    kernel_loss = est._compiled_kernel_loss(loss_name, criterion, seeds, oracle)
    seq = CompiledSequence(est, criterion) if kernel_loss is not None else None
    taken: list[int] = []

    def loop_plan() -> tuple:
        if criterion == "random":
            return ("random",)
        return ("fresh", criterion, est.weights_, None if seeds is None else seeds[len(taken)])

    plans0 = [loop_plan()] + ([seq.plan()] if seq is not None else [])
    kind = pool_kind(X_pool)
    first = None
    if kind == "dask":
        pool = DaskPool(X_pool, est, criterion)
        n = pool.n_rows
        mask = check_exclude(exclude, n)
        check_n_queries(n_queries, int((~mask).sum()), n)
        check_oracle_rows(y_all, n)
        if n * row_nbytes(est, criterion) <= budget:  # gather the matrix once
            M = pool.members()
            rng.set_state(state)
            return est._active_adapt_matrix(
                M, oracle, n_queries, criterion, exclude, random_state, sampling
            )
        pool.set_exclusion(mask)
        tops = None
        if criterion != "random":
            tops, bad = pool.top(plans0, [1] * len(plans0), want_cols=True)
            est._warn_pool_nan(bad.size, int((~mask).sum()), "active_adapt")

        def pass_pick(plan, taken_mask, taken):
            if plan[0] == "random":
                (i,) = pool.random_top(rng, 1, taken_mask).idx
                return int(i), pool.column(int(i))
            (top,), _ = pool.top([plan], [1], want_cols=True, taken=taken)
            return int(top.idx[0]), top.cols[0]

    else:
        pool = Pool(X_pool, kind, est)
        block_rows = block_rows_for(est, criterion)
        known_too_big = pool.n_rows is not None and (
            pool.n_rows * row_nbytes(est, criterion) > budget
        )

        def overflow():
            if not pool.reiterable and n_queries > 1:
                raise one_shot_error(n_queries, budget)

        exclusion = LazyExclusion(exclude, pool.n_rows)
        n, tops, cache, bad = local_pass(
            est,
            pool,
            plans0,
            [1 + exclusion.n_negative] * len(plans0),
            exclusion,
            block_rows,
            rng=rng,
            want_cols=True,
            cache_budget=None if known_too_big else budget,
            criterion=criterion,
            on_overflow=overflow,
        )
        mask = check_exclude(exclude, n)
        check_n_queries(n_queries, int((~mask).sum()), n)
        check_oracle_rows(y_all, n)
        if cache is not None:  # the pool matrix fits: run the in-memory loop on it
            M = np.concatenate(cache, axis=1) if len(cache) > 1 else cache[0]
            del cache
            rng.set_state(state)
            return est._active_adapt_matrix(
                M, oracle, n_queries, criterion, exclude, random_state, sampling
            )
        if n_queries > 1 and not pool.reiterable:
            raise one_shot_error(n_queries, budget)
        est._warn_pool_nan(int((~mask[bad]).sum()), int((~mask).sum()), "active_adapt")

        def pass_pick(plan, taken_mask, taken):
            n_again, (top,), _, _ = local_pass(
                est,
                pool,
                [plan],
                [1],
                LazyExclusion(taken_mask, n),
                block_rows,
                rng=rng,
                want_cols=True,
                later_pass=True,
            )
            if n_again != n:
                raise ValueError(
                    f"The pool gave {n_again} rows on a later pass but {n} on the first; a "
                    "callable pool must return a fresh iterator over the same rows each call."
                )
            return int(top.idx[0]), top.cols[0]

    compiled = kernel_loss is not None
    if tops is not None:
        (i0,), (col0,) = tops[1 if compiled else 0].best(mask, 1)
        first = (int(i0), col0)

    def pick(plan, taken_mask):
        nonlocal first
        if first is not None:
            result, first = first, None
        else:
            result = pass_pick(plan, taken_mask, np.asarray(taken, dtype=np.int64))
        taken.append(result[0])
        return result

    if compiled:
        seq.set_loss(kernel_loss)
        taken_mask = mask.copy()
        cols = []
        for q in range(n_queries):
            i, col = pick(seq.plan(), taken_mask)
            taken_mask[i] = True
            cols.append(col)
            seq.observe(col, y_all[i], last=q == n_queries - 1)
        picked = np.asarray(taken, dtype=np.int64)
        labels = y_all[picked]
    else:
        if y_all is not None:
            oracle_fn, encoded = (lambda idx: y_all[idx]), True
        else:
            oracle_fn, encoded = oracle, False
        picked, labels, cols = est._sequential_loop(
            lambda taken_mask: pick(loop_plan(), taken_mask), oracle_fn, n_queries, mask, encoded
        )
    return est._commit_active(np.concatenate(cols, axis=1), labels, picked)
