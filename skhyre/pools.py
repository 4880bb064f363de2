"""Pools beyond memory: ``query`` and ``active_adapt`` over arrays, iterators and Dask.

Every HyRe estimator's :meth:`query` and :meth:`active_adapt` accept an
unlabelled *pool* in one of these forms:

- a 2-D array-like (NumPy array, pandas DataFrame, SciPy sparse matrix,
  list of rows);
- a :class:`dask.array.Array` (Dask is an optional extra, imported lazily;
  scoring then runs where Dask computes, on the workers of a
  ``dask.distributed`` cluster when a client is active);
- chunks of rows: a list or tuple of 2-D arrays, an iterator or generator
  yielding 2-D arrays, or a callable returning a fresh such iterator. Pool
  indices count rows in the order the chunks yield them.

How a pool is scored
--------------------
The engine's cached pool matrix holds every member's prediction for every
pool row: ``K x n`` (regression) or ``K x n x C`` (classification) float32,
plus ``K x n`` float64 member entropies for BALD. It is kept only when it fits
the *memory budget* (default :data:`DEFAULT_MEMORY_BUDGET`, 1 GiB; set it
globally with :func:`set_config`, for a block of code with
:func:`config_context`, or per call with the keyword
``pool_memory_budget=``). An in-memory array whose matrix fits takes the
in-memory path unchanged. Anything else is *streamed*: rows are cut into
blocks, each block's member predictions and scores are computed and only its
best candidates are kept (top-k per block, then a global top-k; ties go to
the lower pool index, exactly as :func:`skhyre.acquisition.select_top`).
Peak memory is then one block, about ``block_rows x K x C`` floats
(:func:`get_config`'s ``block_rows``; automatic by default, about 64 MiB),
plus one boolean per pool row for exclusions.

Streamed results equal the in-memory ones exactly. Blocks start at multiples
of the estimator's forward batch (for the torch estimators 8192 rows, fewer
for wide ensembles: ``skhyre._net.chunk_rows``), so each
member sees exactly the batches the in-memory forward pass would give it
(torch's float results depend on how rows are batched). For a
:class:`~skhyre.HyReEnsemble`, exactness assumes its members predict each row
independently of the other rows in the batch (true of trees; BLAS-based
models may differ in the last bit).

Column names
------------
For an estimator fitted on a DataFrame, each chunk is checked on its own,
before chunks are stacked into blocks (which may drop the names): a
DataFrame chunk must have the column names seen in ``fit``, in the same
order, as for an in-memory DataFrame pool; other names, or the same names
in another order, raise a ``ValueError`` naming the chunk and both lists
(reorder with ``chunk[list(est.feature_names_in_)]``). A chunk without names
(a NumPy array) is read in ``fit``'s column order, with scikit-learn's
warning. A Dask array has no column names; a Dask DataFrame is not a pool
(convert it with ``ddf[list(est.feature_names_in_)].to_dask_array(lengths=True)``).

``query`` reads the pool once, so a one-shot iterator is fine. With
``criterion="random"`` a streamed pool only has its rows counted and its
width checked: the members are never run.

``active_adapt`` labels examples one at a time and re-scores the pool under
the new weights after each label. On a streamed pool its first pass also
tries to cache the pool matrix: if it fits the budget, the loop runs in
memory as for an array. Otherwise **every one of the ``n_queries`` steps
re-streams the pool** (a forward pass of all members over every row plus
scoring), so it costs about ``n_queries`` times one :meth:`query`. That
needs a re-iterable pool: an array, a Dask array, a list of chunks, or a
callable returning a fresh iterator. A one-shot iterator raises a
``ValueError`` as soon as a second pass turns out to be needed. On a Dask
array each step is one distributed pass; a matrix that fits the budget is
gathered to the client once instead.

Examples
--------
>>> import numpy as np
>>> from skhyre import HyReRegressor
>>> from skhyre.pools import config_context
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(64, 3)); y = X @ [1.0, -1.0, 0.5]
>>> reg = HyReRegressor(n_members=4, hidden_layer_sizes=(8,), max_epochs=2,
...                     random_state=0).fit(X, y)
>>> pool = rng.normal(size=(1000, 3))
>>> chunks = (pool[i:i + 300] for i in range(0, 1000, 300))  # one-shot generator
>>> with config_context(memory_budget=0):                     # force streaming
...     streamed = reg.query(chunks, n_queries=3)
>>> bool((streamed == reg.query(pool, n_queries=3)).all())
True
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_feature_names, _get_feature_names, _num_samples

from . import _kernels, acquisition
from ._config import (
    DEFAULT_MEMORY_BUDGET,
    config_context,
    get_config,
    resolve_budget,
    set_config,
)
from ._validation import check_exclude, check_log_prior, check_n_queries
from .reweighting import check_temperature

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "config_context",
    "get_config",
    "map_pool",
    "set_config",
]

# Target size of one streamed block's member matrix when block_rows="auto".
_BLOCK_BYTES = 64 << 20

# --------------------------------------------------------------------------
# what a pool is
# --------------------------------------------------------------------------
def _is_dask_array(X) -> bool:
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def _is_other_dask_collection(X) -> bool:
    """A Dask collection that is not a Dask array (a DataFrame, a Series, a Bag...)."""
    dask = sys.modules.get("dask")
    is_collection = getattr(dask, "is_dask_collection", None)
    return callable(is_collection) and is_collection(X) and not _is_dask_array(X)


def _is_2d_chunk(c) -> bool:
    return getattr(c, "ndim", None) == 2


def _pool_kind(X_pool) -> str:
    """'array', 'dask', 'chunks' (re-iterable), 'factory' (callable) or 'iterator'."""
    if _is_dask_array(X_pool):
        return "dask"
    if _is_other_dask_collection(X_pool):
        raise TypeError(
            f"X_pool is a Dask {type(X_pool).__name__}; a Dask pool must be a dask.array.Array "
            "(a Dask DataFrame's column names could not be checked against fit's). Convert it "
            "with the columns in fit's order: X_pool[list(est.feature_names_in_)]"
            ".to_dask_array(lengths=True)."
        )
    if isinstance(X_pool, (list, tuple)):
        chunks = [_is_2d_chunk(c) for c in X_pool]
        if chunks and all(chunks):
            return "chunks"
        if any(chunks):  # neither a list of chunks nor a list of rows
            i = chunks.index(False)
            raise ValueError(
                f"X_pool is a list mixing 2-D chunks with other items (item {i} is a "
                f"{type(X_pool[i]).__name__}); in a list of chunks, give every chunk as a "
                "2-D array (np.asarray(chunk)), or pass one array of rows."
            )
        return "array"
    if isinstance(X_pool, (str, bytes)) or hasattr(X_pool, "shape") or hasattr(X_pool, "__array__"):
        return "array"
    if callable(X_pool):
        return "factory"
    if isinstance(X_pool, Iterator):
        return "iterator"
    if isinstance(X_pool, Iterable):
        return "chunks"
    return "array"  # the estimator's validation names the problem


def _align_rows(est) -> int:
    """Block starts must be multiples of this for bit-identical member predictions."""
    hook = getattr(est, "_member_block_rows", None)  # the torch estimators' forward chunk
    if callable(hook):
        return max(1, int(hook()))
    return 1


def _row_nbytes(est, criterion: str) -> int:
    """Bytes per pool row of the in-memory path's cached matrices."""
    K = int(est._n_members_fitted())
    classification = est._task == "classification"
    C = len(est.classes_) if classification else 1
    # float32 probabilities and torch outputs; other regression members may give float64
    torch_base = sys.modules.get("skhyre._torch_base")
    is_torch = torch_base is not None and isinstance(est, torch_base.TorchHyReBase)
    itemsize = 4 if is_torch or classification else 8
    return K * C * itemsize + (8 * K if criterion == "bald" else 0)


def _block_rows(est, criterion: str) -> int:
    align = _align_rows(est)
    rows = get_config()["block_rows"]
    if rows == "auto":
        rows = max(1, _BLOCK_BYTES // max(1, _row_nbytes(est, criterion)))
        return max(align, rows // align * align)
    return -(-rows // align) * align


def uses_streaming(est, X_pool, criterion: str, pool_memory_budget=None) -> bool:
    """Whether ``query``/``active_adapt`` stream ``X_pool`` rather than cache it.

    In-memory arrays whose cached matrix fits the budget are not streamed
    (nor are inputs whose size cannot be read: the in-memory path's
    validation then names the problem).
    """
    budget = resolve_budget(pool_memory_budget)
    if _pool_kind(X_pool) != "array":
        return True
    try:
        n = _num_samples(X_pool)
    except (TypeError, ValueError):
        return False
    return n > 0 and n * _row_nbytes(est, criterion) > budget


# --------------------------------------------------------------------------
# local blocks
# --------------------------------------------------------------------------
def _check_names(est, X, where: str, name: str = "chunk") -> None:
    """Refuse ``X`` (a chunk or block) whose column names are not ``fit``'s, in order.

    Run on every chunk before chunks are stacked (stacking a DataFrame with
    arrays keeps only the values, so a reordered chunk would be read by
    position). Only named input is checked here: unnamed input is read in
    ``fit``'s order, and its block's validation gives scikit-learn's warning.
    """
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is None or not hasattr(X, "columns"):
        return
    names = _get_feature_names(X)
    if names is None or (names.shape == fitted.shape and (names == fitted).all()):
        return
    try:
        _check_feature_names(est, X, reset=False)
    except ValueError as exc:
        raise ValueError(
            f"{where} has the columns {names.tolist()}, but {type(est).__name__} was fitted "
            f"on {fitted.tolist()}, in this order. {exc}".rstrip()
            + f"\nSelect the columns in fit's order: {name}[{fitted.tolist()}]."
        ) from None


def _as_chunk(chunk, position: int, width: list, est=None):
    if est is not None:
        _check_names(est, chunk, f"Pool chunk {position}")
    if not hasattr(chunk, "shape"):
        chunk = np.asarray(chunk)
    shape = getattr(chunk, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(
            f"Pool chunk {position} must be 2-D (rows x features), got shape {shape}; "
            "an iterator pool yields 2-D arrays."
        )
    if width and shape[1] != width[0]:
        raise ValueError(
            f"Pool chunk {position} has {shape[1]} columns but earlier chunks have {width[0]}."
        )
    width[:] = [shape[1]]
    return chunk


def _concat(pieces: list):
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0]
    if all(isinstance(p, np.ndarray) for p in pieces):
        return np.concatenate(pieces, axis=0)
    if all(type(p) is type(first) for p in pieces) and hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat(pieces, axis=0)
    if all(hasattr(p, "tocsr") for p in pieces):
        import scipy.sparse as sp

        return sp.vstack(pieces, format="csr")
    return np.concatenate([np.asarray(p) for p in pieces], axis=0)


def _rebatch(chunks: Iterable, block_rows: int, est=None) -> Iterator[tuple[int, int, object]]:
    """(offset, rows, block) with every block but the last exactly ``block_rows`` rows.

    With ``est``, each chunk's column names are checked against its
    ``feature_names_in_`` before it is cut or stacked (:func:`_check_names`).
    """
    pending: list = []
    n_pending = 0
    offset = 0
    width: list = []
    for position, raw in enumerate(chunks):
        chunk = _as_chunk(raw, position, width, est)
        m = chunk.shape[0]
        start = 0
        if n_pending:
            take = min(block_rows - n_pending, m)
            pending.append(_safe_indexing(chunk, slice(0, take)))
            n_pending += take
            start = take
            if n_pending == block_rows:
                yield offset, block_rows, _concat(pending)
                offset += block_rows
                pending, n_pending = [], 0
        while m - start >= block_rows:
            block = chunk if (start == 0 and m == block_rows) else None
            if block is None:
                block = _safe_indexing(chunk, slice(start, start + block_rows))
            yield offset, block_rows, block
            offset += block_rows
            start += block_rows
        if start < m:
            pending.append(_safe_indexing(chunk, slice(start, m)))
            n_pending += m - start
    if n_pending:
        yield offset, n_pending, _concat(pending)


class _Pool:
    """A local pool: blocks aligned to the estimator, one pass per :meth:`blocks` call."""

    def __init__(self, X_pool, kind: str, est=None):
        self.source = X_pool
        self.kind = kind
        self.est = est  # whose fit's column names every chunk must have
        self.n_rows = _num_samples(X_pool) if kind == "array" else None
        self.passes = 0

    @property
    def reiterable(self) -> bool:
        return self.kind != "iterator"

    def blocks(self, block_rows: int) -> Iterator[tuple[int, int, object]]:
        if self.passes and not self.reiterable:
            raise ValueError(
                "This pool is a one-shot iterator and was already read; pass a re-iterable "
                "pool (an array, a list of chunks, or a callable returning a fresh iterator)."
            )
        self.passes += 1
        if self.kind == "array":
            X, n = self.source, self.n_rows
            for i0 in range(0, n, block_rows):
                i1 = min(n, i0 + block_rows)
                yield i0, i1 - i0, _safe_indexing(X, slice(i0, i1))
            return
        if self.kind == "factory":
            chunks = self.source()
            if _is_2d_chunk(chunks):
                chunks = [chunks]
            elif not isinstance(chunks, Iterable):
                raise TypeError(
                    "A callable pool must return an iterator of 2-D chunks, got "
                    f"{type(chunks).__name__}."
                )
        else:
            chunks = self.source
        yield from _rebatch(chunks, block_rows, self.est)


# --------------------------------------------------------------------------
# scoring one block (the same code runs locally and on Dask workers)
# --------------------------------------------------------------------------
ALL_NAN_POOL = (
    "Members with nonzero weight predict NaN or inf on every candidate pool row, so no "
    "acquisition score is defined. adapt on a few labelled examples first (members "
    "with NaN adaptation losses get weight 0) or fix those members."
)


def _nan_rows(plans: list, scores_list: list, mask: np.ndarray, offset: int) -> np.ndarray:
    """Global indices of the block's selectable rows that the first plan scored NaN.

    Only a ``"fresh"`` plan (``query``'s scoring) marks such rows: a weighted
    member predicts NaN or inf there. The caller counts them over the pass
    (after resolving the exclusion) to refuse or warn as the in-memory path does.
    """
    if plans[0][0] != "fresh":
        return np.empty(0, dtype=np.int64)
    return (np.flatnonzero(np.isnan(scores_list[0]) & ~mask) + offset).astype(np.int64)


def _score_block(est, M: np.ndarray, plans: list, offset: int = 0) -> list[np.ndarray]:
    """Scores ``(rows,)`` of one block's member matrix under each plan.

    Plans: ``("fresh", criterion, w, seed)`` scores as ``query`` does (with a
    ``seed``, ``sampling="power"``'s keys for the block's rows, which start at
    pool index ``offset``);
    ``("variance", w)`` and ``("mixture", with_bald, ops)`` are the compiled
    sequential loops' scores (see :class:`_CompiledSequence`).
    """
    needs_hm = any(
        (p[0] == "fresh" and p[1] == "bald") or (p[0] == "mixture" and p[1]) for p in plans
    )
    Hm = _kernels.member_entropies(M) if needs_hm else None
    out = []
    for plan in plans:
        kind = plan[0]
        if kind == "fresh":
            _, criterion, w, seed = plan
            scores = est._scores(M, w, criterion, Hm if criterion == "bald" else None, None)
            if seed is not None:
                scores = acquisition.power_keys(scores, seed, start=offset)
            out.append(scores)
        elif kind == "variance":
            out.append(_kernels.variance_scores(M, plan[1]))
        else:
            _, with_bald, ops = plan
            rows, C = M.shape[1], M.shape[2]
            hm = Hm if with_bald else np.zeros((1, 1), dtype=np.float64)
            mix = np.zeros(rows * C, dtype=np.float64)
            hbar = np.zeros(rows if with_bald else 1, dtype=np.float64)
            scores = np.empty(rows, dtype=np.float64)
            B = _kernels._block_rows(C)
            parallel = _kernels._use_parallel(M.size)
            for s, coef, members, full in ops:
                _kernels._refresh(
                    M, hm, with_bald, s, coef, members, full, B, parallel, mix, hbar, scores
                )
            out.append(scores)
    return out


def _block_top(scores: np.ndarray, mask: np.ndarray, offset: int, k: int):
    """The block's best ``k`` selectable rows: (keys, global indices), best first."""
    cand = np.flatnonzero(~mask)
    if cand.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    key = scores[cand]
    key = np.where(np.isnan(key), -np.inf, key)
    if k == 1:
        order = np.array([int(np.argmax(key))])
    else:
        order = np.argsort(-key, kind="stable")[:k]
    return key[order], (cand[order] + offset).astype(np.int64)


class _TopK:
    """Running global top-k by (score descending, index ascending), with member columns."""

    def __init__(self, k: int):
        self.k = k
        self.keys = np.empty(0)
        self.idx = np.empty(0, dtype=np.int64)
        self.cols: list = []

    def push(self, keys, idx, fetch: Callable | None = None) -> None:
        if keys.size == 0:
            return
        old = self.keys.size
        all_keys = np.concatenate([self.keys, keys])
        all_idx = np.concatenate([self.idx, idx])
        order = np.lexsort((all_idx, -all_keys))[: self.k]
        new = [int(j) - old for j in order if j >= old]
        fetched = dict(zip(new, fetch(new))) if (fetch is not None and new) else {}
        self.cols = [self.cols[j] if j < old else fetched.get(int(j) - old) for j in order]
        self.keys, self.idx = all_keys[order], all_idx[order]

    def best(self, mask: np.ndarray | None, k: int, refuse_nan: bool = False):
        """The first ``k`` (indices, columns) not excluded by the resolved ``mask``.

        ``refuse_nan``: raise when every candidate scored NaN (``query``, as in memory).
        """
        keep = [j for j in range(self.idx.size) if mask is None or not mask[self.idx[j]]][:k]
        if refuse_nan and keep and self.keys[keep[0]] == -np.inf:
            # scores are >= 0, so the best key is -inf only when every candidate scored NaN
            raise ValueError(ALL_NAN_POOL)
        return self.idx[keep], [self.cols[j] for j in keep]


class _LazyExclusion:
    """Per-block exclusion, also while the pool size is unknown.

    With ``n`` unknown, non-negative indices and boolean masks apply block by
    block, and negative indices (which need ``n``) are resolved after the pass:
    the pass then keeps that many extra candidates. Bad masks and indices
    raise, with the in-memory messages, once ``n`` is known.
    """

    def __init__(self, exclude, n: int | None):
        self.full = None
        self.bool_mask = None
        self.positive = np.empty(0, dtype=np.int64)
        self.n_negative = 0
        if n is not None:
            self.full = check_exclude(exclude, n)
            return
        if exclude is None:
            return
        ex = np.asarray(exclude)
        if ex.dtype == bool:
            if ex.ndim != 1:
                raise ValueError(f"A boolean exclude mask must be 1-D, got shape {ex.shape}.")
            self.bool_mask = ex
            return
        if ex.size == 0:
            return
        if not np.issubdtype(ex.dtype, np.integer) or ex.ndim != 1:
            raise ValueError("exclude must be a boolean mask or a 1-D array of integer indices.")
        self.positive = np.unique(ex[ex >= 0]).astype(np.int64)
        self.n_negative = int(np.unique(ex[ex < 0]).size)

    def block(self, offset: int, rows: int) -> np.ndarray:
        src = self.full if self.full is not None else self.bool_mask
        if src is not None and src.size >= offset + rows:
            return src[offset : offset + rows]
        mask = np.zeros(rows, dtype=bool)
        if src is not None:  # shorter than the pool: reported after the pass
            part = src[offset : offset + rows]
            mask[: part.size] = part
        elif self.positive.size:
            lo, hi = np.searchsorted(self.positive, [offset, offset + rows])
            mask[self.positive[lo:hi] - offset] = True
        return mask


def _check_width(est, Xb) -> None:
    n_features = getattr(est, "n_features_in_", None)
    width = Xb.shape[1]
    if n_features is not None and width != n_features:
        raise ValueError(
            f"X has {width} features, but {type(est).__name__} is expecting "
            f"{n_features} features as input."
        )


def _cache_nbytes(M: np.ndarray, criterion: str) -> int:
    return M.nbytes + (8 * M.shape[0] * M.shape[1] if criterion == "bald" else 0)


def _local_pass(
    est,
    pool: _Pool,
    plans: list,
    ks: list,
    exclusion: _LazyExclusion,
    block_rows: int,
    *,
    rng=None,
    want_cols: bool = False,
    cache_budget: float | None = None,
    criterion: str = "",
    on_overflow: Callable | None = None,
    later_pass: bool = False,
):
    """One pass over a local pool.

    Returns ``(n_rows, [top-k per plan], cached member blocks or None, NaN rows)``:
    the last are the global indices of the rows the first plan scored NaN (see
    :func:`_nan_rows`), before any negative ``exclude`` index is resolved.
    ``plans=[("random",)]`` draws the scores from ``rng`` block by block (the
    same stream as one draw over the whole pool) and runs the members only
    for the surviving candidates' columns, or for the cache. ``later_pass``:
    an empty pass returns 0 rows (the caller compares with the first pass).
    """
    tops = [_TopK(k) for k in ks]
    cache: list | None = [] if cache_budget is not None else None
    cached = 0
    n = 0
    nan_rows = []
    for offset, rows, Xb in pool.blocks(block_rows):
        M = None
        if plans[0][0] == "random":
            _check_names(est, Xb, "X_pool", "X_pool")
            _check_width(est, Xb)
            scores_list = [rng.random_sample(rows)]
            if cache is not None:
                M = est._member_matrix(Xb)
        else:
            M = est._member_matrix(Xb)
            scores_list = _score_block(est, M, plans, offset)
        if cache is not None:
            cached += _cache_nbytes(M, criterion)
            if cached <= cache_budget:
                cache.append(M)
            else:
                cache = None
                if on_overflow is not None:
                    on_overflow()
        mask = exclusion.block(offset, rows)
        nan_rows.append(_nan_rows(plans, scores_list, mask, offset))

        def fetch(positions, idx, M=M, Xb=Xb, offset=offset):
            if M is None:
                M = est._member_matrix(Xb)
            return [M[:, [int(idx[p]) - offset]] for p in positions]

        for top, scores, k in zip(tops, scores_list, ks):
            keys, idx = _block_top(scores, mask, offset, k)
            top.push(keys, idx, (lambda pos, idx=idx: fetch(pos, idx)) if want_cols else None)
        n = offset + rows
    if n == 0 and not later_pass:  # a later pass's caller names a changed row count
        raise ValueError("The pool is empty: it yielded no rows.")
    return n, tops, cache, np.concatenate([np.empty(0, dtype=np.int64), *nan_rows])


# --------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------
class _Shipped:
    """A pickled estimator that Dask tokenizes by digest (cheap) and workers unpickle once.

    cloudpickle (a dependency of Dask) also ships estimator classes defined
    in ``__main__`` or a notebook by value; importable classes go by reference.
    """

    def __init__(self, est):
        try:
            import cloudpickle

            self.payload = cloudpickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL)
        except ImportError:  # pragma: no cover - dask requires cloudpickle
            self.payload = pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL)
        self.digest = hashlib.sha1(self.payload).hexdigest()

    def __dask_tokenize__(self):
        return ("skhyre-estimator", self.digest)


_WORKER_CACHE: dict = {}
_WORKER_CACHE_SIZE = 4
_WORKER_LOCK = threading.Lock()


def _unship(shipped: _Shipped):
    """This process and thread's copy of the estimator (torch modules are not thread-safe)."""
    key = (shipped.digest, threading.get_ident())
    with _WORKER_LOCK:
        est = _WORKER_CACHE.get(key)
        if est is None:
            est = pickle.loads(shipped.payload)
            while len(_WORKER_CACHE) >= _WORKER_CACHE_SIZE:
                _WORKER_CACHE.pop(next(iter(_WORKER_CACHE)))
            _WORKER_CACHE[key] = est
    return est


def _one(obj) -> np.ndarray:
    out = np.empty(1, dtype=object)
    out[0] = obj
    return out


def _dask_top_block(Xb, mask_b, shipped, plans, ks, want_cols, taken, base, block_info=None):
    """Worker task: each plan's top-k of the block (keys, indices, member columns), NaN rows."""
    est = _unship(shipped)
    offset = base + block_info[0]["array-location"][0][0]
    M = est._member_matrix(Xb)
    rows = M.shape[1]
    mask = np.zeros(rows, dtype=bool) if mask_b is None else np.asarray(mask_b)[:, 0].copy()
    local = taken[(taken >= offset) & (taken < offset + rows)] - offset
    mask[local] = True
    out = []
    scores_list = _score_block(est, M, plans, offset)
    for scores, k in zip(scores_list, ks):
        keys, idx = _block_top(scores, mask, offset, k)
        cols = [M[:, [int(i) - offset]] for i in idx] if want_cols else None
        out.append((keys, idx, cols))
    return _one((out, _nan_rows(plans, scores_list, mask, offset)))


def _dask_members_block(Xb, shipped, block_info=None):
    """Worker task: the block's member matrix."""
    return _one(_unship(shipped)._member_matrix(Xb))


def _distributed_client():
    """The active ``dask.distributed`` client, or None (without importing distributed)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


def _dask_rows(X, est, criterion: str):
    """Row chunks for a Dask pool: the caller's when aligned and not too large, else blocks.

    Keeping the caller's chunks avoids a rechunk (moving data between
    workers); they must start at multiples of the estimator's forward batch
    (exactness) and each block's member matrix must stay under 8 x 64 MiB.
    """
    rows = X.chunks[0]
    align = _align_rows(est)
    # an empty chunk (left by boolean indexing, say) is not kept: rows are re-blocked
    aligned = all(r % align == 0 for r in rows[:-1]) and all(r > 0 for r in rows)
    small = max(rows) * _row_nbytes(est, criterion) <= 8 * _BLOCK_BYTES
    if get_config()["block_rows"] == "auto" and aligned and small:
        return rows
    return _block_rows(est, criterion)


class _DaskPool:
    """A Dask array pool, rechunked to whole rows aligned to the estimator's forward batch.

    Each pass is one Dask computation: a task per row block computes the
    block's member predictions and scores from a pickled copy of the
    estimator and returns only its top candidates, merged on the client.
    """

    kind = "dask"
    reiterable = True

    def __init__(self, X, est, criterion: str):
        import dask.array as da

        if X.ndim != 2:
            raise ValueError(f"A Dask array pool must be 2-D, got ndim={X.ndim}.")
        if any(np.isnan(c) for c in X.chunks[0]) or np.isnan(X.shape[1]):
            raise ValueError(
                "The Dask array pool has unknown chunk sizes; call X_pool.compute_chunk_sizes() "
                "first."
            )
        self.est = est
        self.n_rows = int(X.shape[0])
        if self.n_rows == 0:
            raise ValueError("The pool is empty: it has no rows.")
        _check_width(est, X)
        self.da = da
        self.X = X.rechunk({0: _dask_rows(X, est, criterion), 1: -1})
        self.sizes = self.X.chunks[0]
        self._shipped = None
        self.mask_d = None

    @property
    def shipped(self):
        """The pickled estimator; on a distributed cluster, sent to every worker once."""
        if self._shipped is None:
            self._shipped = _Shipped(self.est)
            client = _distributed_client()
            if client is not None:
                self._shipped = client.scatter(self._shipped, broadcast=True, hash=False)
        return self._shipped

    def set_exclusion(self, mask: np.ndarray) -> None:
        if mask.any():
            self.mask_d = self.da.from_array(mask.reshape(-1, 1), chunks=(self.sizes, (1,)))

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
        """([top-k per plan], NaN rows as in :func:`_local_pass`) of one distributed pass."""
        taken = np.asarray(taken, dtype=np.int64)
        args = (self.shipped, plans, ks, want_cols, taken, 0)
        if self.mask_d is None:
            out = self._map(_dask_top_block, None, *args)
        else:
            out = self._map(_dask_top_block, self.mask_d, *args)
        tops = [_TopK(k) for k in ks]
        nan_rows = []
        for per_plan, bad in out.compute():
            nan_rows.append(bad)
            for top, (keys, idx, cols) in zip(tops, per_plan):
                fetch = (lambda pos, cols=cols: [cols[p] for p in pos]) if want_cols else None
                top.push(keys, idx, fetch)
        return tops, np.concatenate(nan_rows)

    def members(self):
        """The whole pool's member matrix, gathered on the client."""
        blocks = self._map(_dask_members_block, self.shipped).compute()
        return np.concatenate(list(blocks), axis=1)

    def column(self, i: int):
        """Member column of pool row ``i``, computed from its whole block."""
        starts = np.cumsum((0, *self.sizes))
        b = int(np.searchsorted(starts, i, side="right")) - 1
        sub = self.X[int(starts[b]) : int(starts[b + 1])]
        (M,) = self._map(_dask_members_block, self.shipped, X=sub).compute()
        return M[:, [i - int(starts[b])]]

    def random_top(self, rng, k, mask):
        """Top-k of random scores drawn block by block on the client."""
        top = _TopK(k)
        offset = 0
        for rows in self.sizes:
            keys, idx = _block_top(rng.random_sample(rows), mask[offset : offset + rows], offset, k)
            top.push(keys, idx)
            offset += rows
        return top


# --------------------------------------------------------------------------
# query
# --------------------------------------------------------------------------
def _check_positive_n(n_queries) -> None:
    big = np.iinfo(np.int64).max
    check_n_queries(n_queries, big, big)


def stream_query(
    est, X_pool, n_queries, criterion, exclude, random_state, pool_memory_budget, sampling="top"
):
    """Streamed ``query`` (``criterion`` already resolved); see the module docstring."""
    resolve_budget(pool_memory_budget)  # validates
    _check_positive_n(n_queries)
    if criterion == "random":
        plan = ("random",)
    else:
        seeds = est._step_seeds(est._query_rng(random_state), criterion, sampling, 1)
        plan = ("fresh", criterion, est.weights_, None if seeds is None else seeds[0])
    if _pool_kind(X_pool) == "dask":
        pool = _DaskPool(X_pool, est, criterion)
        mask = check_exclude(exclude, pool.n_rows)
        check_n_queries(n_queries, int((~mask).sum()), pool.n_rows)
        if criterion == "random":
            return pool.random_top(est._query_rng(random_state), n_queries, mask).idx
        pool.set_exclusion(mask)
        (top,), bad = pool.top([plan], [n_queries])
        est._warn_pool_nan(bad.size, int((~mask).sum()), "query")
        idx, _ = top.best(None, n_queries, refuse_nan=True)
        return idx
    pool = _Pool(X_pool, _pool_kind(X_pool), est)
    exclusion = _LazyExclusion(exclude, pool.n_rows)
    n, (top,), _, bad = _local_pass(
        est,
        pool,
        [plan],
        [n_queries + exclusion.n_negative],
        exclusion,
        _block_rows(est, criterion),
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
class _CompiledSequence:
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


def _one_shot_error(n_queries: int, budget: float) -> ValueError:
    return ValueError(
        f"active_adapt needs {n_queries} passes over this pool (one per label) because its "
        f"member predictions do not fit pool_memory_budget={budget:.0f} bytes, but the pool "
        "is a one-shot iterator that can be read only once. Pass a re-iterable pool (an "
        "array, a Dask array, a list of chunks, or a callable returning a fresh iterator), "
        "or raise pool_memory_budget."
    )


def _check_oracle_rows(y_all, n: int) -> None:
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
    _check_positive_n(n_queries)
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
    seq = _CompiledSequence(est, criterion) if kernel_loss is not None else None
    taken: list[int] = []

    def loop_plan() -> tuple:
        if criterion == "random":
            return ("random",)
        return ("fresh", criterion, est.weights_, None if seeds is None else seeds[len(taken)])

    plans0 = [loop_plan()] + ([seq.plan()] if seq is not None else [])
    kind = _pool_kind(X_pool)
    first = None
    if kind == "dask":
        pool = _DaskPool(X_pool, est, criterion)
        n = pool.n_rows
        mask = check_exclude(exclude, n)
        check_n_queries(n_queries, int((~mask).sum()), n)
        _check_oracle_rows(y_all, n)
        if n * _row_nbytes(est, criterion) <= budget:  # gather the matrix once
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
        pool = _Pool(X_pool, kind, est)
        block_rows = _block_rows(est, criterion)
        known_too_big = pool.n_rows is not None and (
            pool.n_rows * _row_nbytes(est, criterion) > budget
        )

        def overflow():
            if not pool.reiterable and n_queries > 1:
                raise _one_shot_error(n_queries, budget)

        exclusion = _LazyExclusion(exclude, pool.n_rows)
        n, tops, cache, bad = _local_pass(
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
        _check_oracle_rows(y_all, n)
        if cache is not None:  # the pool matrix fits: run the in-memory loop on it
            M = np.concatenate(cache, axis=1) if len(cache) > 1 else cache[0]
            del cache
            rng.set_state(state)
            return est._active_adapt_matrix(
                M, oracle, n_queries, criterion, exclude, random_state, sampling
            )
        if n_queries > 1 and not pool.reiterable:
            raise _one_shot_error(n_queries, budget)
        est._warn_pool_nan(int((~mask[bad]).sum()), int((~mask).sum()), "active_adapt")

        def pass_pick(plan, taken_mask, taken):
            n_again, (top,), _, _ = _local_pass(
                est,
                pool,
                [plan],
                [1],
                _LazyExclusion(taken_mask, n),
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


# --------------------------------------------------------------------------
# mapping a pool (pipelines transform pools block by block)
# --------------------------------------------------------------------------
def map_pool(X_pool, fn: Callable):
    """``X_pool`` with ``fn`` applied to its rows, block by block, in the same form.

    An array-like is mapped as a whole; chunks one at a time as they are
    read (a list or a callable pool stays re-iterable, an iterator stays
    one-shot); a Dask array block by block (``map_blocks``, columns in one
    chunk). ``fn`` must map rows independently (a fitted transformer's
    ``transform``), so indices into the mapped pool are indices into
    ``X_pool``.

    Parameters
    ----------
    X_pool : array-like, dask array or chunks
        A pool, as :meth:`~skhyre.HyReRegressor.query` takes it.
    fn : callable
        ``2-D rows -> 2-D rows`` (the same number of rows).

    Returns
    -------
    The mapped pool.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.pools import map_pool
    >>> chunks = [np.ones((2, 3)), np.zeros((1, 3))]
    >>> mapped = map_pool(chunks, lambda X: 2 * X[:, :1])
    >>> [c.shape for c in mapped()]
    [(2, 1), (1, 1)]
    """
    kind = _pool_kind(X_pool)
    if kind == "array":
        return fn(X_pool)
    if kind == "dask":
        X = X_pool.rechunk({1: -1})
        sample = np.asarray(fn(X[:1].compute()))
        return X.map_blocks(
            lambda b: np.asarray(fn(b)),
            dtype=sample.dtype,
            chunks=(X.chunks[0], (sample.shape[1],)),
        )
    if kind == "iterator":
        return (fn(c) for c in X_pool)

    def chunks() -> Iterator:
        source = X_pool() if kind == "factory" else X_pool
        if _is_2d_chunk(source):
            source = [source]
        return (fn(c) for c in source)

    return chunks
