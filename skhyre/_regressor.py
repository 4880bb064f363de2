"""HyReRegressor: an efficient torch ensemble regressor that adapts from a few labels."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import RegressorMixin, _fit_context

from . import losses
from ._adaptation import keep_state_on_failure
from ._torch_base import TorchHyReBase
from ._validation import caller_stacklevel, check_real_labels, warn_nonfinite_predictions
from .reweighting import NaNMemberWarning

__all__ = ["HyReRegressor"]


class HyReRegressor(RegressorMixin, TorchHyReBase):
    """Regression by an efficient ensemble reweighted at test time (HyRe).

    ``fit`` trains ``K`` members at once (by default a Shared-Base ensemble:
    one MLP with ``K`` output heads plus a frozen random prior network) on
    the standardized target. ``adapt`` reweights the members from a few
    labelled examples of the target distribution, ``w = softmax(-L /
    temperature)`` with ``L`` the members' cumulative loss, without a
    gradient step; ``predict`` returns the weighted mean of the members.

    Parameters
    ----------
    ensemble : {"shared_base", "epinet", "vanilla", "mc_dropout"}, default="shared_base"
        Ensemble architecture (see :mod:`skhyre.ensembles`).
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Widths of the hidden layers of the learnable and prior networks.
    prior_scale : float, default=1.0
        Scale of the frozen random prior's output (in standardized target
        units); larger is more diverse.
    index_dim : int, default=8
        Epinet index dimension.
    dropout : float, default=0.1
        Dropout rate of ``"mc_dropout"``.
    max_epochs : int, default=1000
        Most epochs per ``fit`` (and per ``partial_fit``). With
        ``early_stopping`` (the default) training usually stops well before;
        with ``early_stopping=False`` every epoch runs (100 was the default
        before early stopping).
    batch_size : int, default=128
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=0.0
    temperature : float, "auto" or "evidence", default="auto"
        HyRe softmax temperature (> 0; ``inf`` keeps the weights uniform),
        in units of the adaptation loss. With
        ``"auto"`` it is re-chosen at every adaptation by leave-one-out
        predictive loss, never below the ``"evidence"`` temperature for
        ``"squared"`` and ``"absolute"`` (see
        :func:`skhyre.reweighting.auto_temperature`); with
        ``"evidence"``, as twice the Gaussian noise variance (``"squared"``) or
        the Laplace scale (``"absolute"``) that makes the adaptation labels
        most likely (see :func:`skhyre.reweighting.evidence_temperature`).
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
    adapt_loss : {"squared", "absolute", "gaussian_nll"} or callable, default=None
        Per-example loss used to reweight (``None``: ``"squared"``). Losses are
        scale-free: measured in units of the training target's standard
        deviation (squared error divided by ``var(y_train)``).
        ``"gaussian_nll"`` is the Gaussian negative log-likelihood with the
        noise variance estimated from the training residuals (a likelihood
        with a data-driven temperature). A callable gets
        ``(member_predictions (K, n), y (n,))`` in original units and returns
        ``(K, n)`` losses; with ``temperature="auto"`` it is also called on the
        leave-one-out weighted predictions, ``(G, n)`` with one row per
        candidate temperature, so it must treat rows independently.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Torch device; ``"auto"`` uses CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, priors, Epinet indices, dropout masks and
        batching.
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
        skorch's ``train_split``. ``None``: the internal split of
        ``early_stopping`` (every row when it is off);
        ``skorch.dataset.ValidSplit(0.1)`` holds out a tenth of the rows of
        each fit and reports ``valid_loss`` on them, which ``EarlyStopping``
        and ``Checkpoint`` monitor by default. Held-out rows are not trained
        on.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows of each ``fit`` (and
        ``partial_fit``), score the members' summed loss on them after every
        epoch, stop when it has not improved by a relative ``tol`` for
        ``n_iter_no_change`` epochs, and keep the network of the best epoch
        (skorch's :class:`~skorch.callbacks.EarlyStopping`, in
        ``net_.callbacks_`` as ``"hyre_early_stopping"``), as
        scikit-learn's ``MLPRegressor(early_stopping=True)``. A
        ``train_split`` given replaces the internal split. ``False`` trains
        ``max_epochs`` epochs on every row. Chosen on the shift panel's
        tasks (``benchmarks/results/training_budget.md``): 100 epochs left
        the small sets underfit (validation RMSE 0.11 against 0.19 on
        energy); with early stopping the validation error is never worse
        and better on 7 of 20 tasks, and the shifted error of the uniform
        ensemble level on 21 of 22. The cost is a longer fit (median 2.3x),
        and one shift got much worse: on energy's high-compactness tail the
        better-fitted members extrapolate worse (shifted RMSE x5; a single
        tuned MLP is as bad there).
    validation_fraction : float in (0, 1), default=0.1
        Fraction of the rows held out for early stopping (drawn from
        ``random_state``; they are not trained on).
    n_iter_no_change : int, default=25
        Epochs without improvement of the held-out loss before stopping
        (10, scikit-learn's default, stopped too early on the panel's small,
        noisy sets: friedman1 and friedman3).
    tol : float, default=1e-4
        Relative improvement of the held-out loss that counts.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (its ``module_`` outputs ``(batch, K, 1)``).
    n_features_in_ : int
    y_mean_, y_scale_ : float
        Training target mean and standard deviation.
    noise_variance_ : float
        Mean squared training residual of the uniform ensemble in
        standardized units (used by ``"gaussian_nll"``); members that output
        NaN or inf on the training rows are left out.
    weights_, log_weights_, cumulative_loss_ : ndarray of shape (K,)
    n_adapt_samples_ : int
    temperature_ : float
        Temperature behind ``weights_`` (``inf`` = uniform).
    queried_indices_ : ndarray
        Pool indices picked by the last :meth:`active_adapt`, in order;
        removed by :meth:`adapt`, :meth:`reset_weights` and ``fit``.

    See Also
    --------
    HyReClassifier, HypothesisWeights, HyReEnsemble

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HyReRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X[:, 0] + 0.1 * rng.normal(size=200)
    >>> reg = HyReRegressor(n_members=10, max_epochs=5, random_state=0).fit(X, y)
    >>> reg.predict_members(X[:4]).shape
    (10, 4)
    >>> reg.adapt(X[:8], y[:8]).weights_.shape
    (10,)
    >>> mean, std = reg.predict(X[:2], return_std=True)
    >>> int(reg.query(X[100:], n_queries=3).shape[0])
    3
    """

    _fit_task = "regression"
    _task = "regression"
    _loss_task = "regression"
    _adapt_loss_names = losses.names("regression")

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

        groups : array-like of shape (n_samples,), default=None
            Annotator id (user, persona, rater, domain) of every training
            example, for annotator-aware training (see ``training``). Named
            ``groups`` as in scikit-learn's group-aware splitters: under
            metadata routing, ``GridSearchCV(...).fit(X, y, groups=ids)`` can
            route the same ids to ``GroupKFold`` (leave annotators out) and,
            after ``set_fit_request(groups=True)``, to this ``fit``.

        Returns
        -------
        self : HyReRegressor
        """
        X32, y = self._validate_fit_X(X, y)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mean, scale = float(y.mean()), float(y.std())
        if not (np.isfinite(mean) and np.isfinite(scale)):
            # |y| near float64's limit: the moments of y / max|y|, scaled back
            big = float(np.abs(y).max())
            mean, scale = float((y / big).mean() * big), float((y / big).std() * big)
        self.y_mean_ = mean
        self.y_scale_ = scale if scale > 0 else 1.0
        y_std = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        self._train(X32, y_std, n_outputs=1, groups=groups)
        self.noise_variance_ = self._noise_variance(X32, y_std)
        return self

    def _noise_variance(self, X32: np.ndarray, y_std: np.ndarray) -> float:
        """Mean squared training residual of the uniform ensemble (standardized units).

        Members that output NaN or inf on the training rows (a fit that partly
        diverged; :meth:`_check_training` named them) are left out, as
        adaptation gives them weight 0; with none left the value is NaN, named
        by a warning (``"gaussian_nll"`` would be NaN for every member).
        """
        F = self._forward_valid(X32)[..., 0]  # standardized units
        ok = np.isfinite(F).all(axis=1)
        if not ok.all():
            F = F[ok]
        with np.errstate(over="ignore", invalid="ignore"):
            v = np.mean((F.mean(axis=0) - y_std) ** 2) if ok.any() else np.nan
            if not np.isfinite(v) and ok.any():  # float32 squares past 3.4e38: in float64
                v = np.mean((F.mean(axis=0, dtype=np.float64) - y_std) ** 2)
        if not np.isfinite(v):
            warnings.warn(
                f"noise_variance_ is not finite ({float(v)}): every member outputs NaN or inf "
                "on some training rows, so adapt_loss='gaussian_nll' cannot weight the members. "
                "Lower lr, or rescale X and y.",
                NaNMemberWarning,
                stacklevel=caller_stacklevel(),
            )
            return float(v)
        return float(max(v, 1e-6))

    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_failure
    def partial_fit(self, X, y, groups=None):
        """Continue training the fitted ensemble on ``(X, y)`` (fine-tuning).

        ``max_epochs`` more epochs from the current parameters and optimizer
        state (skorch's ``partial_fit``), every member on every example
        (or, with ``groups``, on its annotators' examples); the
        target is standardized with the statistics of :meth:`fit`, and
        ``noise_variance_`` is re-estimated on the new data. The members
        change, so the weights go back to uniform. Changes to ``lr``,
        ``weight_decay`` or ``batch_size`` made since :meth:`fit` apply. This is the
        gradient-step alternative HyRe is compared with; on an unfitted
        estimator it is :meth:`fit`.

        A copy of the network is trained and swapped in only when training
        completes: if it fails or is interrupted (Ctrl-C raises
        ``KeyboardInterrupt``), the parameters, optimizer state and weights
        stay as they were.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
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
        self : HyReRegressor

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre import HyReRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2))
        >>> reg = HyReRegressor(n_members=4, max_epochs=2, random_state=0).fit(X, X[:, 0])
        >>> reg.partial_fit(X[:10], X[:10, 0] + 1.0).n_adapt_samples_
        0
        """
        if not self.__sklearn_is_fitted__():
            return self.fit(X, y, groups=groups)
        X32, y = self._validate_partial_X(X, y)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(over="ignore"):
            y_std = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        if not np.isfinite(y_std).all():
            raise ValueError(
                "y is too large for float32 once standardized with the statistics of fit "
                f"(mean {self.y_mean_:.6g}, scale {self.y_scale_:.6g})."
            )
        self._continue_training(X32, y_std, groups)
        # the members moved: re-estimate the noise, as fit does
        self.noise_variance_ = self._noise_variance(X32, y_std)
        return self

    # ----------------------------------------------------------- members
    def predict_members(self, X) -> np.ndarray:
        """Every member's prediction, ``(K, n_samples)`` float64, original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_members, n_samples)
        """
        return self._to_original(self._member_matrix(X))

    def _member_matrix(self, X) -> np.ndarray:
        """The engine's matrix: member outputs ``(K, n)`` float32 in standardized units.

        The networks are trained on the standardized target; un-standardizing
        in float32 would round away a target's digits when its mean is large
        compared with its spread (a mean of 1e7 and a std of 1 keep about one
        digit), so adaptation, queries and the weighted mean all work here and
        only the results go back to original units, in float64.
        """
        return np.ascontiguousarray(self._forward(X)[..., 0])

    def _to_original(self, F: np.ndarray) -> np.ndarray:
        out = np.array(F, dtype=np.float64)  # a copy: callers' arrays stay as they are
        out *= self.y_scale_
        out += self.y_mean_
        return out

    def predict(self, X, return_std: bool = False):
        """Weighted mean of the members (and their weighted std).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the weighted standard deviation of the members, as
            :class:`~sklearn.gaussian_process.GaussianProcessRegressor` does.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,), only with ``return_std=True``
        """
        # chunk by chunk, straight from the outputs: no (K, n) member matrix is formed
        mean, var = self._forward_mean_var(X)
        std = np.sqrt(var, out=var)
        mean = self._to_original(mean)
        warn_nonfinite_predictions(mean)
        return (mean, std * self.y_scale_) if return_std else mean

    # ------------------------------------------------------------ adapt
    def _encode_adapt_y(self, y) -> np.ndarray:
        arr = np.asarray(y)
        check_real_labels(arr)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"y must be 1-D for a regressor, got shape {arr.shape}.")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric for a regressor: {exc}") from None
        if not np.isfinite(arr).all():
            raise ValueError("y contains NaN or inf.")
        # standardized like the member matrix (see _member_matrix)
        return (arr - self.y_mean_) / self.y_scale_

    def _loss_units(self) -> losses.Units:
        # member outputs and targets are standardized: the losses are scale-free
        return losses.Units(target_scale=1.0, noise_variance=self.noise_variance_)

    def _user_loss(self, fn):
        """A callable ``adapt_loss`` sees predictions and targets in original units."""

        def loss(M, y):
            return fn(self._to_original(M), self._to_original(y))

        return loss

