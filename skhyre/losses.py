"""The adaptation losses: one table, each loss defined once.

HyRe weights members by their cumulative loss on the adaptation examples.
Every built-in loss is one :class:`AdaptLoss` entry of :data:`TABLE`, keyed by
the task it scores and its name:

- ``compute(M, y, units)``: the per-example member losses, ``(K, n)``;
- ``kernel``: the compiled sequential loop's equivalent, a function of the
  units returning ``(kernel loss id, scale)`` (the same weights up to a
  per-example constant shared by all members), or ``None``;
- ``noise_model``: the likelihood ``exp(-loss / T)`` that
  ``temperature="evidence"`` normalizes (``"gaussian"``, ``"laplace"``,
  ``"flip"``, ``"likelihood"``), or ``None`` (no evidence temperature);
- ``floored``: ``temperature="auto"`` searches only temperatures at or above
  the evidence temperature;
- ``loo_score``: the loss ``temperature="auto"`` scores left-out weighted
  predictions with (``None``: the loss itself).

The estimators supply only their :class:`Units` (the target scale a
regression loss is measured in, the noise variance of the Gaussian
likelihood). Adding a loss is one entry here; a user-supplied callable goes
through :func:`resolve` too.

Examples
--------
>>> import numpy as np
>>> from skhyre import losses
>>> losses.names("regression")
('squared', 'absolute', 'gaussian_nll')
>>> sq = losses.get("regression", "squared")
>>> F = np.array([[0.0, 1.0], [2.0, 2.0]])        # 2 members, 2 examples
>>> sq.compute(F, np.array([0.0, 2.0]), losses.Units(target_scale=2.0))
array([[0.  , 0.25],
       [1.  , 0.  ]])
>>> sq.kernel(losses.Units(target_scale=2.0))
('squared', 0.25)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _kernels

__all__ = [
    "TABLE",
    "TASKS",
    "AdaptLoss",
    "Units",
    "default",
    "evidence_losses",
    "floored_losses",
    "get",
    "names",
    "noise_model",
    "resolve",
]

#: The tasks an adaptation loss scores: ``(K, n)`` predictions, ``(K, n, C)``
#: class probabilities, ``(K, n, 2)`` preference probabilities
#: (``[P(B preferred), P(A preferred)]``).
TASKS = ("regression", "classification", "preference")

#: Probability floor of the log loss.
LOG_LOSS_EPS = 1e-15


@dataclass(frozen=True)
class Units:
    """The units an estimator measures its adaptation losses in.

    Parameters
    ----------
    target_scale : float, default=1.0
        Regression losses are measured in units of this (the training
        target's standard deviation): squared error is divided by its
        square, absolute error by it. ``1.0`` where the predictions are
        standardized already.
    noise_variance : float or None, default=None
        Variance of the Gaussian likelihood of ``"gaussian_nll"``, in the
        same units.

    Examples
    --------
    >>> from skhyre.losses import Units
    >>> Units(target_scale=3.0).target_scale
    3.0
    """

    target_scale: float = 1.0
    noise_variance: float | None = None


@dataclass(frozen=True)
class AdaptLoss:
    """One adaptation loss (see the module docstring for each field).

    Examples
    --------
    >>> from skhyre.losses import get
    >>> get("classification", "zero_one").noise_model
    'flip'
    """

    name: str
    task: str
    compute: Callable[[np.ndarray, np.ndarray, Units], np.ndarray]
    kernel: Callable[[Units], tuple[str, float]] | None = None
    noise_model: str | None = None
    floored: bool = False
    loo_score: str | None = None


def _squared(M, y, u: Units):
    return _kernels.squared_loss(M, y, 1.0 / u.target_scale**2)


def _absolute(M, y, u: Units):
    return _kernels.absolute_loss(M, y, 1.0 / u.target_scale)


def _gaussian_nll(M, y, u: Units):
    v = u.noise_variance
    return _kernels.squared_loss(M, y, 1.0 / (2.0 * v)) + 0.5 * np.log(2 * np.pi * v)


def _zero_one(M, y, u: Units):
    return _kernels.zero_one_loss_proba(M, y)


def _pairwise_zero_one(M, y, u: Units):
    # a member prefers A where its reward difference r(A) - r(B) > 0
    return _kernels.pairwise_zero_one_loss(np.ascontiguousarray(M[..., 1] - M[..., 0]), y)


def _log_loss(M, y, u: Units):
    return _kernels.log_loss(M, y, LOG_LOSS_EPS)


def _brier(M, y, u: Units):
    return _kernels.brier_loss(M, y)


def _fixed(kernel_id: str) -> Callable[[Units], tuple[str, float]]:
    return lambda u: (kernel_id, 1.0)


def _proba_losses(task: str, zero_one: Callable) -> list[AdaptLoss]:
    return [
        AdaptLoss("zero_one", task, zero_one, _fixed("zero_one"), "flip", loo_score="log_loss"),
        AdaptLoss("log_loss", task, _log_loss, _fixed("log_loss"), "likelihood"),
        AdaptLoss("brier", task, _brier, _fixed("brier")),
    ]


_ENTRIES = [
    AdaptLoss(
        "squared",
        "regression",
        _squared,
        lambda u: ("squared", 1.0 / u.target_scale**2),
        "gaussian",
        floored=True,
    ),
    AdaptLoss(
        "absolute",
        "regression",
        _absolute,
        lambda u: ("absolute", 1.0 / u.target_scale),
        "laplace",
        floored=True,
    ),
    # squared error up to a constant shared by the members; only where the
    # estimator knows a noise variance (Units.noise_variance)
    AdaptLoss(
        "gaussian_nll",
        "regression",
        _gaussian_nll,
        lambda u: ("squared", 1.0 / (2.0 * u.noise_variance)),
    ),
    *_proba_losses("classification", _zero_one),
    *_proba_losses("preference", _pairwise_zero_one),
]

#: Every built-in adaptation loss, by ``(task, name)``, in the order listed.
TABLE: dict[tuple[str, str], AdaptLoss] = {(e.task, e.name): e for e in _ENTRIES}


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


def names(task: str, units: Units | None = None) -> tuple[str, ...]:
    """The built-in loss names for ``task``, the default first.

    ``"gaussian_nll"`` needs a noise variance: with ``units`` given, it is
    listed only when ``units.noise_variance`` is set.

    Examples
    --------
    >>> from skhyre.losses import names, Units
    >>> names("preference")
    ('zero_one', 'log_loss', 'brier')
    >>> names("regression", Units(target_scale=2.0))
    ('squared', 'absolute')
    """
    _check_task(task)
    return tuple(
        name
        for (t, name), e in TABLE.items()
        if t == task
        and not (units is not None and name == "gaussian_nll" and units.noise_variance is None)
    )


def default(task: str) -> str:
    """The default loss of ``task`` (squared error, else 0-1 error).

    Examples
    --------
    >>> from skhyre.losses import default
    >>> default("classification")
    'zero_one'
    """
    return names(task)[0]


def get(task: str, name: str) -> AdaptLoss:
    """The table entry of loss ``name`` for ``task``; a clear error if there is none.

    Examples
    --------
    >>> from skhyre.losses import get
    >>> get("regression", "absolute").noise_model
    'laplace'
    """
    _check_task(task)
    try:
        return TABLE[(task, name)]
    except (KeyError, TypeError):
        raise ValueError(
            f"adapt_loss={name!r} is not a {task} loss; choose one of {list(names(task))} "
            "or pass a callable."
        ) from None


def evidence_losses() -> tuple[str, ...]:
    """Loss names with a noise model (``temperature="evidence"`` works with them).

    Examples
    --------
    >>> from skhyre.losses import evidence_losses
    >>> evidence_losses()
    ('squared', 'absolute', 'zero_one', 'log_loss')
    """
    return tuple(dict.fromkeys(e.name for e in TABLE.values() if e.noise_model))


def floored_losses() -> tuple[str, ...]:
    """Loss names whose evidence temperature floors ``temperature="auto"``.

    Examples
    --------
    >>> from skhyre.losses import floored_losses
    >>> floored_losses()
    ('squared', 'absolute')
    """
    return tuple(dict.fromkeys(e.name for e in TABLE.values() if e.floored))


def noise_model(name: str | None) -> str | None:
    """The noise model of the loss named ``name`` (any task), or ``None``.

    Examples
    --------
    >>> from skhyre.losses import noise_model
    >>> noise_model("squared"), noise_model("brier")
    ('gaussian', None)
    """
    for e in TABLE.values():
        if e.name == name:
            return e.noise_model
    return None


def resolve(
    task: str, loss, units: Units, user_units: Callable[[Callable], Callable] | None = None
) -> tuple[str | None, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """``(name or None, fn(M, y) -> (rows, n))`` for an estimator's ``adapt_loss``.

    Parameters
    ----------
    task : {"regression", "classification", "preference"}
    loss : str, callable or None
        ``None`` is the task's default; a callable ``(M, y) -> losses`` is
        wrapped by ``user_units`` (which converts predictions and labels into
        the units the user sees) when given.
    units : Units
        The estimator's units.
    user_units : callable, default=None
        ``fn -> fn`` applied to a callable ``loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.losses import resolve, Units
    >>> name, fn = resolve("regression", None, Units())
    >>> name, fn(np.array([[1.0]]), np.array([0.0]))
    ('squared', array([[1.]]))
    """
    if loss is None:
        loss = default(task)
    if callable(loss):
        return None, (user_units(loss) if user_units is not None else loss)
    if loss not in names(task, units):
        raise ValueError(
            f"adapt_loss={loss!r} is not valid here; choose one of "
            f"{list(names(task, units))} or pass a callable."
        )
    entry = TABLE[(task, loss)]
    return loss, lambda M, y: entry.compute(M, y, units)
