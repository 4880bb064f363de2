"""Record skhyre's golden outputs into ``tests/golden/golden.npz``.

Run from the repository root::

    python tests/golden/record.py              # everything, the full demo included (~1 min)
    python tests/golden/record.py --no-full-demo

Install the ``dask`` extra first so the Dask pools are recorded too (the
recorder says when it skips them). ``tests/test_golden.py`` recomputes the
same outputs with the same functions (``tests/golden/_compute.py``) and
asserts they are unchanged. Re-record only on purpose: after a deliberate
change of behaviour, or to move the golden file to another kind of CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path


def _load_compute():
    path = Path(__file__).with_name("_compute.py")
    spec = importlib.util.spec_from_file_location("skhyre_golden_compute", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-full-demo", action="store_true", help="skip the full demo (about 30 s)"
    )
    parser.add_argument("--out", type=Path, default=None, help="output file (default: golden.npz)")
    args = parser.parse_args(argv)
    gc = _load_compute()
    out_path = args.out or gc.GOLDEN_PATH

    values: dict = {}
    timings: dict = {}

    def step(name, fn, *a):
        t0 = time.perf_counter()
        got = fn(*a)
        timings[name] = round(time.perf_counter() - t0, 2)
        values.update(got)
        print(f"{name:<24} {len(got):>5} values  {timings[name]:>6.2f} s", flush=True)

    step("hw", gc.compute_hw)
    step("acq", gc.compute_acq)
    meta_fitted = gc.fit_meta()
    step("meta", gc.compute_meta, meta_fitted)
    torch_fitted = gc.fit_torch()
    for name, _, _ in gc.TORCH_MODELS:
        step(f"torch/{name}", gc.compute_torch, name, torch_fitted)
    if gc.has_dask():
        step("dask/meta", gc.compute_meta_dask, meta_fitted)
        step("dask/torch", gc.compute_torch_dask, torch_fitted)
    else:
        print("dask is not installed: the Dask pools are NOT recorded (pip install '.[dask]')")
    step("demo_small", gc.compute_demo_small)
    if not args.no_full_demo:
        step("demo_full", gc.compute_demo_full)

    meta = gc.platform_meta()
    meta["dask"] = gc.has_dask()
    meta["timings_s"] = timings
    gc.save_golden(values, out_path, meta)
    size = out_path.stat().st_size
    print(f"wrote {out_path} ({len(values)} values, {size / 1024:.0f} KiB)")
    print(f"platform fingerprint {meta['fingerprint']} on {meta['processor']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
