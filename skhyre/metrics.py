"""Model selection that rewards adaptability: :func:`adapted_scorer`.

A plain scorer judges a HyRe estimator by its *uniform* ensemble, which
favours ensembles whose members agree (for example ``prior_scale=0``). What
HyRe users deploy is the ensemble *after* adaptation on a few labelled target
examples, which favours diverse members. :func:`adapted_scorer` scores that:
on each validation fold it adapts a copy of the fitted estimator on a few of
the fold's examples and scores the rest.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
from sklearn.metrics import get_scorer
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples

from ._validation import check_sampling
from .pipeline import adaptable

__all__ = ["adapted_scorer"]


class _AdaptedScorer:
    """Callable ``(estimator, X, y) -> float``; see :func:`adapted_scorer`."""

    def __init__(self, n_adapt, criterion, random_state, scoring, sampling="top"):
        self.n_adapt = n_adapt
        self.criterion = criterion
        self.random_state = random_state
        self.scoring = scoring
        self.sampling = sampling

    def __setstate__(self, state):
        state.setdefault("sampling", "top")  # a scorer pickled before sampling existed
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"adapted_scorer(n_adapt={self.n_adapt}, criterion={self.criterion!r}, "
            f"random_state={self.random_state!r}, scoring={self.scoring!r}, "
            f"sampling={self.sampling!r})"
        )

    def __call__(self, estimator, X, y, **kwargs) -> float:
        if not hasattr(adaptable(estimator), "adapt") or not hasattr(
            adaptable(estimator), "active_adapt"
        ):
            raise TypeError(
                "adapted_scorer needs a HyRe estimator (with adapt and active_adapt), or a "
                "Pipeline or TransformedTargetRegressor around one, got "
                f"{type(estimator).__name__}."
            )
        if kwargs:
            raise TypeError(f"adapted_scorer does not take score parameters, got {sorted(kwargs)}.")
        if y is None:
            raise ValueError("adapted_scorer needs the validation labels y.")
        n = _num_samples(X)
        if _num_samples(y) != n:
            raise ValueError(f"X has {n} rows but y has {_num_samples(y)}.")
        if n <= self.n_adapt:
            raise ValueError(
                f"The validation fold has {n} rows; adapted_scorer(n_adapt={self.n_adapt}) "
                f"needs more than {self.n_adapt} (n_adapt to adapt on, the rest to score). "
                "Use fewer CV folds, more data or a smaller n_adapt."
            )
        # never mutate the fitted estimator; a Pipeline or TransformedTargetRegressor
        # passes the adaptation through its transforms (skhyre.pipeline.adaptable)
        model = adaptable(copy.deepcopy(estimator))
        y_arr = np.asarray(y)
        if self.criterion == "random":
            rng = check_random_state(self.random_state)
            picked = np.sort(rng.choice(n, size=self.n_adapt, replace=False))
            model.adapt(_safe_indexing(X, picked), y_arr[picked])
        else:
            model.reset_weights()
            model.active_adapt(
                X,
                y_arr,
                n_queries=self.n_adapt,
                criterion=self.criterion,
                random_state=self.random_state,
                sampling=self.sampling,
            )
            picked = np.asarray(model.queried_indices_)
        rest = np.setdiff1d(np.arange(n), picked)
        X_rest, y_rest = _safe_indexing(X, rest), y_arr[rest]
        if self.scoring is None:
            return float(model.score(X_rest, y_rest))
        scorer = get_scorer(self.scoring) if isinstance(self.scoring, str) else self.scoring
        return float(scorer(model, X_rest, y_rest))


def adapted_scorer(n_adapt=32, criterion="random", random_state=None, scoring=None, sampling="top"):
    """A scorer that adapts on part of each validation fold and scores the rest.

    Use it as ``scoring=`` of :class:`~sklearn.model_selection.GridSearchCV`
    (or ``cross_val_score``) to select HyRe hyperparameters, such as
    ``prior_scale`` or ``ensemble``, by how well the *adapted* ensemble does
    rather than the uniform one. On each validation fold, a copy of the
    fitted estimator (``copy.deepcopy``; the fitted estimator is never
    changed) is adapted on ``n_adapt`` of the fold's examples, chosen at
    random (``adapt``) or actively (``active_adapt`` with the fold's labels
    as oracle), and scored on the fold's other examples. Pipelines whose last
    step is a HyRe estimator are supported: the adaptation examples go
    through the preceding steps.

    Parameters
    ----------
    n_adapt : int, default=32
        Number of labelled examples of each fold to adapt on. Every fold
        must have more rows than this.
    criterion : {"random", "auto", "bald", "entropy", "variance"}, default="random"
        How the adaptation examples are chosen: ``"random"`` draws them at
        random; any other value is passed to the estimator's
        ``active_adapt`` (``"auto"`` is BALD for classifiers, variance for
        regressors).
    random_state : int, RandomState instance or None, default=None
        Seeds the random choice of adaptation examples. An int gives the
        same draw at every call (every fold of the same size adapts on the
        same positions), so candidates are compared on the same examples.
    scoring : str, callable or None, default=None
        How the remaining examples are scored: ``None`` uses the estimator's
        ``score`` (R² for regressors, accuracy for classifiers), a string is
        a scikit-learn scorer name (see :func:`sklearn.metrics.get_scorer`),
        a callable is a scorer ``(estimator, X, y) -> float``.
    sampling : {"top", "power"}, default="top"
        For an active ``criterion``: take the top-scoring example at each
        step, or draw it with probability proportional to its score (see
        the estimators' ``active_adapt``); ``random_state`` seeds the draws.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    See Also
    --------
    skhyre.HyReRegressor.adapt, skhyre.HyReRegressor.active_adapt

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skhyre import HyReRegressor
    >>> from skhyre.metrics import adapted_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 2))
    >>> y = X[:, 0] + 0.1 * rng.normal(size=120)
    >>> reg = HyReRegressor(n_members=4, hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    >>> search = GridSearchCV(
    ...     reg,
    ...     param_grid={"prior_scale": [0.0, 3.0]},
    ...     scoring=adapted_scorer(n_adapt=16, random_state=0),
    ...     cv=2,
    ... ).fit(X, y)
    >>> search.best_params_["prior_scale"] in (0.0, 3.0)
    True
    >>> scorer = adapted_scorer(n_adapt=16, criterion="variance")
    >>> fitted = search.best_estimator_
    >>> score = scorer(fitted, X[:60], y[:60])   # adapts a copy, scores 44 rows
    >>> fitted.n_adapt_samples_                  # the fitted estimator is untouched
    0
    """
    if isinstance(n_adapt, bool) or not isinstance(n_adapt, numbers.Integral) or n_adapt < 1:
        raise ValueError(f"n_adapt must be a positive integer, got {n_adapt!r}.")
    if not isinstance(criterion, str):
        raise TypeError(f"criterion must be a string, got {criterion!r}.")
    valid = ("random", "auto", "bald", "entropy", "variance")
    if criterion not in valid:
        raise ValueError(f"criterion={criterion!r} is not valid; choose one of {valid}.")
    if scoring is not None and not (isinstance(scoring, str) or callable(scoring)):
        raise TypeError(
            f"scoring must be None, a scorer name or a callable (estimator, X, y), got {scoring!r}."
        )
    if isinstance(scoring, str):
        get_scorer(scoring)  # an unknown name fails now, not in the middle of a search
    check_sampling(sampling)
    check_random_state(random_state)
    return _AdaptedScorer(int(n_adapt), criterion, random_state, scoring, sampling)
