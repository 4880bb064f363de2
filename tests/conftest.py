"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny nets train ~10x faster on one thread when the cores are shared.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``;
    torch's thread count is restored after the module.
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
