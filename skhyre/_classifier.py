"""HyReClassifier: an efficient torch ensemble classifier that adapts from a few labels."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from . import losses
from ._adaptation import keep_state_on_failure
from ._proba import as_probabilities
from ._torch_base import TorchHyReBase
from ._validation import check_finite_proba, check_real_labels, encode_known_labels

__all__ = ["HyReClassifier"]


class HyReClassifier(ClassifierMixin, TorchHyReBase):
    """Classification by an efficient ensemble reweighted at test time (HyRe).

    ``fit`` trains ``K`` members at once (by default a Shared-Base ensemble
    with frozen random priors) with the sum over members of the
    cross-entropy. ``adapt`` reweights the members from a few labelled
    target examples by their cumulative 0-1 error, ``w = softmax(-L /
    temperature)``, with no gradient step; ``predict_proba`` is the weighted
    average of the members' probabilities.

    Parameters
    ----------
    ensemble : {"shared_base", "epinet", "vanilla", "mc_dropout"}, default="shared_base"
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
    prior_scale : float, default=1.0
        Scale of the frozen random prior's logits.
    index_dim : int, default=8
    dropout : float, default=0.1
    max_epochs : int, default=100
        Epochs per ``fit`` (and per ``partial_fit``); with
        ``early_stopping=True``, the most (set it higher, e.g. 1000).
    batch_size : int, default=128
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    temperature : float, "auto" or "evidence", default="auto"
        HyRe softmax temperature (> 0; ``inf`` keeps the weights uniform),
        or ``"auto"`` (leave-one-out choice; under ``"zero_one"`` the
        left-out weighted predictions are scored by their log loss; see
        :func:`skhyre.reweighting.auto_temperature`),
        or ``"evidence"`` (the empirical-Bayes temperature of the loss's noise
        model: 1 for ``"log_loss"``, for ``"zero_one"`` an error rate, spread
        over the other classes, fitted to the labels; see :func:`skhyre.reweighting.evidence_temperature`).
        Changed with ``set_params`` after adapting, it takes effect at the next
        ``adapt``, ``partial_adapt`` or ``active_adapt``, which re-weight all
        examples seen since the last reset; until then ``weights_``,
        ``predict`` and ``query`` keep the weights they have.
        The default, ``"auto"`` capped by ``max_temperature=1``, was chosen
        on the shift panel (``benchmarks/results/shift_panel.md``): on 18
        shifted tasks it is never worse than the paper's ``T=1`` nor than the
        uniform ensemble, and better than ``T=1`` on up to 9 of 14
        development tasks as labels accrue (user guide, "Which temperature").
    max_temperature : float or None, default=1.0
        Cap on a data-driven temperature (``"auto"``, ``"evidence"``): the
        temperature chosen is at most this, so the weights are never flatter
        than at this fixed temperature (the paper's ``T=1`` by default; on
        the shift panel the uncapped searches sometimes chose a temperature
        near 10 and lost what ``T=1`` gained). ``None`` or ``inf``: no cap.
        Ignored with a fixed temperature.
    adapt_loss : {"zero_one", "log_loss", "brier"} or callable, default=None
        Per-example loss used to reweight (``None``: ``"zero_one"``, the
        paper's choice). A callable gets ``(member_probabilities (K, n, C),
        y (n,) class indices into classes_)`` and returns ``(K, n)`` losses;
        with ``temperature="auto"`` it is also called on the leave-one-out
        weighted probabilities, ``(G, n, C)`` with one row per candidate
        temperature, so it must treat rows independently.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        ``1`` prints skorch's epoch table.
    training : {"auto", "pooled", "by_group", "mixed"}, default="auto"
        How members use annotator ids given to ``fit(X, y, groups=...)``:
        ``"pooled"`` every member learns from every example; ``"by_group"``
        members are split among annotators (several per annotator are
        trained on bootstrap resamples of its examples); ``"mixed"`` each
        member learns from its annotator's examples plus everyone else's,
        which together carry the fraction ``group_share`` of its training
        weight. ``"auto"`` is ``"pooled"`` without
        groups and ``"by_group"`` with them; with ``"mc_dropout"``
        (whose members cannot be split) it trains pooled and warns that
        ``groups`` is ignored, and the other modes raise. Training stays one
        joint pass (the member-summed loss is weighted per example and
        member).
    group_share : float in [0, 1], default=0.1
        In ``training="mixed"``, the fraction of each member's training
        weight carried by the other annotators' examples (``0`` is
        ``"by_group"``); it does not depend on the number of annotators.
    callbacks : list of skorch callbacks, default=None
        More :mod:`skorch.callbacks` for training, such as ``EarlyStopping``,
        ``LRScheduler`` or ``Checkpoint``, as instances or ``(name, callback)``
        pairs; they run after skorch's defaults (epoch timer, loss scoring,
        the epoch table). Each ``fit`` trains with clones of them
        (:func:`sklearn.base.clone`), so the list given here never changes and
        every fit starts fresh; the trained ones are in ``net_.callbacks_``,
        and ``partial_fit`` carries on with those.
    train_split : callable or None, default=None
        skorch's ``train_split``. ``None``: every row (the internal split
        with ``early_stopping=True``);
        ``skorch.dataset.ValidSplit(0.1)`` holds out a tenth of the rows of
        each fit and reports ``valid_loss`` on them, which ``EarlyStopping``
        and ``Checkpoint`` monitor by default. Held-out rows are not trained
        on.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows of each ``fit`` (and
        ``partial_fit``), score the members' summed loss on them after every
        epoch, stop when it has not improved by a relative ``tol`` for
        ``n_iter_no_change`` epochs, and keep the network of the best epoch
        (skorch's :class:`~skorch.callbacks.EarlyStopping`, in
        ``net_.callbacks_`` as ``"hyre_early_stopping"``), as
        scikit-learn's ``MLPClassifier(early_stopping=True)``; a
        ``train_split`` given replaces the internal split. Off by default
        for the classifier, unlike :class:`~skhyre.HyReRegressor`: on the
        shift panel's classification tasks
        (``benchmarks/results/training_budget.md``) it was level with 100
        epochs on every task and score, and on separable tasks the held-out
        log loss keeps falling, so training ran to the cap (10x the time).
    validation_fraction : float in (0, 1), default=0.1
        Fraction of the rows held out for early stopping (drawn from
        ``random_state``; they are not trained on).
    n_iter_no_change : int, default=25
        Epochs without improvement of the held-out loss before stopping.
    tol : float, default=1e-4
        Relative improvement of the held-out loss that counts.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (its ``module_`` outputs ``(batch, K, C)`` logits).
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    weights_, log_weights_, cumulative_loss_ : ndarray of shape (K,)
    n_adapt_samples_ : int
    temperature_ : float
    queried_indices_ : ndarray
        Pool indices picked by the last :meth:`active_adapt`, in order;
        removed by :meth:`adapt`, :meth:`reset_weights` and ``fit``.

    See Also
    --------
    HyReRegressor, HyReRewardModel, HyReEnsemble

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HyReClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = np.where(X[:, 0] > 0, "yes", "no")
    >>> clf = HyReClassifier(n_members=8, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict_members(X[:5]).shape
    (8, 5, 2)
    >>> clf.active_adapt(X[100:], oracle=y[100:], n_queries=5).queried_indices_.shape
    (5,)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _fit_task = "classification"
    _task = "classification"
    _loss_task = "classification"
    _adapt_loss_names = losses.names("classification")

    def __init__(
        self,
        ensemble="shared_base",
        n_members=100,
        hidden_layer_sizes=(50, 50),
        prior_scale=1.0,
        index_dim=8,
        dropout=0.1,
        max_epochs=100,
        batch_size=128,
        lr=0.001,
        weight_decay=0.0,
        temperature="auto",
        max_temperature=1.0,
        adapt_loss=None,
        device="cpu",
        random_state=None,
        verbose=0,
        training="auto",
        group_share=0.1,
        callbacks=None,
        train_split=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=25,
        tol=0.0001,
    ):
        # explicit: scikit-learn reads the defaults from this signature
        super().__init__(
            ensemble=ensemble,
            n_members=n_members,
            hidden_layer_sizes=hidden_layer_sizes,
            prior_scale=prior_scale,
            index_dim=index_dim,
            dropout=dropout,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            temperature=temperature,
            max_temperature=max_temperature,
            adapt_loss=adapt_loss,
            device=device,
            random_state=random_state,
            verbose=verbose,
            training=training,
            group_share=group_share,
            callbacks=callbacks,
            train_split=train_split,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_failure
    def fit(self, X, y, groups=None):
        """Train the ensemble; the weights start uniform.

        If training fails or is interrupted (Ctrl-C raises ``KeyboardInterrupt``,
        although skorch's loop catches it), the estimator is left exactly as
        it was: fitted and adapted as before, or unfitted.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any hashable type sklearn accepts).

        groups : array-like of shape (n_samples,), default=None
            Annotator id (user, persona, rater, domain) of every training
            example, for annotator-aware training (see ``training``). Named
            ``groups`` as in scikit-learn's group-aware splitters: under
            metadata routing, ``GridSearchCV(...).fit(X, y, groups=ids)`` can
            route the same ids to ``GroupKFold`` (leave annotators out) and,
            after ``set_fit_request(groups=True)``, to this ``fit``.

        Returns
        -------
        self : HyReClassifier
        """
        return self._fit(X, y, groups)

    def _fit(self, X, y, groups=None, classes=None):
        X32, y = self._validate_fit_X(X, y)
        check_classification_targets(y)
        enc = LabelEncoder().fit(y if classes is None else np.asarray(classes))
        if enc.classes_.shape[0] < 2:
            raise ValueError(
                f"HyReClassifier needs at least 2 classes in y; got 1 class ({enc.classes_[0]!r})."
            )
        codes = self._encode_known(y, enc.classes_, "classes")
        self.classes_ = enc.classes_
        self._train(X32, codes, n_outputs=len(self.classes_), groups=groups)
        return self

    @staticmethod
    def _encode_known(y, classes, where: str) -> np.ndarray:
        """Class indices of ``y`` in ``classes``; labels outside it are named."""
        try:
            unknown = np.setdiff1d(y, classes)
        except TypeError:  # labels of types that do not compare with the classes'
            unknown = np.array([v for v in set(y.tolist()) if v not in set(classes.tolist())])
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()[:10]} that are not in {where} {classes.tolist()}."
            )
        return np.searchsorted(classes, y).astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_failure
    def partial_fit(self, X, y, classes=None, groups=None):
        """Continue training the fitted ensemble on ``(X, y)`` (fine-tuning).

        ``max_epochs`` more epochs from the current parameters and optimizer
        state (skorch's ``partial_fit``), every member on every example (or,
        with ``groups``, on its annotators' examples). The
        members change, so the weights go back to uniform. This is the
        gradient-step alternative HyRe is compared with. On an unfitted
        estimator it fits, with ``classes`` (when given) as ``classes_``.

        A copy of the network is trained and swapped in only when training
        completes: if it fails or is interrupted (Ctrl-C raises
        ``KeyboardInterrupt``), the parameters, optimizer state and weights
        stay as they were.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, all in ``classes_`` once fitted.
        classes : array-like of shape (n_classes,), default=None
            Every class, as scikit-learn's ``partial_fit`` takes it; after the
            first call it must match ``classes_`` (or be omitted).
        groups : array-like of shape (n_samples,), default=None
            Annotator id of every example, after an annotator-aware fit
            (``training_`` ``"by_group"`` or ``"mixed"``): each example then
            trains the members its annotator was given at fit (every id must
            be in ``group_ids_``; the shared layers of ``"shared_base"`` learn
            from all of them). A member none of whose annotators is in
            ``groups`` (``"by_group"``) keeps its own parameters and their
            optimizer state exactly. Without it, or after pooled training
            (where it is ignored, as in :meth:`fit`), every member learns
            from every example.

        Returns
        -------
        self : HyReClassifier

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre import HyReClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> clf = HyReClassifier(n_members=4, max_epochs=2, random_state=0)
        >>> clf.partial_fit(X, y, classes=[0, 1]).partial_fit(X[:10], 1 - y[:10]).classes_
        array([0, 1])
        """
        if not self.__sklearn_is_fitted__():
            return self._fit(X, y, groups, classes=classes)
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from classes_ "
                f"{self.classes_.tolist()} of the fitted model; refit to change the classes."
            )
        X32, y = self._validate_partial_X(X, y)
        check_classification_targets(y)
        self._continue_training(X32, self._encode_known(y, self.classes_, "classes_"), groups)
        return self

    def predict_members(self, X) -> np.ndarray:
        """Every member's class probabilities, ``(K, n_samples, n_classes)`` float32.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_members, n_samples, n_classes), float32
            The members' own float32 outputs; :meth:`predict_proba` mixes them
            in float64.
        """
        return self._forward(X, output="softmax")

    _member_matrix = predict_members

    def predict_proba(self, X) -> np.ndarray:
        """Weighted average of the members' probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
            Rows in ``[0, 1]`` summing to 1 within float64 rounding, as
            :func:`sklearn.metrics.log_loss` expects.
        """
        # chunk by chunk, straight from the logits: no (K, n, C) member matrix is formed
        return as_probabilities(self._forward_mixture(X, output="softmax"))

    def predict(self, X) -> np.ndarray:
        """Most probable class under the weighted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)

        Raises
        ------
        ValueError
            Where the weighted probabilities are NaN or inf (members of
            weight > 0 output NaN there): a label would be arbitrary.
        """
        proba = self.predict_proba(X)
        check_finite_proba(proba, lambda bad: self._culprit_members(X, bad, "softmax"))
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------------------------------ adapt
    def _encode_adapt_y(self, y) -> np.ndarray:
        arr = np.asarray(y)
        check_real_labels(arr)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"y must be 1-D, got shape {arr.shape}.")
        return encode_known_labels(arr, self.classes_)
