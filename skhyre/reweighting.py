"""Hypothesis reweighting: member weights from cumulative losses.

HyRe keeps one number per ensemble member, its cumulative loss
``L_k = sum_i loss(f_k(x_i), y_i)`` over the adaptation examples seen so far,
and weights members by ``w = softmax(-L / temperature + log_prior)``. This is
generalized Bayesian inference with the loss as a negative log-likelihood, so
updating on a batch or on its examples one by one gives the same weights.

:class:`HypothesisWeights` is framework-free: it needs only a ``(K, n)``
matrix of per-example member losses, from any models.
:func:`auto_temperature` and :func:`evidence_temperature` choose the
temperature from the adaptation examples alone (the estimators'
``temperature="auto"`` and ``temperature="evidence"``);
:func:`loo_temperature` is the leave-one-out search behind ``"auto"``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable

import numpy as np

from . import _kernels, losses
from ._validation import check_log_prior

__all__ = [
    "DEFAULT_TEMPERATURE_GRID",
    "EVIDENCE_LOSSES",
    "EVIDENCE_TEMPERATURE_GRID",
    "FLOORED_LOSSES",
    "HypothesisWeights",
    "InputScaleWarning",
    "NaNMemberWarning",
    "NoMemberFitsWarning",
    "NoMemberLeftError",
    "TiedScoresWarning",
    "auto_temperature",
    "check_temperature",
    "evidence_temperature",
    "loo_temperature",
]

#: Candidate temperatures for ``temperature="auto"``: 25 log-spaced values
#: from 1e-3 to 1e3, plus ``inf`` (uniform weights, the fallback).
DEFAULT_TEMPERATURE_GRID = np.append(np.logspace(-3, 3, 25), np.inf)


class NaNMemberWarning(RuntimeWarning):
    """Members output NaN (or inf): their losses were NaN, so they get weight 0
    from now on; or a fit went non-finite, or a prediction is NaN where they weigh.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skhyre import HypothesisWeights
    >>> from skhyre.reweighting import NaNMemberWarning
    >>> hw = HypothesisWeights(n_members=3)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = hw.update(np.array([0.0, np.nan, 1.0]))
    >>> any(issubclass(w.category, NaNMemberWarning) for w in caught)
    True
    >>> float(hw.weights[1])
    0.0
    """


class InputScaleWarning(UserWarning):
    """``fit`` got input columns far from standardized (``|mean|`` or std above 10).

    The torch estimators feed ``X`` to their networks (and frozen random
    priors) as it is, as scikit-learn's MLPs do; columns in the hundreds make
    the members' diversity, and so adaptation, unreliable. The message names
    the columns and suggests a :class:`~sklearn.preprocessing.StandardScaler`
    in front (:func:`skhyre.pipeline.make_pipeline`). A warning only: the fit
    is the same with or without it.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skhyre import HyReRegressor
    >>> from skhyre.reweighting import InputScaleWarning
    >>> X = np.random.default_rng(0).normal(1000.0, 5.0, size=(40, 2))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = HyReRegressor(n_members=2, max_epochs=1).fit(X, X[:, 0])
    >>> any(issubclass(w.category, InputScaleWarning) for w in caught)
    True
    """


class NoMemberFitsWarning(UserWarning):
    """Every member misses an adaptation label badly: the weights rank only the least wrong.

    Regression: every member's error on some adaptation row exceeds 10
    training target standard deviations. The message says which case it
    looks like: labels on another scale than ``fit``'s ``y`` (other units,
    or a target transformed at ``fit`` but not here), member predictions far
    outside the training targets (inputs in other units, or preprocessing not
    applied), or no member extrapolating to these rows. Classification and
    preferences: every member gives some observed label a probability below
    ``1e-6`` (labels encoded differently from ``classes_``, pairs with A and
    B swapped, or no member fits these rows). The weights are computed as
    usual: the warning never changes them.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skhyre import HyReRegressor
    >>> from skhyre.reweighting import NoMemberFitsWarning
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> reg = HyReRegressor(n_members=2, max_epochs=1, random_state=0).fit(X, X[:, 0])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = reg.adapt(X[:3], 1000.0 * X[:3, 0] + 1000.0)  # labels in other units
    >>> any(issubclass(w.category, NoMemberFitsWarning) for w in caught)
    True
    """


class TiedScoresWarning(UserWarning):
    """Every candidate's acquisition score is the same: a top pick is just the first rows.

    Raised (once per call) by ``query``, and by ``active_adapt`` when its
    first pick ties, with ``sampling="top"`` when all selectable pool rows score alike within
    rounding (the weights collapsed onto one member, or the members agree on
    every row), so the rows returned are the first ones in pool order, not
    the most informative. The picks are unchanged; the message suggests
    ``sampling="power"`` (a random draw when scores tie),
    ``criterion="random"`` or a higher temperature.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skhyre import HyReRegressor
    >>> from skhyre.reweighting import TiedScoresWarning
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> reg = HyReRegressor(n_members=3, max_epochs=2, random_state=0).fit(X, X[:, 0])
    >>> reg = reg.set_params(temperature=1e-9).adapt(X[:5], X[:5, 0])  # all weight on one
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     picks = reg.query(X, n_queries=2)
    >>> picks.tolist(), any(issubclass(w.category, TiedScoresWarning) for w in caught)
    ([0, 1], True)
    """


class NoMemberLeftError(ValueError):
    """Every member's losses are NaN (or its prior is zero): no member is left to weight.

    Raised by :meth:`HypothesisWeights.update`, which then changes nothing. A
    ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HypothesisWeights
    >>> from skhyre.reweighting import NoMemberLeftError
    >>> try:
    ...     HypothesisWeights(2).update([np.nan, np.nan])
    ... except NoMemberLeftError as exc:
    ...     print(type(exc).__name__)
    NoMemberLeftError
    """


def check_temperature(temperature, name: str = "temperature") -> float:
    """Validate a temperature: a real number > 0 (``inf`` allowed).

    Parameters
    ----------
    temperature : float
        The value to check.
    name : str, default="temperature"
        Name used in the error message.

    Returns
    -------
    float
        ``temperature`` as a Python float.

    Examples
    --------
    >>> from skhyre.reweighting import check_temperature
    >>> check_temperature(0.5)
    0.5
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {temperature!r}.")
    t = float(temperature)
    if not t > 0:  # also catches NaN
        raise ValueError(f"{name} must be > 0, got {temperature!r}.")
    return t


class HypothesisWeights:
    """HyRe weights over ``K`` hypotheses (ensemble members) from their losses.

    Keeps the cumulative loss ``L_k`` of every member and returns
    ``w = softmax(-L / temperature + log_prior)``, computed with a shifted
    log-sum-exp so the weights are finite, non-negative and sum to 1 for any
    losses, huge or infinite. A member with a +inf loss gets weight 0; a
    member whose losses are NaN gets weight 0 and a :class:`NaNMemberWarning`.

    Parameters
    ----------
    n_members : int
        Number of members ``K``.
    temperature : float, default=1.0
        Softmax temperature (> 0; ``inf`` gives the prior). Lower is sharper.
        Changing it later recomputes the weights from the same cumulative loss.
    log_prior : array-like of shape (n_members,), default=None
        Log prior weights (normalised internally). ``None`` is uniform.

    Attributes
    ----------
    n_updates : int
        Number of successful :meth:`update` calls since the last reset.
    n_samples_seen : int
        Number of examples (columns of ``(K, n)`` loss matrices) seen since the
        last reset; a ``(K,)`` update counts as one.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HypothesisWeights
    >>> hw = HypothesisWeights(n_members=3, temperature=1.0)
    >>> hw.weights
    array([0.333..., 0.333..., 0.333...])
    >>> losses = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # (K, n)
    >>> hw.update(losses).cumulative_loss
    array([1., 2., 0.])
    >>> hw.weights.round(3)
    array([0.245, 0.09 , 0.665])
    >>> hw.reset().weights.round(3)
    array([0.333, 0.333, 0.333])
    """

    def __init__(self, n_members: int, temperature: float = 1.0, log_prior=None):
        if (
            isinstance(n_members, bool)
            or not isinstance(n_members, numbers.Integral)
            or n_members < 1
        ):
            raise ValueError(f"n_members must be a positive integer, got {n_members!r}.")
        self.n_members = int(n_members)
        self._temperature = check_temperature(temperature)
        self._log_prior = check_log_prior(log_prior, self.n_members)
        self.reset()

    @classmethod
    def from_cumulative_loss(
        cls, cumulative_loss, temperature: float = 1.0, log_prior=None, n_samples_seen: int = 0
    ) -> HypothesisWeights:
        """Weights from saved cumulative losses (a checkpoint, or state kept elsewhere).

        Parameters
        ----------
        cumulative_loss : array-like of shape (n_members,)
            Each member's cumulative loss (NaN for a broken member; no -inf).
        temperature : float, default=1.0
        log_prior : array-like of shape (n_members,), default=None
        n_samples_seen : int, default=0
            Examples behind ``cumulative_loss``, for :attr:`n_samples_seen`.

        Returns
        -------
        HypothesisWeights

        Examples
        --------
        >>> from skhyre import HypothesisWeights
        >>> hw = HypothesisWeights(3).update([[0.0], [1.0], [2.0]])
        >>> again = HypothesisWeights.from_cumulative_loss(hw.cumulative_loss, n_samples_seen=1)
        >>> bool((again.weights == hw.weights).all()), again.n_samples_seen
        (True, 1)
        """
        cum = np.array(cumulative_loss, dtype=np.float64).reshape(-1)
        if np.isneginf(cum).any():
            raise ValueError("cumulative_loss must not contain -inf.")
        hw = cls(cum.shape[0], temperature, log_prior)
        hw._cum = cum
        hw.n_samples_seen = int(n_samples_seen)
        hw.n_updates = int(n_samples_seen > 0)
        hw._refresh()
        return hw

    def copy(self) -> HypothesisWeights:
        """An independent copy (updating one never changes the other).

        Examples
        --------
        >>> from skhyre import HypothesisWeights
        >>> hw = HypothesisWeights(2)
        >>> other = hw.copy().update([0.0, 5.0])
        >>> hw.weights.tolist(), bool(other.weights[0] > 0.9)
        ([0.5, 0.5], True)
        """
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)  # arrays are replaced, never changed in place
        return new

    # -- state -------------------------------------------------------------
    @property
    def temperature(self) -> float:
        """The softmax temperature; setting it recomputes the weights."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self._temperature = check_temperature(value)
        self._refresh()

    @property
    def log_prior(self) -> np.ndarray:
        """Normalised log prior weights, ``(K,)``."""
        return self._log_prior.copy()

    @property
    def cumulative_loss(self) -> np.ndarray:
        """Cumulative loss of every member, ``(K,)`` (NaN for NaN members)."""
        return self._cum.copy()

    @property
    def log_weights(self) -> np.ndarray:
        """Normalised log-weights, ``(K,)`` (-inf for zero-weight members)."""
        return self._logw.copy()

    @property
    def weights(self) -> np.ndarray:
        """Weights, ``(K,)``: finite, non-negative, summing to 1."""
        return self._w.copy()

    def reset(self) -> HypothesisWeights:
        """Forget every update: back to the prior. Returns ``self``."""
        self._cum = np.zeros(self.n_members)
        self.n_updates = 0
        self.n_samples_seen = 0
        self._refresh()
        return self

    def _refresh(self) -> None:
        self._logw, self._w = self._compute_weights(self._cum, self._temperature)

    def _compute_weights(
        self, cum: np.ndarray, temperature: float
    ) -> tuple[np.ndarray, np.ndarray]:
        logw, w = np.empty(self.n_members), np.empty(self.n_members)
        if not _kernels.softmax_weights(cum, temperature, self._log_prior, logw, w):
            raise NoMemberLeftError(
                "Every member has NaN losses (or zero prior): no member is left to weight."
            )
        return logw, w

    def weights_at(self, temperature: float) -> np.ndarray:
        """Weights the current cumulative loss gives at another temperature.

        Parameters
        ----------
        temperature : float
            Temperature (> 0) to evaluate at; the object is not changed.

        Returns
        -------
        ndarray of shape (n_members,)

        Examples
        --------
        >>> from skhyre import HypothesisWeights
        >>> hw = HypothesisWeights(2).update([0.0, 1.0])
        >>> hw.weights_at(1e-9)
        array([1., 0.])
        """
        return self._compute_weights(self._cum, check_temperature(temperature))[1]

    # -- updates -----------------------------------------------------------
    def _check_losses(self, losses) -> np.ndarray:
        """The losses as a float64 ``(K, n)`` matrix (a ``(K,)`` update becomes ``(K, 1)``)."""
        if type(losses) is np.ndarray and losses.dtype == np.float64:
            arr = losses  # fast path: no conversion, no dtype inspection
        else:
            arr = np.asarray(losses)
            if arr.dtype == object or not (
                np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
            ):
                raise TypeError(f"losses must be numeric, got dtype {arr.dtype}.")
            if np.iscomplexobj(arr):
                raise TypeError(f"losses must be real numbers, got dtype {arr.dtype}.")
            arr = arr.astype(np.float64, copy=False)
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"losses must be (K,) summed losses or a (K, n) matrix, got ndim={arr.ndim}."
            )
        if arr.shape[0] != self.n_members:
            raise ValueError(
                f"losses has {arr.shape[0]} rows but there are K={self.n_members} members."
            )
        if arr.ndim == 1:
            return arr.reshape(self.n_members, 1)
        if arr.shape[1] == 0:
            raise ValueError("Empty update: losses has 0 examples (shape (K, 0)).")
        return arr

    def update(self, losses, *, note=None) -> HypothesisWeights:
        """Add per-example (``(K, n)``) or summed (``(K,)``) losses.

        Every member's losses are added to its cumulative loss in order, one
        example at a time, so a batch update and the same examples one by one
        (or in any split) give bit-identical weights (coherence). On invalid
        input nothing changes.

        Parameters
        ----------
        losses : array-like of shape (n_members, n) or (n_members,)
            Member losses; +inf is allowed (the member drops to weight 0),
            NaN marks a broken member (weight 0, with a warning).
        note : str or callable, default=None
            Context appended to the NaN-member warning (a callable returning
            a string or ``None`` is called only then), e.g. which inputs made
            the members' outputs NaN.

        Returns
        -------
        self : HypothesisWeights

        Raises
        ------
        NoMemberLeftError
            When every member's cumulative loss is NaN (or of zero prior).
        ValueError
            For -inf losses, or cumulative losses that overflow float64.
        """
        arr = self._check_losses(losses)
        K = self.n_members
        new_cum, logw, w = np.empty(K), np.empty(K), np.empty(K)
        status, n_new_nan, n_inf = _kernels.update_cumulative_loss(
            self._cum, arr, self._temperature, self._log_prior, new_cum, logw, w
        )
        if status == 1:
            raise ValueError("losses must not contain -inf.")
        if n_inf:
            _check_no_overflow(new_cum, "rescale the losses", self._cum, arr, self._log_prior)
        if status == 2:
            raise NoMemberLeftError(
                "Every member has NaN losses (or zero prior): no member is left to weight."
            )
        if n_new_nan:
            idx = np.flatnonzero(np.isnan(new_cum) & ~np.isnan(self._cum))
            shown = ", ".join(map(str, idx[:10])) + (", ..." if idx.size > 10 else "")
            extra = note() if callable(note) else note
            warnings.warn(
                f"{idx.size} member(s) gave NaN losses and get weight 0 (members {shown})"
                + (f"; {extra}." if extra else "."),
                NaNMemberWarning,
                stacklevel=2,
            )
        self._cum = new_cum
        self._logw = logw
        self._w = w
        self.n_updates += 1
        self.n_samples_seen += arr.shape[1]
        return self

    def __eq__(self, other) -> bool:
        """Equal state: members, temperature, prior, cumulative losses and counts."""
        if not isinstance(other, HypothesisWeights):
            return NotImplemented
        return (
            self.n_members == other.n_members
            and self._temperature == other._temperature
            and self.n_updates == other.n_updates
            and self.n_samples_seen == other.n_samples_seen
            and np.array_equal(self._log_prior, other._log_prior)
            and np.array_equal(self._cum, other._cum, equal_nan=True)
        )

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return (
            f"HypothesisWeights(n_members={self.n_members}, temperature={self._temperature!r}, "
            f"n_samples_seen={self.n_samples_seen})"
        )


def _check_no_overflow(
    cum: np.ndarray,
    hint: str,
    old_cum: np.ndarray | None = None,
    losses: np.ndarray | None = None,
    log_prior: np.ndarray | None = None,
) -> None:
    """Name cumulative losses that overflowed past float64's range.

    To -inf (finite, very negative losses) always. To +inf (finite losses
    whose sum passes about 1.8e308; pass ``old_cum`` and ``losses``) when no
    member with a finite cumulative loss is left: every member would then be
    tied at +inf, the evidence seen so far would be lost, and no later label
    could bring it back.
    """
    if np.isfinite(cum).all():  # the usual case: nothing overflowed (and no warning)
        return
    overflow = np.isneginf(cum)
    if overflow.any():
        raise ValueError(
            f"The cumulative loss of member(s) {np.flatnonzero(overflow)[:10].tolist()} "
            "overflowed to -inf: these negative losses sum past float64's range "
            f"(about -1.8e308); {hint}."
        )
    if old_cum is None or losses is None:
        return
    usable = ~np.isnan(cum)
    if log_prior is not None:
        usable &= np.isfinite(log_prior)
    if not usable.any() or not np.isposinf(cum[usable]).all():
        return
    L = losses if losses.ndim == 2 else losses[:, None]
    overflowed = usable & np.isposinf(cum) & np.isfinite(old_cum) & np.isfinite(L).all(axis=1)
    if overflowed.any():
        raise ValueError(
            f"The cumulative loss of member(s) {np.flatnonzero(overflowed)[:10].tolist()} "
            "overflowed to +inf: these finite losses sum past float64's range (about "
            "1.8e308), and with every member at +inf the weights would silently go back "
            f"to the prior, losing what the earlier losses said; {hint}."
        )


def _check_losses_and_grid(losses, grid, default_grid, who: str):
    """A ``(K, n >= 1)`` float loss matrix and a flat grid of valid temperatures."""
    L = np.asarray(losses, dtype=np.float64)
    if L.ndim != 2:
        raise ValueError(f"losses must be a (K, n) matrix, got ndim={L.ndim}.")
    if L.shape[0] == 0:
        raise ValueError(f"{who} needs at least one member (losses has shape {L.shape}).")
    if L.shape[1] == 0:
        raise ValueError(f"{who} needs at least one adaptation example.")
    if np.isneginf(L).any():
        raise ValueError(f"{who}: losses must not contain -inf.")
    temps = np.ravel(default_grid if grid is None else np.asarray(grid, dtype=np.float64))
    if temps.size == 0:
        raise ValueError(f"{who}: grid is empty; give at least one temperature.")
    for t in temps:
        check_temperature(t, "every temperature in the grid")
    return L, temps


def loo_temperature(
    losses,
    mixture_loss: Callable[[np.ndarray], np.ndarray],
    grid=None,
    log_prior=None,
) -> tuple[float, np.ndarray]:
    """Choose the temperature by leave-one-out predictive loss.

    For each candidate temperature ``T`` and each adaptation example ``i``,
    the members are weighted on the other examples only and the weighted
    prediction is scored on example ``i``. The candidate with the lowest mean
    held-out loss wins; ties (within 1e-12) go to the **higher** temperature,
    so with no evidence (one example, or members that all agree) the rule
    falls back to the flattest weights. ``inf`` (uniform weights) is always a
    candidate, so a bad ensemble can never be made worse than uniform on the
    held-out examples.

    Parameters
    ----------
    losses : array-like of shape (K, n)
        Per-example member losses on the adaptation examples.
    mixture_loss : callable
        ``mixture_loss(W)`` with ``W`` of shape ``(G, n, K)`` (row ``[g, i]``:
        the leave-``i``-out weights at candidate ``g``) returns the ``(G, n)``
        loss of the weighted prediction on example ``i``.
    grid : array-like, default=None
        Candidate temperatures (> 0). ``None`` uses
        :data:`DEFAULT_TEMPERATURE_GRID`. ``inf`` is added if absent.
    log_prior : array-like of shape (K,), default=None
        Log prior weights; ``None`` is uniform.

    Returns
    -------
    temperature : float
        The chosen temperature (``inf`` means uniform weights).
    scores : ndarray of shape (G,)
        Mean leave-one-out loss of every candidate, in the order of the
        sorted grid.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.reweighting import loo_temperature
    >>> F = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # two members, 3 examples
    >>> y = np.array([0.1, -0.1, 0.0])                    # member 0 is right
    >>> losses = (F - y) ** 2
    >>> def mixture_loss(W):  # squared error of the weighted prediction
    ...     pred = np.einsum("gik,ki->gi", W, F)
    ...     return (pred - y) ** 2
    >>> T, scores = loo_temperature(losses, mixture_loss, grid=[0.01, 1.0, 100.0])
    >>> T
    0.01
    """
    L, temps = _check_losses_and_grid(losses, grid, DEFAULT_TEMPERATURE_GRID, "loo_temperature")
    K, n = L.shape
    temps = np.unique(np.append(temps, np.inf))  # sorted ascending, inf last
    lp = check_log_prior(log_prior, K)
    # normalised leave-one-out weights straight from the kernel: one (G, n, K) array
    W = _kernels.loo_weights(np.ascontiguousarray(L), temps, lp)
    per_example = np.asarray(mixture_loss(W), dtype=np.float64)
    if per_example.shape != (temps.size, n):
        raise ValueError(
            f"mixture_loss returned shape {per_example.shape}, expected {(temps.size, n)}."
        )
    # NaN-safe mean: a held-out loss that is NaN disqualifies the candidate.
    scores = per_example.mean(axis=1)
    scores = np.where(np.isnan(scores), np.inf, scores)
    best = scores.min()
    tol = 1e-12 * max(1.0, abs(best)) if np.isfinite(best) else 0.0
    winners = np.flatnonzero(scores <= best + tol)
    return float(temps[winners[-1]]), scores


#: Candidate temperatures for ``temperature="evidence"``: 161 log-spaced values
#: from 1e-4 to 1e4 (about 12% apart), plus ``inf``.
EVIDENCE_TEMPERATURE_GRID = np.append(np.logspace(-4, 4, 161), np.inf)

#: The losses :func:`evidence_temperature` has a noise model for (the loss
#: table's entries with a ``noise_model``, :mod:`skhyre.losses`).
EVIDENCE_LOSSES = losses.evidence_losses()
#: The losses whose evidence temperature (a noise scale estimated from the
#: labels) is :func:`auto_temperature`'s floor (the table's ``floored``).
FLOORED_LOSSES = losses.floored_losses()


def _log_normalizer(loss: str, temps: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """Per-example log normalizer of the likelihood ``exp(-loss / T)``, up to a constant."""
    model = losses.noise_model(loss)
    with np.errstate(divide="ignore", over="ignore"):
        if model == "gaussian":  # 2 sigma^2 = T
            return np.where(np.isinf(temps), -np.inf, -0.5 * np.log(temps))
        if model == "laplace":  # scale b = T
            return np.where(np.isinf(temps), -np.inf, -np.log(temps))
        # "flip": the label is each of the C - 1 wrong classes with probability
        # exp(-1 / T) / Z, Z = 1 + (C - 1) exp(-1 / T)
        return -np.logaddexp(0.0, np.log(n_classes - 1) - 1.0 / temps)


def evidence_temperature(
    losses, loss: str = "squared", grid=None, log_prior=None, n_classes: int = 2
):
    """Choose the temperature that maximizes the evidence of the adaptation labels.

    HyRe's weights ``softmax(-L / T)`` are the Bayesian posterior over members
    when ``exp(-loss / T)``, normalized, is the likelihood of a label. Each
    built-in loss has such a noise model, whose scale is the temperature:

    - ``"squared"``: Gaussian noise with variance ``T / 2`` (in the loss's
      units);
    - ``"absolute"``: Laplace noise with scale ``T``;
    - ``"zero_one"``: each label wrong with probability
      ``eps = (C - 1) / (C - 1 + exp(1 / T))``, spread evenly over the
      ``C - 1`` other classes (``T = inf``: labels uniformly at random);
    - ``"log_loss"``: the loss already is a log-likelihood, so ``T = 1``.

    The noise scale is then estimated from the labels themselves by
    maximizing the marginal likelihood (type-II maximum likelihood, "empirical
    Bayes"): ``log mean_k exp(-L_k / T) + n * log Z(T)``, with ``L_k`` the
    cumulative loss of member ``k`` over the ``n`` examples and ``Z`` the
    likelihood's normalizer. Unlike a leave-one-out search, the evidence
    prices the noise level in: when the members' losses differ by little
    compared with how noisy the labels are, the best temperature is high and
    the weights stay close to the prior. Ties go to the higher temperature.
    With a single label the noise level is barely identified: a member that
    fits it almost exactly makes the evidence grow as ``T`` shrinks, and the
    grid's lowest temperature (weight on that member) can win. With more
    labels, no member fits them all that closely and the estimate settles.

    Parameters
    ----------
    losses : array-like of shape (K, n)
        Per-example member losses on the adaptation examples (NaN members
        are left out; ``+inf`` losses give a member no evidence).
    loss : {"squared", "absolute", "zero_one", "log_loss"}, default="squared"
        Which noise model the losses come from.
    grid : array-like, default=None
        Candidate temperatures (> 0). ``None`` uses
        :data:`EVIDENCE_TEMPERATURE_GRID`.
    log_prior : array-like of shape (K,), default=None
        Log prior weights; ``None`` is uniform.
    n_classes : int, default=2
        Number of classes ``C`` of the ``"zero_one"`` noise model (a wrong
        label is one of ``C - 1`` classes); ignored by the other losses.

    Returns
    -------
    temperature : float
        The temperature of highest evidence (``inf``: uniform weights, only
        possible for ``"zero_one"``).
    log_evidence : ndarray of shape (G,)
        Log evidence of every candidate (up to a constant), in the order of
        the sorted grid; all zeros for ``"log_loss"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.reweighting import evidence_temperature
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=200)
    >>> F = np.stack([y + rng.normal(scale=0.5, size=200), np.zeros(200)])  # 2 members
    >>> T, _ = evidence_temperature((F - y) ** 2, "squared")
    >>> round(T / 2, 1)  # the noise variance of the better member, 0.5 ** 2
    0.2
    >>> evidence_temperature(np.array([[0.0, 1.0], [1.0, 1.0]]), "log_loss")[0]
    1.0
    """
    if loss not in EVIDENCE_LOSSES:
        raise ValueError(
            f"temperature='evidence' needs a loss with a noise model: one of "
            f"{list(EVIDENCE_LOSSES)}, got {loss!r}."
        )
    L, temps = _check_losses_and_grid(
        losses, grid, EVIDENCE_TEMPERATURE_GRID, "evidence_temperature"
    )
    K, n = L.shape
    temps = np.unique(temps)
    if loss == "zero_one" and (
        isinstance(n_classes, (bool, np.bool_))
        or not isinstance(n_classes, numbers.Integral)
        or n_classes < 2
    ):
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}.")
    if loss == "log_loss":
        return 1.0, np.zeros(temps.size)
    lp = check_log_prior(log_prior, K)
    cum = L.sum(axis=1)
    keep = ~np.isnan(cum)
    if not keep.any():
        raise ValueError("Every member has NaN losses: there is no evidence to weigh.")
    cum, lp = cum[keep], lp[keep]
    finite = np.isfinite(cum)
    if not finite.any():
        return float(temps[-1]), np.full(temps.size, -np.inf)
    # log sum_k prior_k exp(-cum_k / T), stable for every T (inf: the prior mass left)
    lead = cum[finite].min()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = lp[finite][None, :] - (cum[finite][None, :] - lead) / temps[:, None]
    zmax = z.max(axis=1, keepdims=True)
    log_mix = (zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))) - lead / temps
    log_ev = log_mix + n * _log_normalizer(loss, temps, int(n_classes))
    log_ev = np.where(np.isnan(log_ev), -np.inf, log_ev)
    best = log_ev.max()
    tol = 1e-12 * max(1.0, abs(best)) if np.isfinite(best) else 0.0
    winners = np.flatnonzero(log_ev >= best - tol)
    return float(temps[winners[-1]]), log_ev


def auto_temperature(
    losses,
    mixture_loss: Callable[[np.ndarray], np.ndarray],
    loss: str | None = None,
    grid=None,
    log_prior=None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Choose the temperature as the estimators' ``temperature="auto"`` does.

    A leave-one-out search (:func:`loo_temperature`) over candidates that are
    never sharper than the labels support. When ``loss`` is a regression
    loss whose noise scale the labels estimate (``"squared"``: Gaussian,
    ``"absolute"``: Laplace; :data:`FLOORED_LOSSES`), its empirical-Bayes
    temperature ``T_ev`` (:func:`evidence_temperature`, on its own finer
    grid) is the floor: the candidates are ``T_ev``, the grid's temperatures
    above it, and ``inf``. Otherwise the whole grid is searched: a callable
    loss, ``"brier"`` and ``"gaussian_nll"`` have no noise model;
    ``"log_loss"``'s evidence temperature is 1 by assumption (calibrated
    members), not an estimate; and with ``"zero_one"`` a floor at the
    flip-rate estimate cost accuracy in the conflicting-labeler study (with
    pooled members the labels look random to it, ``T_ev = inf``). The
    estimators' ``mixture_loss`` is the adaptation loss of the weighted
    prediction, except under ``"zero_one"``, where it is the weighted
    prediction's log loss (a blend's 0-1 loss ties across many candidates).

    Why a floor: a leave-one-out minimum over many candidates is optimistic
    (a winner's curse), and its errors lean towards the sharpest
    temperatures, which put the weight on one or two members that were lucky
    on the few labels. ``T_ev`` is the temperature of the Bayesian posterior
    whose label-noise level best explains the labels; weighting more sharply
    than that claims the labels are less noisy than they look. The
    leave-one-out search may still flatten the weights beyond the posterior,
    which helps when no single member is right and averaging them is. On the
    120 fits of the UCI shift study (10 seeds), with 20 random draws of 32
    labels per fit, the floored search is below the uniform ensemble in the
    mean in every dataset x ensemble cell, where the plain search is above it
    in three (means only: that run kept no per-seed values for intervals); on
    Gaussian-process targets, where no member is close and the evidence
    temperature alone is far too sharp, the two searches are level at low
    label noise and the floored one is better at high noise (paired over 300
    draws; ``benchmarks/results/temperature.md``).

    Parameters
    ----------
    losses : array-like of shape (K, n)
        Per-example member losses on the adaptation examples.
    mixture_loss : callable
        ``mixture_loss(W)`` with ``W`` of shape ``(G, n, K)`` returns the
        ``(G, n)`` loss of the weighted prediction on each left-out example
        (as in :func:`loo_temperature`).
    loss : str or None, default=None
        The name of the loss behind ``losses``; a name in
        :data:`FLOORED_LOSSES` sets the floor, anything else (``None`` for a
        callable) searches the whole grid.
    grid : array-like, default=None
        Candidate temperatures (> 0). ``None`` uses
        :data:`DEFAULT_TEMPERATURE_GRID`.
    log_prior : array-like of shape (K,), default=None
        Log prior weights; ``None`` is uniform.

    Returns
    -------
    temperature : float
        The chosen temperature (``inf`` means uniform weights).
    candidates : ndarray of shape (G,)
        The temperatures searched, sorted, ``inf`` last.
    scores : ndarray of shape (G,)
        Mean leave-one-out loss of every candidate.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.reweighting import auto_temperature
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=32)
    >>> F = y + rng.normal(scale=[[0.3], [0.5], [1.0]], size=(3, 32))  # 3 members
    >>> def mixture_loss(W):
    ...     return (np.einsum("gik,ki->gi", W, F) - y) ** 2
    >>> T, candidates, scores = auto_temperature((F - y) ** 2, mixture_loss, loss="squared")
    >>> bool(T >= candidates[0])  # never sharper than the evidence temperature
    True
    >>> T_plain, _, _ = auto_temperature((F - y) ** 2, mixture_loss)  # no floor
    """
    L, temps = _check_losses_and_grid(losses, grid, DEFAULT_TEMPERATURE_GRID, "auto_temperature")
    if loss in FLOORED_LOSSES:
        floor, _ = evidence_temperature(L, loss, log_prior=log_prior)
        temps = np.append(temps[temps > floor], floor)
    temps = np.unique(np.append(temps, np.inf))
    T, scores = loo_temperature(L, mixture_loss, grid=temps, log_prior=log_prior)
    return T, temps, scores
