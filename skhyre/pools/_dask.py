"""Dask pools: scoring where Dask computes (the workers of a distributed cluster)."""

from __future__ import annotations

import hashlib
import pickle
import sys
import threading

import numpy as np

from .._config import (
    get_config,
)
from ._blocks import (
    BLOCK_BYTES,
    Members,
    TopK,
    block_rows_for,
    block_top,
    check_width,
    nan_row_mask,
    row_nbytes,
    score_block,
)


# --------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------
class Shipped:
    """A pickled member function that Dask tokenizes by digest (cheap) and workers
    unpickle once.

    The function is the model's ``predict`` of :class:`~._blocks.Members` (a
    bound method pickles its estimator). cloudpickle (a dependency of Dask)
    also ships classes defined in ``__main__`` or a notebook by value;
    importable classes go by reference.
    """

    def __init__(self, fn):
        try:
            import cloudpickle

            self.payload = cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
        except ImportError:  # pragma: no cover - dask requires cloudpickle
            self.payload = pickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
        self.digest = hashlib.sha1(self.payload).hexdigest()

    def __dask_tokenize__(self):
        return ("skhyre-estimator", self.digest)


_WORKER_CACHE: dict = {}
WORKER_CACHE_SIZE = 4
WORKER_LOCK = threading.Lock()


def unship(shipped: Shipped):
    """This process and thread's copy of the member function (torch modules are not
    thread-safe)."""
    key = (shipped.digest, threading.get_ident())
    with WORKER_LOCK:
        fn = _WORKER_CACHE.get(key)
        if fn is None:
            fn = pickle.loads(shipped.payload)
            while len(_WORKER_CACHE) >= WORKER_CACHE_SIZE:
                _WORKER_CACHE.pop(next(iter(_WORKER_CACHE)))
            _WORKER_CACHE[key] = fn
    return fn


def one(obj) -> np.ndarray:
    out = np.empty(1, dtype=object)
    out[0] = obj
    return out


def dask_top_block(Xb, mask_b, shipped, plans, ks, want_cols, taken, base, block_info=None):
    """Worker task: each plan's top-k of the block (keys, indices, member columns, the span
    of its finite candidate scores), NaN rows."""
    predict = unship(shipped)
    offset = base + block_info[0]["array-location"][0][0]
    M = predict(Xb)
    rows = M.shape[1]
    mask = np.zeros(rows, dtype=bool) if mask_b is None else np.asarray(mask_b)[:, 0].copy()
    local = taken[(taken >= offset) & (taken < offset + rows)] - offset
    mask[local] = True
    out = []
    scores_list = score_block(M, plans, offset)
    for scores, k in zip(scores_list, ks):
        keys, idx, span = block_top(scores, mask, offset, k)
        cols = [M[:, [int(i) - offset]] for i in idx] if want_cols else None
        out.append((keys, idx, cols, span))
    return one((out, nan_row_mask(plans, scores_list, mask, offset)))


def dask_members_block(Xb, shipped, block_info=None):
    """Worker task: the block's member matrix."""
    return one(unship(shipped)(Xb))


def distributed_client():
    """The active ``dask.distributed`` client, or None (without importing distributed)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


def dask_rows(X, members: Members, criterion: str):
    """Row chunks for a Dask pool: the caller's when aligned and not too large, else blocks.

    Keeping the caller's chunks avoids a rechunk (moving data between
    workers); they must start at multiples of the estimator's forward batch
    (exactness) and each block's member matrix must stay under 8 x 64 MiB.
    """
    rows = X.chunks[0]
    align = members.align
    # an empty chunk (left by boolean indexing, say) is not kept: rows are re-blocked
    aligned = all(r % align == 0 for r in rows[:-1]) and all(r > 0 for r in rows)
    small = max(rows) * row_nbytes(members, criterion) <= 8 * BLOCK_BYTES
    if get_config()["block_rows"] == "auto" and aligned and small:
        return rows
    return block_rows_for(members, criterion)


class DaskPool:
    """A Dask array pool, rechunked to whole rows aligned to the estimator's forward batch.

    Each pass is one Dask computation: a task per row block computes the
    block's member predictions and scores from a pickled copy of the member
    function and returns only its top candidates, merged on the client. The
    exclusion given to the first :meth:`scan` stays on the workers; later
    passes add the ``taken`` rows.
    """

    kind = "dask"
    reiterable = True

    def __init__(self, X, members: Members, criterion: str):
        import dask.array as da

        if X.ndim != 2:
            raise ValueError(f"A Dask array pool must be 2-D, got ndim={X.ndim}.")
        if any(np.isnan(c) for c in X.chunks[0]) or np.isnan(X.shape[1]):
            raise ValueError(
                "The Dask array pool has unknown chunk sizes; call X_pool.compute_chunk_sizes() "
                "first."
            )
        self.members = members
        self.n_rows = int(X.shape[0])
        if self.n_rows == 0:
            raise ValueError("The pool is empty: it has no rows.")
        check_width(members, X)
        self.da = da
        self.X = X.rechunk({0: dask_rows(X, members, criterion), 1: -1})
        self.sizes = self.X.chunks[0]
        self._shipped = None
        self.mask_d = None
        self.excluded = None

    @property
    def shipped(self):
        """The pickled member function; on a distributed cluster, sent to every worker once."""
        if self._shipped is None:
            self._shipped = Shipped(self.members.predict)
            client = distributed_client()
            if client is not None:
                self._shipped = client.scatter(self._shipped, broadcast=True, hash=False)
        return self._shipped

    def set_exclusion(self, mask: np.ndarray) -> None:
        self.excluded = mask
        if mask.any():
            self.mask_d = self.da.from_array(mask.reshape(-1, 1), chunks=(self.sizes, (1,)))

    def scan(self, plans, ks, exclusion, *, rng=None, want_cols=False, taken=(), **ignored):
        """As :meth:`~._blocks.Pool.scan` (no cache: a Dask pool is gathered whole by
        :meth:`members` instead)."""
        if self.excluded is None:
            self.set_exclusion(exclusion.full)
        if plans[0][0] == "random":
            mask = self.excluded.copy()
            mask[np.asarray(taken, dtype=np.int64)] = True
            tops = [self.random_top(rng, k, mask) for k in ks]
            if want_cols:  # the members run only for the rows drawn
                for top in tops:
                    top.cols = [self.column(int(i)) for i in top.idx]
            return self.n_rows, tops, None, np.empty(0, dtype=np.int64)
        tops, bad = self.top(plans, ks, want_cols=want_cols, taken=taken)
        return self.n_rows, tops, None, bad

    def fits(self, budget: float, criterion: str) -> bool:
        """Whether the gathered member matrix fits ``budget`` bytes."""
        return self.n_rows * row_nbytes(self.members, criterion) <= budget

    def _map(self, fn, *args, X=None):
        X = self.X if X is None else X
        return self.da.map_blocks(
            fn,
            X,
            *args,
            dtype=object,
            drop_axis=1,
            chunks=((1,) * len(X.chunks[0]),),
            meta=np.empty((0,), dtype=object),
        )

    def top(self, plans, ks, want_cols=False, taken=()):
        """([top-k per plan], NaN rows as in :meth:`~._blocks.Pool.scan`) of one distributed pass."""
        taken = np.asarray(taken, dtype=np.int64)
        args = (self.shipped, plans, ks, want_cols, taken, 0)
        if self.mask_d is None:
            out = self._map(dask_top_block, None, *args)
        else:
            out = self._map(dask_top_block, self.mask_d, *args)
        tops = [TopK(k) for k in ks]
        nan_rows = []
        for per_plan, bad in out.compute():
            nan_rows.append(bad)
            for top, (keys, idx, cols, span) in zip(tops, per_plan):
                fetch = (lambda pos, cols=cols: [cols[p] for p in pos]) if want_cols else None
                top.push(keys, idx, fetch, span)
        return tops, np.concatenate(nan_rows)

    def gather(self):
        """The whole pool's member matrix, gathered on the client."""
        blocks = self._map(dask_members_block, self.shipped).compute()
        return np.concatenate(list(blocks), axis=1)

    def column(self, i: int):
        """Member column of pool row ``i``, computed from its whole block."""
        starts = np.cumsum((0, *self.sizes))
        b = int(np.searchsorted(starts, i, side="right")) - 1
        sub = self.X[int(starts[b]) : int(starts[b + 1])]
        (M,) = self._map(dask_members_block, self.shipped, X=sub).compute()
        return M[:, [i - int(starts[b])]]

    def random_top(self, rng, k, mask):
        """Top-k of random scores drawn block by block on the client."""
        top = TopK(k)
        offset = 0
        for rows in self.sizes:
            keys, idx, _ = block_top(
                rng.random_sample(rows), mask[offset : offset + rows], offset, k
            )
            top.push(keys, idx)
            offset += rows
        return top
