"""Global configuration of skhyre: one home.

Today it holds the pool settings (:func:`get_config`, :func:`set_config`,
:func:`config_context`, re-exported by :mod:`skhyre.pools`, where they are
documented): the memory budget above which pools are streamed and the rows
per streamed block.
"""

from __future__ import annotations

import contextlib
import numbers
import re
import threading

import numpy as np

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "config_context",
    "get_config",
    "parse_budget",
    "resolve_budget",
    "set_config",
]

#: Default memory budget of a cached pool matrix, in bytes (1 GiB).
DEFAULT_MEMORY_BUDGET = 1 << 30


_config = {"memory_budget": DEFAULT_MEMORY_BUDGET, "block_rows": "auto"}
_config_lock = threading.Lock()

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}


def parse_budget(value, name: str = "memory_budget") -> float:
    """Bytes from an int/float (``inf`` allowed) or a string such as ``"512MiB"``."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", value)
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(
                f"{name}={value!r} is not a memory size; use bytes (an int) or a string "
                "such as '512MiB' or '2GB'."
            )
        return float(m.group(1)) * _UNITS[m.group(2).lower()]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of bytes or a string like '1GiB', got {value!r}.")
    if np.isnan(value) or value < 0:
        raise ValueError(f"{name} must be >= 0 bytes, got {value!r}.")
    return float(value)


def _check_block_rows(value):
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"block_rows must be a positive integer or 'auto', got {value!r}.")
    return int(value)


def get_config() -> dict:
    """The current pool settings.

    Returns
    -------
    dict
        ``memory_budget``: bytes a cached pool matrix may take (a float,
        possibly ``inf``); ``block_rows``: rows per streamed block, or
        ``"auto"`` (about 64 MiB of member predictions per block, rounded to
        the estimator's forward batch, and never less than one such batch).

    Examples
    --------
    >>> from skhyre.pools import get_config
    >>> get_config()["memory_budget"] == 2**30
    True
    """
    with _config_lock:
        return dict(_config)


def set_config(*, memory_budget=None, block_rows=None) -> None:
    """Set pool settings globally (``None`` leaves a setting unchanged).

    Parameters
    ----------
    memory_budget : int, float or str, default=None
        Bytes the cached pool matrix (member predictions, plus member
        entropies for BALD) may take before pools are streamed; a string
        such as ``"512MiB"`` or ``"2GB"``; ``0`` always streams, ``inf``
        never streams an in-memory array.
    block_rows : int or "auto", default=None
        Rows per streamed block. It is rounded up to a multiple of the
        estimator's forward batch so results stay exact.

    Examples
    --------
    >>> from skhyre.pools import get_config, set_config
    >>> old = get_config()
    >>> set_config(memory_budget="256MiB")
    >>> get_config()["memory_budget"] == 256 * 2**20
    True
    >>> set_config(**old)
    """
    updates = {}
    if memory_budget is not None:
        updates["memory_budget"] = parse_budget(memory_budget)
    if block_rows is not None:
        updates["block_rows"] = _check_block_rows(block_rows)
    with _config_lock:
        _config.update(updates)


@contextlib.contextmanager
def config_context(*, memory_budget=None, block_rows=None):
    """Temporarily change the pool settings (see :func:`set_config`).

    Parameters
    ----------
    memory_budget : int, float or str, default=None
    block_rows : int or "auto", default=None

    Yields
    ------
    None

    Examples
    --------
    >>> from skhyre.pools import config_context, get_config
    >>> with config_context(memory_budget=0):
    ...     get_config()["memory_budget"]
    0.0
    >>> get_config()["memory_budget"] > 0
    True
    """
    old = get_config()
    set_config(memory_budget=memory_budget, block_rows=block_rows)
    try:
        yield
    finally:
        with _config_lock:
            _config.clear()
            _config.update(old)


def resolve_budget(pool_memory_budget) -> float:
    """A call's ``pool_memory_budget`` in bytes (``None``: the global setting)."""
    if pool_memory_budget is None:
        return get_config()["memory_budget"]
    return parse_budget(pool_memory_budget, "pool_memory_budget")
