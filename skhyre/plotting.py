"""Plots for HyRe: member weights, learning curves, principal functions, members.

matplotlib is an optional dependency (``pip install "skhyre[plot]"``); it is
imported only when a plotting function is called. Every function draws on the
given ``ax`` (a new figure's axes when ``ax=None``) and returns it, so plots
compose and can be saved with ``ax.figure.savefig(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["plot_components", "plot_learning_curve", "plot_members", "plot_weights"]


def _pyplot():
    """Import ``matplotlib.pyplot``, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            'skhyre.plotting needs matplotlib; install it with: pip install "skhyre[plot]"'
        ) from exc
    return plt


def _get_ax(ax: Axes | None) -> Axes:
    """Return ``ax``, or the axes of a new figure."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
        return ax
    from matplotlib.axes import Axes as _Axes

    if not isinstance(ax, _Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
    return ax


def _as_1d(a: Any, name: str) -> np.ndarray:
    """Finite float vector with at least one entry."""
    arr = check_array(a, ensure_2d=False, dtype=np.float64, ensure_all_finite=True, input_name=name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}.")
    return arr


def _as_2d(a: Any, name: str) -> np.ndarray:
    """Finite float matrix."""
    arr = np.asarray(a) if not hasattr(a, "shape") else a
    if getattr(arr, "ndim", None) != 2:
        raise ValueError(f"{name} must be 2-D; got shape {getattr(arr, 'shape', ())}.")
    return check_array(arr, dtype=np.float64, ensure_all_finite=True, input_name=name)


def _check_count(value: Any, name: str, minimum: int, allow_none: bool = False) -> int | None:
    """An integer ``>= minimum`` (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def _check_weights(weights: Any, n_members: int) -> np.ndarray:
    """Non-negative member weights of length ``n_members``, normalised to sum to 1."""
    if weights is None:
        return np.full(n_members, 1.0 / n_members)
    w = _as_1d(weights, "weights")
    if w.shape[0] != n_members:
        raise ValueError(f"weights has length {w.shape[0]}, but there are {n_members} members.")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative.")
    total = w.sum()
    if total <= 0:
        raise ValueError("weights must have a positive sum.")
    return w / total


def plot_weights(
    weights_history: Any,
    ax: Axes | None = None,
    top: int = 10,
    member_labels: Sequence[str] | None = None,
    *,
    labels_seen: Any = None,
) -> Axes:
    """Plot member weights over adaptation steps.

    The ``top`` members with the largest final weight are drawn as lines; the
    summed weight of all the others is drawn as a faint band from zero.

    Parameters
    ----------
    weights_history : array-like of shape (n_steps + 1, n_members), or a fitted HyRe estimator
        Member weights after each adaptation step; row 0 is the prior (before
        any label). Entries must be finite and non-negative. A HyRe
        estimator (or a :class:`~skhyre.pipeline.Pipeline` ending in one)
        gives its own ``weights_history_`` (a row per ``partial_adapt`` and
        per label of ``active_adapt``) and ``labels_seen_``.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's axes when ``None``.
    top : int, default=10
        Number of members drawn individually (those with the largest weight in
        the last row; ties go to the lower index). ``0`` draws only the band.
    member_labels : sequence of str, default=None
        One legend label per member; ``"member k"`` when ``None``.
    labels_seen : array-like of shape (n_steps + 1,), default=None
        Number of labels seen at each row, for the x-axis; ``0, 1, 2, ...``
        (one label per step) when ``None``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on: ``min(top, n_members)`` lines, plus one filled band
        when some members are not drawn individually.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skhyre.plotting import plot_weights
    >>> losses = np.random.default_rng(0).integers(0, 2, size=(20, 8))  # 0-1 errors
    >>> cumulative = np.hstack([np.zeros((20, 1)), np.cumsum(losses, axis=1)])
    >>> history = np.exp(-cumulative.T)
    >>> history /= history.sum(axis=1, keepdims=True)  # (9 steps, 20 members)
    >>> ax = plot_weights(history, top=5)
    >>> len(ax.lines), ax.get_xlabel()
    (5, 'labels seen')
    >>> plt.close(ax.figure)
    """
    if hasattr(weights_history, "weights_history_"):
        est = weights_history
        weights_history = est.weights_history_
        labels_seen = est.labels_seen_ if labels_seen is None else labels_seen
    W = _as_2d(weights_history, "weights_history")
    if np.any(W < 0):
        raise ValueError("weights_history must be non-negative.")
    n_rows, n_members = W.shape
    top = _check_count(top, "top", 0)
    if member_labels is None:
        labels = [f"member {k}" for k in range(n_members)]
    else:
        labels = [str(label) for label in member_labels]
        if len(labels) != n_members:
            raise ValueError(
                f"member_labels has {len(labels)} entries, but weights_history has "
                f"{n_members} members (columns)."
            )
    if labels_seen is None:
        x = np.arange(n_rows, dtype=np.float64)
    else:
        x = _as_1d(labels_seen, "labels_seen")
        if x.shape[0] != n_rows:
            raise ValueError(
                f"labels_seen has length {x.shape[0]}, but weights_history has {n_rows} rows."
            )

    ax = _get_ax(ax)
    order = np.argsort(-W[-1], kind="stable")
    shown, rest = order[: min(top, n_members)], order[min(top, n_members) :]
    for k in shown:
        ax.plot(x, W[:, k], label=labels[k], linewidth=1.5)
    if rest.size:
        ax.fill_between(
            x,
            0.0,
            W[:, rest].sum(axis=1),
            color="0.5",
            alpha=0.2,
            linewidth=0,
            label=f"other {rest.size} members (sum)",
        )
    ax.set_xlabel("labels seen")
    ax.set_ylabel("weight")
    ax.set_ylim(bottom=0.0)
    if n_rows > 1:
        ax.set_xlim(x.min(), x.max())
    if shown.size or rest.size:
        ax.legend(fontsize="small", loc="best")
    return ax


def plot_learning_curve(
    n_labels: Any,
    scores: Any,
    ax: Axes | None = None,
    label: str | None = None,
    std: Any = None,
    ylabel: str = "accuracy",
    baseline: Mapping[str, float] | None = None,
) -> Axes:
    """Plot a score against the number of labels used to adapt.

    Call it again on the returned ``ax`` to compare methods on one plot.

    Parameters
    ----------
    n_labels : array-like of shape (n_points,)
        Numbers of labels (x-axis).
    scores : array-like of shape (n_points,)
        Score at each number of labels.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's axes when ``None``.
    label : str, default=None
        Legend label of the curve.
    std : array-like of shape (n_points,), default=None
        Non-negative spread (e.g. the standard deviation over seeds), drawn as
        a band ``scores ± std`` in the curve's colour.
    ylabel : str, default="accuracy"
        Label of the y-axis.
    baseline : dict of str to float, default=None
        Reference scores drawn as dashed horizontal lines, by name (for
        example the unadapted ensemble).

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on: one line for the curve, one per baseline, and a
        filled band when ``std`` is given.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skhyre.plotting import plot_learning_curve
    >>> ax = plot_learning_curve([0, 8, 16, 32], [0.70, 0.78, 0.83, 0.86],
    ...                          label="HyRe", std=[0.0, 0.03, 0.02, 0.01],
    ...                          baseline={"uniform ensemble": 0.70})
    >>> len(ax.lines), ax.get_xlabel()
    (2, 'number of labels')
    >>> plt.close(ax.figure)
    """
    x = _as_1d(n_labels, "n_labels")
    y = _as_1d(scores, "scores")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"n_labels has length {x.shape[0]}, but scores has length {y.shape[0]}.")
    s = None
    if std is not None:
        s = _as_1d(std, "std")
        if s.shape[0] != y.shape[0]:
            raise ValueError(f"std has length {s.shape[0]}, but scores has length {y.shape[0]}.")
        if np.any(s < 0):
            raise ValueError("std must be non-negative.")
    if baseline is not None:
        if not isinstance(baseline, Mapping):
            raise TypeError(
                f"baseline must be a dict mapping names to scores; got {type(baseline).__name__}."
            )
        for name, value in baseline.items():
            try:
                finite = np.isfinite(float(value))
            except (TypeError, ValueError):
                finite = False
            if not finite:
                raise ValueError(f"baseline {name!r} must be a finite number; got {value!r}.")

    ax = _get_ax(ax)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    (line,) = ax.plot(x, y, marker="o", markersize=3, label=label)
    if s is not None:
        s = s[order]
        ax.fill_between(x, y - s, y + s, color=line.get_color(), alpha=0.2, linewidth=0)
    styles = ["--", ":", "-.", (0, (5, 1, 1, 1, 1, 1))]
    for i, (name, value) in enumerate((baseline or {}).items()):
        ax.axhline(
            float(value),
            linestyle=styles[i % len(styles)],
            linewidth=1.2,
            color="0.3",
            label=str(name),
        )
    ax.set_xlabel("number of labels")
    ax.set_ylabel(ylabel)
    if label is not None or baseline:
        ax.legend(fontsize="small", loc="best")
    return ax


def plot_components(
    x: Any,
    pca_or_components: Any,
    n_components: int = 3,
    ax: Axes | None = None,
    mean: Any = None,
    *,
    output: int | None = None,
) -> Axes:
    """Plot the leading principal functions of an ensemble over a 1-D input.

    Parameters
    ----------
    x : array-like of shape (n_inputs,)
        The 1-D inputs at which the members were evaluated.
    pca_or_components : EnsemblePCA or array-like of shape (n_available, n_inputs)
        A fitted :class:`~skhyre.decomposition.EnsemblePCA`, or principal
        functions as rows. From an ``EnsemblePCA`` each component is drawn
        scaled by its standard deviation ``sqrt(explained_variance_)``, so
        curves are in the units of the predictions and ordered by size; rows
        of an array are drawn as given.
    n_components : int, default=3
        Draw at most this many leading components (fewer when fewer exist).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's axes when ``None``.
    mean : array-like of shape (n_inputs,) or True, default=None
        A mean function to draw as a black dashed reference line. ``True``
        takes ``mean_`` from the ``EnsemblePCA``.
    output : int, default=None
        For an ``EnsemblePCA`` fitted on ``(K, n_inputs, n_outputs)``
        predictions with ``n_outputs > 1`` (e.g. class probabilities), the
        output column to draw; required in that case.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on: one line per component drawn, plus one for
        ``mean``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skhyre.decomposition import EnsemblePCA
    >>> from skhyre.plotting import plot_components
    >>> x = np.linspace(-1, 1, 40)
    >>> coef = np.random.default_rng(0).normal(size=(30, 3))
    >>> M = coef[:, :1] + coef[:, 1:2] * x + coef[:, 2:] * x**2
    >>> pca = EnsemblePCA(n_components=3).fit(M)
    >>> ax = plot_components(x, pca, n_components=2, mean=True)
    >>> len(ax.lines)
    3
    >>> plt.close(ax.figure)
    """
    from skhyre.decomposition import EnsemblePCA

    xs = _as_1d(x, "x")
    n_components = _check_count(n_components, "n_components", 1)
    ratio = None
    if isinstance(pca_or_components, EnsemblePCA):
        pca = pca_or_components
        check_is_fitted(pca)
        comps = pca.components_ * np.sqrt(pca.explained_variance_)[:, None]
        centre = pca.mean_
        ratio = pca.explained_variance_ratio_
        if len(pca.output_shape_) == 2:
            n_in, n_out = pca.output_shape_
            if output is None:
                if n_out != 1:
                    raise ValueError(
                        f"The EnsemblePCA was fitted on {n_out} outputs per input; choose "
                        "one with output=<column index>."
                    )
                output = 0
            if not 0 <= _check_count(output, "output", 0) < n_out:
                raise ValueError(f"output must be in [0, {n_out}); got {output}.")
            comps = comps.reshape(-1, n_in, n_out)[:, :, output]
            centre = centre.reshape(n_in, n_out)[:, output]
        elif output is not None:
            raise ValueError("output is only used with an EnsemblePCA fitted on 3-D predictions.")
    else:
        if output is not None:
            raise ValueError("output is only used with an EnsemblePCA.")
        comps = _as_2d(pca_or_components, "pca_or_components")
        centre = None
    if comps.shape[1] != xs.shape[0]:
        raise ValueError(
            f"x has length {xs.shape[0]}, but the components are functions over "
            f"{comps.shape[1]} inputs."
        )
    if mean is True:
        if centre is None:
            raise TypeError("mean=True needs an EnsemblePCA; pass the mean function as an array.")
        mean_fn = centre
    elif mean is None or mean is False:
        mean_fn = None
    else:
        mean_fn = _as_1d(mean, "mean")
        if mean_fn.shape[0] != xs.shape[0]:
            raise ValueError(f"mean has length {mean_fn.shape[0]}, but x has length {xs.shape[0]}.")

    ax = _get_ax(ax)
    order = np.argsort(xs, kind="stable")
    for k in range(min(n_components, comps.shape[0])):
        text = f"PC{k + 1}"
        if ratio is not None:
            text += f" ({100 * ratio[k]:.1f}%)"
        ax.plot(xs[order], comps[k, order], label=text)
    if mean_fn is not None:
        ax.plot(xs[order], mean_fn[order], color="black", linestyle="--", label="mean")
    ax.set_xlabel("x")
    ax.set_ylabel("principal function" + (" (scaled by std)" if ratio is not None else ""))
    ax.legend(fontsize="small", loc="best")
    return ax


def _plot_coordinate(x: Any, feature) -> tuple[np.ndarray, str, bool]:
    """(the coordinate to draw along, its axis label, whether to draw points)."""
    names = getattr(x, "columns", None)
    X = np.asarray(x, dtype=np.float64)
    if X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1):
        return X.reshape(-1), "x" if names is None else str(names[0]), False
    if X.ndim != 2:
        raise ValueError(f"x must be 1-D or 2-D (inputs x features), got shape {X.shape}.")
    if feature is None:  # the first principal component of the inputs
        Z = X - X.mean(axis=0)
        _, _, Vt = np.linalg.svd(Z, full_matrices=False)
        return Z @ Vt[0], "first principal component of x", True
    if isinstance(feature, str):
        if names is None or feature not in list(names):
            raise ValueError(f"feature={feature!r} is not a column name of x.")
        j = list(names).index(feature)
    elif isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not -X.shape[1] <= feature < X.shape[1]:
            raise ValueError(f"feature={feature} is out of range for x with {X.shape[1]} columns.")
        j = int(feature)
    else:
        raise TypeError(f"feature must be a column index, a column name or None, got {feature!r}.")
    label = str(names[j]) if names is not None else f"x[:, {j}]"
    return X[:, j], label, True


def plot_members(
    x: Any,
    member_predictions: Any,
    weights: Any = None,
    ax: Axes | None = None,
    max_members: int | None = 50,
    *,
    feature=None,
) -> Axes:
    """Plot member functions over a 1-D input, shaded by weight, with the weighted mean.

    Parameters
    ----------
    x : array-like of shape (n_inputs,) or (n_inputs, n_features)
        The inputs. With several features the predictions are drawn as
        points (not lines: along one coordinate, the other features make
        them jump) over the coordinate ``feature``, or over the inputs' first
        principal component when ``feature`` is ``None``.
    member_predictions : array-like of shape (n_members, n_inputs)
        Each member's predictions at ``x`` (e.g. ``predict_members(X)`` of a
        regressor, or one class's probabilities of a classifier).
    weights : array-like of shape (n_members,), default=None
        Non-negative member weights (e.g. ``weights_``), normalised to sum to
        1; uniform when ``None``. A member's line opacity is proportional to
        its weight.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure's axes when ``None``.
    max_members : int or None, default=50
        Draw at most this many members, those with the largest weight (ties go
        to the lower index); ``None`` draws all. The mean always uses all.
    feature : int, str or None, default=None
        With several input features: the column to draw along (an index, or
        a column name of a DataFrame ``x``); ``None`` projects on the first
        principal component. Ignored for 1-D ``x``.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes drawn on: one line per member drawn, then the weighted mean
        (last, bold black).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skhyre.plotting import plot_members
    >>> x = np.linspace(0, 1, 30)
    >>> slopes = np.linspace(-1, 1, 9)
    >>> M = slopes[:, None] * x
    >>> w = np.exp(-((slopes - 0.5) ** 2) / 0.1)
    >>> ax = plot_members(x, M, weights=w)
    >>> len(ax.lines)
    10
    >>> plt.close(ax.figure)
    """
    xs, xlabel, as_points = _plot_coordinate(x, feature)
    F = _as_2d(member_predictions, "member_predictions")
    n_members, n_inputs = F.shape
    if n_inputs != xs.shape[0]:
        raise ValueError(
            f"member_predictions has {n_inputs} inputs per member (columns), but x has "
            f"length {xs.shape[0]}."
        )
    w = _check_weights(weights, n_members)
    max_members = _check_count(max_members, "max_members", 1, allow_none=True)

    ax = _get_ax(ax)
    order = np.argsort(xs, kind="stable")
    shown = np.argsort(-w, kind="stable")[: n_members if max_members is None else max_members]
    alpha = 0.8 * w / w.max()
    color = "C0"
    style = dict(linestyle="none", marker=".") if as_points else {}
    for j, k in enumerate(shown):
        ax.plot(
            xs[order],
            F[k, order],
            color=color,
            alpha=float(alpha[k]),
            linewidth=1.0,
            label="members" if j == 0 else None,
            **style,
        )
    ax.plot(
        xs[order],
        (w @ F)[order],
        color="black",
        linewidth=2.5,
        label="mean" if weights is None else "weighted mean",
        **({**style, "marker": "o", "markersize": 3} if as_points else {}),
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("prediction")
    ax.legend(fontsize="small", loc="best")
    return ax
