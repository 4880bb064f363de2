"""Hooks for sphinx-gallery, named by import path in ``conf.py``.

Named by import path rather than passed as objects so that Sphinx can pickle
its configuration (``docs/sphinxext`` is put on ``sys.path`` by ``conf.py``).
"""

from __future__ import annotations

from pathlib import Path

#: Gallery order: from the method's basics to the integrations.
ORDER = (
    "plot_regression_shift.py",
    "plot_shifted_boundary.py",
    "plot_active_vs_random.py",
    "plot_conflicting_labelers.py",
    "plot_personalization_text.py",
    "plot_decomposed_heads.py",
    "plot_function_space_pca.py",
    "plot_any_sklearn_models.py",
)


def reset_torch(gallery_conf, fname):
    """Seed torch and use one thread before every example.

    The examples train small networks, for which one thread is as fast as
    several and much faster on a busy machine (no oversubscription).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of skhyre
        return
    torch.manual_seed(0)
    torch.set_num_threads(1)


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: :data:`ORDER`, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename) -> tuple[int, str]:
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
