"""Datasets for the paper's studies.

* :func:`load_uci`: the UCI regression benchmarks (energy, kin8nm, ccpp), read
  from a local data home or downloaded once with a checksum.
* :func:`ood_split`: the paper's distribution shift for tabular regression
  (extreme rows of a one-dimensional feature summary held out).
* :func:`make_preference_labelers`, :func:`make_labeler_population`,
  :func:`make_shifted_binary`, :func:`make_gp_functions`: synthetic
  generators for the preference (conflicting labelers; a population of
  deterministic decision makers whose pooled labels are graded),
  HyRe-versus-fine-tuning and function-space PCA studies.
"""

from ._shift import ood_split, standardized_features
from ._synthetic import (
    make_gp_functions,
    make_labeler_population,
    make_preference_labelers,
    make_shifted_binary,
)
from ._uci import UCI_DATASETS, UCI_REGISTRY, data_homes, load_uci  # noqa: F401  (internal)

__all__ = [
    "load_uci",
    "make_gp_functions",
    "make_labeler_population",
    "make_preference_labelers",
    "make_shifted_binary",
    "ood_split",
    "standardized_features",
]
