"""Fixtures shared by the test modules."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

# tests/golden/ holds the golden-output recorder and the computation it shares
# with test_golden.py: scripts, not tests (nor doctests), and not run on import.
collect_ignore_glob = ["golden/*"]


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextlib.contextmanager
def benchmarks_importable():
    """``benchmarks/`` on ``sys.path`` inside the block; afterwards the path and every
    module imported from there are gone again (``benchmarks/kernels.py`` left in
    ``sys.modules`` as ``kernels`` shadows the PyPI package ``kernels`` that
    ``transformers`` imports)."""
    before, path = set(sys.modules), list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield
    finally:
        sys.path[:] = path  # the scripts add their folder again when imported
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(BENCHMARKS)):
                del sys.modules[name]


@contextlib.contextmanager
def _one_thread():
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny nets train ~10x faster on one thread when the cores are shared.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``;
    torch's thread count is restored after the module.
    """
    with _one_thread():
        yield


#: What the tests' small estimators share: one hidden layer of 16, batches of 32, seed 0.
#: ``temperature=1.0``: the tests were written for the paper's fixed rule; the default
#: (``"auto"`` capped at 1) has its own tests (tests/test_default_temperature.py).
#: ``early_stopping=False``: a fixed number of epochs on every row (early stopping has its own
#: tests, tests/test_early_stopping.py).
FAST_BASE = dict(
    hidden_layer_sizes=(16,), batch_size=32, random_state=0, temperature=1.0, early_stopping=False
)


def fast(**overrides) -> dict:
    """Parameters of a small, fast torch estimator for tests: :data:`FAST_BASE` plus ``overrides``.

    Test modules import it (``from conftest import fast``) and state only what
    they change, e.g. ``fast(n_members=6, max_epochs=3, lr=1e-2)``.
    """
    return {**FAST_BASE, **overrides}


#: Small, fast ensembles for the temperature tests (auto and evidence).
#: ``max_temperature=None``: the data-driven rules uncapped (the cap has its own tests).
TEMPERATURE_FAST = fast(n_members=8, max_epochs=4, lr=1e-2, prior_scale=3.0, max_temperature=None)


def _fit_on_one_thread(est, X, y):
    with _one_thread():
        return est.fit(X, y)


@pytest.fixture(scope="session")
def temperature_regressor():
    """A small regressor fitted on 120 rows, and 80 further rows ``(X, y)`` to adapt on.

    Tests deep-copy the estimator before adapting it.
    """
    from skhyre import HyReRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=200)
    est = _fit_on_one_thread(HyReRegressor(**TEMPERATURE_FAST), X[:120], y[:120])
    return est, X[120:], y[120:]


@pytest.fixture(scope="session")
def temperature_classifier():
    """A small classifier of string labels fitted on 120 rows, and 80 further rows."""
    from skhyre import HyReClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + 0.3 * X[:, 2] > 0, "yes", "no")
    est = _fit_on_one_thread(HyReClassifier(**TEMPERATURE_FAST), X[:120], y[:120])
    return est, X[120:], y[120:]


class Reader:
    """A thread that reads an estimator each time it is asked, while the asker waits.

    ``read_now()`` (from an oracle or a loss, in the middle of an adaptation)
    runs ``read`` on the reader's thread and waits for it; the results are in
    ``seen``, the exceptions in ``errors`` (reported by the test, not lost in
    the thread). ``close()`` ends the thread. Test modules import it
    (``from conftest import Reader``).
    """

    def __init__(self, read):
        self._read, self.seen, self.errors = read, [], []
        self._asked, self._answered = threading.Event(), threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            self._asked.wait()
            self._asked.clear()
            if self._stop:
                return
            try:
                self.seen.append(self._read())
            except Exception as exc:  # reported by the test, not lost in the thread
                self.errors.append(exc)
            self._answered.set()

    def read_now(self):
        self._answered.clear()
        self._asked.set()
        assert self._answered.wait(60), "the reader thread did not answer"

    def close(self):
        self._stop = True
        self._asked.set()
        self._thread.join(60)
