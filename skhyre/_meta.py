"""HyReEnsemble: Hypothesis Reweighting over any scikit-learn models.

A meta-estimator in the style of :class:`~sklearn.ensemble.VotingRegressor` /
:class:`~sklearn.ensemble.VotingClassifier`. Its members are either a list of
``(name, estimator)`` pairs, or the fitted ``estimators_`` of one
bagging-style ensemble (random forest, extra trees, bagging). The test-time
half (``adapt``, ``partial_adapt``, ``query``, ``active_adapt``, the weights)
is :class:`~skhyre._adaptation.AdaptationMixin`, shared with the torch
estimators; this module only turns the members into the engine's cached
matrix: ``(K, n)`` predictions (regression) or ``(K, n, C)`` probabilities
aligned to ``classes_`` (classification).

Sub-estimators of scikit-learn's classification ensembles are fitted on
*encoded* labels (their ``classes_`` are ``0..C-1``): their outputs are mapped
through the parent ensemble's ``classes_``. Bagging sub-estimators that see a
feature subset (``estimators_features_``) get those columns only.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.tree import BaseDecisionTree
from sklearn.utils import Bunch, ClassifierTags, RegressorTags, get_tags
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_y,
    _num_samples,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import _kernels, losses
from ._adaptation import AdaptationMixin, keep_state_on_failure
from ._members import (
    ENCODED_LABEL_ENSEMBLES,
    MemberSpec,
    active_pairs,
    common_task,
    fit_one,
    input_tags,
    is_member_list,
    label_kind,
    member_output,
    target_scale,
    task_of,
    unwrap,
)
from ._proba import as_probabilities
from ._validation import (
    check_finite_proba,
    check_real_labels,
    encode_known_labels,
    warn_nonfinite_predictions,
)

__all__ = ["HyReEnsemble"]

_REGRESSION_LOSSES = losses.names("regression", losses.Units())  # no noise model here
_CLASSIFICATION_LOSSES = losses.names("classification")


class HyReEnsemble(AdaptationMixin, _BaseComposition):
    """Hypothesis Reweighting over any fitted scikit-learn models.

    The members (a list of models, or the trees of one forest) are combined
    with weights ``w = softmax(-L / temperature)``, ``L`` their cumulative
    loss on a few labelled examples of the target distribution (uniform
    after ``fit``). ``adapt`` reweights from those examples with one
    prediction pass and no refitting; ``predict`` is the weighted mean of the
    members (regression) or the most probable class of the weighted average
    of their probabilities (classification).

    Regression or classification is decided by the members: all must be
    regressors, or all classifiers.

    Parameters
    ----------
    estimators : list of (str, estimator) or estimator
        The members: a list of ``(name, estimator)`` pairs (a member set to
        ``"drop"`` is left out), or one bagging-style ensemble (for example
        :class:`~sklearn.ensemble.RandomForestRegressor`,
        :class:`~sklearn.ensemble.ExtraTreesClassifier`,
        :class:`~sklearn.ensemble.BaggingClassifier`) whose fitted
        ``estimators_`` become the members.
    temperature : float, "auto" or "evidence", default="auto"
        HyRe softmax temperature (> 0; ``inf`` keeps the weights uniform),
        in units of the adaptation loss, or
        ``"auto"``: re-chosen at every adaptation by leave-one-out predictive
        loss, never below the ``"evidence"`` temperature for ``"squared"``
        and ``"absolute"``, with left-out predictions scored by their log
        loss under ``"zero_one"`` (see
        :func:`skhyre.reweighting.auto_temperature`); one example gives it
        no evidence, so it keeps the weights uniform,
        or
        ``"evidence"``: the empirical-Bayes temperature of the loss's noise
        model (see :func:`skhyre.reweighting.evidence_temperature`).
        The default is ``"auto"`` (before: ``1.0``), uncapped: on the zoo
        panel (``benchmarks/results/zoo_panel.md``: a 14-model zoo and a
        forest's 100 trees on 18 shifted tasks, N = 1 to 32 labels) it is
        better than ``T=1`` in more cells than it is worse (development
        tasks 28 / 17 of 112, held out 11 / 3 of 32), and worse than the
        uniform ensemble in fewer (14 and 3 cells; ``T=1``: 20 and 10);
        ``T=1`` can pile the weight onto a few trees that happen to fit the
        labels. It is not never-worse than ``T=1``: with one label it stays
        uniform where ``T=1`` already gains on a zoo, and on a forest with
        5-10 labels it can choose a sharper temperature than 1 (user guide,
        :ref:`default-temperature`).
        Changed with ``set_params`` after adapting, it takes effect at the next
        ``adapt``, ``partial_adapt`` or ``active_adapt``, which re-weight all
        examples seen since the last reset; until then ``weights_``,
        ``predict`` and ``query`` keep the weights they have.
    adapt_loss : str or callable, default=None
        Per-example loss used to reweight. Regression: ``"squared"``
        (default) or ``"absolute"``, scale-free (in units of the training
        target's standard deviation: squared error divided by
        ``var(y_train)``). Classification: ``"zero_one"`` (default),
        ``"log_loss"`` or ``"brier"``. A callable gets ``(member_predictions,
        y)``: ``(K, n)`` predictions in original units and the targets, or
        ``(K, n, C)`` probabilities and class indices into ``classes_``, and
        returns ``(K, n)`` losses; with ``temperature="auto"`` it is also
        called on the leave-one-out weighted predictions (one row per
        candidate temperature), so it must treat rows independently.
    prefit : bool, default=False
        If False, ``fit`` fits clones of the members (a bagging-style ensemble
        is refitted as a clone). If True, the members are used as they are
        (they must be fitted); ``fit(X, y)`` only validates them and records
        ``y``'s scale (regression) and labels (classification). ``clone``
        unfits them, so to cross-validate wrap fitted members in
        :class:`~sklearn.frozen.FrozenEstimator` instead.
    n_jobs : int, default=None
        Jobs to fit a list of members in parallel (processes) and to predict
        with the members (threads). ``None`` means 1 unless in a
        :obj:`joblib.parallel_backend` context; ``-1`` all processors.
    max_temperature : float or None, default=None
        Cap on a data-driven temperature (``"auto"``, ``"evidence"``): the
        temperature chosen is at most this, so the weights are never flatter
        than at this fixed temperature (``1``: never flatter than the paper's
        rule, the torch regressors' and classifiers' default). Here no cap:
        flatter than ``T=1`` is what helps members whose average beats each
        of them (a forest's trees); on the zoo panel ``max_temperature=1``
        was worse than the uniform ensemble in 24 development and 10
        held-out cells, the uncapped rule in 14 and 3. ``None`` or ``inf``:
        no cap. Ignored with a fixed temperature.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members (for an ensemble, its fitted ``estimators_``).
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The members by name (an ensemble's are named after their class and
        position, such as ``decisiontreeregressor_0``).
    ensemble_ : estimator
        The fitted bagging-style ensemble (only when ``estimators`` is one).
    classes_ : ndarray of shape (n_classes,)
        Classification only: the union of the training labels and of the
        members' classes. A member that never saw a class gives it
        probability 0.
    y_scale_ : float
        Regression only: standard deviation of the training target (1 if
        it is constant), the unit of the adaptation loss.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` has string feature names.
    weights_, log_weights_, cumulative_loss_ : ndarray of shape (n_members,)
    n_adapt_samples_ : int
    temperature_ : float
        Temperature behind ``weights_`` (``inf`` = uniform).
    queried_indices_ : ndarray
        Pool indices picked by the last :meth:`active_adapt`, in order;
        removed by :meth:`adapt`, :meth:`reset_weights` and ``fit``.

    See Also
    --------
    HyReRegressor, HyReClassifier, HypothesisWeights
    sklearn.ensemble.VotingRegressor, sklearn.ensemble.VotingClassifier

    Notes
    -----
    ``X`` is validated once by the meta-estimator (feature count and names,
    finiteness) and then passed to the members as given. NaN is accepted only
    when every member accepts it (a Pipeline member: when its first step
    does); infinite values never are. When every member reads raw text (a
    vectorizer first), ``X`` goes to them unchecked, as in
    :class:`~sklearn.ensemble.VotingClassifier`.

    Member predictions are kept in float32, like the torch estimators'. Class
    probabilities within about ``1e-7`` of a tie therefore become an exact
    tie: :meth:`predict` then returns the first of the tied classes in
    ``classes_`` (a member's own ``predict`` may pick the other), and the
    0-1 adaptation loss charges such a member 1/2.

    Examples
    --------
    Reweight the trees of a random forest on a shifted target:

    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from skhyre import HyReEnsemble
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X[:, 0] + 0.1 * rng.normal(size=200)
    >>> forest = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0)
    >>> hyre = HyReEnsemble(forest).fit(X, y)
    >>> hyre.predict_members(X[:5]).shape
    (10, 5)
    >>> X_new = rng.normal(loc=2.0, size=(40, 3))
    >>> y_new = X_new[:, 0]
    >>> hyre.adapt(X_new[:8], y_new[:8]).weights_.shape
    (10,)
    >>> hyre.predict(X_new[8:]).shape
    (32,)

    A list of heterogeneous classifiers with string labels; the SVC has no
    ``predict_proba`` and votes with its predicted class:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.svm import SVC
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> labels = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    >>> clf = HyReEnsemble(
    ...     [
    ...         ("lr", LogisticRegression()),
    ...         ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
    ...         ("svc", SVC()),
    ...     ],
    ...     temperature="auto",
    ... ).fit(X, labels)
    >>> clf.classes_
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict_members(X[:4]).shape
    (3, 4, 2)
    >>> clf.active_adapt(X[100:], oracle=labels[100:], n_queries=5).queried_indices_.shape
    (5,)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimators": [list, HasMethods(["fit", "predict"])],
        "temperature": [
            Interval(Real, 0, np.inf, closed="right"),  # inf: the uniform ensemble
            StrOptions({"auto", "evidence"}),
        ],
        "max_temperature": [None, Interval(Real, 0, np.inf, closed="right")],
        "adapt_loss": [
            None,
            StrOptions({*_REGRESSION_LOSSES, *_CLASSIFICATION_LOSSES}),
            callable,
        ],
        "prefit": ["boolean"],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        estimators,
        temperature="auto",
        adapt_loss=None,
        prefit=False,
        n_jobs=None,
        max_temperature=None,
    ):
        self.estimators = estimators
        self.temperature = temperature
        self.max_temperature = max_temperature
        self.adapt_loss = adapt_loss
        self.prefit = prefit
        self.n_jobs = n_jobs

    # ------------------------------------------------------------- params
    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator and, with ``deep``, of its members.

        Members of a list are addressed by name (``"lr__C"``), a single
        ensemble as ``"estimators__n_estimators"``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the members' parameters.

        Returns
        -------
        params : dict
        """
        if is_member_list(self.estimators):
            return self._get_params("estimators", deep=deep)
        return BaseEstimator.get_params(self, deep=deep)

    def set_params(self, **params):
        """Set parameters, including members' (``name`` or ``name__param``).

        Parameters
        ----------
        **params : keyword arguments

        Returns
        -------
        self : HyReEnsemble
        """
        return self._set_params("estimators", **params)

    # --------------------------------------------------------------- task
    def _task_from_params(self) -> str | None:
        """The task the (unfitted) members describe, or None if undecidable."""
        try:
            if is_member_list(self.estimators):
                return common_task(active_pairs(self.estimators))
            return task_of(self.estimators)
        except (TypeError, ValueError):
            return None

    @property
    def _task(self) -> str:
        fitted = self.__dict__.get("_fitted_task")
        if fitted is not None:
            return fitted
        return self._task_from_params() or "regression"

    @property
    def _adapt_loss_names(self) -> tuple[str, ...]:
        # no noise model of its own: no "gaussian_nll" for a regression ensemble
        return losses.names(self._loss_task, losses.Units())

    def _param_members(self) -> list:
        try:
            if is_member_list(self.estimators):
                return [est for _, est in active_pairs(self.estimators)]
        except (TypeError, ValueError):
            return []
        return [self.estimators] if hasattr(self.estimators, "fit") else []

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        task = self._task_from_params()
        if task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        members = self._param_members()
        if members:
            inputs = [input_tags(est) for est in members]
            tags.input_tags.allow_nan = all(t.allow_nan for t in inputs)
            tags.input_tags.sparse = all(t.sparse for t in inputs)
            # members that read raw text (a vectorizer first) take no 2-D array
            tags.input_tags.string = all(t.string for t in inputs)
            tags.input_tags.two_d_array = any(t.two_d_array for t in inputs)
            tags.non_deterministic = any(get_tags(est).non_deterministic for est in members)
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "estimators_") and hasattr(self, "weights_")

    def _n_members_fitted(self) -> int:
        return len(self.estimators_)

    # ---------------------------------------------------------------- fit
    def _validate_X(self, X, y=None, reset: bool = False):
        """Validate X (and y at fit); NaN and sparse X only where every member takes them.

        When every member reads raw text (``string`` input tag, no 2-D array),
        X goes to the members as given, as in :class:`~sklearn.ensemble.VotingClassifier`.
        """
        if reset:  # decided by the members being fitted, kept for prediction
            input_tags = get_tags(self).input_tags
            raw = input_tags.string and not input_tags.two_d_array
            self._input_rules = (input_tags.sparse, input_tags.allow_nan, raw)
        sparse_ok, nan_ok, raw = self._input_rules
        if raw:
            if _num_samples(X) == 0:
                raise ValueError("X has 0 samples; HyReEnsemble needs at least one.")
            if reset:
                validate_data(self, X, reset=True, skip_check_array=True)
                y = _check_y(y, y_numeric=self._task_from_params() == "regression")
                check_consistent_length(X, y)
                return X, y
            return validate_data(self, X, reset=False, skip_check_array=True)
        kwargs = dict(
            dtype=None,
            accept_sparse=["csr", "csc"] if sparse_ok else False,
            ensure_all_finite="allow-nan" if nan_ok else True,
        )
        if reset:
            return validate_data(
                self,
                X,
                y,
                reset=True,
                multi_output=False,
                y_numeric=self._task_from_params() == "regression",
                **kwargs,
            )
        return validate_data(self, X, reset=False, **kwargs)

    def _check_adapt_loss_for(self, task: str) -> None:
        loss = self.adapt_loss
        names = _CLASSIFICATION_LOSSES if task == "classification" else _REGRESSION_LOSSES
        if loss is not None and not callable(loss) and loss not in names:
            raise ValueError(
                f"adapt_loss={loss!r} does not fit a {task} HyReEnsemble; "
                f"choose one of {list(names)} or pass a callable."
            )

    @_fit_context(prefer_skip_nested_validation=False)
    @keep_state_on_failure
    def fit(self, X, y):
        """Fit (or, with ``prefit=True``, validate) the members; weights start uniform.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs, passed to the members as given.
        y : array-like of shape (n_samples,)
            Targets (regression) or class labels (classification). With
            ``prefit=True`` they only set the loss scale (regression) and add
            to ``classes_`` (classification).

        Returns
        -------
        self : HyReEnsemble
        """
        if is_member_list(self.estimators):
            pairs = active_pairs(self.estimators)
            self._validate_names([name for name, _ in self.estimators])
            task = common_task(pairs)
        else:
            pairs = None
            task = task_of(self.estimators)
            if task is None:
                raise ValueError(
                    f"estimators={type(self.estimators).__name__} is neither a classifier "
                    "nor a regressor ensemble; pass a list of (name, estimator) pairs or a "
                    "bagging-style ensemble such as RandomForestRegressor."
                )
        self._check_temperature_param()
        self._check_adapt_loss_for(task)
        if not callable(self.adapt_loss):
            default = "zero_one" if task == "classification" else "squared"
            self._check_evidence_loss(self.adapt_loss or default)
        else:
            self._check_evidence_loss(None)
        X_valid, y_valid = self._validate_X(X, y, reset=True)
        if task == "classification":
            check_classification_targets(y_valid)
        else:
            scale = target_scale(y_valid)
            with np.errstate(over="ignore", invalid="ignore"):
                center = float(np.mean(np.asarray(y_valid, dtype=np.float64)))

        n_features = X_valid.shape[1] if hasattr(X_valid, "shape") and X_valid.ndim == 2 else None
        if pairs is not None:
            members, names = self._fit_list(pairs, X, y_valid, n_features)
            parent = None
        else:
            parent = self._fit_ensemble(X, y_valid, n_features)
            members = self._sub_estimators(parent, task)
            names = [f"{type(est).__name__.lower()}_{i}" for i, est in enumerate(members)]

        specs = [MemberSpec(est) for est in members]
        if parent is not None:
            features = getattr(unwrap(parent), "estimators_features_", None)
            if features is not None:
                for spec, feats in zip(specs, features):
                    spec.features = np.asarray(feats)
        if task == "classification":
            classes = self._classes_from(y_valid, specs, names, parent)

        # assign the fitted state only now: a failure above leaves the old one
        self._fitted_task = task
        self.estimators_ = members
        self.named_estimators_ = Bunch(**dict(zip(names, members)))
        self._members = specs
        self._trees_only = all(isinstance(unwrap(m), BaseDecisionTree) for m in members)
        if parent is not None:
            self.ensemble_ = parent
        elif hasattr(self, "ensemble_"):
            del self.ensemble_
        if task == "classification":
            self.classes_ = classes
            self.__dict__.pop("y_scale_", None)
            self.__dict__.pop("_y_center", None)
        else:
            self.y_scale_ = scale
            # the training target's mean, for NoMemberFitsWarning's diagnosis only
            self._y_center = center if np.isfinite(center) else None
            self.__dict__.pop("classes_", None)
        self._init_adaptation_state()
        return self

    def _check_n_features(self, est, name: str, n_features: int | None) -> None:
        n = getattr(est, "n_features_in_", None)
        if n is not None and n_features is not None and n != n_features:
            raise ValueError(
                f"Member {name!r} ({type(est).__name__}) was fitted with {n} features, "
                f"but X has {n_features} features."
            )

    def _check_prefit(self, est, name: str) -> None:
        try:
            check_is_fitted(est)
        except NotFittedError:
            raise NotFittedError(
                f"prefit=True but member {name!r} ({type(est).__name__}) is not fitted; "
                "fit it first or use prefit=False. Under cross_val_score or GridSearchCV, "
                "HyReEnsemble is cloned and so are its members, which unfits them: wrap "
                "fitted members in sklearn.frozen.FrozenEstimator instead."
            ) from None

    def _fit_list(self, pairs, X, y, n_features: int | None):
        names = [name for name, _ in pairs]
        if self.prefit:
            for name, est in pairs:
                self._check_prefit(est, name)
                self._check_n_features(est, name, n_features)
            return [est for _, est in pairs], names
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(fit_one)(clone(est), X, y) for _, est in pairs
        )
        return list(fitted), names

    def _fit_ensemble(self, X, y, n_features: int | None):
        est = self.estimators
        if self.prefit:
            self._check_prefit(est, "estimators")
            self._check_n_features(est, "estimators", n_features)
            return est
        return clone(est).fit(X, y)

    def _sub_estimators(self, parent, task: str) -> list:
        subs = getattr(parent, "estimators_", None)
        name = type(unwrap(parent)).__name__
        if subs is None:
            raise ValueError(
                f"estimators={name} has no estimators_ after fit: pass a list of "
                "(name, estimator) pairs, or a bagging-style ensemble (RandomForest*, "
                "ExtraTrees*, Bagging*) whose fitted estimators_ become the members."
            )
        if isinstance(subs, np.ndarray) and subs.ndim != 1:
            raise ValueError(
                f"estimators_ of {name} has shape {subs.shape}: its members are boosting "
                "stages that only make sense summed, not alternative hypotheses. Pass a "
                "bagging-style ensemble or a list of (name, estimator) pairs."
            )
        subs = list(subs)
        if not subs or not all(hasattr(s, "predict") for s in subs):
            raise ValueError(
                f"estimators_ of {name} is not a non-empty list of fitted estimators; "
                "HyReEnsemble needs one prediction function per member."
            )
        sub_task = common_task(
            [(f"{type(s).__name__.lower()}_{i}", s) for i, s in enumerate(subs)],
            what=f"Sub-estimator of {name}",
        )
        if sub_task != task:
            raise ValueError(f"{name} is a {task} ensemble but its estimators_ do {sub_task}.")
        return subs

    def _classes_from(self, y, specs: list[MemberSpec], names: list[str], parent) -> np.ndarray:
        """classes_ = union of y's labels and the members' (mapped) classes; fills specs."""
        y_labels = np.unique(y)
        parent_classes = None
        encoded = False
        if parent is not None:
            parent_classes = np.asarray(parent.classes_)
            encoded = isinstance(unwrap(parent), ENCODED_LABEL_ENSEMBLES)
        member_labels = []
        for spec, name in zip(specs, names):
            est = spec.estimator
            own = getattr(est, "classes_", None)
            spec.use_proba = hasattr(est, "predict_proba")
            if own is None:
                if spec.use_proba:
                    raise ValueError(
                        f"Member {name!r} ({type(est).__name__}) has predict_proba but no "
                        "classes_: its probability columns cannot be matched to labels."
                    )
                if parent_classes is not None and encoded:
                    spec.label_map = parent_classes
                member_labels.append(None)
                continue
            own = np.asarray(own)
            if own.ndim != 1:
                raise ValueError(
                    f"Member {name!r} ({type(est).__name__}) is multi-output "
                    f"(classes_ of shape {own.shape}); HyReEnsemble needs one label per row."
                )
            if parent_classes is not None:
                use_map = encoded or not np.all(np.isin(own, parent_classes))
                if use_map:
                    idx = own.astype(np.float64)
                    ok = np.all(idx == np.round(idx)) and np.all(
                        (idx >= 0) & (idx < parent_classes.shape[0])
                    )
                    if not ok:
                        raise ValueError(
                            f"Sub-estimator {name!r} has classes_ {own.tolist()} that are "
                            f"neither labels of {type(unwrap(parent)).__name__} "
                            f"({parent_classes.tolist()}) nor indices into them."
                        )
                    spec.label_map = parent_classes
                    own = parent_classes[idx.astype(np.int64)]
            member_labels.append(own)
        kinds = {label_kind(y_labels)} | {label_kind(m) for m in member_labels if m is not None}
        if len(kinds) > 1:
            raise ValueError(
                f"The labels of y and of the members mix types ({sorted(kinds)}): "
                "members must be fitted on labels of the same type as y."
            )
        classes = y_labels
        for labels in member_labels:
            if labels is not None:
                classes = np.union1d(classes, labels)
        for spec, labels in zip(specs, member_labels):
            if labels is not None:
                spec.columns = np.searchsorted(classes, labels).astype(np.int64)
        return classes

    # ------------------------------------------------------------ members
    def _member_input(self, X):
        """(input for the members, n_samples); the ensemble's sub-estimators get arrays."""
        X_valid = self._validate_X(X)
        n = _num_samples(X_valid)
        if not hasattr(self, "ensemble_"):
            return X, n  # top-level members validate X themselves (keeps feature names)
        if self._trees_only:  # convert once rather than once per tree
            X_valid = check_array(
                X_valid, dtype=np.float32, accept_sparse="csr", ensure_all_finite=False
            )
        return X_valid, n

    def predict_members(self, X) -> np.ndarray:
        """Every member's prediction: ``(K, n)`` values or ``(K, n, C)`` probabilities.

        Regression: float64 predictions in the target's units. Classification:
        float32 probabilities aligned to ``classes_`` (one-hot votes for a member
        without ``predict_proba``; 0 for a class a member never saw).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_members, n_samples) or (n_members, n_samples, n_classes)
        """
        check_is_fitted(self)
        X_in, n = self._member_input(X)
        task = self._task
        classes = getattr(self, "classes_", None)
        K = len(self._members)
        if task == "regression":
            out = np.empty((K, n), dtype=np.float64)
        else:
            out = np.zeros((K, n, classes.shape[0]), dtype=np.float32)
        # trees of the forest get the float32 array _member_input made for them
        checked = self._trees_only and hasattr(self, "ensemble_")
        jobs = (
            delayed(member_output)(m, X_in, n, task, classes, out[k], checked)
            for k, m in enumerate(self._members)
        )
        if effective_n_jobs(self.n_jobs) == 1:  # honours a joblib context
            for fn, args, kwargs in jobs:
                fn(*args, **kwargs)
        else:  # threads: each member fills its own row
            Parallel(n_jobs=self.n_jobs, prefer="threads")(jobs)
        return out

    _member_matrix = predict_members

    def predict(self, X, return_std: bool = False):
        """Weighted prediction of the members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Regression only: also return the weighted standard deviation of
            the members' predictions.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Weighted mean (regression) or most probable class of the weighted
            average of probabilities (classification).
        y_std : ndarray of shape (n_samples,), only with ``return_std=True``
        """
        check_is_fitted(self)
        if self._task == "classification":
            if return_std:
                raise ValueError("return_std=True is only available for regression.")
            M = self.predict_members(X)
            P = _kernels.mixture(M, self.weights_)

            def culprits(bad):  # argmax would silently call those rows classes_[0]
                broken = ~np.isfinite(M[:, bad]).all(axis=(1, 2)) & (self.weights_ > 0)
                return [list(self.named_estimators_)[k] for k in np.flatnonzero(broken)]

            check_finite_proba(P, culprits)
            return self.classes_[np.argmax(P, axis=1)]
        mean, std = _kernels.weighted_mean_std(self.predict_members(X), self.weights_)
        warn_nonfinite_predictions(mean)
        return (mean, std) if return_std else mean

    def _is_classification(self) -> bool:
        return self._task == "classification"

    @available_if(_is_classification)
    def predict_proba(self, X) -> np.ndarray:
        """Weighted average of the members' class probabilities (classification).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
            Rows in ``[0, 1]`` summing to 1 within float64 rounding.
        """
        return as_probabilities(_kernels.mixture(self.predict_members(X), self.weights_))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classification) or :math:`R^2` (regression) under the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        y_pred = self.predict(X)
        if self._task == "classification":
            return float(accuracy_score(y, y_pred, sample_weight=sample_weight))
        return float(r2_score(y, y_pred, sample_weight=sample_weight))

    # -------------------------------------------------------------- adapt
    def _encode_adapt_y(self, y) -> np.ndarray:
        arr = np.asarray(y)
        check_real_labels(arr)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"y must be 1-D, got shape {arr.shape}.")
        if self._task == "regression":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"y must be numeric for a regression ensemble: {exc}") from None
            if not np.isfinite(arr).all():
                raise ValueError("y contains NaN or inf.")
            return arr
        return encode_known_labels(arr, self.classes_)

    @property
    def _loss_task(self) -> str:
        return "classification" if self._task == "classification" else "regression"

    def _loss_units(self) -> losses.Units:
        # regression losses in units of the training target's standard deviation
        if self._task == "regression":
            return losses.Units(target_scale=self.y_scale_)
        return losses.Units()

    def _target_center(self) -> float | None:
        return self.__dict__.get("_y_center")  # None in pickles from before it was kept

    def _target_unit(self) -> float:
        return self.y_scale_ if self._task == "regression" else 1.0
