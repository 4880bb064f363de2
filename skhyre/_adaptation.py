"""The test-time half of every HyRe estimator: adapt, query, active_adapt.

:class:`AdaptationMixin` implements DESIGN.md's adaptation contract once, over
*cached member predictions*. An estimator provides a few hooks:

- ``_member_matrix(X)``: validated ``X`` -> the engine's cached matrix,
  ``(K, n)`` float predictions (regression; the torch regressor keeps them
  standardized) or ``(K, n, C)`` probabilities (classification and
  preferences);
- ``_encode_adapt_y(y)``: validated targets in engine form (class indices, or
  floats in the matrix's units), with an error naming unknown labels;
- ``_user_loss(fn)``: a callable ``adapt_loss`` in engine units (identity
  unless the engine's units differ from the user's);
- ``_loss_functions()``: the built-in per-example losses by name, each
  ``(M, y) -> (n_rows(M), n)``; ``_default_adapt_loss``; ``_task``
  (``"regression"`` or ``"classification"``), and ``_n_members_fitted()``.

Everything else (weights state, coherence, ``temperature="auto"`` and
``"evidence"``, batch and
sequential queries, atomic failures) lives here, so the estimators stay thin.

State kept after ``fit`` and every adaptation: ``weights_``,
``log_weights_``, ``cumulative_loss_``, ``n_adapt_samples_``,
``temperature_``; and, privately, the member predictions and targets of the
adaptation examples since the last reset (``"auto"`` and ``"evidence"``
re-choose the temperature from all of them, and switching to either later
still sees them). They are kept in blocks merged geometrically, so at a
fixed temperature a stream of one-label updates costs O(n log n) copies in
all. ``"auto"`` and ``"evidence"`` join and re-score the whole history at
every update (O(n) copies each); with ``"auto"`` every
update re-runs the leave-one-out search over all n examples seen: O(G n K)
for G candidate temperatures (``benchmarks/results/adapt_scale.md``); fine for
the few dozen labels HyRe is for, and about 0.1 s at K=100, n=2048.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _kernels, acquisition, pools
from .reweighting import (
    EVIDENCE_LOSSES,
    NaNMemberWarning,
    _check_no_overflow,
    auto_temperature,
    evidence_temperature,
)

#: Temperatures chosen from the adaptation examples at every update.
_DATA_TEMPERATURES = ("auto", "evidence")

__all__ = ["AdaptationMixin", "keep_state_on_failure"]


def keep_state_on_failure(fit):
    """Decorate ``fit``: when it raises, the estimator is left exactly as it was.

    A failed refit must not leave new target statistics, classes or feature
    counts next to the old members (their predictions would be silently
    wrong, or refused).
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


def _weights_from_cum(cum: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    K = cum.shape[0]
    logw = _kernels.log_softmax_weights(cum, float(temperature), np.full(K, -np.log(K)))
    if not np.isfinite(logw).any():
        raise ValueError("Every member has NaN adaptation losses: no member is left to weight.")
    w = np.exp(logw)
    return w / w.sum(), logw


def _append_history(parts: tuple, M: np.ndarray, y: np.ndarray) -> tuple:
    """``parts`` with the block ``(M, y)`` appended, as a new tuple.

    Blocks are merged when the last is at least half the size of the one
    before it, so their sizes fall geometrically: at most about log2(n) blocks,
    and each example is copied O(log n) times however the examples arrive
    by appending (one by one, a stream of ``partial_adapt`` calls at a fixed
    temperature costs O(n log n) in all, not O(n^2)). The tuple is never changed in place, so a snapshot of it stays
    valid.
    """
    blocks = [*parts, (M, y)]
    while len(blocks) >= 2 and 2 * blocks[-1][1].shape[0] >= blocks[-2][1].shape[0]:
        (M1, y1), (M2, y2) = blocks[-2], blocks[-1]
        blocks[-2:] = [(np.concatenate([M1, M2], axis=1), np.concatenate([y1, y2]))]
    return tuple(blocks)


def _joined(parts: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The blocks' member predictions and labels in the order seen."""
    if len(parts) == 1:
        return parts[0]
    return (
        np.concatenate([M for M, _ in parts], axis=1),
        np.concatenate([y for _, y in parts]),
    )


def _encode_known_labels(arr: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class indices of the 1-D labels ``arr``; a clear error for labels not in ``classes``."""
    try:
        known = np.isin(arr, classes)
    except TypeError:
        known = np.zeros(arr.shape, dtype=bool)
    if not known.all():
        seen: dict = {}
        for v in arr[~known].tolist():
            seen.setdefault(repr(v), type(v).__name__)
        shown = sorted(seen)[:10]
        known_types = sorted({type(c).__name__ for c in classes.tolist()})
        hint = ""
        if set(seen.values()).isdisjoint(known_types):
            # "1" and 1, or b"no" and "no", print alike: name the types
            hint = (
                f" (y holds {', '.join(sorted(set(seen.values())))} values, the classes "
                f"are {', '.join(known_types)})"
            )
        raise ValueError(
            f"y contains labels never seen in fit: [{', '.join(shown)}]; "
            f"known classes are {classes.tolist()!r}{hint}."
        )
    return np.searchsorted(classes, arr).astype(np.int64)


def _num_samples_or_none(X) -> int | None:
    """Rows of ``X`` (sparse matrices and dataframes too), or None if it has no length."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X) if hasattr(X, "__len__") else None


def _nonfinite_rows(M: np.ndarray, w) -> np.ndarray | None:
    """Pool rows on which a member of nonzero weight predicts NaN or inf; ``None`` if none.

    One reduction over ``M`` when every prediction is finite (the usual case);
    otherwise a row mask from the weighted members' views (no copy of ``M``).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(M)):
            return None
    n = M.shape[1]
    bad = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(np.asarray(w) > 0):
        bad |= ~np.isfinite(M[k].reshape(n, -1)).all(axis=1)
    return bad if bad.any() else None


class AdaptationMixin:
    """Adaptation, queries and weighted combination over cached member predictions."""

    _task = "regression"

    # ------------------------------------------------------------------ state
    def _init_adaptation_state(self) -> None:
        K = self._n_members_fitted()
        self.weights_ = np.full(K, 1.0 / K)
        self.log_weights_ = np.full(K, -np.log(K))
        self.cumulative_loss_ = np.zeros(K)
        self.n_adapt_samples_ = 0
        self.temperature_ = self._fixed_temperature_or(np.inf)
        self._adapt_hist = ()
        self.__dict__.pop("_adapt_M", None)  # the layout before _adapt_hist
        self.__dict__.pop("_adapt_y", None)
        self._adapt_loss_seen = None
        self._adapt_temperature_seen = None
        # picks of an earlier active_adapt no longer describe the weights
        self.__dict__.pop("queried_indices_", None)

    def _fixed_temperature_or(self, default: float) -> float:
        return default if self.temperature in _DATA_TEMPERATURES else float(self.temperature)

    def reset_weights(self):
        """Back to the prior: uniform weights, nothing seen. Returns ``self``."""
        check_is_fitted(self)
        self._check_temperature_param()
        self._init_adaptation_state()
        return self

    # ----------------------------------------------------------- validation
    def _check_temperature_param(self) -> None:
        t = self.temperature
        msg = (
            "temperature must be a float > 0 (inf: the uniform ensemble), 'auto' or "
            f"'evidence', got {t!r}."
        )
        if isinstance(t, str):
            if t not in _DATA_TEMPERATURES:
                raise ValueError(msg)
        elif isinstance(t, bool) or not isinstance(t, numbers.Real) or not t > 0:  # NaN too
            raise ValueError(msg)

    def _resolve_adapt_loss(self) -> tuple[str | None, Callable]:
        """(name or None for a callable, fn(M, y) -> (rows, n))."""
        loss = self.adapt_loss if self.adapt_loss is not None else self._default_adapt_loss
        if callable(loss):
            return None, self._user_loss(loss)
        if loss not in self._adapt_loss_names:
            raise ValueError(
                f"adapt_loss={loss!r} is not valid for {type(self).__name__}; "
                f"choose one of {list(self._adapt_loss_names)} or pass a callable."
            )
        if not hasattr(self, "net_") and not hasattr(self, "estimators_"):
            return loss, None  # validated at fit time; functions need fitted state
        return loss, self._loss_functions()[loss]

    def _user_loss(self, fn: Callable) -> Callable:
        """A callable ``adapt_loss`` in the engine's units (regressors convert back)."""
        return fn

    def _losses(
        self, fn: Callable, M: np.ndarray, y: np.ndarray, rows: int, mixtures: bool = False
    ) -> np.ndarray:
        try:
            L = np.asarray(fn(M, y), dtype=np.float64)
        except Exception as exc:
            if mixtures and hasattr(exc, "add_note"):  # Python >= 3.11
                exc.add_note(
                    "temperature='auto' also calls adapt_loss on the leave-one-out weighted "
                    f"predictions, shape {M.shape} (one row per candidate temperature); a "
                    "callable adapt_loss must treat rows independently."
                )
            raise
        if L.shape != (rows, y.shape[0]):
            what = (
                "(candidate temperatures x examples: temperature='auto' also calls "
                "adapt_loss on the leave-one-out weighted predictions, one row per "
                "candidate, so a callable must treat rows independently)"
                if mixtures
                else "(members x examples)"
            )
            raise ValueError(
                f"adapt_loss returned shape {L.shape}; expected {(rows, y.shape[0])} {what}."
            )
        if np.isneginf(L).any():
            raise ValueError("adapt_loss returned -inf losses.")
        return L

    # -------------------------------------------------------------- updates
    def _loo_score(self, loss_name: str | None, fn: Callable) -> Callable:
        """The loss ``temperature="auto"`` scores left-out predictions with.

        The adaptation loss itself, except ``"zero_one"``: a weighted
        prediction's 0-1 loss only changes where its argmax flips, so many
        temperatures tie, and ties going to the higher one put the choice at
        the edge of flipping back to the uniform ensemble's answers. The
        mixture's log loss (the negative log of the probability it gives the
        held-out label, a proper scoring rule) ranks them instead.
        """
        if loss_name == "zero_one":
            return self._loss_functions()["log_loss"]
        return fn

    def _mixture_loss(self, fn: Callable, M: np.ndarray, y: np.ndarray) -> Callable:
        """W (G, n, K) -> (G, n): loss of the weighted prediction on each example."""

        def mixture_loss(W: np.ndarray) -> np.ndarray:
            G = W.shape[0]
            if M.ndim == 2:
                mix = np.einsum("gik,ki->gi", W, M)
            else:
                mix = np.einsum("gik,kic->gic", W, M)
            return self._losses(fn, mix, y, G, mixtures=True)

        return mixture_loss

    def _committed_update(self, M_new: np.ndarray, y_new: np.ndarray, *, reset: bool) -> None:
        """Compute the new state fully, then assign it (failures change nothing)."""
        self._check_temperature_param()
        loss_name, fn = self._resolve_adapt_loss()
        self._check_evidence_loss(loss_name)
        K = self._n_members_fitted()
        loss_key = self.adapt_loss if callable(self.adapt_loss) else loss_name
        losses = self._losses(fn, M_new, y_new, K)
        old_parts = self._history_parts()  # also moves an old pickle's layout
        old_parts = () if reset else old_parts
        parts = _append_history(old_parts, M_new, y_new)
        n_seen = sum(part_y.shape[0] for _, part_y in parts)
        if not old_parts:
            cum0 = np.zeros(K)
        elif not self._adapt_loss_changed(loss_key):
            cum0 = self.cumulative_loss_
        else:
            # adapt_loss changed since the last update: measure every example
            # seen since the reset with the new loss, never a mix of two
            cum0 = np.zeros(K)
            losses = self._losses(fn, *_joined(parts), K)
        # add each example's loss in order (not numpy's pairwise sum), so one
        # batch and the same examples one by one give bit-identical weights
        with np.errstate(over="ignore"):  # -inf is named below; +inf is a member of no weight
            cum = np.add.accumulate(np.column_stack([cum0, losses]), axis=1)[:, -1]
        _check_no_overflow(cum, "rescale adapt_loss", cum0, losses)
        alive = ~np.isnan(cum)
        if alive.any() and np.isposinf(cum[alive]).all():
            # a tie at +inf would silently reset the weights to uniform for good
            raise ValueError(
                f"Every member's {loss_key if isinstance(loss_key, str) else 'adapt_loss'} "
                "loss is now +inf (an adaptation label far outside every member's predictions, "
                "or losses past float64's range), so no member is left to weight and no later "
                "label could tell them apart. Nothing was changed; check or rescale these labels."
            )
        if self.temperature in _DATA_TEMPERATURES:
            hist_M, hist_y = _joined(parts)
            parts = ((hist_M, hist_y),)  # joined once; later appends start from it
            # the whole history's losses: already in hand after a reset or a loss change
            whole = losses.shape[1] == n_seen
            hist_L = losses if whole else self._losses(fn, hist_M, hist_y, K)
            if self.temperature == "auto":
                T, _, _ = auto_temperature(
                    hist_L,
                    self._mixture_loss(self._loo_score(loss_name, fn), hist_M, hist_y),
                    loss_name,
                )
            else:
                # a one-class ensemble has nothing to be wrong about: C = 2 is harmless
                n_classes = max(len(self.classes_), 2) if self._task == "classification" else 2
                T, _ = evidence_temperature(hist_L, loss_name, n_classes=n_classes)
        else:
            T = float(self.temperature)
        w, logw = _weights_from_cum(cum, T)
        newly_nan = np.isnan(cum) & ~np.isnan(cum0)
        if newly_nan.any():
            warnings.warn(
                f"{int(newly_nan.sum())} member(s) gave NaN adaptation losses and get weight 0.",
                NaNMemberWarning,
                stacklevel=3,
            )
        self.cumulative_loss_ = cum
        self.weights_ = w
        self.log_weights_ = logw
        self.temperature_ = T
        self.n_adapt_samples_ = int(n_seen)
        self._adapt_hist = parts
        self._adapt_loss_seen = loss_key
        self._adapt_temperature_seen = self.temperature

    def _history_parts(self) -> tuple:
        """The adaptation examples seen since the reset, as ``(M, y)`` blocks.

        Pickles made before the blocks existed hold one ``_adapt_M``/``_adapt_y``
        pair; it becomes the single block here.
        """
        if "_adapt_hist" not in self.__dict__:
            M = self.__dict__.pop("_adapt_M", None)
            y = self.__dict__.pop("_adapt_y", None)
            self._adapt_hist = () if M is None else ((M, y),)
        return self._adapt_hist

    def _adapt_loss_changed(self, loss_key) -> bool:
        seen = getattr(self, "_adapt_loss_seen", None)
        return not (loss_key is seen or (isinstance(loss_key, str) and loss_key == seen))

    def _sync_adaptation_params(self) -> None:
        """After ``set_params(adapt_loss=...)`` or ``set_params(temperature=...)``:
        re-weight the examples seen so far under the current parameters.

        ``active_adapt`` starts from the current weights; this makes them the
        new parameters' before the first pick, whatever the oracle (an array
        or a callable) and however the pool is held (``partial_adapt`` does
        the same inside its update). ``query`` and ``predict`` use the weights
        as they are until the next adaptation, as fitted attributes do in
        scikit-learn.
        """
        parts = self._history_parts()
        if not parts:
            return
        loss_name, _ = self._resolve_adapt_loss()
        seen_T = getattr(self, "_adapt_temperature_seen", None)
        T_changed = seen_T is not None and seen_T != self.temperature
        loss_key = self.adapt_loss if callable(self.adapt_loss) else loss_name
        if T_changed or self._adapt_loss_changed(loss_key):
            self._committed_update(*_joined(parts), reset=True)

    def _check_evidence_loss(self, loss_name) -> None:
        """``temperature="evidence"`` needs a built-in loss with a noise model."""
        if self.temperature != "evidence" or loss_name in EVIDENCE_LOSSES:
            return
        shown = "a callable" if loss_name is None else repr(loss_name)
        try:
            own = [n for n in EVIDENCE_LOSSES if n in self._adapt_loss_names]
        except Exception:  # a task not known yet (HyReEnsemble before fit)
            own = list(EVIDENCE_LOSSES)
        raise ValueError(
            f"temperature='evidence' needs an adapt_loss with a noise model (for "
            f"{type(self).__name__}: {', '.join(repr(n) for n in own)}), got {shown}; use a "
            "float temperature or 'auto' with it."
        )

    def _check_adapt_input(self, X, y):
        check_is_fitted(self)
        if X is None or _num_samples_or_none(X) == 0:
            raise ValueError("The adaptation set is empty: adapt needs at least one example.")
        if y is None:
            raise ValueError("adapt needs labels y for the adaptation examples.")
        M = self._member_matrix(X)
        y_enc = self._encode_adapt_y(y)
        if y_enc.shape[0] != M.shape[1]:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {M.shape[1]} and {y_enc.shape[0]}."
            )
        return M, y_enc

    def adapt(self, X, y):
        """Reset to the prior, then reweight the members on all of ``(X, y)``.

        One forward pass over ``X`` and a softmax: no gradient step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Labelled examples from the target distribution (or user).
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : object
        """
        M, y_enc = self._check_adapt_input(X, y)
        self._committed_update(M, y_enc, reset=True)
        self.__dict__.pop("queried_indices_", None)  # earlier picks are gone with the reset
        return self

    def partial_adapt(self, X, y):
        """Update the current weights with more labelled examples.

        Updating on a batch or on its examples one at a time gives the same
        weights (with a fixed temperature): the losses are added in order, so
        the same member predictions give bit-identical weights. (A model's
        prediction for a row can differ in its last bit between batch sizes:
        a torch network's float32 output, so there the two agree to about
        1e-6, and some scikit-learn models' float64 output, to about 1e-15.)
        After
        ``set_params(adapt_loss=...)`` every example seen since the last reset
        is measured again with the new loss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        M, y_enc = self._check_adapt_input(X, y)
        self._committed_update(M, y_enc, reset=False)
        return self

    # -------------------------------------------------------------- queries
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
        return [acquisition._draw_seed(rng) for _ in range(n_steps)]

    def _scores(self, M: np.ndarray, w: np.ndarray, criterion: str, Hm, rng) -> np.ndarray:
        """Acquisition scores of the pool rows: NaN (ranked last) on rows where a member
        of nonzero weight predicts NaN or inf."""
        if criterion == "random":
            return acquisition.random(M.shape[1], rng)
        if criterion == "variance":
            return acquisition.variance(M, w, check_input=False)
        if criterion == "entropy":
            return acquisition.entropy(M, w, check_input=False)
        return acquisition.bald(M, w, member_entropies=Hm, check_input=False)

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
            (:func:`skhyre.acquisition.batchbald`; in-memory pools only,
            ``sampling="top"``).
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
        sampling = acquisition._check_sampling(sampling)
        if criterion == "batchbald":
            return self._query_batchbald(
                X_pool, n_queries, exclude, random_state, pool_memory_budget, sampling
            )
        if pools._uses_streaming(self, X_pool, criterion, pool_memory_budget):
            return pools._query(
                self,
                X_pool,
                n_queries,
                criterion,
                exclude,
                random_state,
                pool_memory_budget,
                sampling,
            )
        M = self._member_matrix(X_pool)
        if criterion != "random":
            self._check_pool_nan(M, acquisition._check_exclude(exclude, M.shape[1]), "query")
        Hm = _kernels.member_entropies(M) if criterion == "bald" else None
        rng = self._query_rng(random_state)
        seeds = self._step_seeds(rng, criterion, sampling, 1)
        scores = self._scores(M, self.weights_, criterion, Hm, rng)
        if seeds is not None:
            scores = acquisition.power_keys(scores, seeds[0])
        return acquisition.select_top(scores, n_queries, exclude=exclude)

    def _query_batchbald(self, X_pool, n_queries, exclude, random_state, budget, sampling):
        """``query(criterion="batchbald")``: :func:`skhyre.acquisition.batchbald` over the
        pool's member matrix under the current weights (in-memory pools only, for now)."""
        if sampling != "top":
            raise ValueError(
                f"sampling={sampling!r} does not apply to criterion='batchbald', which picks "
                "its batch greedily; use sampling='top' (or criterion='bald', sampling='power')."
            )
        if pools._uses_streaming(self, X_pool, "batchbald", budget):
            raise ValueError(
                "criterion='batchbald' needs the pool's member predictions in memory: streamed "
                "pools (iterators of chunks, dask arrays, or arrays whose member matrix exceeds "
                "pool_memory_budget) are not supported yet. Pass the pool as one array, raise "
                "pool_memory_budget, or use criterion='bald' with sampling='power'."
            )
        M = self._member_matrix(X_pool)
        self._check_pool_nan(M, acquisition._check_exclude(exclude, M.shape[1]), "query")
        rng = self._query_rng(random_state)
        return acquisition.batchbald(
            M, self.weights_, n_queries, exclude=exclude, random_state=rng, check_input=False
        )[0]

    def _check_pool_nan(self, M: np.ndarray, mask: np.ndarray, who: str) -> None:
        """Name NaN or inf pool predictions of weighted members (their rows score NaN).

        ``query`` refuses a pool whose every candidate row scores NaN (any
        answer would be arbitrary); otherwise those rows are picked last and
        a :class:`~skhyre.reweighting.NaNMemberWarning` says how many.
        """
        bad = _nonfinite_rows(M, self.weights_)
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
            stacklevel=4,
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
        previous weights are kept.

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
        sampling = acquisition._check_sampling(sampling)
        self._check_temperature_param()
        snapshot = self._snapshot()
        try:
            self._sync_adaptation_params()
            if pools._uses_streaming(self, X_pool, criterion, pool_memory_budget):
                return pools._active_adapt(
                    self,
                    X_pool,
                    oracle,
                    n_queries,
                    criterion,
                    exclude,
                    random_state,
                    pool_memory_budget,
                    sampling,
                )
            M = self._member_matrix(X_pool)
            return self._active_adapt_matrix(
                M, oracle, n_queries, criterion, exclude, random_state, sampling
            )
        except BaseException:
            self._restore(snapshot)
            raise

    def _active_adapt_matrix(
        self, M, oracle, n_queries, criterion, exclude, random_state, sampling="top"
    ):
        """``active_adapt`` over the pool's cached member matrix ``M``."""
        n = M.shape[1]
        mask = acquisition._check_exclude(exclude, n)
        acquisition._check_n_queries(n_queries, int((~mask).sum()), n)
        if criterion != "random":
            self._check_pool_nan(M, mask, "active_adapt")
        loss_name, _ = self._resolve_adapt_loss()
        rng = self._query_rng(random_state)
        seeds = self._step_seeds(rng, criterion, sampling, n_queries)
        if callable(oracle):
            picked, labels = self._active_loop(M, oracle, n_queries, criterion, mask, rng, seeds)
        else:
            y_all = self._encode_adapt_y(oracle)
            if y_all.shape[0] != n:
                raise ValueError(
                    f"oracle labels have {y_all.shape[0]} entries but the pool has {n} rows."
                )
            kernel_loss = self._compiled_loss(loss_name)
            compiled = (
                not isinstance(self.temperature, str)
                and kernel_loss is not None
                and criterion != "random"
                and seeds is None
            )
            if compiled:
                picked, _ = acquisition.select_sequential(
                    M,
                    y_all,
                    n_queries,
                    criterion=criterion,
                    loss=kernel_loss[0],
                    temperature=float(self.temperature),
                    cumulative_loss=self.cumulative_loss_,
                    exclude=mask,
                    loss_scale=kernel_loss[1],
                    check_input=False,
                )
                labels = y_all[picked]
            else:
                picked, labels = self._active_loop(
                    M, lambda idx: y_all[idx], n_queries, criterion, mask, rng, seeds, encoded=True
                )
        return self._commit_active(M[:, picked], labels, picked)

    def _commit_active(self, M_picked, labels, picked):
        """Adapt on the picked rows' member predictions at once (atomic on failure)."""
        snapshot = self._snapshot()
        try:
            self._committed_update(M_picked, labels, reset=False)
        except Exception:
            self._restore(snapshot)
            raise
        self.queried_indices_ = np.asarray(picked, dtype=np.int64)
        return self

    def _active_loop(self, M, oracle, n_queries, criterion, mask, rng, seeds=None, encoded=False):
        """Python-level sequential loop (callable oracle, auto temperature, custom loss,
        power sampling: ``seeds``, one per pick)."""
        Hm = _kernels.member_entropies(M) if criterion == "bald" else None
        step = iter(range(n_queries))

        def pick(mask):
            t = next(step)
            scores = self._scores(M, self.weights_, criterion, Hm, rng)
            if seeds is not None:
                scores = acquisition.power_keys(scores, seeds[t])
            i = int(acquisition.select_top(scores, 1, exclude=mask)[0])
            return i, M[:, [i]]

        picked, labels, _ = self._sequential_loop(pick, oracle, n_queries, mask, encoded)
        return picked, labels

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
                self._committed_update(column, lab_enc, reset=False)
                picked.append(i)
                labels.append(lab_enc[0])
                columns.append(column)
                mask[i] = True
        finally:
            # the caller commits the whole batch at once (atomic on failure)
            self._restore(snapshot)
        return np.asarray(picked, dtype=np.int64), np.asarray(labels), columns

    _STATE = (
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

    # hooks with defaults
    def _compiled_loss(self, loss_name: str | None) -> tuple[str, float] | None:
        """(kernel loss name, scale) equivalent to ``loss_name`` for the compiled loop.

        Equivalent means: the same weights up to a per-example constant shared
        by all members. ``None`` when there is no compiled equivalent.
        """
        if loss_name in ("zero_one", "log_loss", "brier"):
            return loss_name, 1.0
        return None
