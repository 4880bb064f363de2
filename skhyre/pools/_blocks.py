"""Local pools: kinds, blocks aligned to the estimator, and scoring one block."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_feature_names, _get_feature_names, _num_samples

from .. import _kernels, acquisition
from .._config import (
    get_config,
    resolve_budget,
)
from .._validation import check_exclude

# Target size of one streamed block's member matrix when block_rows="auto".
BLOCK_BYTES = 64 << 20


# --------------------------------------------------------------------------
# what a pool is
# --------------------------------------------------------------------------
def is_dask_array(X) -> bool:
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def is_other_dask_collection(X) -> bool:
    """A Dask collection that is not a Dask array (a DataFrame, a Series, a Bag...)."""
    dask = sys.modules.get("dask")
    is_collection = getattr(dask, "is_dask_collection", None)
    return callable(is_collection) and is_collection(X) and not is_dask_array(X)


def is_2d_chunk(c) -> bool:
    return getattr(c, "ndim", None) == 2


def pool_kind(X_pool) -> str:
    """'array', 'dask', 'chunks' (re-iterable), 'factory' (callable) or 'iterator'."""
    if is_dask_array(X_pool):
        return "dask"
    if is_other_dask_collection(X_pool):
        raise TypeError(
            f"X_pool is a Dask {type(X_pool).__name__}; a Dask pool must be a dask.array.Array "
            "(a Dask DataFrame's column names could not be checked against fit's). Convert it "
            "with the columns in fit's order: X_pool[list(est.feature_names_in_)]"
            ".to_dask_array(lengths=True)."
        )
    if isinstance(X_pool, (list, tuple)):
        chunks = [is_2d_chunk(c) for c in X_pool]
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


class Members:
    """What a pool needs from the model: member predictions of a block of rows.

    A pool never calls an estimator: the estimator hands it this (its
    ``_pool_members``), and the pool yields blocks of ``predict(X_block)``,
    member matrices of shape ``(K, rows, C)`` (classification) or
    ``(K, rows)`` (regression).

    Parameters
    ----------
    predict : callable
        ``X_block -> member matrix``; validates the block as ``predict`` does.
    n_members : int
        ``K``.
    n_outputs : int or None
        ``C`` for probabilities, ``None`` for regression predictions.
    itemsize : int
        Bytes per value of the member matrix (4 for float32).
    align : int, default=1
        Block starts must be multiples of this for bit-identical member
        predictions (the torch estimators' forward chunk).
    feature_names_in : ndarray of str or None, default=None
        ``fit``'s column names: every DataFrame chunk must have them, in order.
    n_features_in : int or None, default=None
    owner : str, default="estimator"
        The model's name, for messages.
    """

    def __init__(
        self,
        predict: Callable,
        n_members: int,
        n_outputs: int | None,
        itemsize: int,
        align: int = 1,
        feature_names_in=None,
        n_features_in: int | None = None,
        owner: str = "estimator",
    ) -> None:
        self.predict = predict
        self.n_members = int(n_members)
        self.n_outputs = n_outputs
        self.itemsize = int(itemsize)
        self.align = max(1, int(align))
        self.feature_names_in_ = feature_names_in
        self.n_features_in = n_features_in
        self.owner = owner

    @property
    def classification(self) -> bool:
        return self.n_outputs is not None


def row_nbytes(members: Members, criterion: str) -> int:
    """Bytes per pool row of the cached member matrix (and BALD's member entropies)."""
    K = members.n_members
    C = members.n_outputs or 1
    return K * C * members.itemsize + (8 * K if criterion == "bald" else 0)


def block_rows_for(members: Members, criterion: str) -> int:
    align = members.align
    rows = get_config()["block_rows"]
    if rows == "auto":
        rows = max(1, BLOCK_BYTES // max(1, row_nbytes(members, criterion)))
        return max(align, rows // align * align)
    return -(-rows // align) * align


def uses_streaming(members: Members, X_pool, criterion: str, pool_memory_budget=None) -> bool:
    """Whether ``query``/``active_adapt`` stream ``X_pool`` rather than cache it.

    In-memory arrays whose cached matrix fits the budget are not streamed
    (nor are inputs whose size cannot be read: the in-memory path's
    validation then names the problem).
    """
    budget = resolve_budget(pool_memory_budget)
    if pool_kind(X_pool) != "array":
        return True
    try:
        n = _num_samples(X_pool)
    except (TypeError, ValueError):
        return False
    return n > 0 and n * row_nbytes(members, criterion) > budget


# --------------------------------------------------------------------------
# local blocks
# --------------------------------------------------------------------------
def check_names(members: Members | None, X, where: str, name: str = "chunk") -> None:
    """Refuse ``X`` (a chunk or block) whose column names are not ``fit``'s, in order.

    Run on every chunk before chunks are stacked (stacking a DataFrame with
    arrays keeps only the values, so a reordered chunk would be read by
    position). Only named input is checked here: unnamed input is read in
    ``fit``'s order, and its block's validation gives scikit-learn's warning.
    """
    fitted = getattr(members, "feature_names_in_", None)
    if fitted is None or not hasattr(X, "columns"):
        return
    names = _get_feature_names(X)
    if names is None or (names.shape == fitted.shape and (names == fitted).all()):
        return
    try:
        _check_feature_names(members, X, reset=False)
    except ValueError as exc:
        raise ValueError(
            f"{where} has the columns {names.tolist()}, but {members.owner} was fitted "
            f"on {fitted.tolist()}, in this order. {exc}".rstrip()
            + f"\nSelect the columns in fit's order: {name}[{fitted.tolist()}]."
        ) from None


def as_chunk(chunk, position: int, width: list, members: Members | None = None):
    if members is not None:
        check_names(members, chunk, f"Pool chunk {position}")
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


def concat(pieces: list):
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


def rebatch(
    chunks: Iterable, block_rows: int, members: Members | None = None
) -> Iterator[tuple[int, int, object]]:
    """(offset, rows, block) with every block but the last exactly ``block_rows`` rows.

    With ``members``, each chunk's column names are checked against ``fit``'s
    before it is cut or stacked (:func:`check_names`).
    """
    pending: list = []
    n_pending = 0
    offset = 0
    width: list = []
    for position, raw in enumerate(chunks):
        chunk = as_chunk(raw, position, width, members)
        m = chunk.shape[0]
        start = 0
        if n_pending:
            take = min(block_rows - n_pending, m)
            pending.append(_safe_indexing(chunk, slice(0, take)))
            n_pending += take
            start = take
            if n_pending == block_rows:
                yield offset, block_rows, concat(pending)
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
        yield offset, n_pending, concat(pending)


class Pool:
    """A local pool streamed in blocks aligned to the model, one pass per :meth:`scan`.

    The member matrix of each block comes from ``members.predict``; only the
    best candidates of each pass (and their member columns) are kept.
    """

    def __init__(self, X_pool, kind: str, members: Members, criterion: str = ""):
        self.source = X_pool
        self.kind = kind
        self.members = members
        self.block_rows = block_rows_for(members, criterion)
        self.n_rows = _num_samples(X_pool) if kind == "array" else None
        self.passes = 0

    @property
    def reiterable(self) -> bool:
        return self.kind != "iterator"

    def blocks(self, block_rows: int | None = None) -> Iterator[tuple[int, int, object]]:
        block_rows = self.block_rows if block_rows is None else block_rows
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
            if is_2d_chunk(chunks):
                chunks = [chunks]
            elif not isinstance(chunks, Iterable):
                raise TypeError(
                    "A callable pool must return an iterator of 2-D chunks, got "
                    f"{type(chunks).__name__}."
                )
        else:
            chunks = self.source
        yield from rebatch(chunks, block_rows, self.members)

    def scan(
        self,
        plans: list,
        ks: list,
        exclusion: LazyExclusion,
        *,
        rng=None,
        want_cols: bool = False,
        cache_budget: float | None = None,
        criterion: str = "",
        on_overflow: Callable | None = None,
        later_pass: bool = False,
        taken=None,
    ):
        """One pass over the pool.

        Returns ``(n_rows, [top-k per plan], cached member blocks or None, NaN rows)``:
        the last are the global indices of the rows the first plan scored NaN (see
        :func:`nan_row_mask`), before any negative ``exclude`` index is resolved.
        ``plans=[("random",)]`` draws the scores from ``rng`` block by block (the
        same stream as one draw over the whole pool) and runs the members only
        for the surviving candidates' columns, or for the cache. ``later_pass``:
        an empty pass returns 0 rows (the caller compares with the first pass).
        ``taken`` is for Dask pools (a local pass reads the taken rows from
        ``exclusion``).
        """
        members = self.members
        tops = [TopK(k) for k in ks]
        cache: list | None = [] if cache_budget is not None else None
        cached = 0
        n = 0
        nan_rows = []
        for offset, rows, Xb in self.blocks():
            M = None
            if plans[0][0] == "random":
                check_names(members, Xb, "X_pool", "X_pool")
                check_width(members, Xb)
                scores_list = [rng.random_sample(rows)]
                if cache is not None:
                    M = members.predict(Xb)
            else:
                M = members.predict(Xb)
                scores_list = score_block(M, plans, offset)
            if cache is not None:
                cached += cache_nbytes(M, criterion)
                if cached <= cache_budget:
                    cache.append(M)
                else:
                    cache = None
                    if on_overflow is not None:
                        on_overflow()
            mask = exclusion.block(offset, rows)
            nan_rows.append(nan_row_mask(plans, scores_list, mask, offset))

            def fetch(positions, idx, M=M, Xb=Xb, offset=offset):
                if M is None:
                    M = members.predict(Xb)
                return [M[:, [int(idx[p]) - offset]] for p in positions]

            for top, scores, k in zip(tops, scores_list, ks):
                keys, idx, span = block_top(scores, mask, offset, k)
                top.push(
                    keys, idx, (lambda pos, idx=idx: fetch(pos, idx)) if want_cols else None, span
                )
            n = offset + rows
        if n == 0 and not later_pass:  # a later pass's caller names a changed row count
            raise ValueError("The pool is empty: it yielded no rows.")
        return n, tops, cache, np.concatenate([np.empty(0, dtype=np.int64), *nan_rows])


class MatrixSource:
    """A pool whose member matrix is in memory: one block, scored without a pass.

    The same :meth:`scan` as a streamed :class:`Pool`. It keeps what the
    selection loop would otherwise recompute each step: BALD's member
    entropies and, for the sequential loop's ``"mixture"`` plans, the
    weighted mixture, to which each step applies only the refreshes made
    since the last one (a streamed block replays them from the last re-sum:
    the same operations in the same order, so both give identical scores).
    """

    kind = "matrix"
    reiterable = True

    def __init__(self, M: np.ndarray):
        self.M = M
        self.n_rows = int(M.shape[1])
        self.Hm = None
        self.mixtures: dict = {}

    def member_entropies(self) -> np.ndarray:
        if self.Hm is None:
            self.Hm = _kernels.member_entropies(self.M)
        return self.Hm

    def scores(self, plan) -> np.ndarray:
        if plan[0] != "mixture":
            needs_hm = plan[0] == "fresh" and plan[1] == "bald"
            return score_block(self.M, [plan], Hm=self.member_entropies() if needs_hm else None)[0]
        _, with_bald, ops, epoch = plan
        state = self.mixtures.get(with_bald)
        if state is None or state[0] != epoch:
            state = [epoch, 0, *mixture_buffers(self.M, with_bald)]
            self.mixtures[with_bald] = state
        hm = self.member_entropies() if with_bald else np.zeros((1, 1), dtype=np.float64)
        apply_ops(self.M, hm, with_bald, ops[state[1] :], *state[2:])
        state[1] = len(ops)
        return state[4]

    def scan(self, plans, ks, exclusion, *, rng=None, want_cols=False, **ignored):
        """As :meth:`Pool.scan` (the matrix is never cached again: ``None``)."""
        M, n = self.M, self.n_rows
        if plans[0][0] == "random":
            scores_list = [rng.random_sample(n)]
        else:
            scores_list = [self.scores(plan) for plan in plans]
        mask = exclusion.block(0, n)
        tops = []
        for scores, k in zip(scores_list, ks):
            top = TopK(k)
            keys, idx, span = block_top(scores, mask, 0, k)
            fetch = (lambda pos, idx=idx: [M[:, [int(idx[p])]] for p in pos]) if want_cols else None
            top.push(keys, idx, fetch, span)
            tops.append(top)
        return n, tops, None, nan_row_mask(plans, scores_list, mask, 0)

    def column(self, i: int) -> np.ndarray:
        return self.M[:, [i]]


# --------------------------------------------------------------------------
# scoring one block (the same code runs locally and on Dask workers)
# --------------------------------------------------------------------------
ALL_NAN_POOL = (
    "Members with nonzero weight predict NaN or inf on every candidate pool row, so no "
    "acquisition score is defined. adapt on a few labelled examples first (members "
    "with NaN adaptation losses get weight 0) or fix those members."
)


def nan_row_mask(plans: list, scores_list: list, mask: np.ndarray, offset: int) -> np.ndarray:
    """Global indices of the block's selectable rows that the first plan scored NaN.

    Only a ``"fresh"`` plan (``query``'s scoring) marks such rows: a weighted
    member predicts NaN or inf there. The caller counts them over the pass
    (after resolving the exclusion) to refuse or warn as the in-memory path does.
    """
    if plans[0][0] != "fresh":
        return np.empty(0, dtype=np.int64)
    return (np.flatnonzero(np.isnan(scores_list[0]) & ~mask) + offset).astype(np.int64)


def mixture_buffers(M: np.ndarray, with_bald: bool) -> tuple:
    """The sequential loop's state over a block: (mixture, mean member entropy, scores)."""
    rows, C = M.shape[1], M.shape[2]
    return (
        np.zeros(rows * C, dtype=np.float64),
        np.zeros(rows if with_bald else 1, dtype=np.float64),
        np.empty(rows, dtype=np.float64),
    )


def apply_ops(M, hm, with_bald, ops, mix, hbar, scores) -> None:
    """Apply the sequential loop's mixture refreshes ``ops`` to a block's state, in order."""
    B = _kernels._block_rows(M.shape[2])
    parallel = _kernels._use_parallel(M.size)
    for s, coef, members, full in ops:
        _kernels._refresh(M, hm, with_bald, s, coef, members, full, B, parallel, mix, hbar, scores)


def score_block(M: np.ndarray, plans: list, offset: int = 0, Hm=None) -> list[np.ndarray]:
    """Scores ``(rows,)`` of one block's member matrix under each plan.

    Plans: ``("fresh", criterion, w, seed)`` scores as ``query`` does (with a
    ``seed``, ``sampling="power"``'s keys for the block's rows, which start at
    pool index ``offset``); ``("variance", w)`` and
    ``("mixture", with_bald, ops, epoch)`` are the sequential loop's scores
    (see :class:`skhyre._selection.Sequential`). ``Hm``: the block's member
    entropies, when already known.
    """
    needs_hm = any(
        (p[0] == "fresh" and p[1] == "bald") or (p[0] == "mixture" and p[1]) for p in plans
    )
    if needs_hm and Hm is None:
        Hm = _kernels.member_entropies(M)
    out = []
    for plan in plans:
        kind = plan[0]
        if kind == "fresh":
            _, criterion, w, seed = plan
            scores = acquisition.score_pool(
                M, w, criterion, member_entropies=Hm if criterion == "bald" else None,
                check_input=False,
            )  # fmt: skip
            if seed is not None:
                scores = acquisition.power_keys(scores, seed, start=offset)
            out.append(scores)
        elif kind == "variance":
            out.append(_kernels.variance_scores(M, plan[1]))
        else:
            with_bald, ops = plan[1], plan[2]
            hm = Hm if with_bald else np.zeros((1, 1), dtype=np.float64)
            mix, hbar, scores = mixture_buffers(M, with_bald)
            apply_ops(M, hm, with_bald, ops, mix, hbar, scores)
            out.append(scores)
    return out


def block_top(scores: np.ndarray, mask: np.ndarray, offset: int, k: int):
    """The block's best ``k`` selectable rows: (keys, global indices, span), best first.

    Order: score descending (NaN as ``-inf``), then index ascending; in
    ``O(rows)`` plus a sort of the ``k`` kept (as
    :func:`skhyre.acquisition.select_top`). ``span`` is ``(min, max)`` of the
    selectable rows' finite scores (``None`` without one), from the same
    pass: :class:`TopK` merges the blocks' spans, and a pass whose span is
    one value within rounding had every candidate tie
    (:class:`~skhyre.reweighting.TiedScoresWarning`).
    """
    if k == 1:  # one compiled pass, no temporaries (each sequential pick)
        i, lo, hi = _kernels.argmax_allowed_span(scores, mask)
        if i < 0:
            return np.empty(0), np.empty(0, dtype=np.int64), None
        v = scores[i]
        span = (float(lo), float(hi)) if lo <= hi else None
        return (
            np.array([-np.inf if np.isnan(v) else v]),
            np.array([i + offset], dtype=np.int64),
            span,
        )
    cand = np.flatnonzero(~mask)
    if cand.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64), None
    key = scores[cand]
    finite = np.isfinite(key)
    span = None
    if finite.all():
        span = (float(key.min()), float(key.max()))
    elif finite.any():
        span = (float(key[finite].min()), float(key[finite].max()))
    key = np.where(np.isnan(key), -np.inf, key)
    if k < key.size:
        t = np.partition(key, key.size - k)[key.size - k]
        above = np.flatnonzero(key > t)
        above = above[np.argsort(-key[above], kind="stable")]
        order = np.concatenate([above, np.flatnonzero(key == t)[: k - above.size]])
    else:
        order = np.argsort(-key, kind="stable")
    return key[order], (cand[order] + offset).astype(np.int64), span


class TopK:
    """Running global top-k by (score descending, index ascending), with member columns.

    ``lo`` and ``hi`` are the smallest and largest finite candidate score seen
    (``None`` until one is), merged from the blocks' spans.
    """

    def __init__(self, k: int):
        self.k = k
        self.keys = np.empty(0)
        self.idx = np.empty(0, dtype=np.int64)
        self.cols: list = []
        self.lo = self.hi = None

    def widen(self, span) -> None:
        """Merge a block's ``(min, max)`` of finite candidate scores (or ``None``)."""
        if span is None:
            return
        lo, hi = span
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)

    def push(self, keys, idx, fetch: Callable | None = None, span=None) -> None:
        self.widen(span)
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

    def ranked(self, mask: np.ndarray):
        """Every kept row not excluded by ``mask``, best first: (indices, keys, columns)."""
        keep = [j for j in range(self.idx.size) if not mask[self.idx[j]]]
        return self.idx[keep], self.keys[keep], [self.cols[j] for j in keep]

    def best(self, mask: np.ndarray | None, k: int, refuse_nan: bool = False):
        """The first ``k`` (indices, columns) not excluded by the resolved ``mask``.

        ``refuse_nan``: raise when every candidate scored NaN (``query``, as in memory).
        """
        keep = [j for j in range(self.idx.size) if mask is None or not mask[self.idx[j]]][:k]
        if refuse_nan and keep and self.keys[keep[0]] == -np.inf:
            # scores are >= 0, so the best key is -inf only when every candidate scored NaN
            raise ValueError(ALL_NAN_POOL)
        return self.idx[keep], [self.cols[j] for j in keep]


class LazyExclusion:
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


def check_width(members: Members, Xb) -> None:
    n_features = members.n_features_in
    width = Xb.shape[1]
    if n_features is not None and width != n_features:
        raise ValueError(
            f"X has {width} features, but {members.owner} is expecting "
            f"{n_features} features as input."
        )


def cache_nbytes(M: np.ndarray, criterion: str) -> int:
    return M.nbytes + (8 * M.shape[0] * M.shape[1] if criterion == "bald" else 0)
