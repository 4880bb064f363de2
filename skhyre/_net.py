"""Training an ensemble module through skorch, and batched member forwards.

The estimators hold a :class:`skorch.NeuralNet` (:class:`EnsembleNet`, which
pickles its module once) in ``net_`` whose module is one of
:mod:`skhyre.ensembles` (output ``(batch, K, out)``) and whose criterion is
:class:`MemberSumLoss`: the task loss summed over members (the history and
the ``verbose=1`` epoch table show its mean per member). The training loop,
callbacks, device handling and CUDA-to-CPU unpickling are skorch's.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
import weakref
from collections.abc import Iterator

import numpy as np
import torch
from skorch import NeuralNet
from torch import nn
from torch.nn import functional as F

from . import _kernels
from .ensembles import EnsembleModule

__all__ = [
    "OUTPUTS",
    "MemberSumLoss",
    "forward_mean_var",
    "forward_members",
    "forward_mixture",
    "make_net",
    "resolve_device",
    "seeded",
    "train_net",
]

_TASKS = ("regression", "classification", "preference")


def _launch_numba_keeping_torch_threads() -> None:
    """Start Numba's thread pool now, keeping torch's CPU thread count.

    Numba's OpenMP threading layer resets OpenMP's thread count, which torch
    shares, when it first launches: without this, the first adaptation kernel
    silently undid a user's ``torch.set_num_threads(1)`` (training then ran
    3-5x slower on a busy 2-core machine).
    """
    import numba

    n_threads = torch.get_num_threads()
    numba.get_num_threads()  # launches the threading layer (once per process)
    torch.set_num_threads(n_threads)


_launch_numba_keeping_torch_threads()


class MemberSumLoss(nn.Module):
    """Task loss summed over ensemble members and averaged over the batch.

    Parameters
    ----------
    task : {"regression", "classification", "preference"}
        ``"regression"``: squared error of ``(batch, K, 1)`` outputs against
        ``(batch,)`` targets. ``"classification"``: cross-entropy of
        ``(batch, K, C)`` logits against ``(batch,)`` class indices.
        ``"preference"``: Bradley-Terry loss, the logistic loss of
        ``(batch, K, 1)`` reward differences ``r(A) - r(B)`` against ``(batch,)``
        labels (1 when A is preferred).

    Targets may also be a ``(batch, 1 + K)`` matrix: the target in column 0
    and a weight per (example, member) pair in the other columns
    (annotator-aware training); each member's loss is then the weighted
    mean over the batch.

    Examples
    --------
    >>> import torch
    >>> from skhyre._net import MemberSumLoss
    >>> out = torch.zeros(4, 3, 1)           # batch 4, K=3 members
    >>> MemberSumLoss("regression")(out, torch.ones(4))
    tensor(3.)
    """

    def __init__(self, task: str = "regression"):
        super().__init__()
        if task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {task!r}.")
        self.task = task

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        batch, K = y_pred.shape[:2]
        member_weights = None
        if y_true.ndim == 2 and y_true.shape[1] > 1:
            # annotator-aware training: column 0 is the target, columns 1..K the
            # weight of each (example, member) pair (see skhyre._groups)
            member_weights = y_true[:, 1:].to(y_pred.dtype)
            y_true = y_true[:, 0]
        if self.task == "classification":
            C = y_pred.shape[2]
            per = F.cross_entropy(
                y_pred.reshape(batch * K, C),
                y_true.long().repeat_interleave(K),
                reduction="none",
            ).reshape(batch, K)
        elif self.task == "regression":
            per = (y_pred[..., 0] - y_true.reshape(batch, 1).to(y_pred.dtype)) ** 2
        else:
            per = F.binary_cross_entropy_with_logits(
                y_pred[..., 0],
                y_true.reshape(batch, 1).to(y_pred.dtype).expand(batch, K),
                reduction="none",
            )
        if member_weights is not None:
            per = per * member_weights
        return per.mean(dim=0).sum()


_ACCELERATORS = ("cuda", "mps")  # the device types skhyre trains on besides the CPU


def _accelerator_available(kind: str) -> bool:
    """Whether torch can compute on devices of type ``kind`` ("cuda" or "mps")."""
    if kind == "cuda":
        return torch.cuda.is_available()
    return torch.backends.mps.is_available()


def resolve_device(device: str) -> str:
    """Check that ``device`` can train here; map ``"auto"`` to ``"cuda"`` when available.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.

    Returns
    -------
    str
        ``device`` itself, or the device ``"auto"`` stands for.

    Raises
    ------
    ValueError
        When ``device`` is not a torch device, is not a device that computes
        (``"meta"`` and other types besides cpu, cuda and mps), names an
        accelerator that is not available, or a CUDA index beyond
        ``torch.cuda.device_count()``.

    Examples
    --------
    >>> from skhyre._net import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N', 'mps' "
            "or 'auto'."
        ) from None
    if dev.type == "cpu":
        return device
    if dev.type not in _ACCELERATORS:
        raise ValueError(
            f"device={device!r} is a {dev.type!r} device, on which skhyre cannot train or "
            "predict; use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'."
        )
    if not _accelerator_available(dev.type):
        check = (
            "torch.cuda.is_available()" if dev.type == "cuda" else "torch.backends.mps.is_available()"
        )
        raise ValueError(
            f"device={device!r} was requested but {dev.type.upper()} is not available on this "
            f"machine ({check} is False); use device='cpu' or 'auto'."
        )
    if dev.type == "cuda" and dev.index is not None:
        n_devices = torch.cuda.device_count()
        if dev.index >= n_devices:
            raise ValueError(
                f"device={device!r} was requested but this machine has {n_devices} CUDA "
                f"device(s) (torch.cuda.device_count()), numbered from 0 to {n_devices - 1}."
            )
    return device


@contextlib.contextmanager
def seeded(seed: int, device: str | torch.device = "cpu") -> Iterator[None]:
    """Seed torch's random generators for ``device`` inside the block, then restore them.

    Batching order, dropout and Epinet index sampling during training use
    torch's default generators; this makes a fit reproducible without
    touching the caller's random state. Only the CPU generator and, when
    ``device`` is an available CUDA or MPS device, that one device's
    generator are seeded and restored: unlike :func:`torch.manual_seed`,
    other CUDA devices are left alone (neither reseeded nor, while CUDA is
    not initialised, queued for a lazy reseed).

    Parameters
    ----------
    seed : int
        The seed.
    device : str or torch.device, default="cpu"
        The device the block computes on.
    """
    dev = torch.device(device)
    kind = dev.type if dev.type in _ACCELERATORS and _accelerator_available(dev.type) else None
    index = None
    if kind == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
    elif kind == "mps":
        index = 0
    # the CPU state is always forked; with devices=[] no accelerator is touched
    with torch.random.fork_rng(devices=[] if index is None else [index], device_type=kind or "cuda"):
        torch.random.default_generator.manual_seed(int(seed))
        if kind == "cuda":
            # fork_rng has initialised CUDA, so this seeds device `index` at once
            with torch.cuda.device(index):
                torch.cuda.manual_seed(int(seed))
        elif kind == "mps":
            torch.mps.manual_seed(int(seed))
        yield


# what an EnsembleNet pickle holds for `module` when it was `module_` itself
_MODULE_IS_MODULE_ = "<skhyre: same object as module_>"


class EnsembleNet(NeuralNet):
    """A skorch ``NeuralNet`` trained on a ready-built ensemble module.

    The module instance is both the ``module`` init parameter and the
    initialised ``module_``. Pickling (and so :func:`copy.deepcopy`) stores
    it once, in skorch's CUDA-aware part of the state (``module_``, mapped to
    the CPU when loaded on a machine without CUDA), and loading makes
    ``module`` the same object as ``module_`` again. Pickling ``module`` as
    well would double the file, hold two diverging copies of the weights
    after a load, deep copy or ``partial_fit``, and make a model trained on a
    GPU fail to load on a machine without one.
    """

    # The gradient is the member-summed loss (MemberSumLoss); what skorch
    # records and prints (train_loss, valid_loss, the verbose epoch table,
    # what EarlyStopping monitors) is its mean per member, which reads the
    # same whatever K is.
    @staticmethod
    def _per_member(step: dict) -> dict:
        y_pred = step.get("y_pred")
        K = y_pred.shape[1] if getattr(y_pred, "ndim", 0) >= 2 else 1
        return {**step, "loss": step["loss"] / K}

    def train_step_single(self, batch, **fit_params) -> dict:
        return self._per_member(super().train_step_single(batch, **fit_params))

    def validation_step(self, batch, **fit_params) -> dict:
        return self._per_member(super().validation_step(batch, **fit_params))

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        module = self.__dict__.get("module")
        if module is not None and module is self.__dict__.get("module_"):
            state["module"] = _MODULE_IS_MODULE_
        return state

    def __setstate__(self, state: dict) -> None:
        module = state.get("module")
        aliased = isinstance(module, str) and module == _MODULE_IS_MODULE_
        super().__setstate__(state)
        if aliased:
            self.__dict__["module"] = self.__dict__["module_"]

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; a ``KeyboardInterrupt`` is noted for :func:`train_net`
        before skorch's ``partial_fit`` swallows it."""
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as exc:
            _INTERRUPTED[self] = exc
            raise


#: net -> the KeyboardInterrupt that ended its loop (skorch's partial_fit swallows it)
_INTERRUPTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def _noting_sigint() -> Iterator[list]:
    """A list that records every SIGINT (Ctrl-C) that arrives inside the block.

    The current handler still runs (Python's raises ``KeyboardInterrupt``).
    Only in the main thread, where Python delivers signals, and only when the
    handler is a Python callable (not ignored, not the OS default).
    """
    seen: list = []
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield seen
        return

    def note(signum, frame):
        seen.append(signum)
        return previous(signum, frame)

    try:
        signal.signal(signal.SIGINT, note)
    except ValueError:  # not the main interpreter
        yield seen
        return
    try:
        yield seen
    finally:
        if signal.getsignal(signal.SIGINT) is note:
            signal.signal(signal.SIGINT, previous)


def train_net(net: NeuralNet, X, y, *, epochs: int | None = None) -> None:
    """``net.fit(X, y)`` (``epochs=None``) or ``net.partial_fit(X, y, epochs=epochs)``;
    Ctrl-C raises ``KeyboardInterrupt`` instead of ending training early.

    skorch's ``partial_fit`` (and so ``fit``) catches a ``KeyboardInterrupt``
    raised in its loop and returns as if training had finished: that is how
    its callbacks stop training early (``EarlyStopping`` raises it), so a
    callback raising it keeps that meaning here. But when the interrupt is a
    real Ctrl-C (a SIGINT arrived during training), the user expects the call
    to stop and the model to stay as it was: the interrupt is raised again
    once skorch has run its ``on_train_end`` callbacks, and the estimators
    keep their previous state, as on any exception. A callback other than
    ``EarlyStopping`` that stops training this way gets a ``UserWarning``
    saying that the partly trained model is kept.
    """
    _INTERRUPTED.pop(net, None)
    try:
        with _noting_sigint() as sigint:
            if epochs is None:
                net.fit(X, y)
            else:
                net.partial_fit(X, y, epochs=epochs)
    finally:
        interrupt = _INTERRUPTED.pop(net, None)
    if interrupt is None:
        return
    if sigint:
        raise interrupt
    if not _raised_by_early_stopping(interrupt):
        epochs_done = len(net.history)
        warnings.warn(
            f"Training stopped after {epochs_done} epoch(s): a callback raised "
            "KeyboardInterrupt, which skorch reads as 'stop training now' (as its "
            "EarlyStopping does), so the model trained so far replaces the previous fit. "
            "To abort and keep the previous state, raise another exception from the "
            "callback (or press Ctrl-C).",
            UserWarning,
            stacklevel=3,
        )


def _raised_by_early_stopping(exc: BaseException) -> bool:
    """Whether skorch's ``EarlyStopping`` (or a subclass) raised ``exc``."""
    from skorch.callbacks import EarlyStopping

    tb = exc.__traceback__
    while tb is not None:
        if isinstance(tb.tb_frame.f_locals.get("self"), EarlyStopping):
            return True
        tb = tb.tb_next
    return False


def make_net(
    module: nn.Module,
    *,
    task: str,
    max_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    device: str,
    verbose: int,
    callbacks=None,
    train_split=None,
) -> EnsembleNet:
    """An :class:`EnsembleNet` training ``module`` with :class:`MemberSumLoss`.

    Parameters
    ----------
    module : torch.nn.Module
        The ensemble, already built; it becomes the net's ``module_``.
    task : {"regression", "classification", "preference"}
        The :class:`MemberSumLoss` task.
    max_epochs, batch_size, lr, weight_decay, device, verbose
        The training settings (Adam with ``weight_decay``), as in skorch.
    callbacks : list or None, default=None
        Extra skorch callbacks, after skorch's defaults.
    train_split : callable or None, default=None
        skorch's ``train_split`` (``None``: train on all rows).

    Returns
    -------
    EnsembleNet
        The uninitialised net.
    """
    return EnsembleNet(
        module=module,
        criterion=MemberSumLoss,
        criterion__task=task,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=weight_decay,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=train_split,
        callbacks=callbacks,
        device=device,
        verbose=verbose,
    )


_EVAL_LOCK = threading.Lock()
_IN_EVAL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode for a forward pass, safe when several threads predict at once.

    Eval mode is what makes the members fixed functions (the epinet's fixed
    indices, the fixed dropout masks). The first of overlapping passes on a
    module switches it to eval and the last one out restores the mode it
    found, so one thread finishing never puts the module back in training
    mode under another one still in its forward pass.
    """
    with _EVAL_LOCK:
        entry = _IN_EVAL.get(module)
        if entry is None:
            entry = _IN_EVAL[module] = [0, module.training]
            module.eval()
        entry[0] += 1
    try:
        yield
    finally:
        with _EVAL_LOCK:
            entry[0] -= 1
            if entry[0] == 0:
                del _IN_EVAL[module]
                module.train(entry[1])


#: Bytes the widest activation of one chunk may take in :func:`forward_members`.
CHUNK_BYTES = 64 * 2**20


def chunk_rows(module: nn.Module, batch_size: int) -> int:
    """Rows per prediction chunk: 8192 (or ``batch_size`` if larger), fewer when wide.

    A chunk's widest activation holds up to ``n_members * width`` float32
    numbers a row (a vanilla or MC-dropout layer runs every member at once),
    so with many members or wide layers the chunk shrinks to keep it under
    :data:`CHUNK_BYTES` (and at least 256 rows).
    """
    rows = max(8192, int(batch_size))
    ens = next((m for m in module.modules() if isinstance(m, EnsembleModule)), None)
    if ens is not None:
        per_row = 4 * ens.n_members * max(*ens.hidden_layer_sizes, ens.n_outputs)
        rows = min(rows, max(256, CHUNK_BYTES // per_row))
    return rows


#: What :func:`forward_members` writes for each member: its raw outputs, the
#: softmax of its logits (classifiers) or ``[sigmoid(-d), sigmoid(d)]`` of a
#: reward difference ``d`` (reward models).
OUTPUTS = ("raw", "softmax", "pair")
_OUTPUT_KINDS = {
    "raw": _kernels.OUTPUT_RAW,
    "softmax": _kernels.OUTPUT_SOFTMAX,
    "pair": _kernels.OUTPUT_PAIR,
}


def _pair_probabilities(diff: torch.Tensor) -> torch.Tensor:
    """``(batch, K, 1)`` reward differences ``d`` -> ``[sigmoid(-d), sigmoid(d)]``."""
    return torch.cat([torch.sigmoid(-diff), torch.sigmoid(diff)], dim=-1)


#: The same outputs computed by torch on an accelerator (before the copy back).
_TORCH_OUTPUTS = {
    "softmax": lambda logits: torch.softmax(logits, dim=-1),
    "pair": _pair_probabilities,
}


def _fused_on_host(device: torch.device) -> bool:
    """Whether the kernels apply the softmax on the host (the CPU) rather than torch on ``device``."""
    return device.type == "cpu"


def _chunks(net, X: np.ndarray, output: str, chunk_size: int) -> Iterator[tuple[int, np.ndarray, int]]:
    """``(i0, L, kind)`` per chunk of rows: the module's ``(rows, K, out)`` outputs
    as a C-ordered array on the CPU and the :mod:`skhyre._kernels` ``OUTPUT_*``
    kind still to apply to them.

    On the CPU ``L`` is the forward output itself (no copy) and the kernels
    apply the softmax or sigmoid while they read it. On an accelerator torch
    applies it there, and only the probabilities come back (``OUTPUT_RAW``).
    """
    if output not in _OUTPUT_KINDS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}.")
    module = net.module_
    device = torch.device(net.device)
    on_cpu = _fused_on_host(device)
    kind = _OUTPUT_KINDS[output] if on_cpu else _kernels.OUTPUT_RAW
    n = X.shape[0]
    with _eval_mode(module), torch.no_grad():
        for i0 in range(0, n, chunk_size):
            xb = torch.tensor(X[i0 : i0 + chunk_size], dtype=torch.float32, device=device)
            yb = module(xb)
            if not on_cpu and output != "raw":
                yb = _TORCH_OUTPUTS[output](yb)
            if yb.dtype != torch.float32 and not (on_cpu and yb.dtype == torch.float64):
                yb = yb.to(torch.float32)
            yield i0, yb.to("cpu").contiguous().numpy(), kind


def forward_members(
    net, X: np.ndarray, *, output: str = "raw", chunk_size: int = 8192, reduce=None
) -> np.ndarray:
    """Member outputs for all rows of ``X``, as float32 ``(K, n, out)``.

    One forward pass per chunk of rows through the (eval-mode) module, no
    Python loop over members; each chunk's ``(rows, K, out)`` outputs go
    member-major into the ``(K, n, out)`` matrix in one compiled pass
    (:func:`skhyre._kernels.member_outputs`), which applies ``output``
    (:data:`OUTPUTS`: ``"softmax"`` gives probabilities, ``"pair"`` the
    ``(K, n, 2)`` pair probabilities of reward differences).

    ``reduce``, when given, maps each chunk's ``(K, rows, out)`` member
    outputs to a per-row result (an array, or a tuple of arrays, with
    ``rows`` first); the chunks' results are joined and returned instead of
    the member outputs, so nothing of size ``(K, n, out)`` is held. Weighted
    predictions use :func:`forward_mixture` and :func:`forward_mean_var`,
    which never form even a chunk's member matrix.
    """
    n = X.shape[0]
    out = None
    single = True
    for i0, L, kind in _chunks(net, X, output, chunk_size):
        rows, K = L.shape[:2]
        width = 2 if kind == _kernels.OUTPUT_PAIR else L.shape[2]
        if reduce is not None:
            block = np.empty((K, rows, width), dtype=np.float32)
            _kernels.member_outputs(L, kind, block, 0)
            # written into arrays allocated once: chunk results kept in a
            # list between the large temporaries fragment the heap, and
            # the process then grows by about one chunk of members per chunk
            result = reduce(block)
            single = not isinstance(result, tuple)
            columns = (result,) if single else result
            if out is None:
                out = tuple(np.empty((n, *c.shape[1:]), dtype=c.dtype) for c in columns)
            for full, c in zip(out, columns, strict=True):
                full[i0 : i0 + rows] = c
            continue
        if out is None:
            out = np.empty((K, n, width), dtype=np.float32)
        _kernels.member_outputs(L, kind, out, i0)
    if reduce is not None and out is not None and single:
        return out[0]
    return out


def forward_mixture(net, X: np.ndarray, w: np.ndarray, *, output: str, chunk_size: int = 8192):
    """The weighted mixture ``sum_k w_k p_k(x)`` of the members' probabilities, ``(n, C)`` float64.

    Each chunk's outputs are reduced straight to its rows of the mixture
    (:func:`skhyre._kernels.mixture_outputs`): no member matrix is formed,
    not even for one chunk. Equal to :func:`skhyre._kernels.mixture` of
    :func:`forward_members`' matrix, bit for bit. ``None`` when ``X`` has no
    rows.
    """
    out = None
    for i0, L, kind in _chunks(net, X, output, chunk_size):
        Q = _kernels.mixture_outputs(L, kind, w)
        if out is None:
            out = np.empty((X.shape[0], Q.shape[1]), dtype=np.float64)
        out[i0 : i0 + Q.shape[0]] = Q
    return out


def forward_mean_var(net, X: np.ndarray, w: np.ndarray, *, chunk_size: int = 8192):
    """Weighted mean and variance over members of a one-output ensemble, each ``(n,)``.

    Each chunk's ``(rows, K, 1)`` outputs are reduced straight to its rows
    (:func:`skhyre._kernels.weighted_mean_var_outputs`); equal, bit for bit,
    to :func:`skhyre._kernels.weighted_mean_std` of the member matrix.
    """
    n = X.shape[0]
    mean = np.empty(n, dtype=np.float64)
    var = np.empty(n, dtype=np.float64)
    for i0, L, _ in _chunks(net, X, "raw", chunk_size):
        m, v = _kernels.weighted_mean_var_outputs(L, w)
        mean[i0 : i0 + m.shape[0]] = m
        var[i0 : i0 + m.shape[0]] = v
    return mean, var
