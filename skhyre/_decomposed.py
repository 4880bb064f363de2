"""Decomposed reward heads: closed-form members from the pooled preference pairs.

"Decomposed Reward Models" (DRMs; Luo et al., 2025, arXiv 2502.13131) read a
preference as a vector: the difference ``z = phi(chosen) - phi(rejected)`` of
the two responses' embeddings. The principal directions of these vectors over
the pooled training pairs are reward heads that need no annotator ids, and a
few labels from a user pick a combination of them. This module builds such
heads as an ensemble that HyRe reweights like any other:

- member 0, the **base head**: a ridge-regularized logistic regression on the
  differences (the Bradley-Terry reward model of the pool, linear in ``phi``);
- members ``1..K-1``: the leading principal directions ``v_j`` of the centred
  differences (PCA by SVD, as DRMs do with scikit-learn's ``PCA``), each
  turned into a reward ``r_j(x) = a_j v_j . phi(x)`` by a one-dimensional
  Bradley-Terry fit of ``a_j`` on the pairs: its sign makes the head agree with
  the pool along ``v_j`` and its magnitude is the pool's confidence there.

:func:`decompose_preferences` computes the heads (NumPy and SciPy only);
:class:`DecomposedHeads` is the torch module that evaluates them (an
:class:`~skhyre.ensembles.EnsembleModule`, so the estimators' prediction,
adaptation, query and pickling paths are those of every other ensemble).

Differences from the DRMs code (``amandaluof/DRMs``, ``generate_head.py`` and
``inf_TTA_v2.py``): DRMs keep both signs of every component (``2k`` heads) at
unit norm and standardize each head's scores on the user's examples before a
temperature-1 softmax of the log loss; here each component is one head whose
sign and scale come from the pooled pairs, so a head's rewards are already in
Bradley-Terry units (comparable across heads and with the base head), and the
weights come from HyRe's loss (pairwise 0-1 by default).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import optimize, special
from sklearn.utils import Bunch
from torch import nn

from .ensembles import EnsembleModule, floating_dtype

__all__ = ["DecomposedHeads", "build_decomposed", "decompose_preferences", "pair_differences"]

#: Ridge penalty of the base head and of the one-dimensional scale fits, on
#: the summed Bradley-Terry loss (scikit-learn's ``LogisticRegression(C=1)``).
ALPHA = 1.0


def _bt_objective(w: np.ndarray, Z: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Summed Bradley-Terry loss ``sum log(1 + exp(-z . w)) + alpha/2 |w|^2`` and its gradient."""
    t = Z @ w
    loss = float(np.logaddexp(0.0, -t).sum() + 0.5 * alpha * (w @ w))
    grad = -(Z.T @ special.expit(-t)) + alpha * w
    return loss, grad


def _ridge_bt(Z: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge-regularized Bradley-Terry (logistic, no intercept) coefficients on ``Z``."""
    w0 = np.zeros(Z.shape[1])
    res = optimize.minimize(
        _bt_objective, w0, args=(Z, alpha), jac=True, method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": 1e-9, "ftol": 1e-15},
    )  # fmt: skip
    return res.x


def _bt_scale(t: np.ndarray, alpha: float) -> float:
    """``argmin_a sum log(1 + exp(-a t_i)) + alpha/2 a^2`` by Newton's method (convex, 1-D)."""
    a = 0.0
    for _ in range(100):
        p = special.expit(-a * t)  # d/da of log(1 + exp(-a t)) is -t p
        grad = -(t * p).sum() + alpha * a
        hess = (t * t * p * (1.0 - p)).sum() + alpha
        step = grad / hess
        a -= step
        if abs(step) <= 1e-10 * max(1.0, abs(a)):
            break
    return float(a)


def decompose_preferences(
    D, y, n_components: int, *, alpha: float = ALPHA, signs: str = "fitted"
) -> Bunch:
    """Reward heads from pooled preference pairs: the base head and signed principal directions.

    Parameters
    ----------
    D : array-like of shape (n_pairs, m)
        Embedding differences ``phi(A) - phi(B)`` of the pairs.
    y : array-like of shape (n_pairs,)
        ``1`` when A is preferred, ``0`` when B is.
    n_components : int
        Number of principal directions (heads besides the base head);
        at most ``m`` and fewer than ``n_pairs``.
    alpha : float, default=1.0
        Ridge penalty of the base head's logistic regression and of each
        direction's one-dimensional scale fit, on the summed loss.
    signs : {"fitted", "both"}, default="fitted"
        ``"fitted"``: one head per direction, ``a_j v_j`` with ``a_j`` the
        one-dimensional Bradley-Terry fit (its sign and the pool's confidence).
        ``"both"``: as the DRMs code, two heads per direction, ``+v_j`` and
        ``-v_j``, each scaled to a unit root-mean-square reward difference
        over the training pairs, and the base head scaled the same way
        (``1 + 2 * n_components`` heads: base, the ``+`` heads, then the
        ``-`` heads).

    Returns
    -------
    Bunch
        ``heads`` (1 + n_components, m), or (1 + 2 * n_components, m) with
        ``signs="both"``: the reward weights, base head first;
        ``base_coef`` (m,); ``components`` (n_components, m), unit principal
        directions of the centred differences ``chosen - rejected``;
        ``scales`` (n_components,), the signed Bradley-Terry scale of each
        (with ``signs="fitted"``, ``heads[1:] == scales[:, None] * components``);
        ``explained_variance`` and ``explained_variance_ratio``
        (n_components,); ``agreement`` (1 + n_components,), the fraction of
        training pairs each head orders as the labels do (ties count 1/2).

    Raises
    ------
    ValueError
        On non-finite input, fewer pairs than ``n_components + 1``, or more
        components than dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre._decomposed import decompose_preferences
    >>> rng = np.random.default_rng(0)
    >>> D = rng.normal(size=(200, 5)) * [3.0, 1.0, 1.0, 0.5, 0.2]
    >>> y = (D[:, 0] + 0.5 * D[:, 1] > 0).astype(int)
    >>> out = decompose_preferences(D, y, n_components=2)
    >>> out.heads.shape, out.components.shape
    ((3, 5), (2, 5))
    >>> bool(out.agreement[0] > 0.9)
    True
    """
    D = np.asarray(D, dtype=np.float64)
    y = np.asarray(y)
    if D.ndim != 2:
        raise ValueError(f"D must be 2-D (n_pairs, m), got shape {D.shape}.")
    n, m = D.shape
    c = int(n_components)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {y.shape}.")
    if not np.isfinite(D).all():
        raise ValueError(
            "the pairs' feature differences contain NaN or inf; decomposed heads need finite "
            "features."
        )
    if c < 0:
        raise ValueError(f"n_components must be >= 0, got {c}.")
    if c > m:
        raise ValueError(
            f"{c} principal directions asked of {m}-dimensional response features: at most {m} "
            f"exist. Use n_members <= {m + 1} (the base head plus {m} directions; "
            f"<= {2 * m + 1} with decomposed_signs='both')."
        )
    if c and n <= c:
        raise ValueError(
            f"n_samples={n} training pairs give at most {max(n - 1, 0)} principal directions "
            f"of their centred differences, fewer than the {c} asked: fit on more pairs or use "
            f"fewer members."
        )
    sign = np.where(y == 1, 1.0, -1.0)
    Z = D * sign[:, None]  # chosen - rejected
    base = _ridge_bt(Z, alpha)
    if c:
        Zc = Z - Z.mean(axis=0)
        _, S, Vt = np.linalg.svd(Zc, full_matrices=False)
        V = Vt[:c]
        var = S**2 / max(n - 1, 1)
        total = float(var.sum())
        explained = var[:c]
        ratio = explained / total if total > 0 else np.zeros(c)
        T = Z @ V.T
        scales = np.array([_bt_scale(T[:, j], alpha) for j in range(c)])
    else:
        V = np.zeros((0, m))
        explained = ratio = scales = np.zeros(0)
    if signs == "fitted":
        heads = np.vstack([base[None, :], scales[:, None] * V])
    elif signs == "both":

        def unit(h):
            rms = float(np.sqrt(np.mean((D @ h) ** 2)))
            return h / rms if rms > 0 else h

        pos = np.array([unit(v) for v in V]).reshape(-1, m)
        heads = np.vstack([unit(base)[None, :], pos, -pos])
    else:
        raise ValueError(f"signs must be 'fitted' or 'both', got {signs!r}.")
    margins = Z @ heads.T
    agreement = ((margins > 0) + 0.5 * (margins == 0)).mean(axis=0)
    return Bunch(
        heads=heads,
        base_coef=base,
        components=V,
        scales=scales,
        explained_variance=explained,
        explained_variance_ratio=ratio,
        agreement=agreement,
    )


class DecomposedHeads(EnsembleModule):
    """Fixed linear reward heads ``r_k(x) = heads[k] . phi(x)`` as an ensemble module.

    ``phi`` is the optional feature module (the identity without one). The
    heads are a frozen parameter (``requires_grad=False``): they come from
    :func:`decompose_preferences`, not from gradient steps, and an optimizer
    built over the module leaves them as they are.

    Parameters
    ----------
    n_features : int
        Width of one input row.
    heads : array-like of shape (n_members, in_features)
        One reward weight vector per member.
    feature_module : torch.nn.Module or None, default=None
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output (``in_features``).

    Examples
    --------
    >>> import torch
    >>> from skhyre._decomposed import DecomposedHeads
    >>> net = DecomposedHeads(3, [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    >>> net(torch.tensor([[1.0, 1.0, 1.0]]))
    tensor([[[1.],
             [2.]]])
    """

    def __init__(
        self,
        n_features: int,
        heads,
        *,
        feature_module: nn.Module | None = None,
        n_feature_outputs: int | None = None,
    ) -> None:
        H = torch.as_tensor(np.asarray(heads, dtype=np.float32))
        if H.ndim != 2 or H.shape[0] < 1:
            raise ValueError(f"heads must be 2-D (n_members, in_features), got {tuple(H.shape)}.")
        super().__init__(
            n_features,
            1,
            n_members=int(H.shape[0]),
            hidden_layer_sizes=(1,),  # no hidden layer; only sizes prediction chunks
            seed=0,
            feature_module=feature_module,
            n_feature_outputs=n_feature_outputs,
        )
        if H.shape[1] != self.in_features:
            raise ValueError(
                f"heads have {H.shape[1]} columns but the heads' input has {self.in_features}."
            )
        self.heads = nn.Parameter(H, requires_grad=False)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Rewards, shape ``(batch, n_members, 1)``."""
        x = self._inputs(X, self.heads.dtype)
        return (x @ self.heads.T).unsqueeze(-1)

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, in_features={self.in_features}"


def pair_differences(
    feature_module: nn.Module | None, X32: np.ndarray, d: int, chunk: int = 4096
) -> np.ndarray:
    """``phi(A) - phi(B)`` for pair rows ``X32`` (float64), in eval mode without gradients."""
    if feature_module is None:
        return X32[:, :d].astype(np.float64) - X32[:, d:].astype(np.float64)
    first = next(iter(feature_module.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    out = []
    was_training = feature_module.training
    feature_module.eval()
    try:
        with torch.no_grad():
            for i in range(0, X32.shape[0], chunk):
                xb = torch.as_tensor(X32[i : i + chunk], device=device)
                xb = xb.to(floating_dtype(feature_module, xb.dtype))
                n = xb.shape[0]
                Z = feature_module(torch.cat([xb[:, :d], xb[:, d:]], dim=0)).double().cpu().numpy()
                out.append(Z[:n] - Z[n:])
    finally:
        feature_module.train(was_training)
    return np.concatenate(out, axis=0)


def build_decomposed(
    X32: np.ndarray,
    y: np.ndarray,
    n_members: int,
    *,
    feature_module: nn.Module | None = None,
    n_feature_outputs: int | None = None,
    signs: str = "fitted",
) -> tuple[DecomposedHeads, Bunch]:
    """The decomposed ensemble of pair rows ``X32`` labelled ``y``: module and decomposition.

    ``n_members`` heads: the base head and ``n_members - 1`` principal
    directions of ``phi(A) - phi(B)`` (``phi``: ``feature_module``, else the
    identity), or with ``signs="both"`` the base head and ``+v``/``-v`` heads
    of ``ceil((n_members - 1) / 2)`` directions (the last ``-v`` left out when
    ``n_members`` is even); see :func:`decompose_preferences`.
    """
    d = X32.shape[1] // 2
    D = pair_differences(feature_module, X32, d)
    K = int(n_members)
    if signs == "both":
        c = -(-(K - 1) // 2)
        info = decompose_preferences(D, y, c, signs="both")
        info.heads = info.heads[:K]
        info.agreement = info.agreement[:K]
    else:
        info = decompose_preferences(D, y, K - 1, signs=signs)
    module = DecomposedHeads(
        d, info.heads, feature_module=feature_module, n_feature_outputs=n_feature_outputs
    )
    return module, info
