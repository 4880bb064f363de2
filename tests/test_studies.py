"""skhyre.studies.uci: the UCI distribution-shift study and ``skhyre uci``."""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from skhyre.cli import main
from skhyre.studies import _uci_fit
from skhyre.studies._uci_settings import PREQUENTIAL_VARIANTS, SWEEP_TEMPERATURES
from skhyre.studies.uci import (
    VARIANTS,
    UCIDataNotFoundError,
    UCIStudyResult,
    check_uci_data,
    prequential_change,
    run_uci_study,
)

ROOT = Path(__file__).resolve().parents[1]
UCI_DATA = ROOT.parent / "shared" / "data" / "uci"


def _uci_home() -> Path:
    home = Path(os.environ.get("SKHYRE_DATA", UCI_DATA))
    if not all((home / f"{name}.csv").is_file() for name in ("energy", "kin8nm", "ccpp")):
        pytest.skip(f"UCI CSVs not found in {home}; set SKHYRE_DATA")
    return home


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """An empty data folder, with SKHYRE_DATA unset and HOME pointing elsewhere."""
    monkeypatch.delenv("SKHYRE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


@pytest.fixture(scope="module")
def tiny_result() -> UCIStudyResult:
    """One dataset, one small ensemble, one seed, a few training steps."""
    return run_uci_study(
        ["energy"],
        ["shared_base"],
        seeds=[0],
        data_home=_uci_home(),
        progress=False,
        n_members=4,
        hidden_layer_sizes=(8,),
        steps=20,
        threads=1,
        draws=2,
    )


def test_tiny_study_summary_and_runs(tiny_result):
    res = tiny_result
    assert set(res.summary) == {"energy/shared_base"}
    (run,) = res.runs
    assert (run["dataset"], run["ensemble"], run["seed"]) == ("energy", "shared_base", 0)
    assert res.meta["draws"] == 2
    for arm in ("random", "active", "sampled"):
        for variant in VARIANTS:
            r = run[arm][variant]
            assert r["uniform"] > 0 and r["hyre"] > 0
            if arm == "active":  # deterministic: one set of labelled points
                assert "rel_change_pct_draws" not in r
                rel = 100 * (r["hyre"] - r["uniform"]) / r["uniform"]
            else:  # the mean of each draw's paired change
                assert len(r["rel_change_pct_draws"]) == 2
                rel = float(np.mean(r["rel_change_pct_draws"]))
            assert math.isclose(r["rel_change_pct"], rel, rel_tol=1e-9, abs_tol=1e-9)
            assert r["n_eval"] == run["n_ood"] - 32  # adaptation rows are not scored
            if all(map(math.isinf, r.get("temperature_draws", [r["temperature"]]))):
                # uniform weights: every member counts
                assert r["effective_members"] == pytest.approx(4.0)
            assert r["temperature"] > 0
        assert run[arm]["T=1"]["temperature"] == 1.0
        for t in SWEEP_TEMPERATURES:
            assert run[arm][f"T={t:g}"]["temperature"] == t
    # same labelled points: a lower fixed temperature never has more effective members
    ladder = [run["random"][f"T={t:g}"] for t in sorted((1.0, *SWEEP_TEMPERATURES))]
    eff = [r["effective_members"] for r in ladder]
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(eff))
    assert len({r["uniform"] for r in ladder}) == 1
    # the replayed label-by-label check exists for the rules it is defined for
    for arm in ("random", "active", "sampled"):
        for variant in PREQUENTIAL_VARIANTS:
            assert math.isfinite(run[arm][variant]["prequential_change_pct"])
        assert run[arm]["loo"]["prequential_change_pct"] is None
    pq = res.summary["energy/shared_base"]["active/evidence"]["prequential_change_pct"]
    assert pq[0] == pytest.approx(run["active"]["evidence"]["prequential_change_pct"])
    # the random arm scores every variant on the same rows
    assert run["random"]["T=1"]["uniform"] == run["random"]["auto"]["uniform"]
    cell = res.summary["energy/shared_base"]
    assert cell["n_seeds"] == 1
    assert cell["random/auto"]["hyre"][0] == pytest.approx(run["random"]["auto"]["hyre"])
    assert set(res.auto_at_or_below_uniform) == {"energy/shared_base"}
    assert set(res.at_or_below_uniform("evidence")) == {"energy/shared_base"}
    # evidence: the temperature that makes the random arm's labels most likely
    assert run["random"]["evidence"]["uniform"] == run["random"]["auto"]["uniform"]
    assert res.meta["seed_list"] == [0] and res.meta["n_members"] == 4
    # the sampled arm's two draws query different points
    draws = run["sampled"]["T=1"]["rel_change_pct_draws"]
    assert draws[0] != draws[1]
    # every arm counts in the verdict, and each can be asked alone
    cell = res.summary["energy/shared_base"]
    want = all(
        cell[f"{a}/auto"]["hyre_at_or_below_uniform_in_mean"]
        for a in ("random", "active", "sampled")
    )
    assert res.auto_at_or_below_uniform["energy/shared_base"] is want
    assert res.at_or_below_uniform("auto", arms=["sampled"])["energy/shared_base"] is cell[
        "sampled/auto"
    ]["hyre_at_or_below_uniform_in_mean"]


@pytest.mark.parametrize("draws", [0, -1, 1.5, True])
def test_bad_draws_are_named(draws):
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        run_uci_study(["energy"], ["shared_base"], seeds=[0], draws=draws)


def test_tiny_study_writes_results(tiny_result, tmp_path):
    written = tiny_result.save(tmp_path)
    assert [p.name for p in written][:2] == ["uci_shift.json", "uci_shift.md"]
    payload = json.loads((tmp_path / "uci_shift.json").read_text())
    assert set(payload) >= {"meta", "summary", "runs", "paper_table1", "auto_at_or_below_uniform"}
    md = (tmp_path / "uci_shift.md").read_text()
    assert "0.1508" in md  # the paper's shared_base energy value beside ours
    assert "| energy | shared_base |" in md and "Verdict (auto)" in md
    assert "random arm: " in md and "active arm: " in md and "sampled arm: " in md
    assert "each fit averages 2 draws of labelled points" in md
    assert "| energy | shared_base | sampled |" in md
    assert "Verdict (evidence)" in md and "Δ evidence" in md
    assert "The trade-off: fixed temperatures" in md and "| Δ T=0.01 |" in md
    assert "of 1 cells: T=0.01 " in md
    assert "Did the labelled points warn?" in md and "| Δ labelled evidence |" in md
    if len(written) == 3:
        assert (tmp_path / "uci_shift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_data_error_names_where_it_looked(no_data):
    with pytest.raises(UCIDataNotFoundError) as exc:
        check_uci_data(["energy"], data_home=no_data)
    err = exc.value
    assert isinstance(err, FileNotFoundError)
    assert err.dataset == "energy"
    assert no_data in err.places
    msg = str(err)
    assert "\n" not in msg
    assert str(no_data) in msg and "--data-home" in msg and "SKHYRE_DATA" in msg
    assert "energy.csv" in err.details  # load_uci's full message is kept


def test_study_checks_data_before_training(no_data, monkeypatch):
    def no_fit(task):
        raise AssertionError("a model was fitted before the data check")

    monkeypatch.setattr(_uci_fit, "fit_and_evaluate", no_fit)
    with pytest.raises(UCIDataNotFoundError, match=r"kin8nm\.csv not found"):
        run_uci_study(["kin8nm"], ["vanilla"], seeds=1, data_home=no_data, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"datasets": ["boston"]}, "Unknown UCI dataset 'boston'"),
        ({"ensembles": ["forest"]}, "Unknown ensemble 'forest'"),
        ({"seeds": []}, "at least one seed"),
        ({"datasets": []}, "at least one dataset"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_uci_study(progress=False, **kwargs)


def test_cli_missing_data_exits_2_with_one_line(no_data, tmp_path, capsys):
    code = main(["uci", "--quick", "--data-home", str(no_data), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("skhyre uci: energy.csv not found in ")
    assert str(no_data) in err and "Traceback" not in err
    assert "load_uci(n, data_home='DIR')" in err  # how to get the files
    assert not (tmp_path / "o" / "uci_shift.json").exists()


def test_cli_uci_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["uci", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--data-home" in out and "--quick" in out and "--out" in out


@pytest.mark.slow
def test_cli_uci_quick_end_to_end(tmp_path, capsys):
    home = _uci_home()
    t0 = time.perf_counter()
    code = main(["uci", "--quick", "--data-home", str(home), "--out", str(tmp_path)])
    seconds = time.perf_counter() - t0
    assert code == 0
    out = capsys.readouterr().out
    assert "Wrote:" in out and "uci_shift.json" in out
    payload = json.loads((tmp_path / "uci_shift.json").read_text())
    assert payload["meta"]["quick"] is True
    assert len(payload["summary"]) == 12  # 3 datasets x 4 ensembles
    assert (tmp_path / "uci_shift.md").is_file() and (tmp_path / "uci_shift.png").is_file()
    assert seconds < 180, f"skhyre uci --quick took {seconds:.0f} s"


def _prequential_reference(F, y, T, scale):
    """Plain NumPy: weights from scratch before every label, at a fixed temperature."""
    m = F.shape[1]
    err_h, err_u = [], []
    for t in range(m):
        cum = (scale * (F[:, :t] - y[:t]) ** 2).sum(axis=1)
        w = np.exp(-(cum - cum.min()) / T)
        w /= w.sum()
        err_h.append((w @ F[:, t] - y[t]) ** 2)
        err_u.append((F[:, t].mean() - y[t]) ** 2)
    return 100 * (np.sqrt(np.sum(err_h) / np.sum(err_u)) - 1)


@pytest.fixture(scope="module")
def small_regressor():
    from skhyre import HyReRegressor

    rng = np.random.default_rng(5)
    X = rng.normal(size=(150, 2))
    reg = HyReRegressor(n_members=6, max_epochs=3, random_state=0).fit(X, X[:, 0] - X[:, 1])
    X_new = rng.normal(loc=1.5, size=(25, 2))
    return reg, X_new, 2 * X_new[:, 0] - X_new[:, 1]


@pytest.mark.parametrize("T", [0.05, 1.0, 20.0])
def test_prequential_change_matches_numpy_reference(small_regressor, T):
    reg, X, y = small_regressor
    reg.set_params(temperature=T)
    order = [3, 17, 0, 9, 22, 5, 11]
    change = prequential_change(reg, X, y, order)
    F = reg.predict_members(X[order]).astype(np.float64)
    ref = _prequential_reference(F, y[order], T, 1.0 / reg.y_scale_**2)
    assert change == pytest.approx(ref, rel=1e-6)
    # the model ends adapted on the same labels as a batch adapt
    w_replayed = reg.weights_.copy()
    np.testing.assert_allclose(
        reg.adapt(X[order], y[order]).weights_, w_replayed, rtol=1e-5, atol=1e-12
    )


def test_prequential_change_rules_and_order(small_regressor):
    reg, X, y = small_regressor
    reg.set_params(temperature=0.01)
    assert prequential_change(reg, X, y, [7]) == pytest.approx(0.0)  # uniform predicts it
    for rule in ("auto", "evidence"):
        reg.set_params(temperature=rule)
        change = prequential_change(reg, X, y)
        assert math.isfinite(change) and reg.n_adapt_samples_ == X.shape[0]
    # the order changes the sequence of predictions, not the final weights
    reg.set_params(temperature=0.3)
    c1 = prequential_change(reg, X, y)
    w1 = reg.weights_.copy()
    c2 = prequential_change(reg, X, y, np.arange(X.shape[0])[::-1])
    np.testing.assert_allclose(reg.weights_, w1, rtol=1e-5, atol=1e-12)
    assert c1 != pytest.approx(c2)


def test_prequential_change_bad_input(small_regressor):
    reg, X, y = small_regressor
    with pytest.raises(ValueError, match="non-empty"):
        prequential_change(reg, X, y, [])
    with pytest.raises(IndexError, match="outside"):
        prequential_change(reg, X, y, [0, X.shape[0]])
    with pytest.raises(ValueError, match="inconsistent"):
        prequential_change(reg, X, y[:-1])

    class Classifierish:  # member probabilities (K, n, C): not a regression
        def predict_members(self, X):
            return np.full((3, len(X), 2), 0.5)

    with pytest.raises(TypeError, match="regression"):
        prequential_change(Classifierish(), X, y)


def test_a_variant_csv_warns_once_per_study_not_once_per_fit(tmp_path):
    import warnings

    lines = (_uci_home() / "energy.csv").read_text().splitlines()
    (tmp_path / "energy.csv").write_text("\n".join(lines[:601]) + "\n")  # 600 of 768 rows
    with pytest.warns(UserWarning, match="differs from the published"):
        check_uci_data(["energy"], data_home=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every fit's load is silent
        split = _uci_fit.load_split("energy", 0, tmp_path)
    assert split["n_train"] + split["n_val"] + split["n_ood"] == 600
