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
    BASELINES,
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
    assert (
        res.at_or_below_uniform("auto", arms=["sampled"])["energy/shared_base"]
        is cell["sampled/auto"]["hyre_at_or_below_uniform_in_mean"]
    )


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
    assert "Verdicts at a glance" in md and "| HyRe default vs HGB refit |" in md
    assert "Against what a user would pick instead" in md and "| default vs fine-tuning |" in md
    assert "Verdict (default)" in md and "| Δ default |" in md and "(1 seed)" in md
    assert len(payload["tree_runs"]) == 1
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


def test_tiny_study_default_arm_and_baselines(tiny_result):
    """The default arm is HyReRegressor()'s rule (auto capped at 1); the baselines run on
    the random arm's draws: fine-tuning per fit, the trees once per dataset and seed."""
    from skhyre import HyReRegressor

    res = tiny_result
    (run,) = res.runs
    params = HyReRegressor().get_params()
    rule = {"temperature": params["temperature"], "max_temperature": params["max_temperature"]}
    assert run["default_rule"] == rule == res.meta["default_rule"]
    for arm in ("random", "active", "sampled"):
        temps = run[arm]["default"].get("temperature_draws", [run[arm]["default"]["temperature"]])
        assert all(t <= params["max_temperature"] for t in temps)
    # the random arm: the default on the same labelled points and rows as the others
    assert run["random"]["default"]["uniform_draws"] == run["random"]["T=1"]["uniform_draws"]
    ft = run["baselines"]["finetune"]
    assert len(ft) == 2 and all(math.isfinite(x) and x > 0 for x in ft)
    (trees,) = res.tree_runs
    assert (trees["dataset"], trees["seed"]) == ("energy", 0)
    for key in ("hgb", "rf", "hgb_refit", "rf_refit"):
        assert len(trees[key]) == 2 and all(x > 0 for x in trees[key])
    # the trees' draws are the HyRe run's: a plain HGB refit on draw 1 reproduces its score
    from sklearn.ensemble import HistGradientBoostingRegressor

    data = _uci_fit.load_split("energy", 0, _uci_home())
    idx = _uci_fit.adapt_draws(0, run["n_ood"], 32, 2)[1]
    rest = np.setdiff1d(np.arange(run["n_ood"]), idx)
    hgb = HistGradientBoostingRegressor(random_state=0).fit(
        np.concatenate([data["X_train"], data["X_ood"][idx]]),
        np.concatenate([data["y_train"], data["y_ood"][idx]]),
    )
    pred = hgb.predict(data["X_ood"][rest])
    assert trees["hgb_refit"][1] == pytest.approx(
        np.sqrt(np.mean((pred - data["y_ood"][rest]) ** 2))
    )
    cell = res.summary["energy/shared_base"]
    assert set(cell["baselines"]) == set(BASELINES)
    for b in BASELINES:
        c = cell["comparisons"][f"random/default vs {b}"]
        assert c["n_seeds"] == 1 and c["n_draws"] == 2 and c["lo"] == -math.inf
        assert f"active/default vs {b}" not in cell["comparisons"]  # random draws only


def test_refit_draws_limits_the_refitted_baselines(tmp_path):
    res = run_uci_study(
        ["energy"],
        ["vanilla"],
        seeds=[0],
        data_home=_uci_home(),
        progress=False,
        n_members=2,
        hidden_layer_sizes=(4,),
        vanilla_steps=5,
        draws=2,
        refit_draws=1,
    )
    (run,), (trees,) = res.runs, res.tree_runs
    assert len(run["baselines"]["finetune"]) == 1
    assert len(trees["hgb_refit"]) == len(trees["rf_refit"]) == 1 and len(trees["hgb"]) == 2
    cmp = res.summary["energy/vanilla"]["comparisons"]
    assert cmp["random/default vs hgb_refit"]["n_draws"] == 1
    assert cmp["random/default vs hgb"]["n_draws"] == 2
    assert "the first 1 of each fit's 2 draws" in res.markdown()


@pytest.mark.parametrize("refit_draws", [0, -2, 1.5, True])
def test_bad_refit_draws_are_named(refit_draws):
    with pytest.raises(ValueError, match="refit_draws must be a positive integer or None"):
        run_uci_study(["energy"], ["shared_base"], seeds=[0], refit_draws=refit_draws)


# --------------------------------------------------------------------------- paired comparisons
def _fake_runs(seeds=(0, 1, 2, 3), draws=3, refit=2, seed_rng=0):
    """Run records with known RMSEs (random arm: 3 draws; active: 1), without training."""
    rng = np.random.default_rng(seed_rng)
    runs, trees = [], []

    def variant(hyre, uniform):
        rec = {
            "uniform": float(np.mean(uniform)),
            "hyre": float(np.mean(hyre)),
            "rel_change_pct": float(np.mean(100 * (hyre / uniform - 1))),
            "temperature": 1.0,
            "effective_members": 3.0,
            "best_member_oracle": float(np.min(uniform)) * 0.9,
            "prequential_change_pct": None,
        }
        if hyre.size > 1:
            rec["rel_change_pct_draws"] = list(100 * (hyre / uniform - 1))
            rec["uniform_draws"] = list(uniform)
        return rec

    for s in seeds:
        uni = rng.uniform(0.5, 1.0, draws)
        r = {"dataset": "energy", "ensemble": "vanilla", "seed": s, "fit_seconds": 1.0,
             "steps": 10, "y_sd": 2.0}  # fmt: skip
        r["random"] = {
            v: variant(uni * rng.uniform(0.8, 1.05, draws), uni) for v in ("T=1", "default")
        }
        act_u = {v: rng.uniform(0.5, 1.0, 1) for v in ("T=1", "default")}
        r["active"] = {v: variant(u * rng.uniform(0.8, 1.05, 1), u) for v, u in act_u.items()}
        r["baselines"] = {"finetune": list(uni[:refit] * rng.uniform(0.9, 1.1, refit))}
        runs.append(r)
        trees.append({"dataset": "energy", "seed": s, "hgb": list(rng.uniform(0.4, 1.2, draws)),
                      "rf": list(rng.uniform(0.4, 1.2, draws)),
                      "hgb_refit": list(rng.uniform(0.4, 1.2, refit)),
                      "rf_refit": list(rng.uniform(0.4, 1.2, refit))})  # fmt: skip
    return runs, trees


def _reference(per_seed):
    """Plain NumPy / scipy: the mean, the 95% t-interval and the verdict."""
    from scipy import stats

    d = np.asarray(per_seed)
    lo, hi = stats.t.interval(0.95, d.size - 1, loc=d.mean(), scale=stats.sem(d))
    return d.mean(), lo, hi, "better" if hi < 0 else "worse" if lo > 0 else "level"


def _hyre_draws(rec):
    u = np.asarray(rec.get("uniform_draws", [rec["uniform"]]))
    return u * (1 + np.asarray(rec.get("rel_change_pct_draws", [rec["rel_change_pct"]])) / 100)


def test_paired_comparisons_match_a_numpy_reference():
    runs, trees = _fake_runs()
    cell = _uci_fit.summarize(runs, ["energy"], ["vanilla"], trees)["energy/vanilla"]
    cmp = cell["comparisons"]

    def check(key, per_seed, n_draws):
        c = cmp[key]
        mean, lo, hi, verdict = _reference(per_seed)
        assert (c["mean"], c["lo"], c["hi"]) == pytest.approx((mean, lo, hi), rel=1e-12)
        assert c["verdict"] == verdict and c["n_seeds"] == 4 and c["n_draws"] == n_draws
        np.testing.assert_allclose(c["per_seed"], per_seed, rtol=1e-12)

    # vs uniform: the paired relative change, each seed the mean of its draws
    check(
        "random/default vs uniform",
        [np.mean(r["random"]["default"]["rel_change_pct_draws"]) for r in runs],
        3,
    )
    # default vs T=1 on the same rows: the plain relative change of the RMSEs
    check(
        "random/default vs T=1",
        [
            np.mean(
                100 * (_hyre_draws(r["random"]["default"]) / _hyre_draws(r["random"]["T=1"]) - 1)
            )
            for r in runs
        ],
        3,
    )
    # the active arm: each rule relative to the uniform ensemble on its own rows first
    check(
        "active/default vs T=1",
        [
            100
            * (
                (r["active"]["default"]["hyre"] / r["active"]["default"]["uniform"])
                / (r["active"]["T=1"]["hyre"] / r["active"]["T=1"]["uniform"])
                - 1
            )
            for r in runs
        ],
        1,
    )
    # the baselines: on the draws they have (the refits: the first 2), same rows as HyRe
    for b, source in (("hgb", "trees"), ("hgb_refit", "trees"), ("finetune", "run")):
        per_seed = []
        for r, t in zip(runs, trees):
            values = np.asarray(t[b] if source == "trees" else r["baselines"][b])
            hyre = _hyre_draws(r["random"]["default"])[: values.size]
            per_seed.append(np.mean(100 * (hyre / values - 1)))
        check(f"random/default vs {b}", per_seed, 3 if b == "hgb" else 2)
    assert "active/default vs hgb" not in cmp
    # the levels: each baseline's RMSE over its own draws, and uniform on the same draws
    ft = cell["baselines"]["finetune"]
    seeds_ft = [np.mean(r["baselines"]["finetune"]) for r in runs]
    assert ft["rmse"] == pytest.approx((np.mean(seeds_ft), np.std(seeds_ft, ddof=1)))
    uni2 = [np.mean(r["random"]["T=1"]["uniform_draws"][:2]) for r in runs]
    assert ft["uniform_same_draws"][0] == pytest.approx(np.mean(uni2)) and ft["n_draws"] == 2


def test_report_cells_are_the_paired_intervals():
    runs, trees = _fake_runs()
    for r in runs:  # the report needs every arm's T=1, default, auto, loo and evidence
        for arm in ("random", "active"):
            for v in ("auto", "loo", "evidence"):
                r[arm][v] = dict(r[arm]["default"])
    summary = _uci_fit.summarize(runs, ["energy"], ["vanilla"], trees)
    md = UCIStudyResult(summary=summary).markdown()  # no meta: no setup line
    cmp = summary["energy/vanilla"]["comparisons"]
    for key in ("random/default vs uniform", "active/default vs T=1", "random/default vs rf_refit"):
        v = cmp[key]
        assert f"{v['mean']:+.2f}% [{v['lo']:+.2f}, {v['hi']:+.2f}] {v['verdict']}" in md
    assert "% ±" not in md  # no "Δ ± std" left
    # the verdict counts: one row per comparison, one column per arm
    (row,) = [ln for ln in md.splitlines() if ln.startswith("| HyRe default vs HyRe T=1 |")]
    assert row.count("/") == 4  # "b / l / w" in the random and active columns
