"""What every ensemble shares: validated sizes, the optional feature module, the input check."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_count, check_hidden_layer_sizes
from ._layers import floating_dtype

MAX_SEED = 2**63 - 1


def check_feature_module(
    feature_module: nn.Module | None, n_feature_outputs: int | None
) -> int | None:
    """Validate the optional feature module and the width of its output."""
    if feature_module is None:
        if n_feature_outputs is not None:
            raise ValueError(
                "n_feature_outputs is the output width of feature_module and needs one; "
                f"got n_feature_outputs={n_feature_outputs!r} with feature_module=None."
            )
        return None
    if not isinstance(feature_module, nn.Module):
        raise TypeError(
            "feature_module must be a torch.nn.Module, "
            f"got {feature_module!r} of type {type(feature_module).__name__}."
        )
    if n_feature_outputs is None:
        raise ValueError(
            "n_feature_outputs (the width of feature_module's output) is required "
            "when feature_module is given."
        )
    return check_count(n_feature_outputs, "n_feature_outputs")


class EnsembleModule(nn.Module):
    """Validation, attributes and the optional feature module shared by all ensembles."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_members: int,
        hidden_layer_sizes,
        seed: int,
        feature_module: nn.Module | None,
        n_feature_outputs: int | None,
    ) -> None:
        super().__init__()
        self.n_features = check_count(n_features, "n_features")
        self.n_outputs = check_count(n_outputs, "n_outputs")
        self.n_members = check_count(n_members, "n_members")
        self.hidden_layer_sizes = check_hidden_layer_sizes(hidden_layer_sizes)
        self.seed = check_count(seed, "seed", min_val=0, max_val=MAX_SEED)
        self.n_feature_outputs = check_feature_module(feature_module, n_feature_outputs)
        self.feature_module = feature_module
        #: width of what the ensemble's own networks see
        self.in_features = self.n_features if feature_module is None else self.n_feature_outputs

    def member_parameters(self) -> list[tuple[nn.Parameter, torch.Tensor]]:
        """The parameters that belong to one member each, with a ``(n_members, ...)`` view.

        Row ``k`` of each view is member ``k``'s own (a vanilla member's
        weights, a shared-base head); layers that every member uses are not
        listed. Empty where no parameter is a single member's (Epinet, MC
        dropout).
        """
        return []

    def _inputs(self, X, dtype: torch.dtype) -> torch.Tensor:
        """Apply the feature module if any, check the width, cast to the module's dtype.

        The feature module sees ``X`` in its own floating dtype (a frozen
        ``float16`` or ``bfloat16`` backbone works); the heads see its output
        cast to theirs.
        """
        if self.feature_module is not None:
            if isinstance(X, torch.Tensor) and X.is_floating_point():
                X = X.to(floating_dtype(self.feature_module, X.dtype))
            Z = self.feature_module(X)
            if not isinstance(Z, torch.Tensor) or Z.ndim != 2 or Z.shape[1] != self.in_features:
                shape = tuple(Z.shape) if isinstance(Z, torch.Tensor) else type(Z).__name__
                raise ValueError(
                    f"feature_module must return a tensor of shape (batch, {self.in_features}) "
                    f"(n_feature_outputs), got {shape}."
                )
            return Z.to(dtype)
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}.")
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (batch, {self.n_features}) (n_features), got {tuple(X.shape)}."
            )
        return X.to(dtype)
