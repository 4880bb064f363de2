"""The query half of every HyRe estimator: ``query`` and ``active_adapt``.

:class:`QueryMixin` scores an unlabelled pool under the current weights
(:mod:`skhyre.acquisition`), picks the rows to label (top, power-sampled or
one at a time, re-scoring after each label) and commits the labels through
the adaptation state of :class:`~skhyre._adaptation.AdaptationMixin`, which
it is mixed into. Pools that do not fit the memory budget go through
:mod:`skhyre.pools`.
"""

from __future__ import annotations

import numbers
import sys
import warnings

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _kernels, acquisition, pools
from ._config import resolve_budget
from ._diagnostics import TieTracker
from ._selection import Sequential
from ._validation import (
    caller_stacklevel,
    check_exclude,
    check_log_prior,
    check_n_queries,
    check_sampling,
    nonfinite_rows,
)
from .reweighting import NaNMemberWarning, check_temperature

__all__ = ["QueryMixin"]

#: Rows by BALD read from a streamed pool for ``query(criterion="batchbald")``
#: (at least four per query); four times as many on each further pass.
BATCHBALD_STREAM_CANDIDATES = 256


def check_positive_n(n_queries) -> None:
    """A positive integer (the pool's size is checked after its pass)."""
    big = np.iinfo(np.int64).max
    check_n_queries(n_queries, big, big)


def one_shot_error(n_queries: int, budget: float) -> ValueError:
    return ValueError(
        f"active_adapt needs {n_queries} passes over this pool (one per label) because its "
        f"member predictions do not fit pool_memory_budget={budget:.0f} bytes, but the pool "
        "is a one-shot iterator that can be read only once. Pass a re-iterable pool (an "
        "array, a Dask array, a list of chunks, or a callable returning a fresh iterator), "
        "or raise pool_memory_budget."
    )


class QueryMixin:
    """``query`` and ``active_adapt`` over cached member predictions."""

    def _check_criterion(self, criterion: str) -> str:
        valid = acquisition.CRITERIA[self._task]
        if criterion == "auto":
            return valid[0]
        if criterion not in valid:
            raise ValueError(
                f"criterion={criterion!r} does not fit {type(self).__name__}; "
                f"choose one of {('auto', *valid)}."
            )
        return criterion

    @staticmethod
    def _step_seeds(rng, criterion: str, sampling: str, n_steps: int) -> list | None:
        """One :func:`~skhyre.acquisition.power_keys` seed per pick (``None`` for top)."""
        if sampling != "power" or criterion == "random":
            return None
        return [acquisition.draw_seed(rng) for _ in range(n_steps)]

    def _pool_members(self) -> pools.Members:
        """What a pool needs from this estimator (:class:`skhyre.pools.Members`)."""
        classification = self._task == "classification"
        torch_base = sys.modules.get("skhyre._torch_base")
        is_torch = torch_base is not None and isinstance(self, torch_base.TorchHyReBase)
        hook = getattr(self, "_member_block_rows", None)  # the torch estimators' forward chunk
        return pools.Members(
            self._member_matrix,
            self._n_members_fitted(),
            len(self.classes_) if classification else None,
            # float32 probabilities and torch outputs; other regression members may be float64
            4 if is_torch or classification else 8,
            align=hook() if callable(hook) else 1,
            feature_names_in=getattr(self, "feature_names_in_", None),
            n_features_in=getattr(self, "n_features_in_", None),
            owner=type(self).__name__,
        )

    def _query_rng(self, random_state):
        if random_state is not None:
            return check_random_state(random_state)
        rs = getattr(self, "random_state", None)
        if isinstance(rs, numbers.Integral):
            # modulo 2**32, NumPy's seed range: every seed below the wrap draws as before
            return np.random.RandomState((int(rs) + self.n_adapt_samples_) % 2**32)
        return check_random_state(rs)

    def query(
        self,
        X_pool,
        n_queries: int = 1,
        criterion: str = "auto",
        exclude=None,
        random_state=None,
        pool_memory_budget=None,
        sampling: str = "top",
    ):
        """Indices of the pool examples to label next under the current weights.

        Parameters
        ----------
        X_pool : array-like of shape (n_pool, n_features), dask array or chunks
            Unlabelled candidates: a 2-D array-like, a ``dask.array.Array``,
            or chunks of rows (a list of 2-D arrays, an iterator of them, or a
            callable returning a fresh iterator); indices count rows in the
            order yielded. Pools whose member predictions exceed the memory
            budget are streamed block by block with the same result (see
            :mod:`skhyre.pools`). After ``fit`` on a DataFrame, every
            DataFrame chunk must have ``fit``'s column names in ``fit``'s
            order (checked before chunks are stacked: other names or another
            order raise ``ValueError``, as for an in-memory DataFrame);
            array chunks are read in that order.
        n_queries : int, default=1
            Number of distinct indices to return (the top-``n_queries`` under
            the current weights, best first; with ``sampling="power"``, in
            the order drawn).
        criterion : {"auto", "bald", "entropy", "variance", "random", "batchbald"}, default="auto"
            ``"auto"`` is BALD for classifiers and reward models, variance for
            regressors. ``"batchbald"`` (classifiers and reward models) picks
            a batch whose labels are jointly most informative
            (:func:`skhyre.acquisition.batchbald`; ``sampling="top"``). On
            a streamed or Dask pool the batch is searched among the best rows
            by BALD, read with their member columns, and equals the in-memory
            batch (a row's gain is at most its BALD score; the pool is read
            again for more rows when the batch found does not prove it).
        exclude : array-like of bool of shape (n_pool,) or of int, default=None
            Pool examples never to return (for example, already labelled):
            a boolean array is a mask; an integer array lists indices
            (negative ones count from the end; repeats are allowed, so
            ``[0, 0, 1]`` excludes rows 0 and 1 of any pool). The one
            integer array refused is a 0/1 mask given as integers, which
            would silently exclude only rows 0 and 1: one as long as the
            pool (of more than 2 rows), of only 0s and 1s, that excludes
            other rows read as a mask than read as indices, and in which at
            least half of the entries repeat an earlier one (no sensible
            index list does). Pass masks as bool.
        random_state : int, RandomState instance or None, default=None
            For ``criterion="random"`` and ``sampling="power"``. ``None`` derives one from the
            estimator's integer ``random_state`` and the number of examples
            adapted on (their sum modulo ``2**32``); an estimator without one (``HyReEnsemble``), or with
            ``random_state=None``, draws from NumPy's global random state, as
            scikit-learn does for ``random_state=None``.
        pool_memory_budget : int, float or str, default=None
            Bytes the cached pool matrix may take before the pool is
            streamed (``"512MiB"`` also works); ``None`` uses
            :func:`skhyre.pools.get_config`'s (1 GiB unless changed).
        sampling : {"top", "power"}, default="top"
            ``"top"`` returns the best-scoring rows. ``"power"`` draws the rows
            at random, each with probability proportional to its score
            (:func:`skhyre.acquisition.sample_power`: power acquisition,
            Kirsch et al., TMLR 2023), so the picks are not all from the
            extreme rows where the members disagree most; it is reproducible
            with ``random_state``. Ignored by ``criterion="random"``.

        Returns
        -------
        ndarray of shape (n_queries,)
            Indices into ``X_pool``.
        """
        check_is_fitted(self)
        criterion = self._check_criterion(criterion)
        sampling = check_sampling(sampling)
        if criterion == "batchbald":
            return self._query_batchbald(
                X_pool, n_queries, exclude, random_state, pool_memory_budget, sampling
            )
        check_positive_n(n_queries)
        source = pools.open_pool(X_pool, self._pool_members(), criterion, pool_memory_budget)
        rng = self._query_rng(random_state)
        if criterion == "random":
            plan = ("random",)
        else:
            seeds = self._step_seeds(rng, criterion, sampling, 1)
            plan = ("fresh", criterion, self.weights_, None if seeds is None else seeds[0])
        exclusion = pools.LazyExclusion(exclude, source.n_rows)
        n, (top,), _, bad = source.scan(
            [plan], [n_queries + exclusion.n_negative], exclusion, rng=rng
        )
        mask = check_exclude(exclude, n)
        check_n_queries(n_queries, int((~mask).sum()), n)
        n_bad = int((~mask[bad]).sum())
        self._warn_pool_nan(n_bad, int((~mask).sum()), "query")
        idx, _ = top.best(mask, n_queries, refuse_nan=criterion != "random")
        ties = self._tie_tracker(criterion, sampling, "query")
        if ties is not None:
            ties.observe(top, self.weights_, int((~mask).sum()) - n_bad, n_queries)
            ties.warn()
        return np.asarray(idx, dtype=np.int64)

    def _tie_tracker(self, criterion: str, sampling: str, who: str) -> TieTracker | None:
        """Where every candidate's score can tie and the answer then be the first rows:
        top picks by an acquisition score (power sampling draws at random among ties)."""
        if criterion == "random" or sampling != "top":
            return None
        unit = self._target_unit() ** 2 if criterion == "variance" else 1.0
        return TieTracker(criterion, unit, who)

    def _query_batchbald(self, X_pool, n_queries, exclude, random_state, budget, sampling):
        """``query(criterion="batchbald")``: :func:`skhyre.acquisition.batchbald` under the
        current weights.

        A pool held in memory is searched whole. A streamed or Dask pool is
        read for its best rows by BALD (with their member columns) and the
        batch is searched among them: a row's BatchBALD gain given any batch
        is at most its BALD score, so when every gain of the batch found
        exceeds the best BALD score left out, no row left out could have
        been picked, and the batch is the in-memory one. Otherwise the pool
        is read again for four times as many rows.
        """
        if sampling != "top":
            raise ValueError(
                f"sampling={sampling!r} does not apply to criterion='batchbald', which picks "
                "its batch greedily; use sampling='top' (or criterion='bald', sampling='power')."
            )
        check_positive_n(n_queries)
        source = pools.open_pool(X_pool, self._pool_members(), "bald", budget)
        rng = self._query_rng(random_state)
        if source.kind == "matrix":
            M = source.M
            self._check_pool_nan(M, check_exclude(exclude, M.shape[1]), "query")
            return acquisition.batchbald(
                M, self.weights_, n_queries, exclude=exclude, random_state=rng, check_input=False
            )[0]
        state = rng.get_state()  # each search draws its sampled configurations from here
        plan = ("fresh", "bald", self.weights_, None)
        m = max(BATCHBALD_STREAM_CANDIDATES, 4 * int(n_queries))
        while True:
            exclusion = pools.LazyExclusion(exclude, source.n_rows)
            n, (top,), _, bad = source.scan(
                [plan], [m + 1 + exclusion.n_negative], exclusion, want_cols=True
            )
            mask = check_exclude(exclude, n)
            check_n_queries(n_queries, int((~mask).sum()), n)
            self._warn_pool_nan(int((~mask[bad]).sum()), int((~mask).sum()), "query")
            idx, keys, cols = top.ranked(mask)
            tau = keys[m] if idx.size > m else -np.inf  # the best BALD score left out
            kept = np.argsort(idx[:m], kind="stable")  # pool order: ties go as in memory
            P = np.concatenate([cols[j] for j in kept], axis=1)
            rng.set_state(state)
            picks, mi = acquisition.batchbald(
                P, self.weights_, n_queries, random_state=rng, check_input=False
            )
            gains = np.diff(mi, prepend=0.0)
            # beyond the kernel's tie tolerance: a row left out cannot tie the batch's
            if idx.size <= m or bool(np.all(gains > tau + _kernels.BATCHBALD_TOL)):
                return idx[:m][kept][picks].astype(np.int64)
            if not source.reiterable:
                raise ValueError(
                    f"criterion='batchbald' needs a second pass over this pool (its batch of "
                    f"{n_queries} is not among the {m} best rows by BALD), but the pool is a "
                    "one-shot iterator. Pass a re-iterable pool (an array, a Dask array, a list "
                    "of chunks or a callable returning a fresh iterator)."
                )
            m *= 4

    def _check_pool_nan(self, M: np.ndarray, mask: np.ndarray, who: str) -> None:
        """Name NaN or inf pool predictions of weighted members (their rows score NaN).

        ``query`` refuses a pool whose every candidate row scores NaN (any
        answer would be arbitrary); otherwise those rows are picked last and
        a :class:`~skhyre.reweighting.NaNMemberWarning` says how many.
        """
        bad = nonfinite_rows(M, self.weights_)
        if bad is not None:
            self._warn_pool_nan(int((bad & ~mask).sum()), int((~mask).sum()), who)

    def _warn_pool_nan(self, n_bad: int, n_cand: int, who: str) -> None:
        """Refuse (``query``, every candidate bad) or warn about ``n_bad`` NaN-scored rows."""
        if n_bad == 0:
            return
        if n_bad == n_cand and who == "query":
            raise ValueError(pools.ALL_NAN_POOL)
        warnings.warn(
            f"Members with nonzero weight predict NaN or inf on {n_bad} of {n_cand} candidate pool "
            f"row(s); those rows score NaN and {who} picks them last.",
            NaNMemberWarning,
            stacklevel=caller_stacklevel(),
        )

    def active_adapt(
        self,
        X_pool,
        oracle,
        n_queries: int,
        criterion: str = "auto",
        exclude=None,
        random_state=None,
        pool_memory_budget=None,
        sampling: str = "top",
    ):
        """Label ``n_queries`` pool examples one at a time and adapt on each.

        The pool's member predictions are computed once; then, repeatedly,
        the pool is scored under the current weights, the best example is
        labelled by ``oracle`` and the weights are updated. A ``temperature``
        or ``adapt_loss`` changed by ``set_params`` since the last adaptation
        applies from the start: the examples seen so far are re-weighted
        under it before the first pick. With an array of
        labels and a fixed temperature and built-in loss, the whole loop runs
        in compiled code; it updates the weighted mixture incrementally, so
        where two pool rows' scores tie to rounding (members that agree
        exactly, such as trees voting alike, or scores that are all rounding
        noise once one member holds nearly all the weight) it may pick the
        other one of the pair than a callable oracle's loop or :meth:`query`
        does (they take the lower index), and from there the picks and the
        weights of the two loops go their own ways. On any error the
        previous weights are kept: the loop runs on a private copy of the
        adaptation state, published in one step when it has finished, so a
        thread predicting meanwhile sees the weights from before the call;
        other adaptations of this estimator wait until it returns (user
        guide, "Thread safety").

        A pool whose member predictions exceed the memory budget is streamed:
        every step then re-reads the whole pool (about ``n_queries`` times
        the cost of one :meth:`query`), so it must be re-iterable (an array,
        a dask array, a list of chunks or a callable returning a fresh
        iterator); a one-shot iterator raises ``ValueError`` when a second
        pass is needed. Results equal the in-memory ones (see
        :mod:`skhyre.pools`).

        Parameters
        ----------
        X_pool : array-like of shape (n_pool, n_features), dask array or chunks
            As for :meth:`query`.
        oracle : array-like of shape (n_pool,) or callable
            Labels aligned with ``X_pool`` (simulation), or a callable
            ``indices -> labels`` asked one index at a time.
        n_queries : int
        criterion : {"auto", "bald", "entropy", "variance", "random", "batchbald"}, default="auto"
            ``"batchbald"`` is BALD here: one label at a time, BatchBALD's
            batch of one is BALD (and every pick already sees the labels
            before it).
        exclude : array-like of bool or int, default=None
            Pool examples never to pick: a boolean mask or integer indices,
            as in :meth:`query`.
        random_state : int, RandomState instance or None, default=None
            For ``criterion="random"`` and ``sampling="power"``, as in
            :meth:`query`.
        pool_memory_budget : int, float or str, default=None
            As for :meth:`query`.
        sampling : {"top", "power"}, default="top"
            As for :meth:`query`, at every pick: ``"power"`` draws each
            example with probability proportional to its score under the
            current weights. The labelled examples are then less
            concentrated on the rows where the members disagree most, rows
            that can misrepresent the rest of the pool (in one cell of the
            UCI shift study the ``"top"`` picks put HyRe above the uniform
            ensemble at temperature 1, ``"auto"`` and ``"evidence"``;
            ``benchmarks/results/uci_shift.md``). It runs the Python loop,
            not the compiled one.

        Returns
        -------
        self : object
            With ``queried_indices_`` set to the picked pool indices in order.
        """
        check_is_fitted(self)
        criterion = self._check_criterion(criterion)
        if criterion == "batchbald":  # one label at a time: BatchBALD's batch of one is BALD
            criterion = "bald"
        sampling = check_sampling(sampling)
        self._check_temperature_param()
        with self._adaptation_lock():
            # the loop runs on a private copy; on any error it is dropped
            work = self._private_copy()
            start = dict(work.__dict__)
            work._sync_adaptation_params()
            work._active_adapt_pool(
                X_pool, oracle, n_queries, criterion, exclude, random_state, pool_memory_budget,
                sampling,
            )  # fmt: skip
            self._publish_from(work, start)
        return self

    def _active_adapt_pool(
        self, X_pool, oracle, n_queries, criterion, exclude, random_state, budget, sampling
    ):
        """``active_adapt``'s loop over any pool (the estimator is the private copy).

        One pass scores the pool for the first pick (and, on a streamed
        pool, caches its member matrix when it fits the budget); every later
        pick scans the pool again under the new weights: the in-memory
        matrix, the cached blocks, or the stream. An array oracle with a
        fixed temperature, a compiled loss and top sampling runs the
        compiled rule (:class:`~skhyre._selection.Sequential`); anything else
        the Python loop, which adapts after each label (:meth:`_sequential_loop`).
        """
        budget = resolve_budget(budget)
        check_positive_n(n_queries)
        members = self._pool_members()
        source = pools.open_pool(X_pool, members, criterion, budget)
        if source.kind == "dask" and source.fits(budget, criterion):
            source = pools.MatrixSource(source.gather())  # gathered to the client once
        loss_name, _ = self._resolve_adapt_loss()
        y_all = None if callable(oracle) else self._encode_adapt_y(oracle)
        rng = self._query_rng(random_state)
        seeds = self._step_seeds(rng, criterion, sampling, n_queries)
        kernel_loss = self._compiled_kernel_loss(loss_name, criterion, seeds, oracle)
        seq = None
        if kernel_loss is not None:
            seq = Sequential(
                members.classification,
                criterion == "bald",
                check_temperature(float(self.temperature)),
                self.cumulative_loss_,
                acquisition.LOSS_CODES[kernel_loss[0]],
                kernel_loss[1],
                check_log_prior(None, members.n_members),
                acquisition.SEQUENTIAL_EPS,
                acquisition.SEQUENTIAL_RESUM_EVERY,
            )
        taken: list[int] = []

        def loop_plan() -> tuple:
            if criterion == "random":
                return ("random",)
            return ("fresh", criterion, self.weights_, None if seeds is None else seeds[len(taken)])

        def overflow():
            if not source.reiterable and n_queries > 1:
                raise one_shot_error(n_queries, budget)

        # the first pass: the loop's scores (they also find the rows a weighted
        # member predicts NaN on, which are counted) and the compiled rule's
        plans = [loop_plan()] + ([seq.plan()] if seq is not None else [])
        known_too_big = source.n_rows is not None and (
            source.n_rows * pools.row_nbytes(members, criterion) > budget
        )
        exclusion = pools.LazyExclusion(exclude, source.n_rows)
        n, tops, cache, bad = source.scan(
            plans,
            [1 + exclusion.n_negative] * len(plans),
            exclusion,
            rng=rng,
            want_cols=True,
            cache_budget=None if known_too_big or source.kind == "matrix" else budget,
            criterion=criterion,
            on_overflow=overflow,
        )
        mask = check_exclude(exclude, n)
        check_n_queries(n_queries, int((~mask).sum()), n)
        if y_all is not None and y_all.shape[0] != n:
            raise ValueError(
                f"oracle labels have {y_all.shape[0]} entries but the pool has {n} rows."
            )
        if cache is not None:  # the pool's member matrix fits: later picks read it
            source = pools.MatrixSource(
                np.concatenate(cache, axis=1) if len(cache) > 1 else cache[0]
            )
            del cache
        elif n_queries > 1 and not source.reiterable:
            raise one_shot_error(n_queries, budget)
        n_bad = int((~mask[bad]).sum())
        if criterion != "random":
            self._warn_pool_nan(n_bad, int((~mask).sum()), "active_adapt")
        (i0,), (col0,) = tops[-1].best(mask, 1)
        first = [(int(i0), col0, tops[-1])]
        ties = self._tie_tracker(criterion, sampling, "active_adapt")

        def pick(plan, taken_mask):
            if first:
                i, col, top = first.pop()
                n_cand = int((~taken_mask).sum()) - n_bad
            else:
                n_again, (top,), _, _ = source.scan(
                    [plan],
                    [1],
                    pools.LazyExclusion(taken_mask, n),
                    rng=rng,
                    want_cols=True,
                    later_pass=True,
                    taken=np.asarray(taken, dtype=np.int64),
                )
                if n_again != n:
                    raise ValueError(
                        f"The pool gave {n_again} rows on a later pass but {n} on the first; a "
                        "callable pool must return a fresh iterator over the same rows each call."
                    )
                i, col = int(top.idx[0]), top.cols[0]
                n_cand = int((~taken_mask).sum())
            if ties is not None:
                ties.observe(top, self.weights_ if seq is None else seq.weights, n_cand)
            taken.append(i)
            taken_mask[i] = True
            return i, col

        if seq is not None:
            taken_mask = mask.copy()
            cols = []

            def compiled_pick(plan):
                i, col = pick(plan, taken_mask)
                cols.append(col)
                return i, col

            picked = seq.run(compiled_pick, y_all, n_queries)
            labels = y_all[picked]
        else:
            if y_all is not None:
                oracle_fn, encoded = (lambda idx: y_all[idx]), True
            else:
                oracle_fn, encoded = oracle, False
            picked, labels, cols = self._sequential_loop(
                lambda taken_mask: pick(loop_plan(), taken_mask.copy()),
                oracle_fn,
                n_queries,
                mask,
                encoded,
            )
        self._commit_active(np.concatenate(cols, axis=1), labels, picked)
        if ties is not None:
            ties.warn()
        return self

    def _compiled_kernel_loss(self, loss_name, criterion, seeds, oracle):
        """The one rule for running ``active_adapt`` in the compiled loop
        (:func:`~skhyre.acquisition.select_sequential`, in memory or streamed):
        an array oracle, a fixed temperature, top sampling, an acquisition
        criterion and a loss with a compiled equivalent. Returns that loss's
        ``(kernel id, scale)``, or ``None`` for the Python loop."""
        if (
            callable(oracle)
            or isinstance(self.temperature, str)
            or criterion == "random"
            or seeds is not None
        ):
            return None
        return self._compiled_loss(loss_name)

    def _commit_active(self, M_picked, labels, picked):
        """Adapt on the picked rows' member predictions, one label at a time (so
        ``weights_history_`` has a row per label; the final state equals one batch
        update: the losses are added in order), atomic on failure."""
        snapshot = self._snapshot()
        try:
            for j in range(len(labels)):
                self._committed_update(
                    M_picked[:, j : j + 1], labels[j : j + 1], reset=False, diagnose=False
                )
        except Exception:
            self._restore(snapshot)
            raise
        self.queried_indices_ = np.asarray(picked, dtype=np.int64)
        # one diagnosis of the labels asked for, not one per pick
        self._diagnose_labels(M_picked, np.asarray(labels), self._history_parts())
        return self

    def _sequential_loop(self, pick, oracle, n_queries, mask, encoded=False):
        """Pick, label, adapt, repeat; ``pick(mask) -> (index, member column)``.

        Returns the picked indices, their encoded labels and member columns;
        the weights are restored afterwards (the caller commits the batch).
        """
        snapshot = self._snapshot()
        mask = mask.copy()
        picked: list[int] = []
        labels = []
        columns = []
        try:
            for _ in range(n_queries):
                i, column = pick(mask)
                lab = oracle(np.array([i]))
                try:
                    lab_enc = (
                        np.asarray(lab) if encoded else self._encode_adapt_y(np.atleast_1d(lab))
                    )
                except ValueError as exc:  # name the oracle: the user passed no y
                    raise ValueError(
                        f"The oracle's label for queried index {i} is not usable ({lab!r}): {exc}"
                    ) from exc
                lab_enc = np.asarray(lab_enc).reshape(-1)
                if lab_enc.shape[0] != 1:
                    raise ValueError(
                        f"The oracle returned {lab_enc.shape[0]} labels for one queried "
                        f"index ({i}); it must return exactly one label per index."
                    )
                self._committed_update(column, lab_enc, reset=False, diagnose=False)
                picked.append(i)
                labels.append(lab_enc[0])
                columns.append(column)
                mask[i] = True
        finally:
            # the caller commits the whole batch at once (atomic on failure)
            self._restore(snapshot)
        return np.asarray(picked, dtype=np.int64), np.asarray(labels), columns

    _STATE = (
        "_hw",
        "weights_history_",
        "labels_seen_",
        "weights_",
        "log_weights_",
        "cumulative_loss_",
        "n_adapt_samples_",
        "temperature_",
        "_adapt_hist",
        "_adapt_loss_seen",
        "_adapt_temperature_seen",
    )

    def _snapshot(self) -> dict:
        self._history_parts()  # an old pickle's history in today's layout first
        return {k: getattr(self, k, None) for k in self._STATE}

    def _restore(self, snapshot: dict) -> None:
        for k, v in snapshot.items():
            setattr(self, k, v)
