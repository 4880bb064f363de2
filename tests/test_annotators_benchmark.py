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

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("annotators")
    finally:
        sys.path.remove(str(BENCHMARKS))


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
    assert len(payload["targets"]) == 4
    assert "(oracle)" in md and "## Training cost" in md and "## Text domains" in md
