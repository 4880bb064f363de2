"""Smoke runs of the benchmark scripts (slow: run with ``pytest -m slow``).

Each script runs with ``--quick`` in a subprocess, writing into a temporary
results folder; the tests check that it exits cleanly and that what it wrote
is complete and self-consistent.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
UCI_DATA = ROOT.parent / "shared" / "data" / "uci"

pytestmark = pytest.mark.slow


def _run(script: str, out: Path, *extra: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--out", str(out), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _png(path: Path) -> None:
    assert path.is_file(), f"{path.name} was not written"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"


def _uci_home() -> Path:
    home = Path(os.environ.get("SKHYRE_DATA", UCI_DATA))
    if not all((home / f"{name}.csv").is_file() for name in ("energy", "kin8nm", "ccpp")):
        pytest.skip(f"UCI CSVs not found in {home}; set SKHYRE_DATA")
    return home


def test_uci_shift_quick(tmp_path):
    home = _uci_home()
    proc = _run("uci_shift.py", tmp_path, "--data-home", str(home))
    payload = json.loads((tmp_path / "uci_shift.json").read_text())
    md = (tmp_path / "uci_shift.md").read_text()
    _png(tmp_path / "uci_shift.png")

    meta = payload["meta"]
    assert meta["quick"] is True
    assert meta["n_members"] == 100 and meta["n_adapt"] == 32
    cells = payload["summary"]
    expected = {
        f"{d}/{e}"
        for d in ("energy", "kin8nm", "ccpp")
        for e in ("vanilla", "epinet", "shared_base", "mc_dropout")
    }
    assert set(cells) == expected
    assert len(payload["runs"]) == len(expected) * meta["seeds"]
    for run in payload["runs"]:
        for arm in ("random", "active"):
            for t in ("T=1", "auto"):
                r = run[arm][t]
                assert r["uniform"] > 0 and r["hyre"] > 0
                rel = 100 * (r["hyre"] - r["uniform"]) / r["uniform"]
                assert math.isclose(r["rel_change_pct"], rel, rel_tol=1e-9, abs_tol=1e-9)
                # the evaluation rows exclude the 32 adaptation examples
                assert r["n_eval"] == run["n_ood"] - 32
                if math.isinf(r["temperature"]):  # uniform weights: all 100 members count
                    assert r["effective_members"] == pytest.approx(100.0)
            assert run[arm]["T=1"]["temperature"] == 1.0
        # the random arm scores both temperatures on the same rows
        assert run["random"]["T=1"]["uniform"] == run["random"]["auto"]["uniform"]
    # the paper's numbers are printed beside ours
    assert "0.1508" in md and "does not pin its metric" in md
    assert "Vanilla" in proc.stdout or "vanilla" in proc.stdout


def test_synthetic_quick(tmp_path):
    _run("synthetic.py", tmp_path)
    payload = json.loads((tmp_path / "synthetic.json").read_text())
    md = (tmp_path / "synthetic.md").read_text()
    for name in ("synthetic.png", "synthetic_finetune.png", "synthetic_gp_pca.png"):
        _png(tmp_path / name)

    a = payload["a"]
    assert set(a["accuracy"]) == {"pooled", "by_group"}
    for acc in a["accuracy"].values():
        for stats in acc.values():
            assert len(stats["mean"]) == len(a["n_labels"])
            assert all(0.0 <= v <= 1.0 for v in stats["mean"])
        # the uniform ensemble and the single network do not see the new labels
        for name in ("uniform ensemble", "single network"):
            assert max(acc[name]["mean"]) - min(acc[name]["mean"]) < 0.1
    b = payload["b"]
    assert "fine-tuning, random labels" in b["accuracy"]
    assert b["finetune_seconds_median"] > b["hyre_adapt_seconds_median"]
    c = payload["c"]
    ratios = c["explained_variance_ratio_top3"]
    assert len(ratios) == 3 and ratios == sorted(ratios, reverse=True) and sum(ratios) <= 1 + 1e-9
    assert "(a) Conflicting labelers" in md and "(b) HyRe vs fine-tuning" in md
    assert "(c) Function-space PCA" in md
    # the per-seed scores behind the paired verdicts are stored, and the report shows them
    assert all(len(st["per_seed"]) == a["n_seeds"] for st in a["accuracy"]["pooled"].values())
    assert "HyRe minus fine-tuning (paired" in md
    assert any(f"] {w} |" in md for w in ("better", "level", "worse"))
    _run("synthetic.py", tmp_path, "--from-json", str(tmp_path / "synthetic.json"))
    assert (tmp_path / "synthetic.md").read_text().startswith(md.split("\n")[0])


def test_hot_path_quick(tmp_path):
    """The hot-path script runs; its new paths agree with the torch reference it rebuilds."""
    _run("hot_path.py", tmp_path, "--models", "clf_sb_c2", "reg_sb", "reward_sb", "--no-cold")
    payload = json.loads((tmp_path / "hot_path.json").read_text())
    assert (tmp_path / "hot_path.md").read_text().startswith("# The hot path")
    for res in payload["models"].values():
        for row in res["sizes"].values():
            assert row["ratio_to_raw"]["raw"] == 1.0
            assert all(v > 0 for v in row["ratio_to_raw"].values())
            assert row["accuracy"]["members_max_abs_diff"] < 1e-5
            assert row["accuracy"]["predict_max_abs_diff"] < 1e-5


def test_fit_overhead_quick(tmp_path):
    """The timing script runs, and its cached-update path is the estimator's own."""
    _run("fit_overhead.py", tmp_path, "--threads", "1")
    payload = json.loads((tmp_path / "fit_overhead.json").read_text())
    assert (tmp_path / "fit_overhead.md").read_text().startswith("# Fit overhead")
    # _committed_update on the cached matrix gives adapt's weights (a benchmark that
    # fed it the wrong matrix would time the wrong thing)
    assert payload["adapt"]["cached_equals_adapt"] is True
    for key in ("hypothesis_weights_update", "committed_update_T1", "committed_update_auto"):
        assert 0 < payload["adapt"][key]["cpu_s"] < 1.0
    shapes = {k: v["output_shape_10_rows"] for k, v in payload["predict_members"].items()}
    assert shapes["shared_base"] == [payload["meta"]["n_members"], 10]
    for name, target in payload["targets"]["fit"].items():
        assert target["ratio"] > 0, name  # measured (no target is asserted: timings vary)


def test_adapt_scale_quick(tmp_path):
    _run("adapt_scale.py", tmp_path)
    payload = json.loads((tmp_path / "adapt_scale.json").read_text())
    md = (tmp_path / "adapt_scale.md").read_text()
    assert payload["meta"]["quick"] is True
    # every fast path agrees with its plain reference
    assert all(row["same_temperature"] for row in payload["loo"])
    assert all(row["same_picks"] for row in payload["select"])
    assert {row["temperature"] for row in payload["stream"]} == {"1.0", "auto"}
    assert {row["method"] for row in payload["memory"]} == {"predict_members", "predict_proba"}
    for row in payload["memory"]:
        assert row["peak_mib"] > 0 and math.isfinite(row["seconds"])
    assert "NO" not in [cell.strip() for cell in md.split("|")] and "Generated by" in md


def test_shift_panel_quick(tmp_path):
    """The shift panel on a tiny subset: every arm scored, verdicts consistent with intervals."""
    home = _uci_home()
    _run(
        "shift_panel.py",
        tmp_path,
        "--data-home",
        str(home),
        "--tasks",
        "energy/mean",
        "binary_d2",
        "--ns",
        "1",
        "10",
    )
    payload = json.loads((tmp_path / "shift_panel.json").read_text())
    md = (tmp_path / "shift_panel.md").read_text()
    meta = payload["meta"]
    assert meta["quick"] is True and meta["seeds"] == 2 and meta["ns"] == [1, 10]
    assert set(meta["held_out"]) and "cpu" in meta["machine"]
    units = payload["units"]
    assert {(u["task"], u["seed"]) for u in units} == {
        (t, s) for t in ("energy/mean", "binary_d2") for s in (0, 1)
    }
    for u in units:
        assert u["rows"], u["task"]
        for r in u["rows"]:
            for arm in ("uniform", "default", "T1", "auto", "evidence", "best", "hgb", "rf"):
                assert math.isfinite(r[arm]), (u["task"], arm)
            if r["N"] == 10 and r["draw"] == 0:
                assert {"hgb_refit", "rf_refit", "finetune"} <= set(r)
            if u["task"] == "binary_d2":
                assert 0 <= r["uniform"] <= 1
            else:
                assert r["uniform"] > 0
    energy = [u for u in units if u["task"] == "energy/mean"]
    assert "convergence" in energy[0] and "mlp" in energy[0]["convergence"]
    for c in payload["summary"]["comparisons"]:
        lo, hi = float(c["lo"]), float(c["hi"])
        assert lo <= c["diff"] <= hi
        if c["verdict"] == "level":
            assert lo <= 0 <= hi
    for heading in ("## Summary", "## Per task", "## Training budget", "## What this says"):
        assert heading in md


def test_zoo_panel_quick(tmp_path):
    """HyReEnsemble's temperature rules on a tiny subset; --from-json rewrites the same report."""
    home = _uci_home()
    _run(
        "zoo_panel.py",
        tmp_path,
        "--data-home",
        str(home),
        "--tasks",
        "energy/mean",
        "binary_d2",
        "--ns",
        "1",
        "10",
    )
    payload = json.loads((tmp_path / "zoo_panel.json").read_text())
    md = (tmp_path / "zoo_panel.md").read_text()
    meta = payload["meta"]
    assert meta["quick"] is True and meta["seeds"] == 2 and meta["ns"] == [1, 10]
    assert len(meta["regression_zoo"]) == len(meta["classification_zoo"]) == 14
    units = payload["units"]
    assert {(u["task"], u["seed"]) for u in units} == {
        (t, s) for t in ("energy/mean", "binary_d2") for s in (0, 1)
    }
    for u in units:
        assert set(u["ensembles"]) == {"zoo", "forest"}
        assert u["ensembles"]["zoo"]["n_members"] == 14
        assert u["ensembles"]["forest"]["n_members"] == meta["n_trees"]
        assert {r["ensemble"] for r in u["rows"]} == {"zoo", "forest"}
        for r in u["rows"]:
            for arm in ("uniform", "T1", "auto", "auto_cap1", "evidence", "evidence_cap1", "best"):
                assert math.isfinite(r[arm]), (u["task"], arm)
            # the cap never makes the weights flatter than T=1
            assert float(r["auto_cap1_temperature"]) == min(float(r["auto_temperature"]), 1.0)
            if r["N"] == 1:  # one label: no evidence for auto, uniform weights
                assert r["auto"] == pytest.approx(r["uniform"], rel=1e-9)
    for c in payload["summary"]["comparisons"]:
        lo, hi = float(c["lo"]), float(c["hi"])
        assert lo <= c["diff"] <= hi
        if c["verdict"] == "level":
            assert lo <= 0 <= hi
    for heading in ("## Summary, zoo", "## Summary, forest", "## Per task", "## What this says"):
        assert heading in md
    again = tmp_path / "again"
    subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "zoo_panel.py"),
            "--from-json",
            str(tmp_path / "zoo_panel.json"),
            "--out",
            str(again),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert (again / "zoo_panel.md").read_text() == md


def test_peers_quick(tmp_path):
    """The peers script runs on tiny pools; peers' BALD agrees with skhyre's."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import baal.active.heuristics, skactiveml.pool, batchbald_redux.batchbald",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:  # the 'peers' extra is not installed (or does not import)
        lines = probe.stderr.strip().splitlines()
        pytest.skip(f"peer libraries not importable: {lines[-1] if lines else probe.returncode}")
    _run("peers.py", tmp_path, "--batch-sizes", "3", "--repeats", "2", "--batch-budget", "5")
    payload = json.loads((tmp_path / "peers.json").read_text())
    md = (tmp_path / "peers.md").read_text()
    assert md.startswith("# skhyre against peer active-learning libraries")
    assert payload["meta"]["quick"] is True
    assert all(v is True for v in payload["meta"]["peers"].values())
    single = {(r["method"], r["n"]): r for r in payload["single"]}
    for (method, _), row in single.items():
        assert "error" not in row and "skipped" not in row, (method, row)
        assert row["median_s"] > 0 and len(row["times_s"]) == 2
        # every peer computes the same scores as skhyre, up to float32 rounding and clipping
        assert row["max_abs_diff"] <= 1e-5, (method, row["max_abs_diff"])
    for row in payload["batches"]:
        assert "error" not in row and "skipped" not in row, row
        assert row["n_queries"] == 3 and len(row["indices"]) == 3
        assert row["distinct"] == 3 and row["batch_mi"] > 0
        assert row["batch_mi_se"] == 0.0  # 4 ** 3 configurations: the reference is exact
    ours = next(r for r in payload["batches"] if r["method"] == "skhyre_batchbald")
    redux = next(r for r in payload["batches"] if r["method"] == "redux_batchbald")
    # both enumerate every configuration (4 ** 2 < 64): exact greedy BatchBALD, one answer
    assert ours["indices"] == redux["indices"]
    assert {t["name"].split(",")[0] for t in payload["targets"]} == {
        "single-point BALD",
        "BatchBALD b=3",
    }


def test_des_peers_quick(tmp_path):
    """The DESlib comparison runs on two tasks; every arm is scored on the same rows."""
    probe = subprocess.run(
        [sys.executable, "-c", "import deslib.des, deslib.dcs"], capture_output=True, text=True
    )
    if probe.returncode != 0:  # the 'peers' extra is not installed (or does not import)
        lines = probe.stderr.strip().splitlines()
        pytest.skip(f"DESlib not importable: {lines[-1] if lines else probe.returncode}")
    _run("des_peers.py", tmp_path)
    payload = json.loads((tmp_path / "des_peers.json").read_text())
    md = (tmp_path / "des_peers.md").read_text()
    assert md.startswith("# HyReEnsemble against DESlib's dynamic ensemble selection")
    for heading in ("## Summary", "## What this says", "## Against KNORA-E", "## Every method"):
        assert heading in md
    assert not (tmp_path / "des_peers.partial.json").exists()
    meta = payload["meta"]
    assert meta["quick"] is True and meta["seeds"] == 2
    methods = meta["des_methods"]
    assert {"KNORA-E", "KNORA-U", "META-DES", "DES-P"} <= set(methods)
    raw = payload["raw"]
    draws = {(r["task"], r["seed"], r["n"], r["draw"]) for r in raw}
    assert len(draws) == len(meta["tasks"]) * meta["seeds"] * len(meta["ns"]) * meta["draws"]
    for key in draws:
        rows = [r for r in raw if (r["task"], r["seed"], r["n"], r["draw"]) == key]
        by_method = {r["method"]: r for r in rows}
        assert set(by_method) == {
            "uniform",
            "hyre_T1",
            "hyre_auto",
            "hyre_evidence",
            "hyre_T0.1",
            "best_member",
            "oracle_member",
            *methods,
        }
        assert len({r["n_eval"] for r in rows}) == 1  # one set of scoring rows per draw
        for name in ("uniform", "hyre_T1", "hyre_auto", "hyre_evidence", "best_member"):
            assert 0.0 <= by_method[name]["accuracy"] <= 1.0
        # no member beats the best member on the scoring rows, chosen in hindsight
        assert by_method["best_member"]["accuracy"] <= by_method["oracle_member"]["accuracy"]
        assert by_method["KNORA-E"].get("error") is None, by_method["KNORA-E"]
    cells = payload["summary"]["cells"]
    assert {(c["task"], c["n"]) for c in cells} == {
        (t, n) for t in meta["tasks"] for n in meta["ns"]
    }
    for c in payload["summary"]["comparisons"]:
        assert c["verdict"] in ("better", "level", "worse")
        if c["verdict"] == "level":
            assert float(c["lo"]) <= c["diff"] <= float(c["hi"])


def test_training_budget_quick(tmp_path):
    """Early stopping against 100 epochs on two small tasks; --from-json rewrites the report."""
    _run("training_budget.py", tmp_path, "--tasks", "diabetes/mean", "binary_d2")
    payload = json.loads((tmp_path / "training_budget.json").read_text())
    units = payload["units"]
    assert {(u["task"], u["seed"]) for u in units} == {
        (t, s) for t in ("diabetes/mean", "binary_d2") for s in (0, 1)
    }
    for u in units:
        assert set(u["configs"]) == {"epochs100", "es10", "es25"}
        assert u["configs"]["epochs100"]["epochs"] == 100
        assert all(1 <= c["epochs"] <= 60 for n, c in u["configs"].items() if n != "epochs100")
        assert ("mlp" in u) == (u["task"] == "diabetes/mean")
    md = (tmp_path / "training_budget.md").read_text()
    assert "## What this says" in md and "`es25` vs `epochs100`" in md
    again = tmp_path / "again"
    subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "training_budget.py"),
            "--from-json",
            str(tmp_path / "training_budget.json"),
            "--out",
            str(again),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert (again / "training_budget.md").read_text() == md


def test_prior_scale_quick(tmp_path):
    """Every prior scale fitted and adapted on two small tasks; both searches pick from the
    grid; --from-json rewrites the same report."""
    _run("prior_scale.py", tmp_path)
    payload = json.loads((tmp_path / "prior_scale.json").read_text())
    meta, units = payload["meta"], payload["units"]
    assert meta["quick"] is True and meta["base"] == 1.0
    assert meta["defaults"]["HyReRegressor"]["prior_scale"] == 1.0
    grid = [f"{v:g}" for v in meta["grid"]]
    assert {(u["task"], u["seed"]) for u in units} == {
        (t, s) for t in ("diabetes/mean", "breast_cancer/mean") for s in (0, 1)
    }
    for u in units:
        assert list(u["fits"]) == grid
        for r in u["fits"].values():
            assert r["spread"] >= 0 and r["epochs"] >= 1
            for N in meta["ns"]:
                assert math.isfinite(r[f"adapted_N{N}"]) and math.isfinite(r[f"uniform_N{N}"])
        for cv in ("shift", "kfold"):
            s = u["selection"][cv]
            assert s["adapted_pick"] in grid and s["uniform_pick"] in grid
            assert len(s["adapted_scores"]) == len(grid)
    sel = payload["summary"]["selection"]
    assert sel["n_units"] == 4
    for row in payload["summary"]["selection_rows"]:
        assert all(row[f"{k}_regret"] >= 0 for k in ("shift", "kfold", "fixed_1"))
    md = (tmp_path / "prior_scale.md").read_text()
    assert "## Summary (a)" in md and "## Model selection (b)" in md
    again = tmp_path / "again"
    subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "prior_scale.py"),
            "--from-json",
            str(tmp_path / "prior_scale.json"),
            "--out",
            str(again),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert (again / "prior_scale.md").read_text() == md
