"""Tests of ``benchmarks/annotators.py`` (issue 8).

Fast: the helpers that keep the comparison paired and honest (the label
draws reproduce :func:`skhyre.evaluation.adaptation_curve`'s; logistic
regression's one-class fallback; the missing text-domain module). Slow: a
``--quick`` run in a subprocess, checking what it wrote.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import benchmarks_importable

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    with benchmarks_importable():
        yield importlib.import_module("annotators")


def test_random_draws_match_adaptation_curve(bench):
    from skhyre import HyReClassifier
    from skhyre.datasets import make_preference_labelers
    from skhyre.evaluation import adaptation_curve

    data = make_preference_labelers(
        n_samples=200, n_labelers=10, n_test_labelers=1, n_test_samples=100, random_state=0
    )
    model = HyReClassifier(n_members=6, max_epochs=2, random_state=0).fit(data.X, data.y)
    Xt, yt, ns = data.X_test, data.y_test[0], (1, 5, 12)
    res = adaptation_curve(model, Xt, yt, ns, criterion="random", random_state=123)
    for c, idx in enumerate(bench.random_draws(Xt.shape[0], ns, 123)):
        rest = np.setdiff1d(np.arange(Xt.shape[0]), idx)
        score = model.reset_weights().adapt(Xt[idx], yt[idx]).score(Xt[rest], yt[rest])
        assert score == pytest.approx(res.scores[0, c], abs=1e-12)


def test_logreg_one_class_fallback(bench):
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    acc, fallback = bench.logreg_accuracy(X, np.array([1, 1]), X, np.array([1, 0]))
    assert fallback and acc == 0.5
    acc, fallback = bench.logreg_accuracy(X, np.array([1, 0]), X, np.array([1, 0]))
    assert not fallback and 0.0 <= acc <= 1.0


def test_draw_seed_is_paired_and_distinct(bench):
    assert bench.draw_seed(0, 3, 8, 0.8) == bench.draw_seed(0, 3, 8, 0.8)
    assert len({bench.draw_seed(0, j, 8, 0.8) for j in range(20)}) == 20


def test_text_section_without_module(bench, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "_text_domains", None)  # import raises ImportError
    res = bench.text_domains(True, (0,), tmp_path)
    assert res["available"] is False
    assert "benchmarks/preferences.py" in res["markdown"]


def test_ceiling_members_are_nested_unit_normals(bench):
    data = bench.make_data(8, 0.0, 0, 2)
    W = bench.ceiling_members(data, 300, seed=0)
    assert W.shape == (300, 8)
    np.testing.assert_allclose(np.linalg.norm(W, axis=1), 1.0)
    np.testing.assert_array_equal(W[:100], data.labeler_weights)  # the training labelers first
    np.testing.assert_array_equal(bench.ceiling_members(data, 1000, seed=0)[:300], W)


def test_hard_bald_curve_matches_numpy_reference(bench):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 3))
    W = rng.standard_normal((12, 3))
    P1 = (W @ X.T > 0).astype(np.float64)
    y = (X @ rng.standard_normal(3) > 0).astype(int)
    ns, T = (1, 4, 9), 2.0
    got = bench.hard_bald_curve(P1, y, ns, T)
    # reference: weights softmax(-errors / T); hard members, so BALD is the entropy
    # of the mixture; first maximum among the points not yet chosen
    chosen, L, want = [], np.zeros(12), []
    for n in range(1, max(ns) + 1):
        w = np.exp(-(L - L.min()) / T)
        w /= w.sum()
        p = np.clip(w @ P1, 1e-300, 1.0)
        q = np.clip(1.0 - w @ P1, 1e-300, 1.0)
        H = -(p * np.log(p) + q * np.log(q))
        H[chosen] = -np.inf
        i = int(np.argmax(H))
        chosen.append(i)
        L += P1[:, i] != y[i]
        if n in ns:
            w = np.exp(-(L - L.min()) / T)
            w /= w.sum()
            rest = np.setdiff1d(np.arange(60), chosen)
            want.append(np.mean(((w @ P1[:, rest]) > 0.5) == y[rest]))
    np.testing.assert_allclose(got, want)


def test_ceiling_section_runs_small(bench):
    cfg = dict(bench.QUICK, seeds=1, test_labelers=2, n_labels=(5, 40), ceiling_members=(100, 300))
    c = bench.ceiling(cfg)
    rows = {(r["members"], r["labels"]): r for r in c["rows"]}
    assert set(rows) == {(m, k) for m in (100, 300) for k in ("random", "bald", "oracle")}
    # a superset of hypotheses has a best member at least as close
    assert rows[(300, "oracle")]["mean"][0] >= rows[(100, "oracle")]["mean"][0]
    assert all(0.0 <= v <= 1.0 for r in c["rows"] for v in r["mean"])
    text = "\n".join(bench.ceiling_markdown(c, [5, 40]))
    assert "exact rules" in text and "logistic regression" in text


def test_scaled_section_runs_small(bench, monkeypatch):
    small = {
        **bench.SCALED_QUICK,
        "data": {"n_samples": 400, "n_labelers": 20, "n_test_samples": 60},
        "model": {**bench.SCALED_QUICK["model"], "n_members": 20},
        "epochs": 1,
    }
    monkeypatch.setattr(bench, "SCALED_QUICK", small)
    cfg = dict(bench.QUICK, seeds=1, test_labelers=2, n_labels=(5, 40))
    s = bench.scaled(cfg, quick=True)
    assert s["data"]["n_labelers"] == 20 and s["model"]["n_members"] == 20
    assert bench.LR_NAME in s["accuracy"] and "HyRe by_group, BALD labels" in s["accuracy"]
    assert all(0.0 <= v <= 1.0 for st in s["accuracy"].values() for v in st["mean"])
    grid = {
        bench.setting_key(d, a): {
            "accuracy": {
                name: {"mean": [0.9, 0.9], "std": [0, 0], "per_seed": [[0.9, 0.9]]}
                for name in (bench.LR_NAME, "HyRe by_group, BALD labels")
            }
        }
        for d, a in bench.SETTINGS
    }
    t = bench.targets(grid, [5, 40], s)
    assert len(t) == 5 and "20 training labelers" in t[-1]["target"]
    assert all(x["verdict"] in ("better", "level", "worse") for x in t)
    assert "More labelers" in "\n".join(bench.scaled_markdown(s, [5, 40]))


def bench_sizes():
    with benchmarks_importable():
        return importlib.import_module("annotators").CEILING_MEMBERS


@pytest.mark.slow
def test_annotators_quick(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "annotators.py"),
            "--quick",
            "--no-text",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads((tmp_path / "annotators.json").read_text())
    md = (tmp_path / "annotators.md").read_text()
    assert (tmp_path / "annotators.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ns = payload["config"]["n_labels"]
    assert set(payload["grid"]) == {
        "d=2, agreement=0",
        "d=2, agreement=0.8",
        "d=8, agreement=0",
        "d=8, agreement=0.8",
    }
    for s in payload["grid"].values():
        acc = s["accuracy"]
        for t in ("pooled", "by_group", "mixed"):
            assert f"HyRe {t}, BALD labels" in acc and f"best member ({t}) (oracle)" in acc
        for stats in acc.values():
            assert len(stats["mean"]) == len(ns)
            assert all(0.0 <= v <= 1.0 for v in stats["mean"])
        # logistic regression always sees one class at N=1
        assert s["logreg_one_class_fraction"][0] == 1.0
    assert any(
        k.startswith("HyRe chosen on validation")
        for k in payload["grid"]["d=8, agreement=0"]["accuracy"]
    )
    cost = payload["training_cost"]
    assert cost["ratio_to_pooled"]["pooled"] == 1.0 and cost["repeats"] >= 3
    assert len(payload["targets"]) == 5  # the four settings, then the 1,000-labeler one
    assert "1,000" not in payload["targets"][-1]["target"]  # quick: a smaller scaled run
    assert "(oracle)" in md and "## Training cost" in md and "## Text domains" in md
    assert "## Ceiling" in md and "## More labelers" in md
    assert {r["members"] for r in payload["ceiling"]["rows"]} == set(bench_sizes())


def test_targets_read_paired_verdicts(bench):
    """A target is met only when the paired interval clears the bar or the reference: a
    higher mean that the seeds do not support is 'level', not met."""

    def st(per_seed):
        a = np.asarray(per_seed, dtype=float)
        return {
            "mean": a.mean(0).tolist(),
            "std": a.std(0, ddof=1).tolist(),
            "per_seed": a.tolist(),
        }

    lr = st([[0.60, 0.80], [0.60, 0.85], [0.60, 0.90]])
    clear = st([[0.95, 0.86], [0.93, 0.91], [0.96, 0.96]])  # +0.06 on every seed at N=40
    noisy = st([[0.91, 0.70], [0.89, 0.99], [0.92, 0.92]])  # higher mean (+0.02), no support
    grid = {}
    for d, a in bench.SETTINGS:
        row = clear if a == 0.0 else noisy
        grid[bench.setting_key(d, a)] = {
            "accuracy": {bench.LR_NAME: lr, "HyRe by_group, BALD labels": row}
        }
    t = {x["target"].split(":")[0]: x for x in bench.targets(grid, [5, 40])}
    assert t["d=2, agreement 0"]["status"] == "met"  # 0.947 >= 0.90 on every seed
    assert t["d=2, agreement 0.8"]["status"] == "level"  # mean 0.907 >= 0.90, seeds disagree
    assert t["d=8, agreement 0"]["status"] == "met"
    d8 = t["d=8, agreement 0.8"]
    assert d8["value"] > lr["mean"][1] and d8["status"] == "level" and not d8["met"]
    from scipy import stats

    d = np.array([0.70 - 0.80, 0.99 - 0.85, 0.92 - 0.90])
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert (d8["difference"]["lo"], d8["difference"]["hi"]) == pytest.approx((lo, hi))
    line = bench._target_line(d8)
    assert line.startswith("- **level**") and "minus logistic regression" in line


def test_grid_verdict_rows_pair_each_hyre_row(bench):
    per = [[0.5, 0.6], [0.55, 0.62], [0.52, 0.66]]
    acc = {
        bench.LR_NAME: {"per_seed": per},
        "HyRe by_group, BALD labels": {"per_seed": [[x + 0.1 for x in r] for r in per]},
        "uniform ensemble (by_group)": {"per_seed": per},
    }
    rows, vs = bench.grid_verdicts(acc, [5, 40])
    assert [r[0] for r in rows] == [
        "HyRe by_group, BALD labels - uniform ensemble (by_group)",
        "HyRe by_group, BALD labels - logistic regression",
    ]
    assert all(v.verdict == "better" for v in vs) and len(vs) == 4
    assert rows[0][1] == "+0.100 [+0.100, +0.100] better"
