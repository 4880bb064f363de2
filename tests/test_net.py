"""skhyre._net: device checks, seeding that leaves other devices alone, the net's pickling."""

from __future__ import annotations

import contextlib
import copy
import pickle
import threading
import warnings

import numpy as np
import pytest
import torch
import torch.serialization
from numpy.testing import assert_array_equal
from skorch import NeuralNet

from skhyre import HyReRegressor, HyReRewardModel
from skhyre._net import EnsembleNet, resolve_device, seeded

FAST = dict(n_members=5, hidden_layer_sizes=(8,), index_dim=4, max_epochs=2, random_state=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n=80):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    return X, X[:, 0] - X[:, 2] + 0.1 * rng.normal(size=n)


def _fitted(**kw):
    X, y = _data()
    return HyReRegressor(**{**FAST, **kw}).fit(X[:60], y[:60]).adapt(X[60:70], y[60:70]), X, y


# ------------------------------------------------------------------ devices
def _one_gpu_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_resolve_device_cuda_index_beyond_device_count(monkeypatch):
    _one_gpu_machine(monkeypatch)
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cuda:0") == "cuda:0"
    assert resolve_device("auto") == "cuda"
    with pytest.raises(ValueError, match=r"'cuda:3'.*1 CUDA device\(s\).*from 0 to 0"):
        resolve_device("cuda:3")
    with pytest.raises(ValueError, match=r"'cuda:1'.*device_count"):
        HyReRegressor(device="cuda:1", **FAST).fit(*_data())


def test_resolve_device_cuda_unavailable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match=r"CUDA is not available.*torch.cuda.is_available"):
        resolve_device("cuda:0")


def test_resolve_device_mps_unavailable(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"MPS is not available.*torch.backends.mps.is_available"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="MPS is not available"):
        HyReRegressor(device="mps", **FAST).fit(*_data())


@pytest.mark.parametrize("device", ["meta", "xla", "ipu"])
def test_resolve_device_refuses_non_compute_devices(device):
    with pytest.raises(ValueError, match=rf"{device!r} device, on which skhyre cannot train"):
        resolve_device(device)
    with pytest.raises(ValueError, match="cannot train"):
        HyReRegressor(device=device, **FAST).fit(*_data())


def test_resolve_device_rejects_non_devices():
    with pytest.raises(ValueError, match="is not a torch device"):
        resolve_device("gpu")


# ------------------------------------------------------------------ seeding
class _CudaSpy:
    """Simulated CUDA RNG: records which devices are seeded, saved and restored."""

    def __init__(self, monkeypatch):
        self.events = []
        self.current = 0
        monkeypatch.setattr(torch.cuda, "manual_seed_all", self._refuse("manual_seed_all"))
        monkeypatch.setattr(torch.cuda, "seed_all", self._refuse("seed_all"))
        monkeypatch.setattr(torch.cuda, "manual_seed", self._manual_seed)
        monkeypatch.setattr(torch.cuda, "get_rng_state", self._get)
        monkeypatch.setattr(torch.cuda, "set_rng_state", self._set)
        monkeypatch.setattr(torch.cuda, "device", self._device)

    def _refuse(self, name):
        def refuse(*args, **kwargs):
            self.events.append((name, *args))

        return refuse

    def _manual_seed(self, seed):
        self.events.append(("manual_seed", self.current, seed))

    def _get(self, device="cuda"):
        self.events.append(("get_rng_state", device))
        return torch.zeros(8, dtype=torch.uint8)

    def _set(self, state, device="cuda"):
        self.events.append(("set_rng_state", device))

    @contextlib.contextmanager
    def _device(self, index):
        previous, self.current = self.current, index
        try:
            yield
        finally:
            self.current = previous


def test_cpu_fit_leaves_cuda_rng_alone(monkeypatch):
    """torch.manual_seed would reseed (or queue a reseed of) every CUDA device."""
    spy = _CudaSpy(monkeypatch)
    X, y = _data()
    HyReRegressor(ensemble="epinet", **FAST).fit(X, y).partial_fit(X[:20], y[:20])
    Xp = np.hstack([X, X[::-1]])
    HyReRewardModel(module=torch.nn.Linear(4, 3), **FAST).fit(Xp, (y > y[::-1]).astype(int))
    assert spy.events == []


def test_cuda_fit_seeds_and_restores_only_its_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    spy = _CudaSpy(monkeypatch)
    cpu_state = torch.get_rng_state()
    with seeded(7, "cuda:1"):
        drawn = torch.rand(3)
    assert spy.events == [("get_rng_state", 1), ("manual_seed", 1, 7), ("set_rng_state", 1)]
    assert torch.equal(torch.get_rng_state(), cpu_state)
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(7)
        assert torch.equal(torch.rand(3), drawn)
    # plain "cuda" is torch's current device
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 2)
    spy.events.clear()
    with seeded(8, "cuda"):
        pass
    assert spy.events == [("get_rng_state", 2), ("manual_seed", 2, 8), ("set_rng_state", 2)]


def test_seeded_cpu_draws_match_manual_seed():
    """CPU fits stay bitwise what they were with torch.manual_seed."""
    state = torch.get_rng_state()
    with seeded(123):
        a = torch.rand(5), torch.randperm(10)
    assert torch.equal(torch.get_rng_state(), state)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        b = torch.rand(5), torch.randperm(10)
    assert all(torch.equal(u, v) for u, v in zip(a, b))


# ------------------------------------------------------------------ pickling
def _size_as_plain_neuralnet(est) -> int:
    """Pickle size with ``net_`` as the plain skorch NeuralNet skhyre used to store."""
    net = est.net_
    net.__class__ = NeuralNet
    try:
        return len(pickle.dumps(est))
    finally:
        net.__class__ = EnsembleNet


def test_pickle_stores_the_module_once():
    est = _fitted(n_members=20, hidden_layer_sizes=(64, 64))[0]
    assert isinstance(est.net_, EnsembleNet)
    assert est.net_.module is est.net_.module_
    state = est.net_.__getstate__()
    assert not any(isinstance(v, torch.nn.Module) for v in state.values())
    size, old_size = len(pickle.dumps(est)), _size_as_plain_neuralnet(est)
    # the old pickle held the weights twice (Adam's two moments once more each)
    assert size < 0.8 * old_size, (size, old_size)


@pytest.mark.parametrize("roundtrip", [lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy])
def test_loaded_net_keeps_one_module(roundtrip):
    est, X, y = _fitted()
    copy_ = roundtrip(est)
    assert copy_.net_.module is copy_.net_.module_
    assert_array_equal(copy_.predict_members(X), est.predict_members(X))
    for e in (copy_, est):
        e.partial_fit(X[:30], y[:30] + 1.0)
        assert e.net_.module is e.net_.module_
    assert_array_equal(copy_.predict_members(X), est.predict_members(X))
    net = copy_.net_.initialize()  # skorch re-initialises from the same module instance
    assert net.module is net.module_


def test_old_plain_neuralnet_pickle_loads_and_is_upgraded():
    est, X, _ = _fitted()
    est.net_.__class__ = NeuralNet  # what skhyre pickled before EnsembleNet
    blob = pickle.dumps(est)
    est.net_.__class__ = EnsembleNet
    loaded = pickle.loads(blob)
    assert type(loaded.net_) is EnsembleNet
    assert loaded.net_.module is loaded.net_.module_
    assert_array_equal(loaded.predict_members(X), est.predict_members(X))
    assert len(pickle.dumps(loaded)) < 0.8 * len(blob)


def test_pickle_from_before_callbacks_gets_the_defaults():
    est, X, y = _fitted()
    state = dict(est.__getstate__())  # a copy: it may be est.__dict__ itself
    for name in ("callbacks", "train_split"):  # parameters added later
        del state[name]
    old = type(est).__new__(type(est))
    old.__setstate__(state)
    assert old.get_params()["callbacks"] is None and old.get_params()["train_split"] is None
    old.partial_fit(X[:30], y[:30])
    assert_array_equal(old.predict_members(X).shape, est.predict_members(X).shape)


def test_simulated_cuda_pickle_loads_on_cpu(monkeypatch):
    """A pickle whose tensors are tagged 'cuda:0', as one written on a GPU machine."""
    est, X, y = _fitted(ensemble="epinet", temperature="auto")
    members, weights = est.predict_members(X), est.weights_.copy()
    est.set_params(device="cuda")
    est.device_ = "cuda"
    est.net_.device = "cuda"
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        blob = pickle.dumps(est)
    assert b"cuda:0" in blob
    assert not torch.cuda.is_available()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pickle.loads(blob)
    assert any("cuda" in str(w.message).lower() for w in caught)  # skorch's DeviceWarning
    assert str(loaded.net_.device) == "cpu"
    assert loaded.device_ == "cpu"
    assert loaded.device == "cuda"  # the parameter is the user's: set it before refitting
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    assert loaded.net_.module is loaded.net_.module_
    assert_array_equal(loaded.predict_members(X), members)
    assert_array_equal(loaded.weights_, weights)
    loaded.partial_adapt(X[70:75], y[70:75])
    loaded.partial_fit(X[:20], y[:20])
    assert str(loaded.net_.device) == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fits_keep_every_cuda_rng_state():
    X, y = _data()
    before = torch.cuda.get_rng_state_all()
    HyReRegressor(ensemble="epinet", **FAST).fit(X, y)
    HyReRegressor(ensemble="epinet", device="cuda:0", **FAST).fit(X, y)
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("ensemble", ["epinet", "mc_dropout"])
def test_concurrent_predictions_keep_the_members_fixed(ensemble):
    """Two threads in predict_members at once: the first one out leaves eval mode alone.

    Eval mode is what fixes the epinet's indices and the dropout masks. The
    interleaving is forced with a forward pre-hook; the module is put in
    training mode first, as an estimator pickled before fit ended in eval.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    reg = HyReRegressor(
        ensemble=ensemble, n_members=4, hidden_layer_sizes=(8,), max_epochs=2, random_state=0
    ).fit(X, X[:, 0])
    module = reg.net_.module_
    assert not module.training  # fit leaves the members fixed
    ref = reg.predict_members(X)
    module.train()
    entered = {name: threading.Event() for name in "AB"}
    go = {name: threading.Event() for name in "AB"}

    def hook(mod, inputs):
        name = threading.current_thread().name
        if name in entered:
            entered[name].set()
            assert go[name].wait(30)

    handle = module.register_forward_pre_hook(hook)
    out = {}

    def run():
        out[threading.current_thread().name] = reg.predict_members(X)

    a, b = threading.Thread(target=run, name="A"), threading.Thread(target=run, name="B")
    try:
        b.start()
        assert entered["B"].wait(30)  # B is inside its forward pass
        a.start()
        assert entered["A"].wait(30)  # and so is A
        go["B"].set()
        b.join(30)  # B leaves first
        go["A"].set()
        a.join(30)
    finally:
        handle.remove()
        for e in go.values():
            e.set()
    assert_array_equal(out["B"], ref)
    assert_array_equal(out["A"], ref)
    assert module.training  # the mode found is restored by the last one out


def test_prediction_chunks_shrink_with_the_members_widest_activation():
    from skhyre._net import CHUNK_BYTES, chunk_rows
    from skhyre.ensembles import build_ensemble

    def rows(kind, K, hidden, batch_size=128):
        module = build_ensemble(kind, 4, 1, n_members=K, hidden_layer_sizes=hidden, seed=0)
        return chunk_rows(module, batch_size)

    assert rows("vanilla", 4, (16,)) == 8192
    assert rows("vanilla", 4, (16,), batch_size=20_000) == 20_000  # a larger batch is kept
    assert rows("vanilla", 100, (50, 50)) == CHUNK_BYTES // (4 * 100 * 50)
    assert rows("vanilla", 1000, (500,)) == 256  # never below
    assert rows("shared_base", 10, (16,)) == 8192


def test_predictions_do_not_depend_on_the_chunking(monkeypatch):
    import skhyre._torch_base as base

    X, y = _data()
    reg = HyReRegressor(ensemble="vanilla", **FAST).fit(X, y)
    whole = reg.predict_members(X)
    monkeypatch.setattr(base, "chunk_rows", lambda module, batch_size: 7)
    np.testing.assert_allclose(reg.predict_members(X), whole, rtol=1e-6, atol=1e-6)


def test_recorded_training_loss_is_the_mean_per_member():
    # with a vanishing learning rate the members do not move during the epoch, so
    # the recorded train_loss is their mean squared error on the training rows
    from skhyre import HyReRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(96, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=96)
    for K in (2, 12):
        reg = HyReRegressor(
            n_members=K,
            hidden_layer_sizes=(8,),
            max_epochs=1,
            batch_size=96,
            lr=1e-12,
            random_state=0,
            early_stopping=False,  # every row in the epoch's loss
        ).fit(X, y)
        F = (reg.predict_members(X) - reg.y_mean_) / reg.y_scale_
        expected = np.mean((F - (y - reg.y_mean_) / reg.y_scale_) ** 2)
        np.testing.assert_allclose(reg.net_.history[-1, "train_loss"], expected, rtol=1e-4)
