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
A pool is a data source: it yields blocks of member predictions and never
calls the estimator, which hands it only a function from rows to member
predictions (``Members``). One selection loop, in the estimators'
``query`` and ``active_adapt``, runs over any pool: each pass asks the pool
for its best candidates under a *plan* (a criterion and the current weights;
random scores; or, for ``active_adapt`` with an array of labels, the
sequential rule of ``skhyre._selection``) and the pool scores its blocks and
keeps only those (top-k per block, then a global top-k; ties go to the lower
pool index, exactly as :func:`skhyre.acquisition.select_top`).

The engine's cached pool matrix holds every member's prediction for every
pool row: ``K x n`` (regression) or ``K x n x C`` (classification) float32,
plus ``K x n`` float64 member entropies for BALD. It is kept only when it fits
the *memory budget* (default :data:`DEFAULT_MEMORY_BUDGET`, 1 GiB; set it
globally with :func:`set_config`, for a block of code with
:func:`config_context`, or per call with the keyword
``pool_memory_budget=``). An in-memory array whose matrix fits is predicted
once and held (one block). Anything else is *streamed*: rows are cut into
blocks, each block's member predictions and scores are computed and only its
best candidates are kept. Peak memory is then one block, about
``block_rows x K x C`` floats (:func:`get_config`'s ``block_rows``; automatic
by default, about 64 MiB), plus one boolean per pool row for exclusions.

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

from collections.abc import Callable, Iterator

import numpy as np

from .._config import DEFAULT_MEMORY_BUDGET, config_context, get_config, set_config

# used by the estimators' query and active_adapt (not part of the public API)
from ._blocks import (  # noqa: F401
    ALL_NAN_POOL,
    LazyExclusion,
    MatrixSource,
    Members,
    is_2d_chunk,
    pool_kind,
    row_nbytes,
    uses_streaming,
)
from ._open import open_pool  # noqa: F401

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "config_context",
    "get_config",
    "map_pool",
    "set_config",
]


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
    kind = pool_kind(X_pool)
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
        if is_2d_chunk(source):
            source = [source]
        return (fn(c) for c in source)

    return chunks
