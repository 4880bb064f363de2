"""Golden outputs: the test-time behaviour recorded before the "one engine" refactor.

``tests/golden/golden.npz`` holds weights, cumulative losses, temperatures,
picks and predictions of every estimator x adaptation loss x temperature,
HypothesisWeights updates, the acquisition functions and the demo table,
recorded by ``python tests/golden/record.py``. These tests recompute them
with the SAME functions (``tests/golden/_compute.py``) and compare.

How outputs are compared (and why):

- integers (picks, ``queried_indices_``, ``n_adapt_samples_``) and the
  names of refused combinations: always exactly.
- floats computed from NumPy, Numba and scikit-learn (HypothesisWeights,
  acquisition, HyReEnsemble, and everything downstream of torch member
  predictions that came out bit-identical): EXACTLY when this machine's
  platform fingerprint (NumPy's SIMD exp/log, BLAS, Numba math on fixed
  inputs) equals the recording machine's, since the computation is then
  deterministic to the bit; on another CPU or library build, to
  ``PORTABLE_RTOL``.
- the torch estimators: their member predictions on every input set are
  compared first (``GATE_*``). Bit-identical: the dependent outputs are
  compared as above. Within the gate but not identical: to ``CLOSE_*``.
  Beyond it (training's last bits differ on this CPU): the dependent
  assertions are skipped, saying so.

A failure lists the differing keys. If the change is intended, re-record
with ``python tests/golden/record.py`` and say why in the commit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_HERE = Path(__file__).parent / "golden"

# Some recorded cases adapt until the weights sit on one member (temperature 1 or
# "auto" on tiny nets), so later active_adapt picks tie and a TiedScoresWarning
# says so; the diagnostics are tested in test_diagnostics.py, here only outputs.
pytestmark = pytest.mark.filterwarnings("ignore::skhyre.reweighting.TiedScoresWarning")


def _load_compute():
    spec = importlib.util.spec_from_file_location("skhyre_golden_compute", _HERE / "_compute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gc = _load_compute()

if not gc.GOLDEN_PATH.exists():  # pragma: no cover
    pytest.skip(
        "tests/golden/golden.npz is missing; record it with python tests/golden/record.py",
        allow_module_level=True,
    )

GOLDEN, META = gc.load_golden()

#: On a machine whose fingerprint differs: NumPy's exp/log (SIMD or libm),
#: BLAS summation order (Ridge, LogisticRegression, GaussianNB) and Numba's
#: math change float64 results in the last bit (~1e-16 relative). Summed over
#: ~24 examples, divided by T = 0.3 and exponentiated, that stays below ~1e-13;
#: 1e-9 leaves room yet flags any change of behaviour.
PORTABLE_RTOL = 1e-9
#: Values that are 0 on one machine can be rounding noise (~1e-17) on another
#: (a BALD score where every member agrees, a loss of an exact prediction).
PORTABLE_ATOL = 1e-12

#: The gate on torch member predictions: float32 network outputs (regressors
#: un-standardized to float64) agree to a few float32 ulps (~1e-7 relative)
#: when the same trained networks run on different kernels; 1e-6 accepts that
#: and nothing more (a differently trained network is off by far more).
GATE_RTOL = 1e-6
GATE_ATOL = 1e-6  # standardized outputs near 0

#: Dependent outputs when the members passed the gate without being
#: bit-identical: a member prediction off by 1e-6 moves a per-example loss by
#: ~2e-6, a cumulative loss over 24 examples by ~5e-5, and log-weights at
#: T = 0.3 by ~2e-4: 1e-3 relative on weights, losses and predictions.
CLOSE_RTOL = 1e-3
CLOSE_ATOL = 1e-6

_RERECORD = (
    "If this change is intended, re-record with `python tests/golden/record.py` "
    "(recorded on {processor}, fingerprint {fingerprint}, numpy {numpy}, "
    "scikit-learn {scikit-learn}, numba {numba}, torch {torch})."
)


def _rerecord_hint() -> str:
    return _RERECORD.format(
        **{
            k: META.get(k, "?")
            for k in ("processor", "fingerprint", "numpy", "scikit-learn", "numba", "torch")
        }
    )


def _expected(prefix: str) -> dict:
    return {k: v for k, v in GOLDEN.items() if k.startswith(prefix + "/")}


def _diff(key: str, got, want, mode: str) -> str | None:
    """None if ``got`` matches ``want`` under ``mode`` ("exact", "portable", "close")."""
    if isinstance(want, str):
        return None if got == want else f"{key}: {got!r} != {want!r}"
    got = np.asarray(got)
    if got.shape != want.shape:
        return f"{key}: shape {got.shape} != {want.shape}"
    if want.dtype.kind in "iub" or mode == "exact":
        if got.dtype.kind in "iub" and want.dtype.kind in "iub":
            ok = np.array_equal(got, want)
        else:
            ok = np.array_equal(got, want, equal_nan=True)
        if ok:
            return None
        g, w = got.ravel().astype(np.float64), want.ravel().astype(np.float64)
        bad = np.flatnonzero(~((g == w) | (np.isnan(g) & np.isnan(w))))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(g[bad] - w[bad]) / np.abs(w[bad])
        first = ", ".join(f"{g[i]!r} != {w[i]!r}" for i in bad[:2])
        return (
            f"{key}: not identical at {bad.size} of {want.size} entries, max relative "
            f"difference {np.nanmax(rel) if rel.size else np.nan:.3g} (first: {first})"
        )
    rtol, atol = (PORTABLE_RTOL, PORTABLE_ATOL) if mode == "portable" else (CLOSE_RTOL, CLOSE_ATOL)
    try:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    except AssertionError as exc:
        return f"{key}: {str(exc).strip().splitlines()[-3:]}"
    return None


def _case_names(key: str) -> list[str] | None:
    """For packed query picks, the case label of every row."""
    if key.endswith("/picks"):
        cases = GOLDEN.get(key[: -len("picks")] + "cases")
        return cases.split("\n") if cases else None
    return None


def check_outputs(got: dict, prefix: str, mode: str) -> None:
    """Every golden key under ``prefix`` recomputed and equal (per ``mode``)."""
    want = _expected(prefix)
    assert want, f"no golden outputs under {prefix!r}; re-record"
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    problems = []
    if missing:
        problems.append(f"{len(missing)} golden outputs no longer produced: {missing[:8]}")
    if extra:
        problems.append(f"{len(extra)} outputs not in the golden file: {extra[:8]}")
    for key in sorted(set(want) & set(got)):
        msg = _diff(key, got[key], want[key], mode)
        if msg is not None:
            names = _case_names(key)
            if names is not None and np.shape(got[key]) == want[key].shape:
                rows = np.flatnonzero((np.asarray(got[key]) != want[key]).any(axis=1))
                msg += f" (cases {[names[r] for r in rows[:6]]})"
            problems.append(msg)
    if problems:
        shown = "\n  ".join(problems[:25])
        more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        pytest.fail(
            f"{len(problems)} golden output(s) under {prefix!r} changed (comparison: {mode}):\n"
            f"  {shown}{more}\n{_rerecord_hint()}",
            pytrace=False,
        )


# --------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def float_mode() -> str:
    """'exact' on a machine that computes floats like the recording one, else 'portable'."""
    return "exact" if gc.platform_fingerprint() == META["fingerprint"] else "portable"


@pytest.fixture(scope="module")
def meta_fitted():
    return gc.fit_meta()


@pytest.fixture(scope="module")
def torch_fitted():
    return gc.fit_torch()


@pytest.fixture(scope="module")
def torch_gate(torch_fitted, float_mode) -> dict:
    """Per torch model: the comparison mode of its dependent outputs, or a skip reason."""
    gate = {}
    for name, _, _ in gc.TORCH_MODELS:
        got = gc.torch_members(name, torch_fitted)
        want = _expected(f"torch/{name}/members")
        assert sorted(got) == sorted(want), f"member prediction sets of {name} changed"
        if all(np.array_equal(got[k], want[k]) for k in want):
            gate[name] = float_mode
        elif all(np.allclose(got[k], want[k], rtol=GATE_RTOL, atol=GATE_ATOL) for k in want):
            gate[name] = "close"
        else:
            worst = max(float(np.max(np.abs(np.asarray(got[k]) - want[k]))) for k in want)
            gate[name] = (
                f"golden outputs recorded on a different CPU: the member predictions of "
                f"{name} trained here differ from the recorded ones (up to {worst:.3g}, gate "
                f"rtol={GATE_RTOL}); re-record with python tests/golden/record.py "
                f"(recorded on {META.get('processor')}, torch {META.get('torch')})"
            )
    return gate


def _gated_mode(torch_gate: dict, name: str) -> str:
    mode = torch_gate[name]
    if mode not in ("exact", "portable", "close"):
        pytest.skip(mode)
    return mode


# ------------------------------------------------------------------ tests
def test_golden_file_is_complete():
    """Every recorded key belongs to a category some test below compares."""
    prefixes = (
        "hw/",
        "acq/",
        "meta/",
        "torch/",
        "dask/",
        "demo_small/",
        "demo_full/",
    )
    stray = [k for k in GOLDEN if not k.startswith(prefixes)]
    assert not stray, stray
    assert META["fingerprint"], "the golden file records no platform fingerprint"


def test_hypothesis_weights(float_mode):
    check_outputs(gc.compute_hw(), "hw", float_mode)


def test_acquisition_and_temperature_searches(float_mode):
    check_outputs(gc.compute_acq(), "acq", float_mode)


@pytest.mark.parametrize("name", list(gc.meta_models()))
def test_hyre_ensemble(name, meta_fitted, float_mode):
    """HyReEnsemble over seeded scikit-learn models: asserted everywhere, no skip."""
    check_outputs(gc.meta_outputs(name, meta_fitted), f"meta/{name}", float_mode)


@pytest.mark.parametrize("name", [name for name, _, _ in gc.TORCH_MODELS])
def test_torch_estimator(name, torch_fitted, torch_gate):
    mode = _gated_mode(torch_gate, name)
    check_outputs(gc.compute_torch(name, torch_fitted), f"torch/{name}", mode)


def test_demo_small(torch_gate):
    """A small run_demo: its accuracies come from a torch classifier trained
    like the gate's, so it is compared only when that one reproduced exactly."""
    mode = _gated_mode(torch_gate, "clf-shared_base")
    if mode == "close":
        pytest.skip("torch training differs in the last bits here: demo accuracies not compared")
    check_outputs(gc.compute_demo_small(), "demo_small", mode)


@pytest.mark.slow
def test_demo_full(torch_gate):
    """The full ``skhyre demo`` table (run_demo's defaults, one torch thread)."""
    if "demo_full/rows" not in GOLDEN:
        pytest.skip("the full demo was not recorded (record.py --no-full-demo)")
    mode = _gated_mode(torch_gate, "clf-shared_base")
    if mode == "close":
        pytest.skip("torch training differs in the last bits here: demo accuracies not compared")
    check_outputs(gc.compute_demo_full(), "demo_full", mode)


def _needs_dask_golden():
    pytest.importorskip("dask.array")
    if not META.get("dask"):
        pytest.skip("the golden file was recorded without dask; re-record with the dask extra")


@pytest.mark.dask
@pytest.mark.parametrize("name", gc.META_DASK)
def test_dask_pools_hyre_ensemble(name, meta_fitted, float_mode):
    _needs_dask_golden()
    check_outputs(gc.meta_dask_outputs(name, meta_fitted), f"dask/{name}", float_mode)


@pytest.mark.dask
@pytest.mark.parametrize("name", gc.TORCH_DASK)
def test_dask_pools_torch(name, torch_fitted, torch_gate):
    _needs_dask_golden()
    mode = _gated_mode(torch_gate, name)
    check_outputs(gc.torch_dask_outputs(name, torch_fitted), f"dask/{name}", mode)
