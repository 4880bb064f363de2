"""The layers every ensemble is built from, drawn from a local generator.

Learnable and frozen linear layers with PyTorch's default initialisation, and
ReLU MLPs of them, all drawn from a seeded :class:`torch.Generator`, never
from torch's global random state.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

DTYPE = torch.float32


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the only source of randomness at build time."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def init_linear_(weight: torch.Tensor, bias: torch.Tensor, generator: torch.Generator) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, drawn from ``generator``.

    ``weight`` has shape ``(out_features, in_features)``: kaiming-uniform with
    ``a = sqrt(5)``, i.e. uniform on ``+-1/sqrt(in_features)``; the bias is
    uniform on the same interval.
    """
    with torch.no_grad():
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(weight.shape[1])
        nn.init.uniform_(bias, -bound, bound, generator=generator)


def linear(in_features: int, out_features: int, generator: torch.Generator) -> nn.Linear:
    """A learnable ``nn.Linear`` initialised from ``generator`` (global RNG untouched)."""
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features, dtype=DTYPE)
    init_linear_(layer.weight, layer.bias, generator)
    return layer


class FrozenLinear(nn.Module):
    """A linear layer whose weight and bias are buffers: never trained, always saved."""

    def __init__(self, in_features: int, out_features: int, generator: torch.Generator) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        weight = torch.empty(out_features, in_features, dtype=DTYPE)
        bias = torch.empty(out_features, dtype=DTYPE)
        init_linear_(weight, bias, generator)
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, frozen=True"


def mlp(
    in_features: int,
    hidden_layer_sizes: tuple[int, ...],
    out_features: int | None,
    generator: torch.Generator,
    *,
    frozen: bool = False,
) -> nn.Sequential:
    """A ReLU MLP; with ``out_features=None`` it ends after the last hidden ReLU."""
    make = FrozenLinear if frozen else linear
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [make(width, size, generator), nn.ReLU()]
        width = size
    if out_features is not None:
        layers.append(make(width, out_features, generator))
    return nn.Sequential(*layers)


def floating_dtype(module: nn.Module, default: torch.dtype = torch.float32) -> torch.dtype:
    """The dtype of ``module``'s first floating parameter or buffer (``default`` without one)."""
    for t in (*module.parameters(), *module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return default
