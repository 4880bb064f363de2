"""The HyRe paper's studies, as library code behind ``skhyre uci`` and ``skhyre preferences``.

- :mod:`skhyre.studies.uci`: UCI regression under distribution shift (the
  paper's Table 1): :func:`~skhyre.studies.uci.run_uci_study` and its
  :class:`~skhyre.studies.uci.UCIStudyResult`.
- :mod:`skhyre.studies.preferences`: personalizing a reward ensemble on real
  text preferences (DSP domains, HH-RLHF helpful vs harmless):
  :func:`~skhyre.studies.preferences.run_preference_study`,
  :func:`~skhyre.studies.preferences.run_domain_study` and their
  :class:`~skhyre.studies.preferences.PreferenceStudyResult`.
- :mod:`skhyre.studies.preference_data`: loaders and pair builders for the
  DSP and HH-RLHF files that study reads.

Each study computes in private modules (``_uci_fit``, ``_pref_runs``) and
renders its report in others (``_uci_report``, ``_pref_report``); the run
sizes and names they share live in ``_uci_settings`` and ``_pref_settings``.
The names below are re-exported from the study modules.
"""

from .preferences import (
    PreferenceStudyResult,
    run_domain_study,
    run_preference_study,
    write_report,
)
from .uci import (
    UCIDataNotFoundError,
    UCIStudyResult,
    check_uci_data,
    prequential_change,
    run_uci_study,
)

__all__ = [
    "PreferenceStudyResult",
    "UCIDataNotFoundError",
    "UCIStudyResult",
    "check_uci_data",
    "prequential_change",
    "run_domain_study",
    "run_preference_study",
    "run_uci_study",
    "write_report",
]
