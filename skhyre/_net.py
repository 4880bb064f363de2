"""Training an ensemble module through skorch, and batched member forwards.

The estimators hold a plain :class:`skorch.NeuralNet` in ``net_`` whose module
is one of :mod:`skhyre.ensembles` (output ``(batch, K, out)``) and whose
criterion is :class:`MemberSumLoss`: the task loss summed over members. The
training loop, callbacks (epoch table with ``verbose=1``), device handling and
CUDA-to-CPU unpickling are skorch's.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MemberSumLoss", "forward_members", "make_net", "resolve_device", "seeded"]

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


def resolve_device(device: str) -> str:
    """Map ``"auto"`` to ``"cuda"`` when available; reject unavailable CUDA.

    Examples
    --------
    >>> from skhyre._net import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N', 'auto' "
            "or another name torch.device accepts (e.g. 'mps')."
        ) from None
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False); use device='cpu' or 'auto'."
        )
    return device


@contextlib.contextmanager
def seeded(seed: int, device: str = "cpu"):
    """Seed torch's global RNG inside the block and restore it afterwards.

    Batching order, dropout and Epinet index sampling during training use the
    global RNG; this makes a fit reproducible without touching the caller's
    random state.
    """
    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        devices = [torch.device(device).index or 0]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


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
):
    """A skorch ``NeuralNet`` training ``module`` with :class:`MemberSumLoss`."""
    from skorch import NeuralNet

    return NeuralNet(
        module=module,
        criterion=MemberSumLoss,
        criterion__task=task,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=weight_decay,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=None,
        device=device,
        verbose=verbose,
    )


def forward_members(net, X: np.ndarray, *, transform=None, chunk_size: int = 8192) -> np.ndarray:
    """Member outputs for all rows of ``X``, as float32 ``(K, n, out)``.

    One forward pass per chunk of rows through the (eval-mode) module, no
    Python loop over members; ``transform`` (for example a softmax) is
    applied on the device before copying back.
    """
    module = net.module_
    was_training = module.training
    module.eval()
    device = net.device
    n = X.shape[0]
    out = None
    try:
        with torch.no_grad():
            for i0 in range(0, n, chunk_size):
                xb = torch.tensor(X[i0 : i0 + chunk_size], dtype=torch.float32, device=device)
                yb = module(xb)
                if transform is not None:
                    yb = transform(yb)
                yb = yb.permute(1, 0, 2).to("cpu", torch.float32).numpy()
                if out is None:
                    out = np.empty((yb.shape[0], n, yb.shape[2]), dtype=np.float32)
                out[:, i0 : i0 + chunk_size] = yb
    finally:
        module.train(was_training)
    return out
