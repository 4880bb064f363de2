"""Shared machinery of the torch-backed HyRe estimators.

Design: **composition**, not inheritance from skorch. Each estimator is a
plain scikit-learn ``BaseEstimator`` with DESIGN.md's flat parameters
(``n_members``, ``prior_scale``, ``temperature``, ...), validated
declaratively at ``fit``; ``fit`` builds an ensemble module from
:mod:`skhyre.ensembles` and trains it with an internal :class:`skorch.NeuralNet`
stored in ``net_`` (skorch runs the loop, the epoch table, devices and
CUDA-to-CPU unpickling). Composition keeps ``get_params``/``clone`` to our own
parameters (no ``module__``-prefixed surface to learn), keeps the test-time
state (weights, cumulative loss) on the estimator where sklearn users look
for fitted attributes, and lets one adaptation mixin serve the torch
estimators and :class:`~skhyre.HyReEnsemble` alike.
"""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from torch import nn

from ._adaptation import AdaptationMixin
from ._diagnostics import warn_input_scale
from ._groups import TRAINING_MODES, assigned_weights, fitted_group_codes, member_weight_matrix
from ._net import (
    EnsembleNet,
    chunk_rows,
    forward_mean_var,
    forward_members,
    forward_mixture,
    make_net,
    resolve_device,
    seeded,
    train_net,
)
from ._stopping import check_split_rows, has_stopper, is_stopper, stopping_setup
from ._validation import caller_stacklevel, check_hidden_layer_sizes, shown_indices
from .ensembles import ENSEMBLE_KINDS, EnsembleModule, build_ensemble
from .reweighting import NaNMemberWarning

__all__: list[str] = []


def _check_not_bool(est, names) -> None:
    """sklearn's ``Interval(Integral)`` admits ``True``; an epoch count of True is a bug."""
    for name in names:
        value = getattr(est, name)
        if isinstance(value, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(est).__name__} must be an int, not a bool; "
                f"got {value!r}."
            )


def to_float32(X: np.ndarray) -> np.ndarray:
    """``X`` as float32 for the networks; a clear error where float64 would overflow."""
    if X.dtype == np.float32:
        return X
    with np.errstate(over="ignore"):
        X32 = X.astype(np.float32)
    if not np.isfinite(X32).all():
        big = float(np.abs(X).max())
        raise ValueError(
            f"X has values too large for float32 (max |x| = {big:.3g} > "
            f"{float(np.finfo(np.float32).max):.3g}); the networks compute in float32, "
            "so rescale X (e.g. with StandardScaler)."
        )
    return X32


def _member_state(net: NeuralNet, members: np.ndarray) -> list:
    """Copies of ``members``' own parameter rows and of their optimizer state rows.

    Adam's running moments (and weight decay) move a parameter even when its
    gradient is zero, so a member that gets no example in ``partial_fit``
    would still drift; :func:`_restore_member_state` puts these copies back.
    """
    rows = torch.as_tensor(np.flatnonzero(members))
    kept = []
    for module in net.module_.modules():
        if isinstance(module, EnsembleModule):
            for param, view in module.member_parameters():
                state = net.optimizer_.state.get(param, {})
                moments = {
                    key: value.view_as(view)[rows].clone()
                    for key, value in state.items()
                    if isinstance(value, torch.Tensor) and value.shape == param.shape
                }
                kept.append((param, view, view.detach()[rows].clone(), moments))
    return kept


def _restore_member_state(net: NeuralNet, members: np.ndarray, kept: list) -> None:
    """Write back what :func:`_member_state` copied (the same tensors, trained in place)."""
    rows = torch.as_tensor(np.flatnonzero(members))
    with torch.no_grad():
        for param, view, values, moments in kept:
            view[rows] = values
            state = net.optimizer_.state.get(param, {})
            for key, value in moments.items():
                state[key].view_as(view)[rows] = value


class TorchHyReBase(AdaptationMixin, BaseEstimator):
    """Base of HyReRegressor / HyReClassifier / HyReRewardModel (not public)."""

    _parameter_constraints: ClassVar[dict] = {
        "ensemble": [StrOptions(set(ENSEMBLE_KINDS))],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "prior_scale": [Interval(Real, 0, None, closed="left")],
        "index_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "temperature": [
            Interval(Real, 0, np.inf, closed="right"),  # inf: the uniform ensemble
            StrOptions({"auto", "evidence"}),
        ],
        "max_temperature": [None, Interval(Real, 0, np.inf, closed="right")],
        "adapt_loss": [None, str, callable],
        "device": [StrOptions({"cpu", "cuda", "auto"}), str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "training": [StrOptions({"auto", *TRAINING_MODES})],
        "group_share": [Interval(Real, 0, 1, closed="both")],
        "callbacks": [None, list, tuple],
        "train_split": [None, callable],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    _fit_task = "regression"  # the MemberSumLoss task

    def __init__(
        self,
        ensemble="shared_base",
        n_members=100,
        hidden_layer_sizes=(50, 50),
        prior_scale=1.0,
        index_dim=8,
        dropout=0.1,
        max_epochs=1000,
        batch_size=128,
        lr=1e-3,
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
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=25,
        tol=1e-4,
    ):
        self.ensemble = ensemble
        self.n_members = n_members
        self.hidden_layer_sizes = hidden_layer_sizes
        self.prior_scale = prior_scale
        self.index_dim = index_dim
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.temperature = temperature
        self.max_temperature = max_temperature
        self.adapt_loss = adapt_loss
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.training = training
        self.group_share = group_share
        self.callbacks = callbacks
        self.train_split = train_split
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # ------------------------------------------------------------------ fit
    def __sklearn_is_fitted__(self) -> bool:
        net = getattr(self, "net_", None)
        return net is not None and getattr(net, "initialized_", False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def _n_members_fitted(self) -> int:
        return int(self.net_.module_.n_members)

    def _validate_fit_X(self, X, y):
        X, y = validate_data(
            self, X, y, dtype=[np.float32, np.float64], y_numeric=False, ensure_all_finite=True
        )
        X32 = to_float32(X)
        if not X32.flags.writeable:  # torch cannot wrap read-only memory
            X32 = X32.copy()
        return X32, np.array(y)

    def _module_inputs(self) -> int:
        """Width of one ensemble input row (the reward model halves it)."""
        return self.n_features_in_

    def _build_module(self, n_outputs: int, seed: int):
        return build_ensemble(
            self.ensemble,
            self._module_inputs(),
            n_outputs,
            n_members=self.n_members,
            hidden_layer_sizes=check_hidden_layer_sizes(self.hidden_layer_sizes),
            prior_scale=float(self.prior_scale),
            index_dim=self.index_dim,
            dropout=float(self.dropout),
            seed=seed,
        )

    def _wrap_module(self, module):
        """Hook: the reward model wraps the ensemble for pairs."""
        return module

    def _resolve_training(self, groups, n_samples: int) -> str:
        mode = self.training
        if mode == "auto":
            if groups is not None and self.ensemble == "mc_dropout":
                warnings.warn(
                    "training='auto' trains ensemble='mc_dropout' pooled and ignores groups: its "
                    "members are fixed dropout masks of one jointly trained network, which cannot "
                    "be split among annotators (use 'shared_base', 'epinet' or 'vanilla' for "
                    "annotator-aware members).",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )
            mode = "pooled" if groups is None or self.ensemble == "mc_dropout" else "by_group"
        if mode == "pooled":
            return mode
        if groups is None:
            raise ValueError(
                f"training={mode!r} needs the annotator id of every training example: "
                "fit(X, y, groups=ids)."
            )
        g = np.asarray(groups)
        if g.ndim != 1:
            raise ValueError(
                "groups must be a 1-D array-like with one annotator id per training example, "
                f"got {type(groups).__name__} of shape {g.shape}."
            )
        if g.shape[0] != n_samples:
            raise ValueError(f"groups has {g.shape[0]} entries but X has {n_samples} rows.")
        if self.ensemble == "mc_dropout":
            raise ValueError(
                f"training={mode!r} is not available for ensemble='mc_dropout': its members are "
                "fixed dropout masks of one jointly trained network; use 'shared_base', "
                "'epinet' or 'vanilla'."
            )
        return mode

    def _train(self, X32: np.ndarray, y_fit: np.ndarray, n_outputs: int, groups=None) -> None:
        """Build the module and train it (sets ``net_``, ``device_``, ``training_``).

        With annotator-aware training the targets become a ``(n, 1 + K)``
        matrix: the target, then each member's weight for the example.
        """
        check_hidden_layer_sizes(self.hidden_layer_sizes)
        _check_not_bool(
            self, ("n_members", "index_dim", "max_epochs", "batch_size", "n_iter_no_change")
        )
        check_split_rows(X32.shape[0], self)
        self._check_temperature_param()
        self._check_evidence_loss(self._resolve_adapt_loss()[0])
        mode = self._resolve_training(groups, X32.shape[0])
        self._check_input_scale(X32)
        if self.ensemble == "mc_dropout" and float(self.dropout) == 0.0:
            warnings.warn(
                f"ensemble='mc_dropout' with dropout=0 gives {self.n_members} identical members: "
                "every reweighting and query is uniform. Set dropout > 0 (e.g. 0.1).",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        ensemble = self._build_module(n_outputs, seed)
        group_state = {}
        if mode != "pooled":
            W, group_state["group_ids_"], group_state["group_assignment_"] = member_weight_matrix(
                groups, self.n_members, mode, self.group_share, random_state=seed + 2
            )
            y_fit = np.column_stack([y_fit.astype(np.float32), W])
            if hasattr(ensemble, "train_fixed_indices"):
                ensemble.train_fixed_indices = True
        module = self._wrap_module(ensemble)
        # copies: fit never changes its parameters, and every fit starts fresh
        callbacks, train_split = stopping_setup(
            self,
            None if self.callbacks is None else clone(list(self.callbacks), safe=False),
            seed + 4,
        )
        net = make_net(
            module,
            task=self._fit_task,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            device=device,
            verbose=self.verbose,
            callbacks=callbacks,
            train_split=train_split,
        )
        with seeded(seed + 1, device):
            train_net(net, X32, y_fit)  # re-raises a KeyboardInterrupt skorch swallowed
        net.module_.eval()  # the members are fixed functions from here on (skorch trains per step)
        self.net_ = net
        self.device_ = device
        self.training_ = mode
        for name in ("group_ids_", "group_assignment_"):  # none left from an earlier fit
            self.__dict__.pop(name, None)
        self.__dict__.update(group_state)
        self._init_adaptation_state()
        self._check_training(X32)

    def _check_input_scale(self, X32: np.ndarray) -> None:
        """Warn at ``fit`` about input columns far from standardized
        (:class:`~skhyre.reweighting.InputScaleWarning`); a hook (the reward model
        leaves a ``module``'s inputs to it)."""
        warn_input_scale(X32, type(self).__name__, getattr(self, "feature_names_in_", None))

    def _check_training(self, X32: np.ndarray, first_epoch: int = 0) -> None:
        """Name a training run that diverged, instead of fitting NaN members silently.

        Reads the training loss of the epochs from ``first_epoch`` on (this
        ``fit`` or ``partial_fit``) and, when a loss or a parameter is not
        finite, the members' outputs on the training rows (chunk by chunk:
        only a count per member is kept). Refuses a fit
        where every member outputs NaN or inf on every training row (nothing
        usable is left); otherwise warns with a
        :class:`~skhyre.reweighting.NaNMemberWarning` naming the epochs and
        the members.
        """
        epochs = list(self.net_.history)[first_epoch:]
        bad_epochs = [
            int(h.get("epoch", first_epoch + i + 1))
            for i, h in enumerate(epochs)
            if h.get("train_loss") is not None and not np.isfinite(h["train_loss"])
        ]
        if not bad_epochs and self._parameters_finite():
            # finite weights on finite inputs give non-finite outputs only by overflow,
            # which the epochs' training losses would show: no forward pass needed
            return
        K = self._n_members_fitted()
        bad_rows = np.zeros(K, dtype=np.int64)

        def count(out):  # (K, rows, out): non-finite rows per member, nothing kept
            bad_rows[:] += (~np.isfinite(out).all(axis=2)).sum(axis=1)
            return np.zeros(out.shape[1], dtype=bool)

        n = X32.shape[0]
        self._forward_valid(X32, reduce=count)
        if not bad_epochs and not bad_rows.any():
            return
        said = []
        if bad_epochs:
            said.append(
                f"the training loss is NaN or inf from epoch {bad_epochs[0]} on "
                f"({len(bad_epochs)} of the {len(epochs)} epoch(s) of this fit)"
            )
        broken = np.flatnonzero(bad_rows)
        if broken.size:
            said.append(
                f"{broken.size} of {K} member(s) {shown_indices(broken)} output NaN or inf on "
                f"the training data (on up to {int(bad_rows.max())} of its {n} rows)"
            )
        advice = "lower lr, or rescale X (and y)"
        if (bad_rows == n).all():
            raise ValueError(
                f"The fit diverged: every member outputs NaN or inf on every training row; "
                f"{'; '.join(said)}. Nothing usable was learnt: {advice}."
            )
        warnings.warn(
            f"Training went non-finite: {'; '.join(said)}. Predictions relying on those "
            "members are NaN (predict refuses or warns there); adapting on rows where they "
            f"fail gives them weight 0. To avoid it, {advice}.",
            NaNMemberWarning,
            stacklevel=caller_stacklevel(),
        )

    def _parameters_finite(self) -> bool:
        """Whether every parameter and buffer of the network is finite."""
        module = self.net_.module_
        with torch.no_grad():
            return all(
                bool(torch.isfinite(t).all())
                for t in (*module.parameters(), *module.buffers())
                if t.is_floating_point()
            )

    # ------------------------------------------------------------ pickling
    def __setstate__(self, state: dict) -> None:
        """Restore a pickled estimator; ``device_`` becomes the device the net loaded on.

        A model fitted on a GPU and loaded on a machine without CUDA has its
        network mapped to the CPU by skorch, so ``device_`` then says
        ``"cpu"``. A net pickled by skhyre versions whose ``net_`` was a plain
        :class:`skorch.NeuralNet` holding the module twice is upgraded to
        :class:`~skhyre._net.EnsembleNet` with the trained ``module_`` as
        its only module. Parameters added since the pickle was written
        (``callbacks``, ``train_split``, the early-stopping ones) take their
        defaults, except ``early_stopping``, which is ``False``: the pickled
        network was trained without it.
        """
        state = {
            "callbacks": None,
            "train_split": None,
            "early_stopping": False,
            "validation_fraction": 0.1,
            "n_iter_no_change": 10,
            "tol": 1e-4,
            **state,
        }
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is None:
            return
        if type(net) is NeuralNet:
            module_ = net.__dict__.get("module_")
            if isinstance(module_, nn.Module) and isinstance(net.__dict__.get("module"), nn.Module):
                net.__dict__["module"] = module_
                net.__class__ = EnsembleNet
        if "device_" in self.__dict__ and getattr(net, "device", None) is not None:
            self.device_ = str(net.device)

    # ------------------------------------------------------- partial_fit
    def _validate_partial_X(self, X, y):
        """Like :meth:`_validate_fit_X`, against the fitted width (``reset=False``)."""
        X, y = validate_data(
            self,
            X,
            y,
            reset=False,
            dtype=[np.float32, np.float64],
            y_numeric=False,
            ensure_all_finite=True,
        )
        X32 = to_float32(X)
        if not X32.flags.writeable:
            X32 = X32.copy()
        return X32, np.array(y)

    def _continue_training(self, X32: np.ndarray, y_fit: np.ndarray, groups=None) -> None:
        """``max_epochs`` more epochs of the fitted network on ``(X32, y_fit)``.

        The network and its optimizer state carry on from where they were
        (skorch's ``partial_fit``), with the estimator's current ``lr``,
        ``weight_decay``, ``batch_size``, ``verbose`` and ``train_split``, and
        the callbacks of the fitted net (as in skorch's ``partial_fit``,
        each resets what its ``on_train_begin`` resets). After an
        annotator-aware fit, ``groups`` keeps each member on the annotators
        it was given at fit (:func:`skhyre._groups.assigned_weight_matrix`);
        without ``groups``, or after pooled training, every member learns
        from every example. A copy is trained and swapped in only when
        training succeeds. The members have changed, so the weights go back
        to uniform.
        """
        self._validate_params()  # _fit_context skips it for a fitted partial_fit
        _check_not_bool(self, ("max_epochs", "batch_size", "n_iter_no_change"))
        check_split_rows(X32.shape[0], self)
        codes = None
        if groups is not None and self.training_ != "pooled":
            g = np.asarray(groups)
            if g.ndim != 1 or g.shape[0] != X32.shape[0]:
                raise ValueError(
                    f"groups must be 1-D with one annotator id per row of X ({X32.shape[0]}), "
                    f"got shape {g.shape}."
                )
            codes = fitted_group_codes(g, self.group_ids_)  # before the seed is drawn
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        absent = None
        if codes is not None:
            W = assigned_weights(
                codes, self.group_assignment_, self.training_, self.group_share, seed + 2
            )
            y_fit = np.column_stack([y_fit.astype(np.float32), W])
            absent = ~(W > 0).any(axis=0)  # members none of whose annotators is here
        net = copy.deepcopy(self.net_)
        n_epochs_before = len(net.history)
        # settings changed since fit take effect; skorch updates the optimizer's
        # learning rate and weight decay in place, keeping its state
        changed = {
            name: value
            for name, value, current in (
                ("batch_size", self.batch_size, net.batch_size),
                ("lr", self.lr, net.lr),
                ("optimizer__weight_decay", self.weight_decay,
                 net.get_params().get("optimizer__weight_decay")),
                ("verbose", self.verbose, net.verbose),
            )
            if value != current
        }  # fmt: skip
        # early stopping as set now: the stopper added or removed, the internal split re-drawn
        changed["train_split"] = stopping_setup(self, None, seed + 4)[1]
        if has_stopper(net) != bool(self.early_stopping):
            user = [cb for cb in net.callbacks or [] if not is_stopper(cb)]
            changed["callbacks"] = stopping_setup(self, user or None, seed + 4)[0]
        if changed:
            net.set_params(**changed)
        if "callbacks" in changed:
            net.initialize_callbacks()  # skorch's set_params initialized the previous list
        kept = _member_state(net, absent) if absent is not None and absent.any() else None
        with seeded(seed + 3, self.device_):
            train_net(net, X32, y_fit, epochs=self.max_epochs)
        if kept is not None:
            _restore_member_state(net, absent, kept)
        net.module_.eval()
        self.net_ = net
        self._init_adaptation_state()
        self._check_training(X32, n_epochs_before)

    # ------------------------------------------------------------- predict
    def _forward(self, X, output: str = "raw", reduce=None) -> np.ndarray:
        """Validated X -> member outputs (K, n, out) float32 (or ``reduce``'s per-row result).

        ``output`` is one of :data:`skhyre._net.OUTPUTS` (``"softmax"``: class
        probabilities; ``"pair"``: pair probabilities of reward differences).
        """
        return self._forward_valid(self._validated_X(X), output, reduce)

    def _validated_X(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float32, np.float64], ensure_all_finite=True
        )
        return to_float32(X)

    def _forward_mixture(self, X, output: str) -> np.ndarray:
        """Validated X -> the weighted mixture of the members' probabilities, (n, C) float64.

        Each chunk of the forward pass is reduced to its rows of the mixture
        as it comes: the ``(K, n, C)`` member probabilities are never formed.
        """
        X32 = self._validated_X(X)
        w = self.weights_
        Q = forward_mixture(self.net_, X32, w, output=output, chunk_size=self._member_block_rows())
        if Q is None:  # no rows
            C = 2 if output == "pair" else len(self.classes_)
            Q = np.empty((0, C), dtype=np.float64)
        return Q

    def _forward_mean_var(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Validated X -> weighted mean and variance over members, each (n,), of a
        one-output ensemble (standardized units), chunk by chunk."""
        X32 = self._validated_X(X)
        return forward_mean_var(self.net_, X32, self.weights_, chunk_size=self._member_block_rows())

    def _culprit_members(self, X, bad: np.ndarray, output: str = "raw") -> list[int]:
        """Members of weight > 0 that output NaN or inf on the rows ``bad`` of ``X``
        (one forward pass over those rows only: the error path of ``predict``)."""
        M = self._forward(_safe_indexing(X, np.flatnonzero(bad)), output=output)
        broken = ~np.isfinite(M).all(axis=(1, 2)) & (self.weights_ > 0)
        return np.flatnonzero(broken).tolist()

    def _member_block_rows(self) -> int:
        """Rows per forward chunk; streamed pools align their blocks to it (same floats)."""
        return chunk_rows(self.net_.module_, self.batch_size)

    def _forward_valid(self, X32: np.ndarray, output: str = "raw", reduce=None) -> np.ndarray:
        """Already validated float32 X (fit's own data) -> member outputs (K, n, out)."""
        return forward_members(
            self.net_,
            X32,
            output=output,
            chunk_size=self._member_block_rows(),
            reduce=reduce,
        )
