"""Pipelines and target transforms that pass adaptation through.

scikit-learn's :class:`~sklearn.pipeline.Pipeline` knows ``fit``,
``predict`` and ``transform``, not HyRe's adaptation verbs, so with a plain
pipeline every adaptation reads ``pipe[-1].adapt(pipe[:-1].transform(X), y)``,
and forgetting the transform adapts on raw features silently.
:class:`Pipeline` (as imbalanced-learn's adds ``fit_resample``) adds them:
``adapt``, ``partial_adapt``, ``reset_weights``, ``query``,
``active_adapt``, ``predict_members`` and the fitted ``weights_`` pass
through the transformers to a HyRe final step, and exist only when the final
step has them. Pools are transformed block by block in the form they came in:
an array as a whole, chunks one at a time as they are read, a Dask array with
``map_blocks``.

:class:`TransformedTargetRegressor` does the same for a regressor trained on
a transformed target (``np.log(y)``, a ``QuantileTransformer``...): the
adaptation labels go through the same transform, so ``adapt(X, y)`` takes
``y`` in the user's units.

Examples
--------
>>> import numpy as np
>>> from sklearn.preprocessing import StandardScaler
>>> from skhyre import HyReRegressor
>>> from skhyre.pipeline import make_pipeline
>>> rng = np.random.RandomState(0)
>>> X = 100 * rng.normal(size=(200, 3)); y = X @ [0.01, -0.02, 0.005]
>>> pipe = make_pipeline(StandardScaler(), HyReRegressor(n_members=4, hidden_layer_sizes=(8,),
...                                                      max_epochs=3, random_state=0))
>>> pipe = pipe.fit(X, y)
>>> idx = pipe.query(X[:50], n_queries=5)             # scored on scaled features
>>> pipe = pipe.adapt(X[idx], y[idx])                 # no transform by hand
>>> pipe.weights_.shape
(4,)
"""

from __future__ import annotations

import contextlib

import numpy as np
from sklearn import pipeline as _sk_pipeline
from sklearn.compose import TransformedTargetRegressor as _SkTransformedTargetRegressor
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._adaptation import AdaptationMixin
from .pools import map_pool

__all__ = ["Pipeline", "TransformedTargetRegressor", "adaptable", "make_pipeline"]

#: The adaptation methods passed through to a HyRe final step.
ADAPTATION_METHODS = (
    "adapt",
    "partial_adapt",
    "reset_weights",
    "query",
    "active_adapt",
    "predict_members",
)


def _final_has(name: str):
    def check(self) -> bool:
        return hasattr(self._final_estimator, name)

    return check


def _fitted_attr(est, name: str):
    try:
        return getattr(est, name)
    except AttributeError:
        raise AttributeError(
            f"{type(est).__name__} has no {name!r}: fit it (and adapt, for adaptation "
            "attributes) first."
        ) from None


def _read_through(name: str, inner) -> property:
    """A read-only property: the fitted ``name`` of ``inner(self)``, the adapted estimator."""

    def get(self):
        return _fitted_attr(inner(self), name)

    get.__doc__ = f"The adapted HyRe estimator's fitted ``{name}``, read through."
    return property(get)


@contextlib.contextmanager
def _unchanged_on_failure(est):
    """On any exception in the block (Ctrl-C too), put back the attributes of ``est`` and
    of the estimators among its parameters (the steps, nested ones too).

    scikit-learn fits a pipeline's transformers in place, one after the other,
    so a refit whose last step fails (a training callback's error, Ctrl-C)
    would leave the transformers fitted on the new data in front of the
    previous final step: every later prediction silently wrong. HyRe
    estimators restore themselves (and keep their lock), so they are left
    to do so.
    """
    saved, seen = [], set()
    for obj in (est, *est.get_params(deep=True).values()):
        if id(obj) in seen or isinstance(obj, (type, AdaptationMixin)):
            continue
        seen.add(id(obj))
        if hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
            saved.append((obj, dict(obj.__dict__)))
    try:
        yield
    except BaseException:
        for obj, state in saved:
            obj.__dict__.clear()
            obj.__dict__.update(state)
        raise


def _final(pipe):
    return pipe._final_estimator


def _regressor(ttr):
    return ttr._reg()


class Pipeline(_sk_pipeline.Pipeline):
    """A scikit-learn :class:`~sklearn.pipeline.Pipeline` that passes adaptation through.

    Everything scikit-learn's ``Pipeline`` does, plus HyRe's verbs for a
    final step that has them (a HyRe estimator, a nested pipeline ending in
    one, a :class:`TransformedTargetRegressor`): ``adapt(X, y)``,
    ``partial_adapt(X, y)``, ``query(X_pool, ...)`` and
    ``active_adapt(X_pool, oracle, ...)`` transform ``X`` (or the pool,
    block by block) with the fitted transformers and call the final step;
    ``reset_weights()`` resets it; ``predict_members(X)`` returns its member
    predictions; ``predict(X, return_std=True)`` passes ``return_std`` on,
    as scikit-learn's does. The final step's fitted adaptation state reads
    through: ``weights_``, ``log_weights_``, ``cumulative_loss_``,
    ``n_adapt_samples_``, ``temperature_``, ``queried_indices_``.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As for :class:`sklearn.pipeline.Pipeline`.
    transform_input, memory, verbose
        As for :class:`sklearn.pipeline.Pipeline`.

    See Also
    --------
    make_pipeline : Build one from estimators, names generated.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhyre import HyReClassifier
    >>> from skhyre.pipeline import Pipeline
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] > 0).astype(int)
    >>> pipe = Pipeline([("scale", StandardScaler()),
    ...                  ("hyre", HyReClassifier(n_members=4, hidden_layer_sizes=(8,),
    ...                                          max_epochs=3, random_state=0))]).fit(X, y)
    >>> pipe = pipe.active_adapt(X[:40], y[:40], n_queries=3)
    >>> pipe.queried_indices_.shape, pipe.predict_members(X[:5]).shape
    ((3,), (4, 5, 2))
    """

    def fit(self, X, y=None, **params):
        """Fit the transformers, then the final step, as scikit-learn's ``Pipeline`` does.

        On any error (Ctrl-C too) the pipeline is left as it was: transformers
        already refitted on the new data go back to their previous fit, so they
        never feed the previous final step.

        Parameters
        ----------
        X : iterable
            Training data, as the first step takes it.
        y : iterable, default=None
            Training targets.
        **params
            Fit parameters routed to the steps, as for
            :meth:`sklearn.pipeline.Pipeline.fit`.

        Returns
        -------
        self : Pipeline
        """
        with _unchanged_on_failure(self):
            return super().fit(X, y, **params)

    def _transformers(self) -> list:
        return [t for _, _, t in self._iter(with_final=False, filter_passthrough=True)]

    def _transform_X(self, X):
        """``X`` through the fitted transformers (the final step's input)."""
        for t in self._transformers():
            X = t.transform(X)
        return X

    def _transform_pool(self, X_pool):
        """A pool through the fitted transformers, block by block, in its own form."""
        steps = self._transformers()
        if not steps:
            return X_pool
        return map_pool(X_pool, self._transform_X)

    @available_if(_final_has("adapt"))
    def adapt(self, X, y):
        """Transform ``X``, then reset and reweight the final step on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Labelled target examples, as the pipeline's first step takes them.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : Pipeline
        """
        check_is_fitted(self)
        self._final_estimator.adapt(self._transform_X(X), y)
        return self

    @available_if(_final_has("partial_adapt"))
    def partial_adapt(self, X, y):
        """Transform ``X``, then update the final step's weights with ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : Pipeline
        """
        check_is_fitted(self)
        self._final_estimator.partial_adapt(self._transform_X(X), y)
        return self

    @available_if(_final_has("reset_weights"))
    def reset_weights(self):
        """Reset the final step's weights to the prior.

        Returns
        -------
        self : Pipeline
        """
        self._final_estimator.reset_weights()
        return self

    @available_if(_final_has("query"))
    def query(self, X_pool, n_queries: int = 1, **kwargs):
        """Indices of the pool rows to label next, scored on the transformed pool.

        Parameters
        ----------
        X_pool : array-like, dask array or chunks
            The pool as the pipeline's first step takes it (chunks and Dask
            blocks are transformed one at a time).
        n_queries : int, default=1
        **kwargs
            ``criterion``, ``exclude``, ``random_state``,
            ``pool_memory_budget``, ``sampling``: passed on.

        Returns
        -------
        ndarray of shape (n_queries,)
        """
        check_is_fitted(self)
        return self._final_estimator.query(self._transform_pool(X_pool), n_queries, **kwargs)

    @available_if(_final_has("active_adapt"))
    def active_adapt(self, X_pool, oracle, n_queries: int, **kwargs):
        """Label ``n_queries`` pool rows one at a time, adapting the final step.

        Parameters
        ----------
        X_pool : array-like, dask array or chunks
            As for :meth:`query`.
        oracle : array-like of shape (n_pool,) or callable
            Labels aligned with ``X_pool``, or ``indices -> labels``.
        n_queries : int
        **kwargs
            ``criterion``, ``exclude``, ``random_state``,
            ``pool_memory_budget``, ``sampling``: passed on.

        Returns
        -------
        self : Pipeline
        """
        check_is_fitted(self)
        self._final_estimator.active_adapt(
            self._transform_pool(X_pool), oracle, n_queries, **kwargs
        )
        return self

    @available_if(_final_has("predict_members"))
    def predict_members(self, X):
        """The final step's member predictions on the transformed ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray
            ``(K, n)`` or ``(K, n, C)``, as the final step returns them.
        """
        check_is_fitted(self)
        return self._final_estimator.predict_members(self._transform_X(X))

    # the final step's adaptation state, read through
    weights_ = _read_through("weights_", _final)
    log_weights_ = _read_through("log_weights_", _final)
    cumulative_loss_ = _read_through("cumulative_loss_", _final)
    n_adapt_samples_ = _read_through("n_adapt_samples_", _final)
    temperature_ = _read_through("temperature_", _final)
    queried_indices_ = _read_through("queried_indices_", _final)
    weights_history_ = _read_through("weights_history_", _final)
    labels_seen_ = _read_through("labels_seen_", _final)


def make_pipeline(*steps, memory=None, transform_input=None, verbose: bool = False) -> Pipeline:
    """A :class:`Pipeline` from estimators, names generated from their types.

    Parameters
    ----------
    *steps : estimators
    memory, transform_input, verbose
        As for :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhyre import HyReRegressor
    >>> from skhyre.pipeline import make_pipeline
    >>> make_pipeline(StandardScaler(), HyReRegressor()).steps[1][0]
    'hyreregressor'
    """
    return Pipeline(
        _sk_pipeline._name_estimators(steps),
        memory=memory,
        transform_input=transform_input,
        verbose=verbose,
    )


def adaptable(estimator):
    """``estimator`` with the adaptation verbs: a scikit-learn ``Pipeline`` (nested
    ones too) becomes a :class:`Pipeline` over the same fitted steps (nothing is
    refitted or copied); a scikit-learn ``TransformedTargetRegressor`` a
    :class:`TransformedTargetRegressor` sharing its fitted state; anything else
    is returned as it is.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline as sk_make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhyre import HyReRegressor
    >>> from skhyre.pipeline import adaptable
    >>> type(adaptable(sk_make_pipeline(StandardScaler(), HyReRegressor()))).__name__
    'Pipeline'
    """
    if isinstance(estimator, _sk_pipeline.Pipeline) and not isinstance(estimator, Pipeline):
        steps = [(name, adaptable(step)) for name, step in estimator.steps]
        wrapped = Pipeline.__new__(Pipeline)
        wrapped.__dict__.update(estimator.__dict__)
        wrapped.steps = steps
        return wrapped
    if isinstance(estimator, _SkTransformedTargetRegressor) and not isinstance(
        estimator, TransformedTargetRegressor
    ):
        wrapped = TransformedTargetRegressor.__new__(TransformedTargetRegressor)
        wrapped.__dict__.update(estimator.__dict__)
        if hasattr(estimator, "regressor_"):
            wrapped.regressor_ = adaptable(estimator.regressor_)
        return wrapped
    return estimator


def _regressor_has(name: str):
    def check(self) -> bool:
        reg = self.regressor_ if hasattr(self, "regressor_") else self.regressor
        return hasattr(adaptable(reg) if reg is not None else None, name)

    return check


class TransformedTargetRegressor(_SkTransformedTargetRegressor):
    """scikit-learn's ``TransformedTargetRegressor`` with adaptation in the user's units.

    The regressor learns ``transformer.transform(y)`` (or ``func(y)``);
    ``adapt(X, y)``, ``partial_adapt(X, y)`` and ``active_adapt``'s oracle
    labels go through the same fitted transform before the regressor sees
    them, so the members are scored in the units they were trained in.
    ``predict_members`` returns member predictions in the user's units
    (each member's output inverse-transformed); ``predict(X,
    return_std=True)`` the inverse-transformed weighted mean and the
    weighted standard deviation of the inverse-transformed members (for a
    non-linear transform that is the members' spread in the user's units,
    not the transform of the spread). ``weights_`` and the other
    adaptation attributes read through.

    Parameters
    ----------
    regressor, transformer, func, inverse_func, check_inverse
        As for :class:`sklearn.compose.TransformedTargetRegressor`; the
        regressor is a HyRe regressor, a :class:`~skhyre.HyReEnsemble`, or a
        pipeline ending in one.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HyReRegressor
    >>> from skhyre.pipeline import TransformedTargetRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2)); y = np.exp(X[:, 0])
    >>> ttr = TransformedTargetRegressor(
    ...     HyReRegressor(n_members=4, hidden_layer_sizes=(8,), max_epochs=3, random_state=0),
    ...     func=np.log, inverse_func=np.exp).fit(X, y)
    >>> ttr = ttr.adapt(X[:10], y[:10])          # y in its own units; log applied inside
    >>> ttr.predict_members(X[:3]).shape
    (4, 3)
    """

    def fit(self, X, y, **fit_params):
        """Fit the target transform and a clone of the regressor, as scikit-learn does.

        On any error (Ctrl-C too) the estimator is left as it was: the
        previous fitted and adapted regressor and target transform stay.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        **fit_params
            Passed to the regressor's ``fit``, as scikit-learn does.

        Returns
        -------
        self : TransformedTargetRegressor
        """
        with _unchanged_on_failure(self):
            return super().fit(X, y, **fit_params)

    def _reg(self):
        check_is_fitted(self)
        return adaptable(self.regressor_)

    def _transform_y(self, y) -> np.ndarray:
        arr = np.asarray(y)
        if np.iscomplexobj(arr):
            raise ValueError("Complex data not supported: adaptation labels must be real.")
        arr = arr.astype(np.float64)
        column = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        out = self.transformer_.transform(column)
        out = np.asarray(out, dtype=np.float64)
        return out[:, 0] if arr.ndim == 1 and out.ndim == 2 else out

    def _inverse(self, F: np.ndarray) -> np.ndarray:
        flat = self.transformer_.inverse_transform(np.asarray(F).reshape(-1, 1))
        return np.asarray(flat, dtype=np.float64).reshape(np.shape(F))

    @available_if(_regressor_has("adapt"))
    def adapt(self, X, y):
        """Reset and reweight on ``(X, y)``, ``y`` in the user's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : TransformedTargetRegressor
        """
        self._reg().adapt(X, self._transform_y(y))
        return self

    @available_if(_regressor_has("partial_adapt"))
    def partial_adapt(self, X, y):
        """Update the weights with ``(X, y)``, ``y`` in the user's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : TransformedTargetRegressor
        """
        self._reg().partial_adapt(X, self._transform_y(y))
        return self

    @available_if(_regressor_has("reset_weights"))
    def reset_weights(self):
        """Back to the prior. Returns ``self``."""
        self._reg().reset_weights()
        return self

    @available_if(_regressor_has("query"))
    def query(self, X_pool, n_queries: int = 1, **kwargs):
        """The regressor's :meth:`query` (labels are not involved).

        Parameters
        ----------
        X_pool : array-like, dask array or chunks
        n_queries : int, default=1
        **kwargs
            Passed on.

        Returns
        -------
        ndarray of shape (n_queries,)
        """
        return self._reg().query(X_pool, n_queries, **kwargs)

    @available_if(_regressor_has("active_adapt"))
    def active_adapt(self, X_pool, oracle, n_queries: int, **kwargs):
        """The regressor's :meth:`active_adapt`, the oracle's labels transformed.

        Parameters
        ----------
        X_pool : array-like, dask array or chunks
        oracle : array-like of shape (n_pool,) or callable
            Labels in the user's units, or ``indices -> labels``.
        n_queries : int
        **kwargs
            Passed on.

        Returns
        -------
        self : TransformedTargetRegressor
        """
        reg = self._reg()
        if callable(oracle):
            fn = oracle

            def transformed(idx):
                return self._transform_y(np.atleast_1d(fn(idx)))

            oracle_t = transformed
        else:
            oracle_t = self._transform_y(oracle)
        reg.active_adapt(X_pool, oracle_t, n_queries, **kwargs)
        return self

    @available_if(_regressor_has("predict_members"))
    def predict_members(self, X):
        """Member predictions ``(K, n)`` in the user's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_members, n_samples)
        """
        return self._inverse(self._reg().predict_members(X))

    def predict(self, X, return_std: bool = False, **predict_params):
        """Predict in the user's units; ``return_std=True`` adds the members' weighted spread.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the weighted standard deviation of the
            inverse-transformed member predictions.
        **predict_params
            Passed to the regressor's ``predict``, as scikit-learn does.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        if not return_std:
            return super().predict(X, **predict_params)
        reg = self._reg()
        F = self._inverse(reg.predict_members(X))
        w = np.asarray(reg.weights_, dtype=np.float64)
        mean = super().predict(X, **predict_params)
        std = np.sqrt(np.maximum(w @ (F - w @ F) ** 2, 0.0))
        return mean, std

    # the regressor's adaptation state, read through
    weights_ = _read_through("weights_", _regressor)
    log_weights_ = _read_through("log_weights_", _regressor)
    cumulative_loss_ = _read_through("cumulative_loss_", _regressor)
    n_adapt_samples_ = _read_through("n_adapt_samples_", _regressor)
    temperature_ = _read_through("temperature_", _regressor)
    queried_indices_ = _read_through("queried_indices_", _regressor)
    weights_history_ = _read_through("weights_history_", _regressor)
    labels_seen_ = _read_through("labels_seen_", _regressor)
