"""HyReRewardModel: a Bradley-Terry reward ensemble over pairs, reweighted at test time."""

from __future__ import annotations

import copy
import itertools
import warnings
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn

from . import losses
from ._adaptation import keep_state_on_failure
from ._decomposed import build_decomposed
from ._net import (
    chunk_rows,
    forward_mean_var,
    forward_members,
    make_net,
    resolve_device,
    seeded,
)
from ._pairs import (
    PairDifference,
    SavedModule,
    check_binary_preferences,
    check_fit_preferences,
    weighted_difference,
)
from ._proba import as_probabilities
from ._torch_base import TorchHyReBase, to_float32
from ._validation import (
    caller_stacklevel,
    check_finite_proba,
    check_hidden_layer_sizes,
    warn_nonfinite_predictions,
)
from .ensembles import ENSEMBLE_KINDS, build_ensemble, floating_dtype

#: The reward model's member types: the torch ensembles, and closed-form decomposed heads.
REWARD_ENSEMBLE_KINDS = (*ENSEMBLE_KINDS, "decomposed")

__all__ = ["HyReRewardModel", "PairDifference"]


class HyReRewardModel(ClassifierMixin, TorchHyReBase):
    """Preference (reward) model: a Bradley-Terry ensemble reweighted at test time.

    Each member ``k`` is a reward head ``r_k(x)`` over the features of one
    response. A training example is a pair ``(A, B)``, one row of ``X`` with
    response A's ``d`` features followed by response B's, and its label is
    ``y = 1`` when A is preferred. ``fit`` trains all members at once with
    the Bradley-Terry loss, the logistic loss of ``sigmoid(r_k(A) - r_k(B))``
    summed over members. ``adapt`` reweights the members from a few pairs
    labelled by a new user by their pairwise 0-1 error, ``w = softmax(-L /
    temperature)``, with no gradient step; ``predict_proba`` is the weighted
    mixture of the members' preference probabilities, and ``query`` /
    ``active_adapt`` pick the candidate pairs to ask about by BALD.

    Parameters
    ----------
    ensemble : {"shared_base", "epinet", "vanilla", "mc_dropout", "decomposed"}, \
            default="shared_base"
        The member type. ``"decomposed"`` builds the members in closed form
        from the pooled pairs, with no training loop and no annotator ids
        (Decomposed Reward Models, Luo et al., 2025): member 0 is a ridge
        logistic (Bradley-Terry) regression on the differences
        ``phi(A) - phi(B)``, members ``1..K-1`` the leading principal
        directions of the centred differences ``phi(chosen) - phi(rejected)``,
        each scaled by a one-dimensional Bradley-Terry fit on the pairs (its
        sign makes the head agree with the pool). ``phi`` is ``module``'s
        output, else the features as given (standardize them first, e.g.
        with a scaler fitted on single responses: the ridge penalty is 1 on
        the summed loss). It needs ``n_members - 1 <= d`` and more pairs than
        directions; ``hidden_layer_sizes``, ``prior_scale``, ``index_dim``,
        ``dropout``, the training settings, ``callbacks`` and ``train_split``
        are not used, and :meth:`partial_fit` refuses it (the heads are a
        function of all pairs). See :mod:`skhyre._decomposed`.
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
    prior_scale : float, default=1.0
        Scale of the frozen random prior's reward.
    index_dim : int, default=8
    dropout : float, default=0.1
    max_epochs : int, default=100
    batch_size : int, default=128
        Pairs per gradient step (the ensemble sees twice as many rows).
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    temperature : float, "auto" or "evidence", default=1.0
        HyRe softmax temperature (> 0; ``inf`` keeps the weights uniform),
        or ``"auto"`` (leave-one-out choice; under ``"zero_one"`` the
        left-out weighted predictions are scored by their log loss; see
        :func:`skhyre.reweighting.auto_temperature`),
        or ``"evidence"`` (the empirical-Bayes temperature of the loss's noise
        model: 1 for ``"log_loss"``, a label-flip rate fitted to the labels
        for ``"zero_one"`` (two outcomes per pair); see :func:`skhyre.reweighting.evidence_temperature`).
        Changed with ``set_params`` after adapting, it takes effect at the next
        ``adapt``, ``partial_adapt`` or ``active_adapt``, which re-weight all
        examples seen since the last reset; until then ``weights_``,
        ``predict`` and ``query`` keep the weights they have.
    max_temperature : float or None, default=None
        Cap on a data-driven temperature (``"auto"``, ``"evidence"``): the
        temperature chosen is at most this, so the weights are never flatter
        than at this fixed temperature (``1``: never flatter than the paper's
        rule, the regressors' and classifiers' default). ``None`` or ``inf``:
        no cap. Ignored with a fixed temperature.
    adapt_loss : {"zero_one", "log_loss", "brier"} or callable, default=None
        Per-pair loss used to reweight (``None``: ``"zero_one"``, the pairwise
        0-1 error, a tie costing 1/2). A callable gets ``(member_probabilities
        (K, n, 2), y (n,) in {0, 1})`` and returns ``(K, n)`` losses; with
        ``temperature="auto"`` it is also called on the leave-one-out weighted
        probabilities (one row per candidate temperature), so it must treat
        rows independently.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        ``1`` prints skorch's epoch table.
    training : {"auto", "pooled", "by_group", "mixed"}, default="auto"
        How members use annotator ids given to ``fit(X, y, groups=...)``;
        see :class:`HyReClassifier`. With one group per labeler, members
        specialise to labelers, which is what lets a few labels from a new
        user pick out the right ones. With ``"mc_dropout"``, ``"auto"``
        trains pooled and warns, and the other modes raise (see
        :class:`HyReClassifier`).
    group_share : float in [0, 1], default=0.1
        In ``training="mixed"``, the fraction of each member's training
        weight carried by the other annotators' pairs.
    module : torch.nn.Module instance or class, default=None
        Optional feature network in front of the reward heads (for example a
        pretrained text encoder fine-tuned end to end on a GPU). It maps
        ``(rows, d)`` float32 response features to ``(rows, m)``; the
        ensemble's networks see its output, and ``m`` is found by one forward
        pass of a zero row in eval mode at ``fit``. An instance is
        **deep-copied at every fit**, so fitting never changes the object you
        passed (and clones do not share weights); a class is instantiated
        with no arguments under the fit's seed. The trained copy is
        ``net_.module_.ensemble.feature_module``.
    callbacks : list of skorch callbacks, default=None
        More :mod:`skorch.callbacks` for training, such as ``EarlyStopping``,
        ``LRScheduler`` or ``Checkpoint``, as instances or ``(name, callback)``
        pairs; they run after skorch's defaults (epoch timer, loss scoring,
        the epoch table). Each ``fit`` trains with clones of them
        (:func:`sklearn.base.clone`), so the list given here never changes and
        every fit starts fresh; the trained ones are in ``net_.callbacks_``,
        and ``partial_fit`` carries on with those.
    train_split : callable or None, default=None
        skorch's ``train_split``. ``None`` trains on every row;
        ``skorch.dataset.ValidSplit(0.1)`` holds out a tenth of the rows of
        each fit and reports ``valid_loss`` on them, which ``EarlyStopping``
        and ``Checkpoint`` monitor by default. Held-out rows are not trained
        on.
    combine : {"auto", "proba", "reward"}, default="auto"
        How :meth:`predict_proba` (and so :meth:`predict` and :meth:`score`)
        combines the weighted members. ``"proba"``: the mixture of the
        members' preference probabilities, ``sum_k w_k sigmoid(r_k(A) -
        r_k(B))`` (HyRe's classifier rule). ``"reward"``: one Bradley-Terry
        model of the weighted reward, ``sigmoid(sum_k w_k (r_k(A) -
        r_k(B)))`` (the DRMs rule), whose order always agrees with
        :meth:`reward`. ``"auto"``: ``"reward"`` for ``ensemble="decomposed"``,
        ``"proba"`` otherwise (measured in
        ``benchmarks/results/decomposed_personalization.md``). The weights,
        :meth:`adapt`, :meth:`query` and BALD are the same either way: they
        read the members' own probabilities.
    decomposed_signs : {"fitted", "both"}, default="fitted"
        With ``ensemble="decomposed"``: ``"fitted"`` makes one head per
        principal direction, signed and scaled by its Bradley-Terry fit;
        ``"both"`` follows the DRMs code, two heads ``+v`` and ``-v`` per
        direction (``ceil((K - 1) / 2)`` directions), every head, base
        included, scaled to a unit root-mean-square reward difference over
        the training pairs, so a user who disagrees with the pool along a
        direction still has a head; pair it with ``adapt_loss="log_loss"``
        as DRMs do. Ignored by the other ensembles.
    early_stopping : bool, default=False
        As in :class:`~skhyre.HyReRegressor`: hold out ``validation_fraction``
        of the pairs and stop when their loss stalls. Off by default here
        (the torch regressor and classifier turn it on; the reward model has
        no panel of its own yet): ``max_epochs`` epochs on every pair.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=25
    tol : float, default=1e-4
        See ``early_stopping``.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network; its ``module_`` is a :class:`PairDifference`
        returning ``(batch, K, 1)`` reward differences, and
        ``net_.module_.ensemble`` the reward heads.
    classes_ : ndarray of shape (2,)
        Always ``[0, 1]`` (``1``: response A preferred), even when every
        training pair has the same label.
    n_features_in_ : int
        Width ``2 * d`` of a pair row.
    n_response_features_ : int
        Width ``d`` of one response.
    weights_, log_weights_, cumulative_loss_ : ndarray of shape (K,)
    n_adapt_samples_ : int
    temperature_ : float
    queried_indices_ : ndarray
        Pool indices picked by the last :meth:`active_adapt`, in order;
        removed by :meth:`adapt`, :meth:`reset_weights` and ``fit``.
    decomposition_ : Bunch
        Only after ``ensemble="decomposed"``: ``heads`` (K, m), ``base_coef``,
        ``components``, ``scales``, ``explained_variance``,
        ``explained_variance_ratio`` and ``agreement`` (the share of training
        pairs each head orders as labelled); see
        :func:`skhyre._decomposed.decompose_preferences`.

    See Also
    --------
    HyReClassifier, HyReRegressor, HyReEnsemble
    skhyre.text.SentenceEmbedder : text pairs to pair features.

    Notes
    -----
    Rewards are identified only up to a constant per member (the
    Bradley-Terry likelihood sees differences), so :meth:`reward` values are
    meaningful for ranking responses and as differences, not in absolute
    terms. :meth:`reward` averages the heads' rewards and
    :meth:`predict_proba` their probabilities, and a mixture of
    Bradley-Terry models is not one: the order of two responses by
    :meth:`reward` can disagree with :meth:`predict` on their pair (most
    often once the weights are far from uniform). Preprocess responses with
    transformers fitted on single responses (``d`` columns) and applied to
    both halves: a scaler fitted on pair rows scales A's and B's columns
    differently, so one response would get a different reward as A than as
    B.

    The A and B halves of a pair go through the ensemble in one call
    (:class:`PairDifference`), so they share the training-time sample of an
    Epinet index. For ``ensemble="mc_dropout"`` the dropout masks are drawn
    per row during training, so the two halves of a pair are thinned
    independently, whereas every member at test time applies one fixed mask
    to both. This is kept deliberately: it is what standard reward-model
    training with dropout does (chosen and rejected responses in one batch),
    the extra noise only concerns the part of the reward that a member's mask
    shifts by the same amount on A and B and that cancels in the difference,
    and a paired mask would need a second pass with a replayed random state
    (twice the calls through a large feature ``module``). On synthetic
    linear preferences from 30 conflicting labelers (3 seeds, 16 adaptation
    pairs), paired masks gave the same pairwise accuracy before and after
    adaptation (within 0.002) and slightly more member disagreement (0.037
    versus 0.033).

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre import HyReRewardModel
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    >>> X = np.hstack([A, B])                   # one pair per row
    >>> y = (A[:, 0] > B[:, 0]).astype(int)     # 1: response A preferred
    >>> rm = HyReRewardModel(n_members=8, max_epochs=10, random_state=0).fit(X, y)
    >>> rm.predict_members(X[:5]).shape
    (8, 5, 2)
    >>> rm.reward(A[:3]).shape, rm.reward_members(A[:3]).shape
    ((3,), (8, 3))
    >>> rm.active_adapt(X[200:], oracle=y[200:], n_queries=5).queried_indices_.shape
    (5,)
    >>> rm.score(X[:200], y[:200]) > 0.8
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **TorchHyReBase._parameter_constraints,
        "ensemble": [StrOptions(set(REWARD_ENSEMBLE_KINDS))],
        "module": [None, nn.Module, type],
        "combine": [StrOptions({"auto", "proba", "reward"})],
        "decomposed_signs": [StrOptions({"fitted", "both"})],
    }

    _fit_task = "preference"
    _task = "classification"
    _loss_task = "preference"
    _adapt_loss_names = losses.names("preference")

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
        lr=1e-3,
        weight_decay=0.0,
        temperature=1.0,
        max_temperature=None,
        adapt_loss=None,
        device="cpu",
        random_state=None,
        verbose=0,
        training="auto",
        group_share=0.1,
        module=None,
        callbacks=None,
        train_split=None,
        combine="auto",
        decomposed_signs="fitted",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=25,
        tol=1e-4,
    ):
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
        self.module = module
        self.combine = combine
        self.decomposed_signs = decomposed_signs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: on Python >= 3.11 it is self.__dict__
        if isinstance(state.get("module"), nn.Module):
            state["module"] = SavedModule(state["module"])
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore a pickle; a ``module`` instance saved on a GPU loads on the CPU without one.

        Parameters added since the pickle was written (``combine``,
        ``decomposed_signs``) take their defaults.
        """
        state = {"combine": "auto", "decomposed_signs": "fitted", **state}
        if isinstance(state.get("module"), SavedModule):
            state = {**state, "module": state["module"].load()}
        super().__setstate__(state)

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_failure
    def fit(self, X, y, groups=None):
        """Train the reward heads on labelled pairs; the weights start uniform.

        If training fails or is interrupted (Ctrl-C raises ``KeyboardInterrupt``,
        although skorch's loop catches it), the estimator is left exactly as
        it was: fitted and adapted as before, or unfitted.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2 * d)
            Response A's ``d`` features, then response B's.
        y : array-like of shape (n_pairs,)
            ``1`` (or ``True``) when A is preferred, ``0`` when B is. A single
            label throughout is fine (for example, A always the chosen one).
        groups : array-like of shape (n_pairs,), default=None
            Labeler id of every pair, for annotator-aware training (see
            ``training``).

        Returns
        -------
        self : HyReRewardModel
        """
        try:
            X32, y = self._validate_fit_X(X, y)
        except ValueError as exc:
            if "could not convert string" in str(exc):
                raise ValueError(
                    f"{exc}. HyReRewardModel takes numeric pair features; embed text pairs "
                    "first, e.g. make_pipeline(skhyre.text.SentenceEmbedder(), "
                    "HyReRewardModel())."
                ) from exc
            raise
        if X32.shape[1] % 2:
            raise ValueError(
                f"X has an odd number of columns ({X32.shape[1]}): a pair row must hold "
                "response A's d features followed by response B's d features (2 * d columns)."
            )
        y = check_fit_preferences(y)
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{y_type}; HyReRewardModel needs preference labels 1 (response A "
                "preferred) or 0 (response B preferred)."
            )
        y_fit = check_binary_preferences(y).astype(np.float32)
        self._check_module_param()
        self.classes_ = np.array([0, 1])
        self.n_response_features_ = X32.shape[1] // 2
        if self.ensemble == "decomposed":
            self._fit_decomposed(X32, y_fit, groups)
        else:
            self.__dict__.pop("decomposition_", None)
            self._train(X32, y_fit, n_outputs=1, groups=groups)
        return self

    def _fit_decomposed(self, X32: np.ndarray, y_fit: np.ndarray, groups) -> None:
        """Closed-form heads (:mod:`skhyre._decomposed`) in an initialised, untrained net."""
        if isinstance(self.n_members, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The 'n_members' parameter of {type(self).__name__} must be an int, not a "
                f"bool; got {self.n_members!r}."
            )
        self._check_temperature_param()
        self._check_evidence_loss(self._resolve_adapt_loss()[0])
        if self.training in ("by_group", "mixed"):
            raise ValueError(
                f"training={self.training!r} is not available for ensemble='decomposed': its "
                "heads are computed from the pooled pairs and use no annotator ids."
            )
        if groups is not None:
            warnings.warn(
                "ensemble='decomposed' builds its heads from the pooled pairs and ignores groups.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        feat, width = self._feature_module(seed + 3)
        if feat is not None:
            feat.to(device)
        heads, info = build_decomposed(
            X32,
            y_fit,
            self.n_members,
            feature_module=feat,
            n_feature_outputs=width,
            signs=self.decomposed_signs,
        )
        net = make_net(
            self._wrap_module(heads),
            task=self._fit_task,
            max_epochs=1,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            device=device,
            verbose=0,
        )
        net.initialize()
        net.module_.eval()
        self.net_ = net
        self.device_ = device
        self.training_ = "pooled"
        for name in ("group_ids_", "group_assignment_"):
            self.__dict__.pop(name, None)
        self.decomposition_ = info
        self._init_adaptation_state()
        if not self._parameters_finite():
            raise ValueError(
                "The decomposed heads are not finite (the pairs' features overflow in the fit); "
                "rescale X, e.g. with a StandardScaler fitted on single responses."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_failure
    def partial_fit(self, X, y, classes=None, groups=None):
        """Continue training the fitted reward ensemble on pairs ``(X, y)`` (fine-tuning).

        ``max_epochs`` more epochs of the Bradley-Terry loss from the current
        parameters and optimizer state (skorch's ``partial_fit``), every
        member on every pair (or, with ``groups``, on its labelers' pairs).
        The members change, so the weights go back to uniform. On an
        unfitted model it is :meth:`fit`.

        A copy of the network is trained and swapped in only when training
        completes: if it fails or is interrupted (Ctrl-C raises
        ``KeyboardInterrupt``), the parameters, optimizer state and weights
        stay as they were.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2 * d)
        y : array-like of shape (n_pairs,)
            ``1`` when response A is preferred, else ``0``.
        classes : array-like, default=None
            Accepted for scikit-learn's ``partial_fit`` convention; must be
            ``[0, 1]`` when given.
        groups : array-like of shape (n_pairs,), default=None
            Labeler id of every pair, after an annotator-aware fit
            (``training_`` ``"by_group"`` or ``"mixed"``): each pair then
            trains the members its annotator was given at fit (every id must
            be in ``group_ids_``; the shared layers of ``"shared_base"`` learn
            from all of them). A member none of whose annotators is in
            ``groups`` (``"by_group"``) keeps its own parameters and their
            optimizer state exactly. Without it, or after pooled training
            (where it is ignored, as in :meth:`fit`), every member learns
            from every pair.

        Returns
        -------
        self : HyReRewardModel

        Examples
        --------
        >>> import numpy as np
        >>> from skhyre import HyReRewardModel
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(64, 4))                   # pairs of 2-feature responses
        >>> y = (X[:, 0] > X[:, 2]).astype(int)
        >>> rm = HyReRewardModel(n_members=4, max_epochs=2, random_state=0).fit(X, y)
        >>> rm.partial_fit(X[:8], 1 - y[:8]).weights_.shape
        (4,)
        """
        if classes is not None and not np.array_equal(np.unique(classes), [0, 1]):
            raise ValueError(f"classes must be [0, 1] for preferences, got {classes!r}.")
        if not self.__sklearn_is_fitted__():
            return self.fit(X, y, groups=groups)
        X32, y = self._validate_partial_X(X, y)
        if self.ensemble == "decomposed" or hasattr(self, "decomposition_"):
            raise ValueError(
                "partial_fit cannot continue ensemble='decomposed': its heads are a closed-form "
                "function of all training pairs (principal directions and Bradley-Terry fits), "
                "not trained step by step. Call fit with every pair instead."
            )
        y = check_fit_preferences(y)
        self._continue_training(X32, check_binary_preferences(y).astype(np.float32), groups)
        return self

    def _module_inputs(self) -> int:
        return self.n_features_in_ // 2

    def _check_input_scale(self, X32: np.ndarray) -> None:
        """As the other estimators, unless a feature ``module`` reads the inputs: it
        defines the scale it expects."""
        if self.module is None:
            super()._check_input_scale(X32)

    def _label_miss_hint(self) -> str:
        return (
            "pairs given the other way round (response A's features first, then B's, with "
            "y = 1 when A is preferred: are A and B, or the labels, swapped?), or no member "
            "fits these pairs"
        )

    def _check_module_param(self) -> None:
        m = self.module
        if isinstance(m, type) and not issubclass(m, nn.Module):
            raise TypeError(
                f"module must be a torch.nn.Module instance or subclass, got the class {m!r}."
            )

    def _feature_module(self, seed: int) -> tuple[nn.Module | None, int | None]:
        """A private copy of ``module`` and the width of its output (None without one)."""
        if self.module is None:
            return None, None
        with seeded(seed):
            feat = self.module() if isinstance(self.module, type) else copy.deepcopy(self.module)
        if not isinstance(feat, nn.Module):
            raise TypeError(f"module() must return a torch.nn.Module, got {type(feat).__name__}.")
        first = next(itertools.chain(feat.parameters(), feat.buffers()), None)
        device = first.device if first is not None else torch.device("cpu")
        d = self._module_inputs()
        dtype = floating_dtype(feat)  # the ensemble feeds it inputs in its own dtype
        was_training = feat.training
        feat.eval()
        try:
            with torch.no_grad():
                out = feat(torch.zeros(1, d, dtype=dtype, device=device))
        except Exception as exc:
            name = str(dtype).removeprefix("torch.")
            raise ValueError(
                f"module failed on a (1, {d}) {name} input (one response's features): {exc}"
            ) from exc
        finally:
            feat.train(was_training)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"module must map (rows, {d}) response features to a (rows, m) tensor; "
                f"a (1, {d}) input gave {shape}."
            )
        return feat, int(out.shape[1])

    def _build_module(self, n_outputs: int, seed: int):
        feat, width = self._feature_module(seed + 3)
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
            feature_module=feat,
            n_feature_outputs=width,
        )

    def _wrap_module(self, module):
        return PairDifference(module, self._module_inputs())

    # ------------------------------------------------------------- predict
    def predict_members(self, X) -> np.ndarray:
        """Every member's ``[P(B preferred), P(A preferred)]``, ``(K, n_pairs, 2)`` float32.

        Member ``k`` gives ``P(A preferred) = sigmoid(r_k(A) - r_k(B))``; a
        tie is ``[0.5, 0.5]``.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2 * d)

        Returns
        -------
        ndarray of shape (n_members, n_pairs, 2), float32
        """
        return self._forward(X, output="pair")

    _member_matrix = predict_members

    def predict_proba(self, X) -> np.ndarray:
        """Weighted mixture ``[P(B preferred), P(A preferred)]`` of the members.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2 * d)

        Returns
        -------
        ndarray of shape (n_pairs, 2), float64
            Rows in ``[0, 1]`` summing to 1 within float64 rounding.
        """
        # chunk by chunk: the (K, n, 2) member probabilities are never formed
        check_is_fitted(self)
        if self._combine_rule() == "reward":
            w = self.weights_
            diff = self._forward(X, reduce=lambda R: weighted_difference(R, w))
            with np.errstate(over="ignore"):
                return np.column_stack([expit(-diff), expit(diff)])
        return as_probabilities(self._forward_mixture(X, output="pair"))

    def _combine_rule(self) -> str:
        """``combine`` resolved: ``"auto"`` is ``"reward"`` for decomposed heads, else ``"proba"``."""
        if self.combine != "auto":
            return self.combine
        return "reward" if hasattr(self, "decomposition_") else "proba"

    def predict(self, X) -> np.ndarray:
        """``1`` where response A is preferred under the weighted mixture, else ``0``.

        A tie (probability 1/2) predicts ``0``; a pair whose weighted
        probabilities are NaN (members of weight > 0 output NaN there) is a
        ``ValueError``, not a guess.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2 * d)

        Returns
        -------
        ndarray of shape (n_pairs,)
        """
        proba = self.predict_proba(X)
        check_finite_proba(proba, lambda bad: self._culprit_members(X, bad, "pair"))
        return self.classes_[(proba[:, 1] > proba[:, 0]).astype(np.int64)]

    def reward_members(self, X) -> np.ndarray:
        """Every member's reward of single responses, ``(K, n)`` float32.

        Parameters
        ----------
        X : array-like of shape (n, d)
            One response per row (half the width of a pair row).

        Returns
        -------
        ndarray of shape (n_members, n)
        """
        heads, X32, rows = self._single_responses(X)
        R = forward_members(heads, X32, chunk_size=rows)
        return R[..., 0]

    def _single_responses(self, X):
        """The reward heads (as a net), validated single-response rows and the chunk size."""
        check_is_fitted(self)
        X = check_array(
            X, dtype=[np.float32, np.float64], ensure_all_finite=True, input_name="X_single"
        )
        d = self.n_response_features_
        if X.shape[1] != d:
            raise ValueError(
                f"reward expects single-response rows with {d} features (half of the "
                f"{2 * d} columns of a pair row), got {X.shape[1]} columns; to compare "
                "pairs use predict or predict_proba."
            )
        heads = SimpleNamespace(module_=self.net_.module_.ensemble, device=self.net_.device)
        return heads, to_float32(X), chunk_rows(heads.module_, self.batch_size)

    def reward(self, X) -> np.ndarray:
        """Weighted reward of single responses, ``sum_k w_k r_k(x)``.

        Parameters
        ----------
        X : array-like of shape (n, d)
            One response per row.

        Returns
        -------
        ndarray of shape (n,)
        """
        heads, X32, rows = self._single_responses(X)
        # chunk by chunk, straight from the heads' outputs: no (K, n) matrix is formed
        mean, _ = forward_mean_var(heads, X32, self.weights_, chunk_size=rows)
        warn_nonfinite_predictions(mean, "rewards")
        return mean

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of :meth:`predict` on labelled pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2 * d)
        y : array-like of shape (n_pairs,)
            ``1`` (or ``True``) when response A is preferred, ``0`` when B
            is; other labels (``-1``, ``2``, ``0.5``) are a ``ValueError``,
            as in :meth:`fit` and :meth:`adapt`.
        sample_weight : array-like of shape (n_pairs,), default=None

        Returns
        -------
        float
        """
        return super().score(X, check_binary_preferences(y), sample_weight=sample_weight)

    # ------------------------------------------------------------ adapt
    def _encode_adapt_y(self, y) -> np.ndarray:
        return check_binary_preferences(y)
