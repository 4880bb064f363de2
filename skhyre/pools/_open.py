"""Opening a pool: in memory, streamed block by block, or on Dask."""

from __future__ import annotations

from .._config import resolve_budget
from ._blocks import MatrixSource, Members, Pool, pool_kind, uses_streaming
from ._dask import DaskPool


def open_pool(X_pool, members: Members, criterion: str, pool_memory_budget=None):
    """``X_pool`` as a source for the selection loop (``scan``, ``n_rows``, ``reiterable``).

    An in-memory array whose member matrix fits ``pool_memory_budget`` is
    predicted once (:class:`~._blocks.MatrixSource`); a Dask array is scored
    where Dask computes (:class:`~._dask.DaskPool`); anything else (a larger
    array, chunks, an iterator, a callable) is streamed (:class:`~._blocks.Pool`).
    """
    resolve_budget(pool_memory_budget)  # validates
    if not uses_streaming(members, X_pool, criterion, pool_memory_budget):
        return MatrixSource(members.predict(X_pool))
    kind = pool_kind(X_pool)
    if kind == "dask":
        return DaskPool(X_pool, members, criterion)
    return Pool(X_pool, kind, members, criterion)
