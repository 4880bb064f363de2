"""The benchmark scripts' summaries and provenance checks, on tiny made-up rows (fast).

The scripts themselves run in ``tests/test_benchmarks_smoke.py`` (slow); these
tests pin the bookkeeping that turns raw rows into the published tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import benchmarks_importable

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    with benchmarks_importable():
        import sklearn_shift
        import synthetic
        import temperature

        yield {"sklearn_shift": sklearn_shift, "temperature": temperature, "synthetic": synthetic}


def _row(seed, draw, t_chosen, uniform=1.0, hyre=0.9):
    return {
        "dataset": "energy",
        "ensemble": "forest",
        "selection": "random",
        "temperature": "auto",
        "seed": seed,
        "draw": draw,
        "n_members": 3,
        "uniform": uniform,
        "hyre": hyre,
        "best_member": 0.8,
        "temperature_chosen": t_chosen,
        "max_weight": 0.5,
    }


_MACHINE = {
    "cpu": "cpu",
    "cores": 2,
    "ram_gib": 1,
    "python": "3",
    "numpy": "2",
    "numba": "0",
    "numba_threading_layer": "omp",
    "numba_threads": 2,
    "torch": "2",
    "load_average": [0, 0, 0],
    "date": "d",
}


def test_sklearn_shift_median_temperature_is_over_draws(bench):
    # one draw per seed chose uniform weights (inf): a per-seed average would
    # make every seed "uniform"; the median over the draws is 0.1
    raw = [_row(s, d, t) for s in range(3) for d, t in enumerate((0.1, 0.1, np.inf))]
    (entry,) = bench["sklearn_shift"].summarize(raw)
    assert entry["median_temperature_chosen"] == pytest.approx(0.1)
    assert entry["n_seeds"] == 3
    assert entry["change_pct_mean"] == pytest.approx(-10.0)
    assert entry["verdict"] == "better"  # 0.1 lower RMSE on every seed


def test_sklearn_shift_verdict_is_paired_over_seeds(bench):
    """Draws are averaged within a seed first; the interval is Student-t over the seeds."""
    from scipy import stats

    hyre = {0: (0.95, 0.97), 1: (1.01, 1.03), 2: (0.92, 0.98)}  # uniform is 1.0 throughout
    raw = [_row(s, d, 0.1, hyre=h) for s, hs in hyre.items() for d, h in enumerate(hs)]
    (entry,) = bench["sklearn_shift"].summarize(raw)
    diff = np.array([np.mean(h) - 1.0 for h in hyre.values()])
    lo, hi = stats.t.interval(0.95, 2, loc=diff.mean(), scale=stats.sem(diff))
    got = entry["hyre_minus_uniform"]
    assert (got["mean"], got["lo"], got["hi"]) == pytest.approx((diff.mean(), lo, hi))
    assert entry["verdict"] == "level"  # lower in the mean, not on every seed
    md = bench["sklearn_shift"].markdown([entry], {
        "n_adapt": 32, "seeds": 3, "draws": 2, "command": "c", "elapsed_s": 1.0,
        "quick": False, "sklearn": "x", "machine": _MACHINE,
    })  # fmt: skip
    assert "0 better, 1 level, 0 worse" in md and "] level |" in md


def test_sklearn_shift_resummarize_rewrites_the_tables(bench, tmp_path):
    mod = bench["sklearn_shift"]
    raw = [_row(s, d, t) for s in range(2) for d, t in enumerate((0.1, np.inf))]
    meta = {
        "command": "python benchmarks/sklearn_shift.py",
        "quick": False,
        "seeds": 2,
        "draws": 2,
        "n_adapt": 32,
        "sklearn": "x",
        "elapsed_s": 1.0,
        "machine": _MACHINE,
    }
    stale = {"meta": meta, "raw": mod.json_safe(raw), "summary": [{"stale": True}]}
    src = tmp_path / "old.json"
    src.write_text(json.dumps(stale))
    assert mod.main(["--from-json", str(src), "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "sklearn_shift.json").read_text())
    assert payload["summary"][0]["median_temperature_chosen"] == "inf"  # median of (0.1, inf)
    assert len(payload["raw"]) == 4
    md = (tmp_path / "sklearn_shift.md").read_text()
    assert "recomputed from that run's raw rows" in md


def _fake_fit(path: Path, seed: int, n: int = 50, K: int = 4) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(seed)
    F, y = rng.standard_normal((K, n)), rng.standard_normal(n)
    np.savez(path, F=F, y=y, y_sd=1.0, y_scale=1.0)
    idx = np.random.default_rng([seed, 20_241]).choice(n, 8, replace=False)
    rest = np.setdiff1d(np.arange(n), idx)
    return float(np.sqrt(np.mean((F[:, rest].mean(0) - y[rest]) ** 2))), F


def test_temperature_provenance_check(bench, tmp_path):
    mod = bench["temperature"]
    cache = tmp_path / "cache"
    cache.mkdir()
    uni0, _ = _fake_fit(cache / "energy_shared_base_0.npz", 0)
    uni1, _ = _fake_fit(cache / "energy_shared_base_1.npz", 1)
    fits = mod._cached_fits(cache)
    assert set(fits) == {("energy", "shared_base")}
    assert sorted(fits["energy", "shared_base"]) == [0, 1]

    def study(u0, u1):
        runs = [
            {"dataset": "energy", "ensemble": "shared_base", "seed": s,
             "random": {"T=1": {"uniform": u}}}
            for s, u in ((0, u0), (1, u1))
        ]  # fmt: skip
        path = tmp_path / "uci_shift.json"
        path.write_text(json.dumps({"meta": {"n_adapt": 8}, "runs": runs}))
        return path

    assert mod.check_provenance(fits, study(uni0, uni1)) == (2, 2)
    assert mod.check_provenance(fits, study(uni0, uni1 * 1.01)) == (1, 2)
    assert mod.check_provenance(fits, tmp_path / "missing.json") == (0, 0)


def test_temperature_uci_rows_pool_the_seeds_of_a_cell(bench, tmp_path):
    mod = bench["temperature"]
    for seed in (0, 1):
        _fake_fit(tmp_path / f"kin8nm_vanilla_{seed}.npz", seed)

    class Bar:
        n = 0

        def update(self):
            self.n += 1

    bar = Bar()
    out = mod.run_uci(mod._cached_fits(tmp_path), 3, 8, bar)
    assert list(out) == ["kin8nm/vanilla"]
    assert out["kin8nm/vanilla"]["n"] == 6  # 3 draws x 2 seeds
    assert out["kin8nm/vanilla"]["seeds"] == [0, 1]
    assert bar.n == 2
    # the paired verdicts run over the seeds, each seed's draws averaged first
    cell = out["kin8nm/vanilla"]
    assert cell["n_units"] == 2
    assert all(len(v) == 2 for v in cell["per_unit_rmse"].values())
    v = mod.compare(cell, "auto", "inf")
    auto, uni = cell["per_unit_rmse"]["auto"], cell["per_unit_rmse"]["inf"]
    assert v.mean == pytest.approx(np.mean(np.subtract(auto, uni)))


def test_temperature_report_verdicts_and_rerender(bench, tmp_path):
    """GP units are the repeats; the report's verdict cells match scipy's t-interval, an
    old summary without per-unit values gets no interval, and --from-json renders the same
    report again."""
    from scipy import stats

    mod = bench["temperature"]
    rng = np.random.default_rng(1)
    records = []
    for _ in range(6):
        r = {t: 1.0 + 0.1 * rng.standard_normal() for t in mod.FIXED}
        r.update(auto=r[1.0] - 0.05 + 0.01 * rng.standard_normal(), evidence=r[1.0], loo=r[1.0])
        r.update(t_auto=1.0, t_evidence=1.0, t_loo=1.0)
        records.append(r)
    gp = mod._summarize(records)
    assert gp["n_units"] == 6
    v = mod.compare(gp, "auto", "1.0")
    d = np.array([r["auto"] - r[1.0] for r in records])
    lo, hi = stats.t.interval(0.95, 5, loc=d.mean(), scale=stats.sem(d))
    assert (v.mean, v.lo, v.hi, v.verdict) == pytest.approx((d.mean(), lo, hi, "better"))
    old = {k: gp[k] for k in ("n", "mean_rmse", "best_fixed") if k in gp}
    old.update(median_t_auto=1.0, median_t_evidence=1.0, median_t_loo=1.0)
    payload = {
        "gp": {"0.1": gp},
        "uci": {"energy/vanilla": old},  # an older run's summary: means only
        "n_adapt": 8,
        "seconds": 1.0,
        "machine_line": "m",
        "command": "python benchmarks/temperature.py",
        "provenance_md": "",
    }
    md = mod.report(payload, 8, "", mod._footer(payload))
    assert "| GP, noise sd 0.1 | " in md and "] better |" in md
    assert "No per-unit values were stored for the UCI rows" in md
    assert "| UCI energy/vanilla | " in md and md.count("| UCI energy/vanilla | ") == 1
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "temperature.json").write_text(json.dumps(payload))
    assert mod.main(["--from-json", str(tmp_path / "in" / "temperature.json"), "--out",
                     str(tmp_path)]) == 0  # fmt: skip
    again = (tmp_path / "temperature.md").read_text()
    assert again.split("1 s; m.")[0] == md.split("1 s; m.")[0]
    assert "re-rendered from its JSON" in again


def test_synthetic_verdict_tables(bench, tmp_path):
    """Study tables pair methods per seed at each N; the report renders from a JSON."""
    mod = bench["synthetic"]
    base = np.array([[0.5, 0.6], [0.55, 0.65], [0.52, 0.7]])
    acc = {
        "HyRe T=1, random labels": mod.seed_stats(
            base + np.array([[0.1, 0.2], [0.12, 0.21], [0.09, 0.2]])
        ),
        "uniform ensemble": mod.seed_stats(base),
        "HyRe auto, random labels": mod.seed_stats(
            base + np.array([[0.05, -0.01], [-0.04, 0.02], [0, 0]])
        ),
    }
    lines, vs = mod.verdict_table(acc, mod.A_PAIRS, [1, 5])
    labels = [x.split(" | ")[0].lstrip("| ") for x in lines[2:]]
    assert labels == ["HyRe T=1 random - uniform", "HyRe auto random - uniform",
                      "HyRe auto - HyRe T=1 (random)"]  # fmt: skip
    assert [v.verdict for v in vs[:2]] == ["better", "better"]
    assert [v.verdict for v in vs[2:4]] == ["level", "level"]
    assert mod._tally(vs).startswith("2 better")
    # an old (b) whose accuracy kept no per-seed rows: they are read from b["per_seed"]
    b = {"accuracy": {"x": {"mean": [1.0]}}, "per_seed": {"x": [[1.0], [1.0]]}}
    assert mod._with_per_seed(b)["x"]["per_seed"] == [[1.0], [1.0]]


# --------------------------------------------------------------------------- the studies' reports
RESULTS = BENCHMARKS / "results"


def test_uci_report_renders_from_its_committed_json():
    """skhyre.studies.uci renders the committed uci_shift.md from uci_shift.json exactly:
    the report is generated, and moving the rendering out of the result class changed
    nothing."""
    from skhyre.studies.uci import UCIStudyResult

    payload = json.loads((RESULTS / "uci_shift.json").read_text())
    res = UCIStudyResult(summary=payload["summary"], runs=payload["runs"], meta=payload["meta"])
    assert res.markdown() == (RESULTS / "uci_shift.md").read_text()
    assert res.to_dict()["auto_at_or_below_uniform"] == payload["auto_at_or_below_uniform"]


def test_preference_report_renders_from_its_committed_rows():
    """The committed preferences.md (after its preamble) is the report rendered from the
    rows in preferences.json, and so is its headline."""
    from skhyre.studies import _pref_report

    payload = json.loads((RESULTS / "preferences.json").read_text())
    rows, cfg = payload["rows"], payload["config"]
    md, headline = _pref_report.personalization_markdown(
        rows,
        cfg,
        encoder=_pref_report.encoder_name(None),
        n_prompts=661,  # every DSP prompt (dsp_prompts=None)
        trainings=("pooled", "by_group"),
        hh_groups=["helpful", "harmless"],
    )
    domain_rows = [r for r in rows if r["setting"] in ("in-domain", "leave-one-domain-out")]
    domain_md, domain_headline = _pref_report.domain_section(
        domain_rows, cfg, ("pooled", "by_group", "mixed")
    )
    committed = (RESULTS / "preferences.md").read_text()
    assert md + "\n" + domain_md == committed[committed.index("## Personalizing") :].rstrip() + "\n"
    assert headline == {k: v for k, v in payload["headline"].items() if k != "domains"}
    assert domain_headline == payload["headline"]["domains"]
    # what `benchmarks/preferences.py --from-json` renders
    from skhyre.studies.preferences import render_from_rows

    again = render_from_rows(rows, cfg)
    assert again.markdown == md + "\n" + domain_md
    assert again.headline == payload["headline"]
    assert "Target met" not in committed or "better" in committed  # targets read verdicts


@pytest.mark.parametrize("folder", ["", "zoo_panel_check"])
def test_zoo_panel_report_renders_from_its_committed_json(folder):
    """The committed zoo_panel.md (and its fresh check) is the report rendered from the
    JSON's raw rows: the summary is recomputed, nothing in the report is typed by hand."""
    with benchmarks_importable():
        import zoo_panel

    path = RESULTS / folder / "zoo_panel.json"
    payload = zoo_panel._from_json_safe(json.loads(path.read_text()))
    payload["summary"] = zoo_panel.summarize(payload["units"], payload["meta"]["ns"])
    assert zoo_panel.markdown(payload) == (path.parent / "zoo_panel.md").read_text()


def test_training_budget_report_renders_from_its_committed_json():
    """The committed training_budget.md is the report rendered from its committed JSON."""
    with benchmarks_importable():
        import training_budget

    path = RESULTS / "training_budget.json"
    payload = json.loads(path.read_text())
    assert training_budget.markdown(payload) == (RESULTS / "training_budget.md").read_text()


def _prior_units(scores: dict, selection: dict) -> list[dict]:
    """Made-up prior_scale units: ``scores[task][seed][value]`` is every metric's score."""
    units = []
    for task, per_seed in scores.items():
        for seed, per_value in per_seed.items():
            fits = {
                k: {m: v for m in ("shift", "adapted_N5", "adapted_N10", "adapted_N32")}
                for k, v in per_value.items()
            }
            u = {"task": task, "seed": seed, "fits": fits}
            if task in selection:
                shift, kfold = selection[task]
                u["selection"] = {
                    "shift": {"adapted_pick": shift, "uniform_pick": "1"},
                    "kfold": {"adapted_pick": kfold, "uniform_pick": "1"},
                }
            units.append(u)
    return units


def test_prior_scale_selection_judges_picks_by_the_shifted_fits():
    """A pick is judged by (a)'s adapted score at N=10: lowest RMSE / highest accuracy is the
    best, ties with the best are hits, regret is in % of the best's score."""
    with benchmarks_importable():
        import prior_scale

    scores = {
        "diabetes/mean": {0: {"0.3": 0.5, "1": 0.6, "3": 0.55, "10": 0.9}},
        "breast_cancer/mean": {0: {"0.3": 0.9, "1": 0.95, "3": 0.95, "10": 0.8}},
    }
    selection = {"diabetes/mean": ("0.3", "1"), "breast_cancer/mean": ("3", "10")}
    rows = {r["task"]: r for r in prior_scale.selection_rows(_prior_units(scores, selection))}
    reg, clf = rows["diabetes/mean"], rows["breast_cancer/mean"]
    assert reg["best"] == "0.3" and reg["shift_hit"] and not reg["kfold_hit"]
    assert reg["kfold_regret"] == pytest.approx(20.0)  # (0.6 - 0.5) / 0.5
    assert clf["best"] == "1" and clf["shift_hit"]  # 3 ties with the best: a hit
    assert clf["shift_regret"] == 0.0
    assert clf["kfold_regret"] == pytest.approx(100 * 0.15 / 0.95)
    summary = prior_scale.selection_summary(list(rows.values()))
    assert summary["shift"]["hits"] == 2 and summary["kfold"]["hits"] == 0
    assert summary["fixed_1"]["hits"] == 1  # always 1: a miss on diabetes, a hit (tie) on cancer


def test_prior_scale_decision_needs_every_n_and_the_held_out_tasks():
    """The rule for changing the default: better on average at every N, worse beyond noise
    nowhere on the development tasks, nowhere worse on the held-out ones."""
    with benchmarks_importable():
        import prior_scale

    def seeds(base, deltas):  # value "3" is base + delta on each seed
        return {
            s: {"0.3": base + 0.1, "1": base, "3": base + d, "10": base + 0.2}
            for s, d in enumerate(deltas)
        }

    scores = {
        "diabetes/mean": seeds(1.0, (-0.10, -0.11, -0.09)),  # 3 better
        "friedman1/mean": seeds(1.0, (0.01, -0.02, 0.0)),  # 3 level
        "energy/X3_wall_area-high": seeds(1.0, (0.0, 0.01, -0.01)),  # held out: level
    }
    units = _prior_units(scores, {})
    summary = prior_scale.evidence_summary(units, prior_scale.NS)
    dev = summary["development"]
    assert dev["3"]["adapted_N10"]["better"] == 1 and dev["3"]["adapted_N10"]["level"] == 1
    assert dev["3"]["adapted_N10"]["mean_change"] < 0
    assert dev["10"]["adapted_N10"]["worse"] == 2
    dec = prior_scale.decision(summary, prior_scale.NS)
    assert dec["3"]["qualifies"] and not dec["10"]["qualifies"] and not dec["0.3"]["qualifies"]
    # a held-out task where 3 is worse beyond noise disqualifies it
    scores["energy/X3_wall_area-high"] = seeds(1.0, (0.10, 0.11, 0.09))
    summary = prior_scale.evidence_summary(_prior_units(scores, {}), prior_scale.NS)
    assert not prior_scale.decision(summary, prior_scale.NS)["3"]["qualifies"]


def test_prior_scale_report_renders_from_its_committed_json():
    """The committed prior_scale.md is the report rendered from its committed JSON's units."""
    with benchmarks_importable():
        import prior_scale

    payload = json.loads((RESULTS / "prior_scale.json").read_text())
    assert prior_scale.markdown(payload) == (RESULTS / "prior_scale.md").read_text()
    # the stored summary is the one the units give
    summary = json.loads(json.dumps(prior_scale.summarize(payload)))
    assert summary == payload["summary"]
