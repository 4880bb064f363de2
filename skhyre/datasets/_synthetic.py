"""Synthetic generators for the paper's studies."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._validation import check_count, check_finite_real

# ---------------------------------------------------------------------------


def _unit_rows(A: np.ndarray) -> np.ndarray:
    return A / np.linalg.norm(A, axis=-1, keepdims=True)


def make_preference_labelers(
    n_samples: int = 2000,
    n_features: int = 2,
    n_labelers: int = 100,
    n_test_labelers: int = 20,
    n_test_samples: int = 500,
    agreement: float = 0.0,
    random_state=None,
) -> Bunch:
    """Binary data labelled by many conflicting linear labelers.

    Inputs are drawn from ``N(0, I)``. Each labeler ``j`` is a linear boundary
    through the origin with unit normal ``w_j``; it labels ``x`` as
    ``1[w_j . x > 0]``. The normals are
    ``w_j = normalize(agreement * u + (1 - agreement) * z_j)`` with ``z_j``
    uniform on the unit sphere and one shared unit direction ``u``: with
    ``agreement=0`` the labelers are independent and conflict, with
    ``agreement=1`` they all agree. Each training row is labelled by one
    training labeler chosen uniformly at random (the aggregated labels a
    reward model is trained on); fresh labelers, drawn the same way, label a
    common test set (the users to adapt to).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of training rows.
    n_features : int, default=2
        Input dimension ``d``.
    n_labelers : int, default=100
        Number of training labelers.
    n_test_labelers : int, default=20
        Number of unseen labelers.
    n_test_samples : int, default=500
        Number of test inputs, each labelled by every unseen labeler.
    agreement : float, default=0.0
        Weight in [0, 1] of the shared direction in every labeler's normal.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, d) and ``y`` (n_samples,) in {0, 1}; ``groups``
        (n_samples,), the labeler of each training row; ``labeler_weights``
        (n_labelers, d); ``X_test`` (n_test_samples, d); ``y_test``
        (n_test_labelers, n_test_samples), row ``j`` the labels of unseen
        labeler ``j``; ``test_labeler_weights`` (n_test_labelers, d); and
        ``shared_direction`` (d,).

    Examples
    --------
    >>> from skhyre.datasets import make_preference_labelers
    >>> data = make_preference_labelers(n_samples=200, n_labelers=10, random_state=0)
    >>> data.X.shape, data.y.shape, data.groups.shape, data.labeler_weights.shape
    ((200, 2), (200,), (200,), (10, 2))
    >>> data.X_test.shape, data.y_test.shape
    ((500, 2), (20, 500))
    >>> import numpy as np
    >>> w = data.labeler_weights[data.groups]
    >>> bool(np.array_equal(data.y, (np.sum(data.X * w, axis=1) > 0).astype(int)))
    True
    """
    n_samples = check_count(n_samples, "n_samples")
    n_features = check_count(n_features, "n_features")
    n_labelers = check_count(n_labelers, "n_labelers")
    n_test_labelers = check_count(n_test_labelers, "n_test_labelers")
    n_test_samples = check_count(n_test_samples, "n_test_samples")
    agreement = check_finite_real(agreement, "agreement", min_val=0.0, max_val=1.0)
    rng = check_random_state(random_state)

    shared = _unit_rows(rng.standard_normal(n_features))

    def draw_labelers(count: int) -> np.ndarray:
        own = _unit_rows(rng.standard_normal((count, n_features)))
        mixed = agreement * shared + (1.0 - agreement) * own
        # a labeler's own direction can cancel the shared one (with one feature
        # and agreement=0.5, half of them do): that is no boundary, draw it again
        for _ in range(1000):
            flat = np.linalg.norm(mixed, axis=1) <= 1e-12
            if not flat.any():
                return _unit_rows(mixed)
            own = _unit_rows(rng.standard_normal((int(flat.sum()), n_features)))
            mixed[flat] = agreement * shared + (1.0 - agreement) * own
        raise RuntimeError("could not draw labelers whose normals do not cancel")

    labeler_weights = draw_labelers(n_labelers)
    X = rng.standard_normal((n_samples, n_features))
    groups = rng.randint(n_labelers, size=n_samples).astype(np.int64)
    y = (np.einsum("ij,ij->i", X, labeler_weights[groups]) > 0).astype(np.int64)

    test_labeler_weights = draw_labelers(n_test_labelers)
    X_test = rng.standard_normal((n_test_samples, n_features))
    y_test = (test_labeler_weights @ X_test.T > 0).astype(np.int64)
    return Bunch(
        X=X,
        y=y,
        groups=groups,
        labeler_weights=labeler_weights,
        X_test=X_test,
        y_test=y_test,
        test_labeler_weights=test_labeler_weights,
        shared_direction=shared,
    )


def make_labeler_population(
    n_samples: int = 2000,
    n_features: int = 2,
    n_labelers: int = 100,
    n_test_labelers: int = 20,
    n_test_samples: int = 500,
    disagreement: float = 1.0,
    rotation: float = 0.5,
    offset_scale: float = 1.0,
    random_state=None,
) -> Bunch:
    """Binary data labelled by a population of deterministic linear decision makers.

    The HyRe paper's reading of Bradley-Terry (Section 4): a population of
    *deterministic* labelers with individual biases, whose pooled labels are
    graded rather than a fair coin. Labeler ``j`` labels ``x`` as
    ``1[w_j . x + b_j > 0]``, where

    - ``w_j`` is a shared unit direction ``u`` rotated by a personal angle
      ``theta_j ~ N(0, (disagreement * rotation)^2)`` (radians) towards a
      random direction orthogonal to ``u`` (so ``|w_j| = 1``);
    - ``b_j ~ Logistic(0, disagreement * offset_scale)`` is a personal offset.

    Inputs are ``N(0, I_d)``; each training row is labelled by one training
    labeler drawn at random. With no rotation, the pooled label of ``x`` is
    exactly Bradley-Terry, ``P(y = 1 | x) = sigmoid(u . x / s)`` with
    ``s = disagreement * offset_scale``: the average decision maker is a
    logistic model while every labeler is a sharp boundary. ``disagreement``
    scales both kinds of individual difference at once (``0``: every labeler
    is ``1[u . x > 0]``).

    Parameters
    ----------
    n_samples : int, default=2000
        Training rows.
    n_features : int, default=2
        Input dimension ``d``.
    n_labelers : int, default=100
        Training labelers.
    n_test_labelers : int, default=20
        Unseen labelers, drawn from the same population.
    n_test_samples : int, default=500
        Test inputs, each labelled by every unseen labeler.
    disagreement : float, default=1.0
        Common scale (>= 0) of the labelers' rotations and offsets.
    rotation : float, default=0.5
        Standard deviation (radians) of the rotation angles at
        ``disagreement=1``.
    offset_scale : float, default=1.0
        Scale of the logistic offsets at ``disagreement=1``, in units of the
        inputs' standard deviation.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, d) and ``y`` (n_samples,) in {0, 1}; ``groups``
        (n_samples,), the labeler of each training row; ``labeler_weights``
        (n_labelers, d) and ``labeler_offsets`` (n_labelers,); ``X_test``
        (n_test_samples, d); ``y_test`` (n_test_labelers, n_test_samples),
        row ``j`` the labels of unseen labeler ``j``; ``test_labeler_weights``,
        ``test_labeler_offsets``; ``pooled_proba_test`` (n_test_samples,), the
        fraction of training labelers who label each test input 1 (the
        average decision maker); and ``shared_direction`` (d,).

    See Also
    --------
    make_preference_labelers : labelers through the origin with independent
        directions (their pooled labels are a fair coin when they disagree).

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import make_labeler_population
    >>> data = make_labeler_population(n_samples=300, n_labelers=50, random_state=0)
    >>> data.X.shape, data.y.shape, data.y_test.shape
    ((300, 2), (300,), (20, 500))
    >>> w, b = data.labeler_weights[data.groups], data.labeler_offsets[data.groups]
    >>> bool(np.array_equal(data.y, (np.sum(data.X * w, axis=1) + b > 0).astype(int)))
    True
    >>> p = data.pooled_proba_test       # graded: neither a fair coin nor one boundary
    >>> bool(0.1 < np.mean(np.abs(2 * p - 1)) < 0.9)
    True
    """
    n_samples = check_count(n_samples, "n_samples")
    n_features = check_count(n_features, "n_features")
    n_labelers = check_count(n_labelers, "n_labelers")
    n_test_labelers = check_count(n_test_labelers, "n_test_labelers")
    n_test_samples = check_count(n_test_samples, "n_test_samples")
    disagreement = check_finite_real(disagreement, "disagreement", min_val=0.0)
    rotation = check_finite_real(rotation, "rotation", min_val=0.0)
    offset_scale = check_finite_real(offset_scale, "offset_scale", min_val=0.0)
    rng = check_random_state(random_state)

    shared = _unit_rows(rng.standard_normal(n_features))

    def draw_labelers(count: int) -> tuple[np.ndarray, np.ndarray]:
        theta = disagreement * rotation * rng.standard_normal(count)
        other = rng.standard_normal((count, n_features))
        other -= np.outer(other @ shared, shared)  # orthogonal to the shared direction
        norms = np.linalg.norm(other, axis=1, keepdims=True)
        if n_features == 1:  # no orthogonal direction: rotation flips nothing
            other, theta = np.zeros_like(other), np.zeros_like(theta)
        else:
            other = other / np.where(norms > 0, norms, 1.0)
        W = np.cos(theta)[:, None] * shared + np.sin(theta)[:, None] * other
        b = disagreement * offset_scale * rng.logistic(size=count)
        return W, b

    labeler_weights, labeler_offsets = draw_labelers(n_labelers)
    X = rng.standard_normal((n_samples, n_features))
    groups = rng.randint(n_labelers, size=n_samples).astype(np.int64)
    margin = np.einsum("ij,ij->i", X, labeler_weights[groups]) + labeler_offsets[groups]
    y = (margin > 0).astype(np.int64)

    test_weights, test_offsets = draw_labelers(n_test_labelers)
    X_test = rng.standard_normal((n_test_samples, n_features))
    y_test = (test_weights @ X_test.T + test_offsets[:, None] > 0).astype(np.int64)
    pooled = (labeler_weights @ X_test.T + labeler_offsets[:, None] > 0).mean(axis=0)
    return Bunch(
        X=X,
        y=y,
        groups=groups,
        labeler_weights=labeler_weights,
        labeler_offsets=labeler_offsets,
        X_test=X_test,
        y_test=y_test,
        test_labeler_weights=test_weights,
        test_labeler_offsets=test_offsets,
        pooled_proba_test=pooled,
        shared_direction=shared,
    )


_SHIFT_CLUSTER_STD = 0.25


def _separable(w: np.ndarray, X_neg: np.ndarray, X_pos: np.ndarray) -> bool:
    return bool((X_neg @ w).max() < (X_pos @ w).min())


def make_shifted_binary(
    n_samples: int = 500,
    n_features: int = 2,
    n_target: int = 1000,
    separation: float = 3.0,
    random_state=None,
) -> Bunch:
    """The shifted binary task of HyRe versus fine-tuning.

    Training negatives and positives come from two Gaussian blobs (standard
    deviation 0.25 per feature) centred at ``-separation / 2`` and
    ``+separation / 2`` on the first axis. Many linear boundaries separate
    them, at many orientations, so training underspecifies the task. The
    target task's boundary is one of them, drawn at random: a unit normal at
    a uniformly drawn angle, within the range of angles that separate the
    training rows, from the first axis towards a random orthogonal direction,
    and an offset halfway between the two blobs' projections. It labels every
    training row as the training labels do. Target inputs are uniform over
    the cube ``[-h, h]^d`` with ``h = separation / 2 + 1``, which covers both
    blobs; there the candidate boundaries disagree.

    Parameters
    ----------
    n_samples : int, default=500
        Number of training rows (half negatives, the other half, plus any
        odd row, positives), at least 2.
    n_features : int, default=2
        Input dimension ``d``.
    n_target : int, default=1000
        Number of target rows.
    separation : float, default=3.0
        Distance between the blob centres, > 0.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, d), ``y`` (n_samples,) in {0, 1}; ``X_target``
        (n_target, d), ``y_target`` (n_target,); ``boundary``, a Bunch with
        ``coef`` (d,, unit norm) and ``intercept`` (float): the target label
        is ``1[X @ coef + intercept > 0]``.

    Raises
    ------
    ValueError
        If the training blobs drawn overlap (no linear boundary separates
        them); use a larger ``separation``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import make_shifted_binary
    >>> data = make_shifted_binary(n_samples=100, n_target=200, random_state=0)
    >>> data.X.shape, data.y.shape, data.X_target.shape, data.y_target.shape
    ((100, 2), (100,), (200, 2), (200,))
    >>> b = data.boundary
    >>> bool(np.array_equal((data.X @ b.coef + b.intercept > 0).astype(int), data.y))
    True
    """
    n_samples = check_count(n_samples, "n_samples", min_val=2)
    n_features = check_count(n_features, "n_features")
    n_target = check_count(n_target, "n_target")
    separation = check_finite_real(
        separation, "separation", min_val=0.0, include_boundaries="neither"
    )
    rng = check_random_state(random_state)

    n_neg = n_samples // 2
    n_pos = n_samples - n_neg
    axis = np.zeros(n_features)
    axis[0] = 1.0
    X_neg = -separation / 2 * axis + _SHIFT_CLUSTER_STD * rng.standard_normal((n_neg, n_features))
    X_pos = separation / 2 * axis + _SHIFT_CLUSTER_STD * rng.standard_normal((n_pos, n_features))
    if not _separable(axis, X_neg, X_pos):
        raise ValueError(
            f"the training blobs overlap with separation={separation}; no linear boundary "
            f"separates them. Use a larger separation."
        )

    # A random orientation among those that separate the training rows: the
    # separating normals form a convex cone, so within the plane spanned by the
    # first axis and a random orthogonal direction they form an interval of
    # angles containing 0, whose end is found by bisection.
    if n_features > 1:
        other = rng.standard_normal(n_features)
        other[0] = 0.0
        if not np.any(other):  # pragma: no cover - probability zero
            other[1] = 1.0
        other = _unit_rows(other)
        low, high = 0.0, math.pi / 2
        for _ in range(60):
            mid = (low + high) / 2
            if _separable(math.cos(mid) * axis + math.sin(mid) * other, X_neg, X_pos):
                low = mid
            else:
                high = mid
        angle = rng.uniform(0.0, low)
        coef = math.cos(angle) * axis + math.sin(angle) * other
    else:
        coef = axis.copy()
    intercept = -float(((X_neg @ coef).max() + (X_pos @ coef).min()) / 2)

    X = np.vstack([X_neg, X_pos])
    y = np.concatenate([np.zeros(n_neg, dtype=np.int64), np.ones(n_pos, dtype=np.int64)])
    order = rng.permutation(n_samples)
    X, y = X[order], y[order]

    half_width = separation / 2 + 4 * _SHIFT_CLUSTER_STD
    X_target = rng.uniform(-half_width, half_width, size=(n_target, n_features))
    y_target = (X_target @ coef + intercept > 0).astype(np.int64)
    return Bunch(
        X=X,
        y=y,
        X_target=X_target,
        y_target=y_target,
        boundary=Bunch(coef=coef, intercept=intercept),
    )


def make_gp_functions(
    n_functions: int = 100,
    n_points: int = 200,
    length_scale: float = 0.3,
    noise: float = 0.0,
    random_state=None,
) -> Bunch:
    """Functions drawn from a Gaussian-process prior on a grid in [-1, 1].

    The prior has zero mean and the RBF kernel
    ``k(x, x') = exp(-(x - x')^2 / (2 * length_scale^2))``. Each function is
    evaluated on ``n_points`` evenly spaced points; independent Gaussian
    noise of standard deviation ``noise`` is added to every value.

    Parameters
    ----------
    n_functions : int, default=100
        Number of functions.
    n_points : int, default=200
        Number of grid points.
    length_scale : float, default=0.3
        RBF length scale, > 0.
    noise : float, default=0.0
        Standard deviation of the observation noise, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``x`` (n_points,), the grid; ``F`` (n_functions, n_points), the
        function values (noise included); ``cov`` (n_points, n_points), the
        kernel matrix on the grid (without noise).

    Examples
    --------
    >>> from skhyre.datasets import make_gp_functions
    >>> data = make_gp_functions(n_functions=5, n_points=50, random_state=0)
    >>> data.x.shape, data.F.shape
    ((50,), (5, 50))
    >>> float(data.x[0]), float(data.x[-1])
    (-1.0, 1.0)
    """
    n_functions = check_count(n_functions, "n_functions")
    n_points = check_count(n_points, "n_points")
    length_scale = check_finite_real(
        length_scale, "length_scale", min_val=0.0, include_boundaries="neither"
    )
    noise = check_finite_real(noise, "noise", min_val=0.0)
    rng = check_random_state(random_state)

    x = np.linspace(-1.0, 1.0, n_points)
    d = np.subtract.outer(x, x)
    if length_scale**2 > 0:
        cov = np.exp(-0.5 * d**2 / length_scale**2)
    else:  # length_scale**2 underflows: scale first (exp(-inf) = 0, white noise)
        with np.errstate(over="ignore"):
            cov = np.exp(-0.5 * (d / length_scale) ** 2)
    # The RBF kernel matrix is numerically singular on a fine grid; a clipped
    # eigendecomposition gives a square root that a Cholesky would refuse.
    eigval, eigvec = np.linalg.eigh(cov)
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    F = rng.standard_normal((n_functions, n_points)) @ root.T
    if noise > 0:
        F = F + noise * rng.standard_normal((n_functions, n_points))
    return Bunch(x=x, F=F, cov=cov)
