"""Model selection for adaptation: scorers, curves and shift-aware folds.

- :func:`adapted_scorer`: a scorer that adapts on part of each validation
  fold and scores the rest, so a search rewards adaptability;
- :func:`adaptation_curve` and :func:`leave_one_group_out`: score versus
  number of labels, and personalization to annotators never seen in
  training;
- :class:`ShiftSplit`: validation folds at the tails of a projection, so the
  search selects for adaptability *under shift*.
"""

from ..evaluation import adaptation_curve, leave_one_group_out
from ..metrics import adapted_scorer
from ._split import ShiftSplit

__all__ = ["ShiftSplit", "adaptation_curve", "adapted_scorer", "leave_one_group_out"]
