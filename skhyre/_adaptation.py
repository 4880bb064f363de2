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
- ``_loss_task`` and ``_loss_units()``: which table of :mod:`skhyre.losses`
  the built-in adaptation losses come from, and the units they are measured
  in; ``_adapt_loss_names`` (the losses offered); ``_task``
  (``"regression"`` or ``"classification"``), and ``_n_members_fitted()``.

Everything else (weights state, coherence, ``temperature="auto"`` and
``"evidence"``, batch and
sequential queries, atomic failures, thread safety) lives here, so the
estimators stay thin.

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

Thread safety: the adaptations (``adapt``, ``partial_adapt``,
``active_adapt``, ``reset_weights``, and ``fit``/``partial_fit`` through
:func:`keep_state_on_failure`) hold a per-estimator re-entrant lock, created
on first use and left out of pickles and copies. Each computes the new state
apart and publishes it with one ``__dict__.update`` (:meth:`_publish`);
``active_adapt`` runs its whole loop on a private copy of the estimator
(:meth:`_private_copy`) and publishes once at the end. Predictions and
queries take no lock: they read ``weights_`` once, old or new.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import losses
from ._diagnostics import far_label_advice, warn_no_member_fits
from ._querying import QueryMixin
from ._validation import (
    DATA_TEMPERATURES,
    check_max_temperature,
    check_temperature_param,
    nonfinite_output_note,
    num_samples_or_none,
    shown_indices,
)
from .reweighting import (
    EVIDENCE_LOSSES,
    HypothesisWeights,
    NoMemberLeftError,
    auto_temperature,
    evidence_temperature,
)

_DATA_TEMPERATURES = DATA_TEMPERATURES

__all__ = ["AdaptationMixin", "keep_state_on_failure"]

#: guards the lazy creation of the estimators' adaptation locks
_NEW_LOCK = threading.Lock()
#: where an estimator keeps its adaptation lock (never pickled or copied)
_LOCK = "_adapt_lock"  # no trailing underscore: not a fitted attribute


def keep_state_on_failure(fit):
    """Decorate ``fit``: when it raises, the estimator is left exactly as it was.

    A failed refit must not leave new target statistics, classes or feature
    counts next to the old members (their predictions would be silently
    wrong, or refused). It holds the adaptation lock, so a fit waits for a
    running ``active_adapt`` (and the reverse) rather than having its members
    paired with weights computed from the old ones.
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        with self._adaptation_lock():  # before the copy: the lock stays in it
            saved = dict(self.__dict__)
            try:
                return fit(self, *args, **kwargs)
            except BaseException:
                self.__dict__.clear()
                self.__dict__.update(saved)
                raise

    return wrapper


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


def _no_member_left(value: str, shown_loss: str, M: np.ndarray) -> ValueError:
    """The error for an update after which every member's cumulative loss is
    ``value`` (NaN or +inf): nothing is left to weight, and nothing was changed."""
    note = nonfinite_output_note(M)
    if note:  # not the labels: name the outputs
        why = note
        fix = "check these rows (inputs far outside the training data?) or the members"
    else:
        why = "an adaptation label far outside every member's predictions, or losses past float64's range"
        fix = far_label_advice()
    return ValueError(
        f"Every member's {shown_loss} loss is now {value} ({why}), so no member is "
        "left to weight and no later label could tell them apart. Nothing was "
        f"changed; {fix}."
    )


class AdaptationMixin(QueryMixin):
    """Adaptation, queries and weighted combination over cached member predictions."""

    _task = "regression"

    # ------------------------------------------------------------------ state
    def _init_adaptation_state(self, keep_queries: bool = False) -> None:
        hw = HypothesisWeights(self._n_members_fitted(), self._fixed_temperature_or(np.inf))
        self._publish(
            {
                **self._published(hw),
                "weights_history_": hw.weights[None, :],
                "labels_seen_": np.zeros(1, dtype=np.int64),
                "_adapt_hist": (),
                "_adapt_loss_seen": None,
                "_adapt_temperature_seen": None,
            },
            # a refit's members were never queried with: the picks go
            drop=() if keep_queries else ("queried_indices_",),
        )

    @staticmethod
    def _published(hw: HypothesisWeights) -> dict:
        """The fitted attributes that show the weight state ``hw`` (and ``hw`` itself)."""
        return {
            "_hw": hw,
            "weights_": hw.weights,
            "log_weights_": hw.log_weights,
            "cumulative_loss_": hw.cumulative_loss,
            "n_adapt_samples_": hw.n_samples_seen,
            "temperature_": hw.temperature,
        }

    def _history_rows(self, fresh: bool) -> tuple[np.ndarray, np.ndarray]:
        """The weights history to extend: the prior row alone after a reset (or a
        changed loss, which re-measures every example), else the rows so far."""
        hist = self.__dict__.get("weights_history_")
        if fresh or hist is None:
            K = self._n_members_fitted()
            return HypothesisWeights(K).weights[None, :], np.zeros(1, dtype=np.int64)
        return hist, self.labels_seen_

    def _weight_state(self) -> HypothesisWeights:
        """The one weight state (a :class:`~skhyre.HypothesisWeights`).

        Estimators pickled before it existed kept only its published
        attributes; it is rebuilt from them (the same weights).
        """
        hw = self.__dict__.get("_hw")
        if hw is None:
            T = float(getattr(self, "temperature_", np.inf))
            hw = HypothesisWeights.from_cumulative_loss(
                self.cumulative_loss_, T if T > 0 else np.inf, None, self.n_adapt_samples_
            )
            self.__dict__["_hw"] = hw
        return hw

    # ---------------------------------------------------------- thread safety
    def _adaptation_lock(self) -> threading.RLock:
        """The lock that serializes this estimator's adaptations (made on first use)."""
        lock = self.__dict__.get(_LOCK)
        if lock is None:
            with _NEW_LOCK:
                lock = self.__dict__.setdefault(_LOCK, threading.RLock())
        return lock

    def __getstate__(self) -> dict:
        """The pickled (and copied) state: everything but the adaptation lock."""
        state = dict(super().__getstate__())  # a copy: on Python >= 3.11 it is self.__dict__
        state.pop(_LOCK, None)
        return state

    def _publish(self, state: dict, drop=()) -> None:
        """Replace adaptation attributes in one step.

        One ``dict.update`` under the GIL: a thread reading ``weights_`` (a
        prediction) gets the old array or the new one. ``drop`` names
        attributes to remove afterwards; a new ``_adapt_hist`` replaces the
        layout before it (``_adapt_M``/``_adapt_y``, from old pickles).
        """
        self.__dict__.update(state)
        if "_adapt_hist" in state:
            drop = (*drop, "_adapt_M", "_adapt_y")
        for name in drop:
            self.__dict__.pop(name, None)

    def _private_copy(self):
        """A shallow copy to run an adaptation on: the same members, its own attributes.

        Adaptations assign new arrays and tuples rather than change them in
        place, so nothing the copy does is visible on ``self`` until
        :meth:`_publish_from` copies its results over. (Parameters set on
        ``self`` meanwhile, by ``set_params``, are not overwritten.)
        """
        work = object.__new__(type(self))
        work.__dict__.update(self.__dict__)
        work.__dict__.pop(_LOCK, None)
        return work

    def _publish_from(self, work, start: dict) -> None:
        """Publish, in one step, every attribute that ``work`` set, changed or removed
        since its ``__dict__`` was ``start``."""
        changed = {k: v for k, v in work.__dict__.items() if k not in start or start[k] is not v}
        removed = [k for k in start if k not in work.__dict__]
        self._publish(changed, drop=removed)

    def _fixed_temperature_or(self, default: float) -> float:
        return default if self.temperature in _DATA_TEMPERATURES else float(self.temperature)

    def reset_weights(self):
        """Back to the prior: uniform weights, nothing seen. Returns ``self``.

        ``weights_history_`` and ``labels_seen_`` start again from the prior
        row. ``queried_indices_`` (the last :meth:`active_adapt`'s picks) is
        kept: it records what was asked, not the current weights; the next
        :meth:`adapt` or :meth:`active_adapt` replaces it.
        """
        check_is_fitted(self)
        self._check_temperature_param()
        with self._adaptation_lock():
            self._init_adaptation_state(keep_queries=True)
        return self

    # ----------------------------------------------------------- validation
    def _check_temperature_param(self) -> None:
        check_temperature_param(self.temperature)
        check_max_temperature(self._max_temperature())

    def _max_temperature(self) -> float | None:
        """The cap on a data-driven temperature (``None``: none)."""
        return getattr(self, "max_temperature", None)

    def _temperature_key(self):
        """What the weights depend on besides the losses: ``temperature`` and its cap."""
        if self.temperature in _DATA_TEMPERATURES:
            return (self.temperature, self._max_temperature())
        return self.temperature

    # the task whose losses this estimator uses (skhyre.losses.TASKS)
    _loss_task = "regression"

    def _loss_units(self) -> losses.Units:
        """The units the estimator's adaptation losses are measured in (a hook)."""
        return losses.Units()

    @property
    def _default_adapt_loss(self) -> str:
        return losses.default(self._loss_task)

    def _loss_entry(self, loss_name: str) -> losses.AdaptLoss:
        return losses.get(self._loss_task, loss_name)

    def _resolve_adapt_loss(self) -> tuple[str | None, Callable]:
        """(name or None for a callable, fn(M, y) -> (rows, n)), from the loss table."""
        loss = self.adapt_loss if self.adapt_loss is not None else self._default_adapt_loss
        if callable(loss):
            return None, self._user_loss(loss)
        if loss not in self._adapt_loss_names:
            raise ValueError(
                f"adapt_loss={loss!r} is not valid for {type(self).__name__}; "
                f"choose one of {list(self._adapt_loss_names)} or pass a callable."
            )
        if not hasattr(self, "net_") and not hasattr(self, "estimators_"):
            return loss, None  # validated at fit time; the units need fitted state
        entry, units = self._loss_entry(loss), self._loss_units()
        return loss, lambda M, y: entry.compute(M, y, units)

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
        score = None if loss_name is None else self._loss_entry(loss_name).loo_score
        if score is None:
            return fn
        entry, units = self._loss_entry(score), self._loss_units()
        return lambda M, y: entry.compute(M, y, units)

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

    def _committed_update(
        self, M_new: np.ndarray, y_new: np.ndarray, *, reset: bool, diagnose: bool = True
    ) -> None:
        """Compute the new state fully, then assign it (failures change nothing).

        ``diagnose``: afterwards, warn when every member badly misses the new
        labels (:meth:`_diagnose_labels`); ``active_adapt`` diagnoses its
        picks once, at the end.
        """
        self._check_temperature_param()
        loss_name, fn = self._resolve_adapt_loss()
        self._check_evidence_loss(loss_name)
        K = self._n_members_fitted()
        loss_key = self.adapt_loss if callable(self.adapt_loss) else loss_name
        losses = self._losses(fn, M_new, y_new, K)
        loss_M, loss_y = M_new, y_new  # the examples behind ``losses``
        old_parts = self._history_parts()  # also moves an old pickle's layout
        old_parts = () if reset else old_parts
        parts = _append_history(old_parts, M_new, y_new)
        n_seen = sum(part_y.shape[0] for _, part_y in parts)
        loss_changed = bool(old_parts) and self._adapt_loss_changed(loss_key)
        if loss_changed:
            # adapt_loss changed since the last update: measure every example
            # seen since the reset with the new loss, never a mix of two
            loss_M, loss_y = _joined(parts)
            losses = self._losses(fn, loss_M, loss_y, K)
        # the one weight state: a copy of the current one (a fresh one after a
        # reset or a loss change), updated; nothing is published on failure
        if old_parts and not self._adapt_loss_changed(loss_key):
            hw = self._weight_state().copy()
        else:
            hw = HypothesisWeights(K, self._fixed_temperature_or(np.inf))
        if self.temperature not in _DATA_TEMPERATURES and hw.temperature != self.temperature:
            hw.temperature = float(self.temperature)  # set_params since the last update
        shown_loss = loss_key if isinstance(loss_key, str) else "adapt_loss"
        try:
            hw.update(losses, note=lambda: nonfinite_output_note(loss_M))
        except NoMemberLeftError:
            raise _no_member_left("NaN", shown_loss, loss_M) from None
        cum = hw.cumulative_loss
        if np.isposinf(cum[~np.isnan(cum)]).all():
            # a tie at +inf would silently reset the weights to uniform for good
            raise _no_member_left("+inf", shown_loss, loss_M)
        self._check_rounding_tie(cum, loss_M, loss_y, loss_name, shown_loss)
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
            cap = self._max_temperature()
            hw.temperature = T if cap is None else min(T, float(cap))
        history, seen = self._history_rows(fresh=not old_parts or loss_changed)
        self._publish(
            {
                **self._published(hw),
                "weights_history_": np.vstack([history, hw.weights[None, :]]),
                "labels_seen_": np.append(seen, hw.n_samples_seen),
                "_adapt_hist": parts,
                "_adapt_loss_seen": loss_key,
                "_adapt_temperature_seen": self._temperature_key(),
            }
        )
        if diagnose:  # after publishing: a diagnostic never changes or blocks the update
            self._diagnose_labels(M_new, y_new, parts)

    # ------------------------------------------------------------ diagnostics
    def _target_center(self) -> float | None:
        """The training target's mean in the engine's units (``None`` when unknown): the
        torch regressor's matrix is standardized, so 0."""
        return 0.0

    def _label_miss_hint(self) -> str:
        """What a classifier's labels given probability ~0 by every member may mean."""
        classes = getattr(self, "classes_", None)
        shown = "" if classes is None else f" (classes_ = {np.asarray(classes).tolist()[:10]})"
        return (
            f"labels encoded differently from fit's{shown}, for example swapped or shifted "
            "class labels, or no member fits these rows"
        )

    def _diagnose_labels(self, M: np.ndarray, y: np.ndarray, parts=None) -> None:
        """A :class:`~skhyre.reweighting.NoMemberFitsWarning` when every member badly misses
        the new labels ``(M, y)`` (:func:`skhyre._diagnostics.warn_no_member_fits`).

        Regression reads the new rows only; classification every example seen
        since the reset (``parts``; a majority of missed rows is what tells a
        labelling mistake from hard examples), and only when a new row is missed.
        """
        if self._task == "regression":
            warn_no_member_fits(
                M, y, "regression", unit=self._target_unit(), center=self._target_center()
            )
            return
        n_new = y.shape[0]
        if parts is not None:
            M, y = _joined(parts)
        warn_no_member_fits(
            M, y, "classification", label_hint=self._label_miss_hint(),
            new_from=y.shape[0] - n_new,
        )  # fmt: skip

    #: Member spread (in the units of the scale-free regression losses) below
    #: which members differ by rounding noise only, not by their predictions.
    _TIE_SPREAD = 1e-8

    def _target_unit(self) -> float:
        """The regression losses' unit in the engine's matrix (the torch regressor's
        matrix is standardized already; :class:`~skhyre.HyReEnsemble` overrides)."""
        return 1.0

    def _check_rounding_tie(self, cum, M, y, loss_name, shown_loss) -> None:
        """Refuse a tie that float64 rounding made, as a tie at +inf is refused.

        The built-in regression losses are functions of the residual
        ``f_k(x) - y``. Where ``|y|`` is so far from the members that the
        float64 residuals of members whose predictions differ come out equal,
        their losses are equal too, every member's cumulative loss is the same
        number and the weights would silently stay at the prior, although the
        exact losses differ by about ``2 |y - f| (f_k - f_j)``, a lot.
        """
        if self._task != "regression" or loss_name is None:
            return
        finite = np.isfinite(cum)
        if finite.sum() < 2 or np.ptp(cum[finite]) != 0:
            return
        F = np.asarray(M, dtype=np.float64)[finite]
        spread = np.ptp(F, axis=0)
        with np.errstate(invalid="ignore", over="ignore"):
            residual_tie = np.ptp(F - np.asarray(y, dtype=np.float64), axis=0) == 0
        lost = residual_tie & (spread > self._TIE_SPREAD * self._target_unit())
        if not lost.any():
            return  # a genuine tie (members alike, or labels symmetric about them)
        rows = np.flatnonzero(lost)
        far = float(np.max(np.abs(np.asarray(y, dtype=np.float64)[rows] - F[:, rows].mean(axis=0))))
        tied = float(cum[finite][0])
        raise ValueError(
            f"Every member's {shown_loss} loss is now the same number ({tied:.6g}) "
            f"although their predictions differ: on {rows.size} adaptation row(s) {shown_indices(rows)} "
            f"the label is {far / self._target_unit():.3g} target standard deviations from the "
            "members, so far that float64 rounds their residuals to one value and the losses "
            "can no longer tell the members apart; the weights would silently stay at the prior. "
            f"Nothing was changed; {far_label_advice()}."
        )

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
        T_changed = seen_T is not None and seen_T != self._temperature_key()
        loss_key = self.adapt_loss if callable(self.adapt_loss) else loss_name
        if T_changed or self._adapt_loss_changed(loss_key):
            self._committed_update(*_joined(parts), reset=True, diagnose=False)

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
        if X is None or num_samples_or_none(X) == 0:
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
        with self._adaptation_lock():
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
        with self._adaptation_lock():
            M, y_enc = self._check_adapt_input(X, y)
            self._committed_update(M, y_enc, reset=False)
        return self

    def _compiled_loss(self, loss_name: str | None) -> tuple[str, float] | None:
        """(kernel loss name, scale) equivalent to ``loss_name`` for the compiled loop.

        Equivalent means: the same weights up to a per-example constant shared
        by all members (the loss table's ``kernel``). ``None`` when there is no
        compiled equivalent.
        """
        if loss_name is None:
            return None
        kernel = self._loss_entry(loss_name).kernel
        return None if kernel is None else kernel(self._loss_units())
