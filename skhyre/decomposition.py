"""Function-space PCA of an ensemble: principal directions of functional variation.

An ensemble of ``K`` members evaluated at ``n`` inputs is a ``(K, n)`` matrix of
member predictions (``(K, n, C)`` for ``C`` outputs per input, such as class
probabilities). Each row is one member *function*, sampled at the inputs.
:class:`EnsemblePCA` centres the rows on the mean function and finds the
orthonormal principal functions along which the members differ most, so that
a few coordinates per member describe most of the ensemble's disagreement.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.extmath import svd_flip
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["EnsemblePCA"]


def _check_members(M: Any, name: str = "M") -> np.ndarray:
    """Validate member predictions: finite floats of shape ``(K, n)`` or ``(K, n, C)``."""
    arr = np.asarray(M) if not hasattr(M, "shape") else M
    ndim = getattr(arr, "ndim", None)
    if ndim not in (2, 3):
        raise ValueError(
            f"{name} must be member predictions of shape (n_members, n_inputs) or "
            f"(n_members, n_inputs, n_outputs); got an array with ndim={ndim}."
        )
    return check_array(
        arr,
        dtype=np.float64,
        allow_nd=True,
        ensure_all_finite=True,
        ensure_min_samples=1,
        ensure_min_features=1,
        input_name=name,
    )


def _members_of(estimator: Any, X: Any) -> np.ndarray:
    """Evaluate ``estimator.predict_members(X)`` and validate the result."""
    if not callable(getattr(estimator, "predict_members", None)):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_members(X) method; pass the "
            "member predictions as an array of shape (n_members, n_inputs[, n_outputs])."
        )
    if X is None:
        raise ValueError("X is required to evaluate estimator.predict_members(X).")
    return _check_members(estimator.predict_members(X), name="predict_members(X)")


class EnsemblePCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis of ensemble members in function space.

    The rows of the member-prediction matrix ``M`` (``K`` members evaluated at
    ``n`` inputs, shape ``(K, n)``; or ``(K, n, C)``, flattened to
    ``(K, n * C)``) are treated as samples of functions. Centring them on the
    mean function and taking a singular value decomposition gives orthonormal
    *principal functions*: the directions in which the members' predictions
    vary most. Member coordinates along them (:meth:`transform`) summarise how
    each hypothesis departs from the ensemble's consensus.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of principal functions to keep. ``None`` keeps
        ``min(n_members, n_inputs * n_outputs)``, all of them. It must not
        exceed that number.

    Attributes
    ----------
    mean_ : ndarray of shape (n_inputs * n_outputs,)
        The mean function (average member prediction), flattened.
    components_ : ndarray of shape (n_components_, n_inputs * n_outputs)
        Orthonormal principal functions, by decreasing explained variance.
        Signs are fixed so that the largest-magnitude entry of each component
        is positive (``sklearn.utils.extmath.svd_flip``), so the result is
        deterministic.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the member coordinates along each component
        (``singular_values_ ** 2 / (n_members - 1)``).
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Fraction of the total variance of the members explained by each
        component; sums to 1 when all components are kept. All zeros when the
        members are identical (no variance to explain).
    singular_values_ : ndarray of shape (n_components_,)
        Singular values of the centred member matrix.
    n_components_ : int
        Number of components kept.
    n_members_ : int
        Number of members ``K`` seen in :meth:`fit`.
    output_shape_ : tuple of int
        Shape of one member's predictions: ``(n_inputs,)`` or
        ``(n_inputs, n_outputs)``.
    n_features_in_ : int
        ``n_inputs * n_outputs``, the length of a flattened member function.

    See Also
    --------
    sklearn.decomposition.PCA : The same decomposition over generic samples.

    Notes
    -----
    The rank of the centred matrix is at most ``K - 1``, so with
    ``K <= n_inputs * n_outputs`` the last component has zero variance.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.decomposition import EnsemblePCA
    >>> x = np.linspace(0, 1, 50)
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(2, 20, 1))
    >>> M = np.sin(3 * x) + a * x + b * x**2  # 20 members, 2 directions of variation
    >>> pca = EnsemblePCA(n_components=3).fit(M)
    >>> pca.components_.shape
    (3, 50)
    >>> print(np.round(pca.explained_variance_ratio_[:2].sum(), 6))
    1.0
    >>> Z = pca.transform(M)
    >>> Z.shape
    (20, 3)
    >>> bool(np.allclose(pca.reconstruct(M, n_components=2), M))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_components: int | None = None) -> None:
        self.n_components = n_components

    # ------------------------------------------------------------------ fitting
    def _member_matrix(self, M: Any, X: Any) -> np.ndarray:
        """Member predictions from an array, or from ``M.predict_members(X)``."""
        if hasattr(M, "predict_members"):
            return _members_of(M, X)
        if X is not None:
            raise TypeError(
                "X is only used when the first argument is a fitted object with a "
                "predict_members(X) method; got an array of member predictions and X."
            )
        return _check_members(M)

    def _fit_matrix(self, M: np.ndarray) -> np.ndarray:
        """Fit on validated member predictions; return the full ``U * S`` scores."""
        K = M.shape[0]
        if K < 2:
            raise ValueError(f"EnsemblePCA needs at least 2 members; got {K}.")
        if isinstance(self.n_components, bool):  # an Integral to sklearn's validation
            raise ValueError(f"n_components must be an int or None, got {self.n_components!r}.")
        flat = M.reshape(K, -1)
        max_components = min(flat.shape)
        n_components = max_components if self.n_components is None else self.n_components
        if n_components > max_components:
            raise ValueError(
                f"n_components={n_components} must be at most min(n_members, "
                f"n_inputs * n_outputs)={max_components}."
            )

        self.mean_ = flat.mean(axis=0)
        centred = flat - self.mean_
        U, S, Vt = linalg.svd(centred, full_matrices=False, check_finite=False)
        U, Vt = svd_flip(U, Vt, u_based_decision=False)

        with np.errstate(over="ignore", invalid="ignore"):
            variance = S**2 / (K - 1)
            total = variance.sum()
        if not np.isfinite(total):
            big = float(np.max(np.abs(flat)))
            raise ValueError(
                f"The members' variance overflows float64 (predictions up to |{big:.3g}|): "
                "rescale the member predictions before EnsemblePCA."
            )
        ratio = variance / total if total > 0 else np.zeros_like(variance)

        self.components_ = Vt[:n_components]
        self.explained_variance_ = variance[:n_components]
        self.explained_variance_ratio_ = ratio[:n_components]
        self.singular_values_ = S[:n_components].copy()
        self.n_components_ = int(n_components)
        self.n_members_ = int(K)
        self.output_shape_ = tuple(int(d) for d in M.shape[1:])
        self.n_features_in_ = int(flat.shape[1])
        self._n_features_out = self.n_components_
        return U[:, :n_components] * S[:n_components]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, M: Any, X: Any = None) -> EnsemblePCA:
        """Fit the principal functions of an ensemble.

        Parameters
        ----------
        M : array-like of shape (n_members, n_inputs) or (n_members, n_inputs, n_outputs), \
or object
            Member predictions, or a fitted object with a ``predict_members(X)``
            method returning such an array (then ``X`` is required).
        X : array-like, default=None
            Inputs at which to evaluate ``M.predict_members``. Only used (and
            only allowed) when ``M`` is such an object.

        Returns
        -------
        self : EnsemblePCA
            The fitted decomposition.

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre.decomposition import EnsemblePCA
        >>> M = np.random.default_rng(0).normal(size=(10, 30))
        >>> EnsemblePCA(n_components=4).fit(M).components_.shape
        (4, 30)
        """
        self._fit_matrix(self._member_matrix(M, X))
        return self

    def fit_estimator(self, estimator: Any, X: Any) -> EnsemblePCA:
        """Fit on ``estimator.predict_members(X)``.

        Parameters
        ----------
        estimator : object
            Any fitted object with a ``predict_members(X)`` method returning
            ``(n_members, n_inputs)`` or ``(n_members, n_inputs, n_outputs)``.
        X : array-like
            Inputs at which the members are evaluated.

        Returns
        -------
        self : EnsemblePCA
            The fitted decomposition.

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre.decomposition import EnsemblePCA
        >>> class Lines:
        ...     slopes = np.array([-1.0, 0.0, 1.0, 2.0])
        ...     def predict_members(self, X):
        ...         return self.slopes[:, None] * np.asarray(X)[:, 0]
        >>> X = np.linspace(0, 1, 5)[:, None]
        >>> pca = EnsemblePCA(n_components=1).fit_estimator(Lines(), X)
        >>> pca.output_shape_, pca.n_members_
        ((5,), 4)
        >>> print(np.round(pca.explained_variance_ratio_, 6))
        [1.]
        """
        if not callable(getattr(estimator, "predict_members", None)):
            raise TypeError(
                f"{type(estimator).__name__} has no predict_members(X) method; "
                "fit_estimator needs a fitted ensemble."
            )
        return self.fit(estimator, X)

    def fit_transform(self, M: Any, X: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then return the members' coordinates on the principal functions.

        Parameters
        ----------
        M : array-like of shape (n_members, n_inputs) or (n_members, n_inputs, n_outputs), \
or object
            Member predictions, or a fitted object with ``predict_members(X)``.
        X : array-like, default=None
            Inputs for ``M.predict_members``; only with such an object.
        **fit_params : dict
            Not used; accepted for compatibility with
            :class:`~sklearn.pipeline.Pipeline`. Must be empty.

        Returns
        -------
        Z : ndarray of shape (n_members, n_components_)
            Member coordinates, equal to ``fit(M).transform(M)``.

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre.decomposition import EnsemblePCA
        >>> M = np.random.default_rng(0).normal(size=(6, 8))
        >>> EnsemblePCA(n_components=2).fit_transform(M).shape
        (6, 2)
        """
        if fit_params:
            raise TypeError(f"Unexpected fit parameters: {sorted(fit_params)}.")
        self._validate_params()
        return self._fit_matrix(self._member_matrix(M, X))

    # ---------------------------------------------------------------- transform
    def _flat_members(self, M: Any, X: Any = None) -> np.ndarray:
        """Validate new member predictions against the fitted output shape."""
        check_is_fitted(self)
        arr = self._member_matrix(M, X)
        if arr.shape[1:] != self.output_shape_:
            raise ValueError(
                f"Member predictions have per-member shape {arr.shape[1:]}, but "
                f"EnsemblePCA was fitted on per-member shape {self.output_shape_} "
                "(the same inputs must be used)."
            )
        return arr.reshape(arr.shape[0], -1)

    def transform(self, M: Any, X: Any = None) -> np.ndarray:
        """Coordinates of member functions on the principal functions.

        Parameters
        ----------
        M : array-like of shape (n_members_new, n_inputs) or (n_members_new, n_inputs, \
n_outputs), or object
            Predictions of any number of members at the inputs used in
            :meth:`fit`, or a fitted object with ``predict_members(X)``.
        X : array-like, default=None
            Inputs for ``M.predict_members``; only with such an object.

        Returns
        -------
        Z : ndarray of shape (n_members_new, n_components_)
            ``(M - mean_) @ components_.T`` on flattened members.

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre.decomposition import EnsemblePCA
        >>> M = np.random.default_rng(0).normal(size=(10, 30))
        >>> pca = EnsemblePCA(n_components=2).fit(M)
        >>> pca.transform(M[:3]).shape
        (3, 2)
        """
        flat = self._flat_members(M, X)
        return (flat - self.mean_) @ self.components_.T

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Member predictions from coordinates on the principal functions.

        Parameters
        ----------
        Z : array-like of shape (n_members_new, n_components_)
            Coordinates, as returned by :meth:`transform`.

        Returns
        -------
        M : ndarray of shape (n_members_new, *output_shape_)
            ``mean_ + Z @ components_``, in the shape of the original member
            predictions.

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre.decomposition import EnsemblePCA
        >>> M = np.random.default_rng(0).normal(size=(5, 4, 3))
        >>> pca = EnsemblePCA().fit(M)
        >>> back = pca.inverse_transform(pca.transform(M))
        >>> back.shape, bool(np.allclose(back, M))
        ((5, 4, 3), True)
        """
        check_is_fitted(self)
        Z = check_array(Z, dtype=np.float64, ensure_all_finite=True, input_name="Z")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but EnsemblePCA has {self.n_components_} components."
            )
        flat = Z @ self.components_ + self.mean_
        return flat.reshape((Z.shape[0], *self.output_shape_))

    def reconstruct(self, M: Any, n_components: int | None = None, X: Any = None) -> np.ndarray:
        """Rebuild member predictions from the first ``n_components`` principal functions.

        Parameters
        ----------
        M : array-like of shape (n_members_new, n_inputs) or (n_members_new, n_inputs, \
n_outputs), or object
            Member predictions at the inputs used in :meth:`fit`, or a fitted
            object with ``predict_members(X)``.
        n_components : int, default=None
            How many leading components to use, ``0 <= n_components <=
            n_components_`` (0 gives the mean function for every member).
            ``None`` uses all ``n_components_``.
        X : array-like, default=None
            Inputs for ``M.predict_members``; only with such an object.

        Returns
        -------
        M_hat : ndarray of shape (n_members_new, *output_shape_)
            The projection of each member onto the mean plus the span of the
            first ``n_components`` principal functions.

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre.decomposition import EnsemblePCA
        >>> M = np.random.default_rng(0).normal(size=(10, 30))
        >>> pca = EnsemblePCA().fit(M)
        >>> bool(np.allclose(pca.reconstruct(M), M))
        True
        >>> error = [np.linalg.norm(pca.reconstruct(M, k) - M) for k in (1, 5, 9)]
        >>> bool(error[0] > error[1] > error[2])
        True
        """
        check_is_fitted(self)
        k = self.n_components_ if n_components is None else n_components
        if isinstance(k, bool) or not isinstance(k, Integral):
            raise TypeError(f"n_components must be an int or None; got {n_components!r}.")
        if not 0 <= k <= self.n_components_:
            raise ValueError(
                f"n_components={k} must be between 0 and n_components_={self.n_components_}."
            )
        flat = self._flat_members(M, X)
        V = self.components_[:k]
        rebuilt = ((flat - self.mean_) @ V.T) @ V + self.mean_
        return rebuilt.reshape((flat.shape[0], *self.output_shape_))
