"""Evaluating adaptation: score versus number of labels, and unseen annotators.

- :func:`adaptation_curve`: adapt a fitted HyRe estimator on ``N`` labels
  from a pool (chosen at random or actively) and score it, for several
  ``N``, over repeats.
- :func:`leave_one_group_out`: personalize to people never seen in
  training. For each annotator (group) in turn, fit on everyone else
  (optionally annotator-aware, passing ``groups``), then adapt to the
  held-out annotator from ``N`` of their labels and score on the rest of
  their examples.
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples, check_consistent_length

from ._validation import check_sampling
from .pipeline import adaptable

__all__ = ["adaptation_curve", "leave_one_group_out"]


def _check_n_labels(n_labels) -> tuple[int, ...]:
    values = np.atleast_1d(np.asarray(n_labels, dtype=object)).ravel()
    ok = values.size > 0 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values
    )
    if not ok:
        raise ValueError(f"n_labels must be positive integers, got {n_labels!r}.")
    return tuple(int(v) for v in values)


def _check_n_repeats(n_repeats) -> int:
    if not isinstance(n_repeats, numbers.Integral) or isinstance(n_repeats, bool) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}.")
    return int(n_repeats)


def _fit_accepts_groups(estimator) -> bool:
    try:
        params = inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "groups" in params


def adaptation_curve(
    estimator,
    X_pool,
    y_pool,
    n_labels=(1, 5, 10, 20, 40),
    *,
    criterion: str = "random",
    n_repeats: int = 1,
    X_test=None,
    y_test=None,
    random_state=None,
    sampling: str = "top",
    scoring=None,
) -> Bunch:
    """Score of a fitted HyRe estimator after adapting on ``N`` labels.

    For every repeat and every ``N``: reset the weights, label ``N`` pool
    examples (``criterion="random"``: a random sample; otherwise
    ``active_adapt`` with that criterion, one label at a time) and score on
    ``(X_test, y_test)``, or, when no test set is given, on the pool
    examples that were not labelled. The estimator is reset to uniform
    weights afterwards.

    Parameters
    ----------
    estimator : fitted HyRe estimator
        Anything with ``adapt``, ``active_adapt``, ``reset_weights`` and
        ``score``; a scikit-learn ``Pipeline`` ending in a HyRe estimator or a
        ``TransformedTargetRegressor`` around one is adapted through its
        transforms (:func:`skhyre.pipeline.adaptable`).
    X_pool, y_pool : array-like
        Candidates to label and their labels.
    n_labels : sequence of int, default=(1, 5, 10, 20, 40)
    criterion : str, default="random"
        ``"random"`` or an acquisition criterion (``"auto"``, ``"bald"``,
        ``"entropy"``, ``"variance"``).
    n_repeats : int, default=1
        Repeats (different random draws; active selection with
        ``sampling="top"`` is deterministic given the weights, so its
        repeats differ only through ties).
    X_test, y_test : array-like, default=None
        Evaluation set; by default the unlabelled rest of the pool.
    random_state : int, RandomState instance or None, default=None
    sampling : {"top", "power"}, default="top"
        For an active ``criterion``: the top-scoring example at each step, or
        one drawn with probability proportional to its score (the
        estimators' ``active_adapt``); with ``"power"`` every repeat draws
        anew.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name (``"neg_root_mean_squared_error"``...) or
        a callable ``(estimator, X, y) -> float``; ``None`` uses the
        estimator's ``score`` (accuracy, R²).

    Returns
    -------
    Bunch
        ``n_labels`` (tuple), ``scores`` (n_repeats, len(n_labels)),
        ``uniform`` (score with uniform weights on the same evaluation rows
        as ``scores``, same shape), ``mean`` and ``std`` over repeats.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HyReClassifier
    >>> from skhyre.evaluation import adaptation_curve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 2)); y = (X[:, 0] > 0).astype(int)
    >>> clf = HyReClassifier(n_members=4, max_epochs=2, random_state=0).fit(X, y)
    >>> res = adaptation_curve(clf, X, y, n_labels=(1, 5), n_repeats=2, random_state=0)
    >>> res.scores.shape
    (2, 2)
    """
    ns = _check_n_labels(n_labels)
    n_repeats = _check_n_repeats(n_repeats)
    sampling = check_sampling(sampling)
    # X stays as given (a DataFrame keeps its column names, a sparse matrix stays
    # sparse); rows are taken with sklearn's _safe_indexing
    y_pool = np.asarray(y_pool)
    check_consistent_length(X_pool, y_pool)
    n = _num_samples(X_pool)
    if (X_test is None) != (y_test is None):
        raise ValueError("Give both X_test and y_test, or neither.")
    if X_test is not None:
        check_consistent_length(X_test, y_test)
    if max(ns) > n:
        raise ValueError(f"n_labels up to {max(ns)} is larger than the pool of {n} examples.")
    if X_test is None and max(ns) == n:
        raise ValueError(
            f"n_labels up to {max(ns)} leaves nothing to score in the pool of {n} "
            "examples: without X_test, at least one pool example must stay unlabelled."
        )
    estimator = adaptable(estimator)
    scorer = check_scoring(estimator, scoring=scoring)
    rng = check_random_state(random_state)
    scores = np.empty((n_repeats, len(ns)))
    uniform = np.empty((n_repeats, len(ns)))
    try:
        _fill_curve(
            estimator,
            X_pool,
            y_pool,
            X_test,
            y_test,
            ns,
            criterion,
            rng,
            scores,
            uniform,
            sampling,
            scorer,
        )
    finally:
        estimator.reset_weights()
    return Bunch(
        n_labels=ns,
        scores=scores,
        uniform=uniform,
        mean=scores.mean(axis=0),
        std=scores.std(axis=0),
    )


def _fill_curve(
    estimator, X_pool, y_pool, X_test, y_test, ns, criterion, rng, scores, uniform, sampling, scorer
):
    n = _num_samples(X_pool)
    for r in range(scores.shape[0]):
        for c, n_lab in enumerate(ns):
            estimator.reset_weights()
            if criterion == "random":
                idx = rng.choice(n, size=n_lab, replace=False)
                estimator.adapt(_safe_indexing(X_pool, idx), y_pool[idx])
            else:
                estimator.active_adapt(
                    X_pool,
                    y_pool,
                    n_queries=n_lab,
                    criterion=criterion,
                    random_state=rng,
                    sampling=sampling,
                )
                idx = estimator.queried_indices_
            if X_test is None:
                rest = np.setdiff1d(np.arange(n), idx)
                Xe, ye = _safe_indexing(X_pool, rest), y_pool[rest]
            else:
                Xe, ye = X_test, y_test
            scores[r, c] = scorer(estimator, Xe, ye)
            estimator.reset_weights()
            uniform[r, c] = scorer(estimator, Xe, ye)


def leave_one_group_out(
    estimator,
    X,
    y,
    groups,
    n_labels=(1, 5, 10, 20, 40),
    *,
    criterion: str = "random",
    n_repeats: int = 5,
    fit_groups: bool | str = "auto",
    random_state=None,
    verbose: bool = False,
    sampling: str = "top",
    scoring=None,
) -> Bunch:
    """Personalize to annotators never seen in training.

    For each annotator ``g``: fit a clone of ``estimator`` on the other
    annotators' examples (passing their ids as ``groups`` when
    ``fit_groups``), then run :func:`adaptation_curve` on ``g``'s examples
    (labels from ``g``, scored on ``g``'s unlabelled rest).

    Parameters
    ----------
    estimator : unfitted HyRe estimator
    X, y : array-like
    groups : array-like of shape (n_samples,)
        Annotator id of every example.
    n_labels : sequence of int, default=(1, 5, 10, 20, 40)
    criterion : str, default="random"
    n_repeats : int, default=5
    fit_groups : bool or "auto", default="auto"
        ``True`` passes ``groups`` to ``fit`` (annotator-aware training; an
        error if ``estimator.fit`` has no ``groups`` parameter); ``False``
        fits on the pooled labels; ``"auto"`` passes ``groups`` when
        ``estimator.fit`` takes it (the torch estimators) and pools the
        labels otherwise (e.g. :class:`~skhyre.HyReEnsemble`, a Pipeline).
    random_state : int, RandomState instance or None, default=None
    verbose : bool, default=False
        Show a progress bar over annotators.
    sampling : {"top", "power"}, default="top"
        For an active ``criterion``, as in :func:`adaptation_curve`.
    scoring : str, callable or None, default=None
        As in :func:`adaptation_curve`.

    Returns
    -------
    Bunch
        ``groups`` (the held-out ids), ``n_labels``, ``scores``
        (G, n_repeats, len(n_labels)), ``uniform`` (same shape), ``mean`` and
        ``std`` over annotators and repeats (len(n_labels),).

    Examples
    --------
    >>> from skhyre import HyReClassifier
    >>> from skhyre.datasets import make_preference_labelers
    >>> from skhyre.evaluation import leave_one_group_out
    >>> d = make_preference_labelers(n_samples=300, n_labelers=3, random_state=0)
    >>> res = leave_one_group_out(HyReClassifier(n_members=4, max_epochs=2, random_state=0),
    ...                           d.X, d.y, d.groups, n_labels=(1, 5), n_repeats=1)
    >>> res.scores.shape
    (3, 1, 2)
    """
    y = np.asarray(y)
    check_consistent_length(X, y)
    n = _num_samples(X)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have shape ({n},), got {g.shape}.")
    ids = np.unique(g)
    if ids.size < 2:
        raise ValueError("leave_one_group_out needs at least 2 annotators (groups).")
    ns = _check_n_labels(n_labels)
    n_repeats = _check_n_repeats(n_repeats)
    sampling = check_sampling(sampling)
    if fit_groups == "auto":
        fit_groups = _fit_accepts_groups(estimator)
    elif not isinstance(fit_groups, (bool, np.bool_)):
        raise ValueError(f'fit_groups must be True, False or "auto", got {fit_groups!r}.')
    elif fit_groups and not _fit_accepts_groups(estimator):
        raise ValueError(
            f"fit_groups=True, but {type(estimator).__name__}.fit takes no groups "
            'parameter; use fit_groups=False (or "auto") to fit on the pooled labels.'
        )
    rng = check_random_state(random_state)
    all_scores, all_uniform = [], []
    it = ids
    if verbose:
        from tqdm.auto import tqdm

        it = tqdm(ids, desc="held-out annotators", leave=False)
    for gid in it:
        held = g == gid
        train = np.flatnonzero(~held)
        est = clone(estimator)
        if fit_groups:
            est.fit(_safe_indexing(X, train), y[train], groups=g[train])
        else:
            est.fit(_safe_indexing(X, train), y[train])
        res = adaptation_curve(
            est,
            _safe_indexing(X, np.flatnonzero(held)),
            y[held],
            ns,
            criterion=criterion,
            n_repeats=n_repeats,
            random_state=rng,
            sampling=sampling,
            scoring=scoring,
        )
        all_scores.append(res.scores)
        all_uniform.append(res.uniform)
    scores = np.stack(all_scores)
    return Bunch(
        groups=ids,
        n_labels=ns,
        scores=scores,
        uniform=np.stack(all_uniform),
        mean=scores.mean(axis=(0, 1)),
        std=scores.std(axis=(0, 1)),
    )
