"""Weighted class probabilities as scikit-learn's metrics expect them.

Members' probabilities are float32; their weighted mixture, accumulated in
float64, sums to 1 only within float32 rounding (about 6e-8) and can exceed
1 in its last bit, which :func:`sklearn.metrics.log_loss` warns about or
refuses. :func:`as_probabilities` clips each entry to ``[0, 1]`` and divides
each row by its sum, so rows are float64, in ``[0, 1]`` and sum to 1 within
float64 rounding. Rows holding NaN stay NaN (the estimators' ``predict``
names them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_probabilities"]


def as_probabilities(Q) -> np.ndarray:
    """Rows of ``Q`` clipped to ``[0, 1]`` and renormalized, float64.

    Parameters
    ----------
    Q : array-like of shape (n_samples, n_classes)
        A weighted mixture of member probabilities.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre._proba import as_probabilities
    >>> P = as_probabilities(np.array([[0.30000001, 0.70000002], [1.0000001, 0.0]]))
    >>> P.sum(axis=1), float(P.max())
    (array([1., 1.]), 1.0)
    """
    P = np.clip(np.asarray(Q, dtype=np.float64), 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = P.sum(axis=1, keepdims=True)
        out = np.where(s > 0, P / s, P)
    return out
