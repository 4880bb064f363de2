"""Tests for skhyre.ensembles: shapes, seeding, frozen priors, member semantics."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from skhyre.ensembles import (
    ENSEMBLE_KINDS,
    Epinet,
    MCDropoutEnsemble,
    SharedBaseEnsemble,
    VanillaEnsemble,
    build_ensemble,
)

N_FEATURES = 3
N_OUTPUTS = 2
K = 5
HIDDEN = (8, 6)
INDEX_DIM = 4
PRIOR_KINDS = ("shared_base", "epinet")
#: The one message of every invalid ``hidden_layer_sizes`` (``skhyre._validation``).
HLS_MESSAGE = "hidden_layer_sizes must be a non-empty sequence of positive ints"


def make(kind: str, **overrides) -> nn.Module:
    params = {
        "n_members": K,
        "hidden_layer_sizes": HIDDEN,
        "index_dim": INDEX_DIM,
        "dropout": 0.3,
        "seed": 0,
    }
    params.update(overrides)
    return build_ensemble(kind, N_FEATURES, N_OUTPUTS, **params)


def inputs(n: int = 7, seed: int = 123) -> torch.Tensor:
    return torch.randn(n, N_FEATURES, generator=torch.Generator().manual_seed(seed))


def train_steps(module: nn.Module, n_steps: int = 20, seed: int = 0) -> None:
    """A few Adam steps on an MSE objective, optimizer built from module.parameters()."""
    torch.manual_seed(seed)
    X = inputs(16, seed=1)
    y = torch.randn(16, 1, N_OUTPUTS, generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    module.train()
    for _ in range(n_steps):
        optimizer.zero_grad()
        out = module(X)
        loss = ((out - y) ** 2).mean(dim=(0, 2)).sum()
        loss.backward()
        optimizer.step()


# --------------------------------------------------------------------------- shapes, attributes


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_output_shape_and_dtype(kind, mode):
    module = make(kind)
    module.train(mode == "train")
    out = module(inputs(7))
    members = 1 if (kind == "mc_dropout" and mode == "train") else K
    assert out.shape == (7, members, N_OUTPUTS)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_factory_returns_the_named_class():
    expected = {
        "shared_base": SharedBaseEnsemble,
        "epinet": Epinet,
        "vanilla": VanillaEnsemble,
        "mc_dropout": MCDropoutEnsemble,
    }
    for kind, cls in expected.items():
        assert type(make(kind)) is cls


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_attributes(kind):
    module = make(kind, prior_scale=2.5)
    assert module.n_members == K
    assert module.n_outputs == N_OUTPUTS
    assert module.hidden_layer_sizes == HIDDEN
    if kind in PRIOR_KINDS:
        assert module.prior_scale == 2.5
    if kind == "epinet":
        assert module.index_dim == INDEX_DIM
    if kind == "mc_dropout":
        assert module.dropout == 0.3


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_float64_input_is_cast(kind):
    module = make(kind).eval()
    X = inputs(4)
    assert torch.equal(module(X.double()), module(X))


def test_hidden_layer_sizes_accepts_list_and_numpy_ints():
    a = make("shared_base", hidden_layer_sizes=[8, np.int64(6)])
    b = make("shared_base")
    assert a.hidden_layer_sizes == HIDDEN
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def test_shared_base_width_matches_one_wide_mlp():
    """K members cost one MLP with a K * n_outputs last layer (plus the frozen prior)."""
    module = SharedBaseEnsemble(N_FEATURES, N_OUTPUTS, n_members=100, hidden_layer_sizes=HIDDEN)
    n_params = sum(p.numel() for p in module.parameters())
    expected = (N_FEATURES + 1) * 8 + (8 + 1) * 6 + (6 + 1) * 100 * N_OUTPUTS
    assert n_params == expected
    assert sum(b.numel() for b in module.buffers()) == expected


# --------------------------------------------------------------------------- seeding


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_same_seed_same_state_and_outputs(kind):
    a, b = make(kind, seed=7), make(kind, seed=7)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    X = inputs()
    assert torch.equal(a.eval()(X), b.eval()(X))


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_different_seed_different_state_and_outputs(kind):
    a, b = make(kind, seed=0), make(kind, seed=1)
    sa, sb = a.state_dict(), b.state_dict()
    for key in sa:
        assert not torch.equal(sa[key], sb[key]), key
    X = inputs()
    assert not torch.allclose(a.eval()(X), b.eval()(X))


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_construction_leaves_global_rng_alone(kind):
    torch.manual_seed(0)
    state = torch.get_rng_state()
    make(kind, seed=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_default_linear_init_bounds():
    """Learnable and prior weights follow nn.Linear's init: uniform on +-1/sqrt(fan_in)."""
    module = build_ensemble("shared_base", 10, 1, n_members=20, seed=0)
    layers = [m for m in module.modules() if hasattr(m, "weight") and hasattr(m, "bias")]
    assert len(layers) == 6  # 3 learnable + 3 frozen
    for layer in layers:
        bound = 1.0 / math.sqrt(layer.weight.shape[1])
        for tensor in (layer.weight, layer.bias):
            assert tensor.abs().max() <= bound
        # spread over the whole interval, not a narrower init
        assert layer.weight.abs().max() > 0.8 * bound
        assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.25)


# --------------------------------------------------------------------------- frozen priors


@pytest.mark.parametrize("kind", PRIOR_KINDS)
def test_prior_is_buffers_and_never_trains(kind):
    module = make(kind)
    prior_buffers = dict(module.prior.named_buffers())
    assert len(prior_buffers) == 2 * (len(HIDDEN) + 1)
    assert list(module.prior.parameters()) == []
    state = module.state_dict()
    for name in prior_buffers:
        assert f"prior.{name}" in state
    param_ids = {id(p) for p in module.parameters()}
    assert not any(id(b) in param_ids for b in prior_buffers.values())
    assert not any(name.startswith("prior.") for name, _ in module.named_parameters())

    prior_before = {k: v.clone() for k, v in prior_buffers.items()}
    params_before = {k: v.detach().clone() for k, v in module.named_parameters()}
    other_buffers = {k: v.clone() for k, v in module.named_buffers()}
    train_steps(module, n_steps=20)

    for name, tensor in module.prior.named_buffers():
        assert torch.equal(tensor, prior_before[name]), name
        assert tensor.grad is None
        assert not tensor.requires_grad
    for name, tensor in module.named_buffers():  # epinet indices too
        assert torch.equal(tensor, other_buffers[name]), name
    for name, param in module.named_parameters():
        assert not torch.equal(param.detach(), params_before[name]), f"{name} did not train"


@pytest.mark.parametrize("kind", PRIOR_KINDS)
def test_output_is_linear_in_prior_scale(kind):
    X = inputs()
    out = {s: make(kind, prior_scale=s).eval()(X).detach() for s in (0.0, 1.0, 2.5)}
    prior_part = out[1.0] - out[0.0]
    assert prior_part.abs().max() > 1e-3  # the prior contributes
    torch.testing.assert_close(out[2.5] - out[0.0], 2.5 * prior_part, atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------- vanilla


def test_vanilla_matches_per_member_loop():
    module = make("vanilla").eval()
    X = inputs(9)
    weights = [w.detach() for w in module.weights]
    biases = [b.detach() for b in module.biases]
    reference = []
    for k in range(K):
        h = X
        for layer, (w, b) in enumerate(zip(weights, biases)):
            h = h @ w[k] + b[k, 0]
            if layer < len(weights) - 1:
                h = torch.relu(h)
        reference.append(h)
    expected = torch.stack(reference, dim=1)
    torch.testing.assert_close(module(X).detach(), expected, atol=1e-6, rtol=1e-5)


def test_vanilla_members_are_independent():
    module = make("vanilla")
    assert [tuple(w.shape) for w in module.weights] == [(K, 3, 8), (K, 8, 6), (K, 6, 2)]
    for w in module.weights:
        for k in range(1, K):
            assert not torch.equal(w[0], w[k])
    # member 0's loss reaches member 0's weights only
    module(inputs())[:, 0].sum().backward()
    for param in [*module.weights, *module.biases]:
        assert param.grad[0].abs().sum() > 0
        assert torch.count_nonzero(param.grad[1:]) == 0


# --------------------------------------------------------------------------- MC dropout


def test_mc_dropout_members_are_fixed_functions():
    module = make("mc_dropout", dropout=0.4).eval()
    X = inputs(10)
    out = module(X)
    assert torch.equal(out, module(X))
    # a row's member outputs do not depend on the other rows of the batch
    torch.testing.assert_close(module(X[3:4]), out[3:4], atol=1e-6, rtol=0)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(module(X[perm]), out[perm], atol=1e-6, rtol=0)
    for k in range(1, K):
        assert not torch.allclose(out[:, 0], out[:, k])


def test_mc_dropout_members_match_masked_reference():
    p = 0.4
    module = make("mc_dropout", dropout=p).eval()
    masks = module.masks()
    assert [tuple(m.shape) for m in masks] == [(K, 8), (K, 6)]
    for mask in masks:
        values = mask.unique()
        assert len(values) == 2
        assert values[0] == 0.0
        assert values[1].item() == pytest.approx(1 / (1 - p))
    X = inputs(6)
    layers = module.layers
    for k in range(K):
        h = torch.relu(layers[0](X)) * masks[0][k]
        h = torch.relu(layers[1](h)) * masks[1][k]
        torch.testing.assert_close(module(X)[:, k], layers[2](h), atol=1e-6, rtol=1e-5)


def test_mc_dropout_train_mode_is_ordinary_dropout():
    module = make("mc_dropout", dropout=0.5).train()
    X = inputs(8)
    a, b = module(X), module(X)
    assert a.shape == (8, 1, N_OUTPUTS)
    assert not torch.equal(a, b)  # fresh masks per call
    torch.manual_seed(5)
    c = module(X)
    torch.manual_seed(5)
    assert torch.equal(c, module(X))


def test_mc_dropout_zero_rate_is_the_plain_mlp():
    module = make("mc_dropout", dropout=0.0)
    X = inputs()
    train_out = module.train()(X)
    eval_out = module.eval()(X)
    torch.testing.assert_close(eval_out, train_out.expand(-1, K, -1), atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- epinet


def test_epinet_eval_deterministic_and_uses_stored_indices():
    module = make("epinet").eval()
    assert module.indices.shape == (K, INDEX_DIM)
    assert "indices" in module.state_dict()
    assert not any(p is module.indices for p in module.parameters())
    X = inputs()
    out = module(X)
    assert torch.equal(out, module(X))
    for k in range(1, K):
        assert not torch.allclose(out[:, 0], out[:, k])
    with torch.no_grad():
        module.indices.zero_()
    zero = module(X)  # every member collapses to the base prediction
    torch.testing.assert_close(zero, zero[:, :1].expand(-1, K, -1))


def test_epinet_train_draws_fresh_indices_from_global_rng():
    module = make("epinet")
    X = inputs()
    module.train()
    a, b = module(X), module(X)
    assert a.shape == (X.shape[0], K, N_OUTPUTS)
    assert not torch.allclose(a, b)
    # train mode == eval mode with indices torch.randn(K, index_dim) from the global RNG
    torch.manual_seed(11)
    z = torch.randn(K, INDEX_DIM)
    torch.manual_seed(11)
    train_out = module(X)
    module.eval()
    with torch.no_grad():
        module.indices.copy_(z)
    torch.testing.assert_close(train_out, module(X))


def test_epinet_epistemic_part_does_not_train_the_base():
    module = make("epinet").eval()
    out = module(inputs())
    spread = out[:, 0] - out[:, 1]  # depends on the epistemic network only
    spread.pow(2).sum().backward()
    for param in [*module.base.parameters(), *module.base_head.parameters()]:
        assert param.grad is None or torch.count_nonzero(param.grad) == 0
    assert all(p.grad.abs().sum() > 0 for p in module.epinet.parameters())


# --------------------------------------------------------------------------- feature module


class TinyTextEncoder(nn.Module):
    """Mean of token embeddings: token ids (batch, seq) -> (batch, dim)."""

    def __init__(self, vocab: int = 20, dim: int = 4) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab, dim, mode="mean")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens)


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_feature_module_path(kind):
    torch.manual_seed(0)
    encoder = TinyTextEncoder()
    module = build_ensemble(
        kind,
        n_features=6,
        n_outputs=N_OUTPUTS,
        n_members=K,
        hidden_layer_sizes=HIDDEN,
        seed=0,
        feature_module=encoder,
        n_feature_outputs=4,
    )
    assert module.feature_module is encoder
    assert any(p is encoder.embedding.weight for p in module.parameters())
    tokens = torch.randint(0, 20, (7, 6), generator=torch.Generator().manual_seed(0))
    module.train()
    out = module(tokens)
    assert out.shape == (7, 1 if kind == "mc_dropout" else K, N_OUTPUTS)
    out.sum().backward()
    assert encoder.embedding.weight.grad.abs().sum() > 0  # trained end to end
    module.eval()
    expected = build_ensemble(
        kind, 4, N_OUTPUTS, n_members=K, hidden_layer_sizes=HIDDEN, seed=0
    ).eval()
    torch.testing.assert_close(module(tokens), expected(encoder(tokens)))


def test_feature_module_wrong_output_width():
    module = build_ensemble(
        "shared_base", 6, 1, n_members=K, feature_module=TinyTextEncoder(dim=5), n_feature_outputs=4
    )
    with pytest.raises(ValueError, match="n_feature_outputs"):
        module(torch.zeros(3, 6, dtype=torch.long))


# --------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_state_dict_round_trip(kind):
    trained = make(kind, seed=0)
    train_steps(trained, n_steps=3)
    fresh = make(kind, seed=1)
    fresh.load_state_dict(trained.state_dict())
    X = inputs()
    assert torch.equal(fresh.eval()(X), trained.eval()(X))
    clone = pickle.loads(pickle.dumps(trained))
    assert torch.equal(clone.eval()(X), trained(X))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_to_cuda_moves_buffers(kind):
    module = make(kind).eval()
    X = inputs()
    expected = module(X).detach()
    module.to("cuda")
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        assert tensor.device.type == "cuda", name
    out = module(X.cuda())
    torch.testing.assert_close(out.cpu(), expected, atol=1e-5, rtol=1e-4)
    train_out = module.train()(X.cuda())
    assert train_out.device.type == "cuda"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"n_members": 0}, "n_members"),
        ({"hidden_layer_sizes": ()}, rf"{HLS_MESSAGE}, got \(\)\.$"),
        (
            {"hidden_layer_sizes": (8, 0)},
            rf"{HLS_MESSAGE}, got \(8, 0\): hidden_layer_sizes\[1\] is 0",
        ),
        ({"prior_scale": -0.5}, "prior_scale"),
        ({"prior_scale": float("nan")}, "prior_scale must be finite, got nan"),
        ({"prior_scale": float("inf")}, "prior_scale must be finite, got inf"),
        ({"index_dim": 0}, "index_dim"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"seed": -1}, "seed"),
        ({"n_feature_outputs": 4}, "n_feature_outputs"),
        ({"feature_module": nn.Identity()}, "n_feature_outputs"),
        ({"feature_module": nn.Identity(), "n_feature_outputs": 0}, "n_feature_outputs"),
    ],
)
@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_bad_arguments_raise_value_error(kind, overrides, match):
    with pytest.raises(ValueError, match=match):
        make(kind, **overrides)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("boosting", 3, 1), r"kind must be one of \['shared_base', 'epinet'"),
        (("vanilla", 0, 1), "n_features"),
        (("vanilla", 3, 0), "n_outputs"),
    ],
)
def test_bad_positional_arguments_raise_value_error(args, match):
    with pytest.raises(ValueError, match=match):
        build_ensemble(*args)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"n_members": 2.5}, "n_members must be an int, got 2.5 of type float"),
        ({"n_members": True}, "n_members must be an int, got True of type bool"),
        ({"hidden_layer_sizes": "50"}, f"{HLS_MESSAGE}, got '50' of type str"),
        ({"hidden_layer_sizes": None}, f"{HLS_MESSAGE}, got None of type NoneType"),
        (
            {"hidden_layer_sizes": (8, 2.5)},
            rf"{HLS_MESSAGE}, got \(8, 2.5\): hidden_layer_sizes\[1\] is 2.5 of type float",
        ),
        ({"hidden_layer_sizes": (8, True)}, r"hidden_layer_sizes\[1\] is True of type bool"),
        ({"prior_scale": "big"}, "prior_scale must be a real number, got 'big' of type str"),
        ({"prior_scale": True}, "prior_scale must be a real number, got True of type bool"),
        ({"feature_module": "encoder", "n_feature_outputs": 4}, "feature_module"),
    ],
)
def test_bad_argument_types_raise_type_error(overrides, match):
    with pytest.raises(TypeError, match=match):
        make("shared_base", **overrides)


def test_classes_validate_their_own_arguments():
    with pytest.raises(ValueError, match="prior_scale"):
        SharedBaseEnsemble(3, 1, prior_scale=-1.0)
    with pytest.raises(ValueError, match="index_dim"):
        Epinet(3, 1, index_dim=0)
    with pytest.raises(ValueError, match="dropout"):
        MCDropoutEnsemble(3, 1, dropout=1.5)
    with pytest.raises(ValueError, match="n_members"):
        VanillaEnsemble(3, 1, n_members=0)


@pytest.mark.parametrize("kind", ENSEMBLE_KINDS)
def test_wrong_input_width_raises(kind):
    module = make(kind)
    with pytest.raises(ValueError, match=r"X must have shape \(batch, 3\)"):
        module(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="X must have shape"):
        module(torch.zeros(4))
