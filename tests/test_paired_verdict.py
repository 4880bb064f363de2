"""The paired verdict (skhyre.studies._verdict; benchmarks/_common re-exports the same
function) against scipy.stats.t."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module", params=["benchmarks", "package"])
def paired_verdict(request):
    if request.param == "package":
        from skhyre.studies._verdict import paired_verdict

        return paired_verdict
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from _common import paired_verdict
    finally:
        sys.path.remove(str(BENCHMARKS))
    return paired_verdict


def test_interval_matches_scipy_t(paired_verdict):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=7), rng.normal(size=7)
    mean, lo, hi, verdict = paired_verdict(a, b)
    d = a - b
    ref_lo, ref_hi = stats.t.interval(0.95, d.size - 1, loc=d.mean(), scale=stats.sem(d))
    assert mean == pytest.approx(d.mean())
    assert lo == pytest.approx(ref_lo)
    assert hi == pytest.approx(ref_hi)
    assert verdict == ("level" if ref_lo <= 0 <= ref_hi else "better" if ref_hi < 0 else "worse")


def test_confidence_level_is_used(paired_verdict):
    d = np.array([0.1, 0.3, -0.05, 0.2, 0.15])
    _, lo, hi, _ = paired_verdict(d, np.zeros(5), confidence=0.8)
    ref = stats.t.interval(0.8, 4, loc=d.mean(), scale=stats.sem(d))
    assert (lo, hi) == pytest.approx(ref)


def test_verdict_directions(paired_verdict):
    b = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    a = b - np.array([0.5, 0.6, 0.55, 0.5, 0.45])  # a lower on every seed
    assert paired_verdict(a, b).verdict == "better"
    assert paired_verdict(b, a).verdict == "worse"
    assert paired_verdict(a, b, higher_is_better=True).verdict == "worse"
    assert paired_verdict(b, a, higher_is_better=True).verdict == "better"
    noisy = b + np.array([0.5, -0.5, 0.4, -0.6, 0.1])
    assert paired_verdict(noisy, b).verdict == "level"


def test_degenerate_cases(paired_verdict):
    assert paired_verdict([1.0, 2.0], [1.0, 2.0]) == (0.0, 0.0, 0.0, "level")
    mean, lo, hi, verdict = paired_verdict([1.0, 2.0], [2.0, 3.0])  # constant difference
    assert (mean, lo, hi, verdict) == (-1.0, -1.0, -1.0, "better")
    mean, lo, hi, verdict = paired_verdict([1.0], [0.0])
    assert mean == 1.0 and lo == -math.inf and hi == math.inf and verdict == "level"
    with pytest.raises(ValueError):
        paired_verdict([1.0, 2.0], [1.0])


def test_package_cell_format():
    from skhyre.studies._verdict import Verdict, format_verdict

    assert (
        format_verdict(Verdict(0.0123, -0.004, 0.0286, "level")) == "+0.012 [-0.004, +0.029] level"
    )
    assert (
        format_verdict(Verdict(-1.5, -2.25, -0.75, "better"), digits=1)
        == "-1.5 [-2.2, -0.8] better"
    )


def test_one_implementation():
    from skhyre.studies._verdict import Verdict, paired_verdict

    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _common
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert _common.paired_verdict is paired_verdict
    assert _common.Verdict is Verdict


def test_cell_format_with_a_unit():
    from skhyre.studies._verdict import Verdict, format_verdict

    v = Verdict(-10.3, -13.8, -6.8, "better")
    assert format_verdict(v, digits=2, unit="%") == "-10.30% [-13.80, -6.80] better"
    as_dict = {"mean": 0.5, "lo": -0.25, "hi": 1.5, "verdict": "level"}
    assert format_verdict(as_dict, digits=1, unit="%") == "+0.5% [-0.2, +1.5] level"
