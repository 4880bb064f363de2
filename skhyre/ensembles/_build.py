"""Building an ensemble module by name: :func:`build_ensemble`."""

from __future__ import annotations

from torch import nn

from .._validation import check_count, check_finite_real
from ._epinet import Epinet
from ._mc_dropout import MCDropoutEnsemble
from ._shared_base import SharedBaseEnsemble
from ._vanilla import VanillaEnsemble

#: Names accepted by :func:`build_ensemble` (and the estimators' ``ensemble``).
ENSEMBLE_KINDS = ("shared_base", "epinet", "vanilla", "mc_dropout")


def build_ensemble(
    kind: str,
    n_features: int,
    n_outputs: int,
    *,
    n_members: int = 100,
    hidden_layer_sizes: tuple[int, ...] = (50, 50),
    prior_scale: float = 1.0,
    index_dim: int = 8,
    dropout: float = 0.1,
    seed: int = 0,
    feature_module: nn.Module | None = None,
    n_feature_outputs: int | None = None,
) -> nn.Module:
    """Build an ensemble module by name.

    Parameters
    ----------
    kind : {"shared_base", "epinet", "vanilla", "mc_dropout"}
        Which ensemble: :class:`SharedBaseEnsemble`, :class:`Epinet`,
        :class:`VanillaEnsemble` or :class:`MCDropoutEnsemble`.
    n_features : int
        Number of input features (columns of ``X``).
    n_outputs : int
        Outputs per member.
    n_members : int, default=100
        Ensemble size ``K``.
    hidden_layer_sizes : tuple of int, default=(50, 50)
        Hidden widths of the learnable and prior networks.
    prior_scale : float, default=1.0
        Scale of the frozen prior (``"shared_base"``, ``"epinet"``).
    index_dim : int, default=8
        Index dimension (``"epinet"``).
    dropout : float, default=0.1
        Dropout rate in ``[0, 1)`` (``"mc_dropout"``).
    seed : int, default=0
        Seed for the initial weights, priors, epinet indices and dropout masks.
    feature_module : torch.nn.Module or None, default=None
        Optional module applied to ``X`` first, mapping it to
        ``(batch, n_feature_outputs)``; the ensemble works on its output.
    n_feature_outputs : int or None, default=None
        Width of ``feature_module``'s output; required with it and only with it.

    Returns
    -------
    torch.nn.Module
        Maps ``(batch, n_features)`` float32 inputs to ``(batch, K, n_outputs)``
        (``(batch, 1, n_outputs)`` for ``"mc_dropout"`` in train mode).

    Raises
    ------
    ValueError
        If ``kind`` is unknown or a parameter is out of range. Every parameter
        is validated, including those the chosen kind does not use.
    TypeError
        If a parameter has the wrong type.

    Examples
    --------
    >>> import torch
    >>> from skhyre.ensembles import build_ensemble
    >>> net = build_ensemble("shared_base", n_features=3, n_outputs=1, n_members=8,
    ...                      hidden_layer_sizes=(16,), seed=0)
    >>> net(torch.randn(5, 3)).shape
    torch.Size([5, 8, 1])
    >>> net.n_members, net.prior_scale
    (8, 1.0)
    """
    if not isinstance(kind, str) or kind not in ENSEMBLE_KINDS:
        raise ValueError(f"kind must be one of {list(ENSEMBLE_KINDS)}, got {kind!r}.")
    common = {
        "n_members": n_members,
        "hidden_layer_sizes": hidden_layer_sizes,
        "seed": seed,
        "feature_module": feature_module,
        "n_feature_outputs": n_feature_outputs,
    }
    # parameters the chosen kind does not use are still validated
    prior_scale = check_finite_real(prior_scale, "prior_scale", min_val=0.0)
    index_dim = check_count(index_dim, "index_dim")
    dropout = check_finite_real(
        dropout, "dropout", min_val=0.0, max_val=1.0, include_boundaries="left"
    )
    if kind == "shared_base":
        return SharedBaseEnsemble(n_features, n_outputs, prior_scale=prior_scale, **common)
    if kind == "epinet":
        return Epinet(n_features, n_outputs, prior_scale=prior_scale, index_dim=index_dim, **common)
    if kind == "vanilla":
        return VanillaEnsemble(n_features, n_outputs, **common)
    return MCDropoutEnsemble(n_features, n_outputs, dropout=dropout, **common)
