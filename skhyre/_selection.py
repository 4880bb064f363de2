"""The sequential selection rule, written once for every pool.

``active_adapt`` with an array of labels (and :func:`skhyre.acquisition.select_sequential`)
picks pool rows one at a time: score the pool under the current weights, pick
the best selectable row, reveal its label, add the members' losses, repeat.
:class:`Sequential` holds that loop's state and decides, after each label,
how the pool's scores are refreshed; a pool source (:mod:`skhyre.pools`: a
member matrix in memory, a streamed pool, a Dask pool) scores its rows under
the :meth:`Sequential.plan` it is given and returns its best candidates. The
same rule and the same compiled operations, in the same order, run over any
pool, so streamed and in-memory picks are identical.

For classification the loop keeps a weighted mixture per row, updated
incrementally from the members whose loss on the new label differs from the
most common one and re-summed every ``resum_every`` picks (and sooner when a
renormalisation would amplify rounding errors; ``_kernels._next_refresh``).
A plan lists the refreshes since the last re-sum: a block held in memory
applies only the new ones, a streamed block replays them (at most
``resum_every``, each over only the members whose weight changed).
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from ._validation import check_exclude
from .pools._blocks import LazyExclusion, MatrixSource

__all__ = ["Sequential", "run_sequential"]


class Sequential:
    """State of the compiled sequential loop: cumulative losses, weights, refreshes.

    Parameters
    ----------
    classification : bool
        Member probabilities ``(K, n, C)`` (scored by entropy or BALD) or
        regression predictions ``(K, n)`` (weighted variance).
    with_bald : bool
        BALD rather than entropy (classification).
    temperature : float
    cum_loss : ndarray of shape (K,)
        Starting cumulative losses (copied).
    loss : int
        The loss's kernel code (``_kernels.LOSS_*``).
    scale : float
        Multiplier of regression losses.
    log_prior : ndarray of shape (K,)
    eps : float
        Probability floor of the log-loss.
    resum_every : int
    """

    def __init__(
        self,
        classification: bool,
        with_bald: bool,
        temperature: float,
        cum_loss: np.ndarray,
        loss: int,
        scale: float,
        log_prior: np.ndarray,
        eps: float,
        resum_every: int,
    ) -> None:
        self.classification = classification
        self.with_bald = with_bald
        self.T = float(temperature)
        self.L = np.array(cum_loss, dtype=np.float64).reshape(-1)
        self.K = self.L.shape[0]
        self.lp = log_prior
        self.loss = int(loss)
        self.scale = float(scale)
        self.eps = float(eps)
        self.resum_every = int(resum_every)
        self.lrow = np.empty(self.K, dtype=np.float64)
        self.w = self._weights()
        self.epoch = 0
        self.ops = [(0.0, self.w, _kernels._nonzero_members(self.w), True)]
        self.since = 0
        self.growth = 1.0

    def _weights(self) -> np.ndarray:
        return _kernels._weights_from_log(_kernels.log_softmax_weights(self.L, self.T, self.lp))

    @property
    def weights(self) -> np.ndarray:
        """The weights the next pick is scored under."""
        return self.w if self.classification else self._weights()

    def plan(self) -> tuple:
        """How a pool scores its rows for the next pick (see ``pools._blocks.score_block``)."""
        if self.classification:
            return ("mixture", self.with_bald, list(self.ops), self.epoch)
        return ("variance", self._weights())

    def observe(self, col: np.ndarray, yi, last: bool) -> None:
        """Add the picked row's member losses (``col``: its ``(K, 1[, C])`` predictions)."""
        if not self.classification:
            _kernels.add_member_losses_regression(col, 0, yi, self.loss, self.scale, self.L)
            return
        _kernels.add_member_losses_proba(col, 0, int(yi), self.loss, self.eps, self.L, self.lrow)
        if last:
            return
        w, w_new = self.w, self._weights()
        coef = np.zeros(self.K)
        changed = np.empty(self.K, dtype=np.int64)
        incremental, s, n_changed, self.since, self.growth = _kernels._next_refresh(
            self.lrow, w, w_new, self.since, self.resum_every, self.growth, coef, changed
        )
        if incremental:
            self.ops.append((float(s), coef, changed[:n_changed].copy(), False))
        else:
            self.epoch += 1
            self.ops = [(0.0, w_new, _kernels._nonzero_members(w_new), True)]
        self.w = w_new

    def run(self, pick, y, n_queries: int) -> np.ndarray:
        """Pick ``n_queries`` rows: ``pick(plan) -> (index, member column)``; ``y[i]``
        is row ``i``'s label. Returns the picked indices in order."""
        picked = np.empty(n_queries, dtype=np.int64)
        for q in range(n_queries):
            i, col = pick(self.plan())
            picked[q] = i
            self.observe(col, y[i], last=q == n_queries - 1)
        return picked


def run_sequential(
    P: np.ndarray,
    y: np.ndarray,
    cum_loss: np.ndarray,
    log_prior: np.ndarray,
    temperature: float,
    n_queries: int,
    criterion: str,
    loss: int,
    exclude: np.ndarray,
    *,
    scale: float = 1.0,
    eps: float = 1e-15,
    resum_every: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """:class:`Sequential` over a member matrix held in memory (inputs validated).

    Returns the picked indices ``(n_queries,)`` and the final cumulative
    losses ``(K,)``; ``exclude`` (a boolean mask) is not modified.
    """
    source = MatrixSource(P)
    seq = Sequential(
        P.ndim == 3, criterion == "bald", temperature, cum_loss, loss, scale,
        log_prior, eps, resum_every,
    )  # fmt: skip
    taken = check_exclude(exclude, P.shape[1]).copy()

    def pick(plan):
        _, (top,), _, _ = source.scan([plan], [1], LazyExclusion(taken, source.n_rows))
        i = int(top.idx[0])
        taken[i] = True
        return i, source.column(i)

    return seq.run(pick, y, n_queries), seq.L
