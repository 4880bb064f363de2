"""The real-text preference study, on tiny generated data with a keyword embedder.

The fast tests never load a sentence encoder: :class:`KeywordEmbedder`
counts marker words, so the study's whole pipeline (splits, training,
adaptation, baselines, reports) runs in seconds. The real-data quick run is
marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.utils import Bunch

from skhyre.studies import _pref_report, _pref_runs, commands
from skhyre.studies import preferences as ps
from skhyre.studies._pref_settings import (
    BASELINE_NAMES,
    GROUP_ONLY,
    HYRE_BALD,
    HYRE_RANDOM,
    SINGLE_RM,
)
from skhyre.studies.preference_data import DSP_DOMAINS, DSP_GROUPS, format_exchange, make_dsp_pairs

ROOT = Path(__file__).resolve().parents[1]
REAL_HOME = ROOT.parent / "shared" / "data"

TINY = {
    "dsp_prompts": None,
    "hh_pairs": None,
    "seeds": (0,),
    "n_labels": (1, 3),
    "n_repeats": 1,
    "n_active_repeats": 1,
    "model": {"n_members": 8, "hidden_layer_sizes": (8,), "max_epochs": 2, "batch_size": 64},
}
MARKERS = (*DSP_DOMAINS, "helpful", "harmless")


class KeywordEmbedder:
    """Texts -> counts of marker words plus two hashed noise dimensions."""

    def __init__(self) -> None:
        self.calls = 0

    def transform(self, texts):
        self.calls += 1
        rows = []
        for t in texts:
            words = t.lower().split()
            h = sum(map(ord, t))
            rows.append([words.count(m) for m in MARKERS] + [h % 7 / 7.0, h % 11 / 11.0])
        return np.asarray(rows, dtype=np.float32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_dsp(n: int = 24) -> Bunch:
    resp = np.empty((n, len(DSP_DOMAINS)), dtype=object)
    for i in range(n):
        for j, d in enumerate(DSP_DOMAINS):
            resp[i, j] = f"{d} " * (1 + (i + j) % 3) + f"answer number {i}"
    return Bunch(
        prompts=np.array([f"question {i}?" for i in range(n)], dtype=object),
        responses=resp,
        domains=list(DSP_DOMAINS),
    )


def tiny_hh(n: int = 30) -> dict:
    def transcripts(good: str, bad: str):
        chosen = [f"\n\nHuman: q{i}\n\nAssistant: {good} reply {i}" for i in range(n)]
        rejected = [f"\n\nHuman: q{i}\n\nAssistant: {bad} reply {i}" for i in range(n)]
        return Bunch(
            chosen=np.array(chosen, dtype=object), rejected=np.array(rejected, dtype=object)
        )

    return {
        "helpful": transcripts("helpful", "harmless"),
        "harmless": transcripts("harmless", "helpful"),
    }


def test_study_runs_end_to_end(tmp_path):
    emb = KeywordEmbedder()
    res = ps.run_preference_study(
        dsp=tiny_dsp(), hh=tiny_hh(), embedder=emb, config=TINY, progress=False
    )
    assert emb.calls >= 1
    settings = {r["setting"] for r in res.rows}
    assert settings == {"dsp", "hh"}
    methods = {r["method"] for r in res.rows if r["setting"] == "dsp"}
    for m in (HYRE_RANDOM, HYRE_BALD, SINGLE_RM, GROUP_ONLY, *BASELINE_NAMES.values()):
        assert m in methods, m
    for g in DSP_GROUPS:
        ns = {r["n_labels"] for r in res.rows if r["group"] == g and r["method"] == HYRE_RANDOM}
        assert ns == {1, 3}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in res.rows)
    assert "[oracle]" in res.markdown and "helpful vs harmless" in res.markdown
    assert "Target" in res.markdown
    assert set(res.headline) == {"dsp", "hh"}
    files = ps.write_report(res, tmp_path, name="prefs", preamble="# title\n\n")
    payload = json.loads((tmp_path / "prefs.json").read_text())
    assert payload["config"]["n_labels"] == [1, 3] and len(payload["rows"]) == len(res.rows)
    assert (tmp_path / "prefs.md").read_text().startswith("# title")
    assert all(p.exists() for p in files)


@pytest.fixture
def fits(monkeypatch):
    """Record ``(training, set of group ids or None)`` of every reward-model fit."""
    calls = []
    original = _pref_runs.reward_model

    def spy(model_cfg, seed, **overrides):
        model = original(model_cfg, seed, **overrides)
        fit = model.fit

        def recording_fit(X, y, groups=None):
            calls.append((overrides.get("training"), None if groups is None else set(groups)))
            return fit(X, y, groups=groups)

        model.fit = recording_fit
        return model

    monkeypatch.setattr(_pref_runs, "reward_model", spy)
    return calls


def test_study_with_group_ids_reuses_references(fits):
    res = ps.run_preference_study(
        dsp=tiny_dsp(),
        embedder=KeywordEmbedder(),
        include_hh=False,
        config=TINY,
        trainings=("by_group",),
        progress=False,
    )
    # pooled always runs first: ensemble, single network, four group-only models;
    # then one by_group ensemble fitted with the ids
    assert [(t or "pooled", g is not None) for t, g in fits] == (
        [("pooled", False)] * 6 + [("by_group", True)]
    )
    assert fits[-1][1] == set(DSP_GROUPS)
    assert {r["setting"] for r in res.rows} == {"dsp", "dsp, by_group"}
    by_group = [r for r in res.rows if r["setting"] == "dsp, by_group"]
    # the single network and group-only rows are the pooled run's, once per group
    single = [r for r in by_group if r["method"] == SINGLE_RM]
    assert sorted(r["group"] for r in single) == sorted(DSP_GROUPS)
    pooled_single = {
        r["group"]: r["accuracy"]
        for r in res.rows
        if r["setting"] == "dsp" and r["method"] == SINGLE_RM
    }
    assert all(r["accuracy"] == pooled_single[r["group"]] for r in single)
    assert "training='by_group'" in res.markdown
    assert np.isfinite(res.headline["dsp, by_group"][SINGLE_RM])
    with pytest.raises(ValueError, match="trainings"):
        ps.run_preference_study(
            dsp=tiny_dsp(),
            embedder=KeywordEmbedder(),
            include_hh=False,
            config=TINY,
            trainings=("bygroup",),
            progress=False,
        )


def test_split_is_by_prompt_and_disjoint():
    table = ps.embed_items(
        [
            [t for t in row]
            for row in np.array(
                [
                    [f"Human: question {i}?\n\nAssistant: {r}" for r in tiny_dsp().responses[i]]
                    for i in range(24)
                ],
                dtype=object,
            )
        ],
        KeywordEmbedder(),
        block_size=50,
    )
    groups, extra = _pref_runs.dsp_task(tiny_dsp(), table, np.arange(24), (0.5, 0.2, 0.3), seed=3)
    ids = {k: set(p.prompt_ids) for k, p in extra.parts.items()}
    assert not (ids["train"] & ids["pool"]) and not (ids["train"] & ids["test"])
    assert not (ids["pool"] & ids["test"])
    assert ids["train"] | ids["pool"] | ids["test"] == set(range(24))
    assert [g.name for g in groups] == list(DSP_GROUPS)
    # every group has pairs in every part, with the same prompts
    for g in groups:
        assert g.y_train.size and g.y_pool.size and g.y_test.size


def test_domain_study_leave_one_out_hides_the_domain(fits):
    res = ps.run_domain_study(
        dsp=tiny_dsp(),
        embedder=KeywordEmbedder(),
        modes=("pooled", "by_group"),
        config=TINY,
        progress=False,
    )
    assert {r["setting"] for r in res.rows} == {"in-domain", "leave-one-domain-out"}
    assert {r["training"] for r in res.rows} == {"pooled", "by_group"}
    # 2 in-domain fits on all four domains, then 2 per held-out domain on three
    assert len(fits) == 2 + 2 * len(DSP_GROUPS)
    assert all(g == set(DSP_GROUPS) for _, g in fits[:2])
    assert all(len(g) == 3 for _, g in fits[2:])
    assert "leave-one-domain-out" in res.markdown and "by_group - pooled" in res.markdown


def test_leave_one_domain_out_drops_copied_answers():
    dsp = tiny_dsp(6)
    dsp.responses[2, DSP_DOMAINS.index("business")] = dsp.responses[2, DSP_DOMAINS.index("academy")]
    pairs = make_dsp_pairs(dsp, DSP_GROUPS, random_state=0)
    keep = _pref_runs.without_domain(pairs, "academy")
    academy = {format_exchange(dsp.prompts[i], dsp.responses[i, 0]) for i in range(6)}
    assert not academy & set(pairs.X[keep].ravel())  # no academy text left, copied or not
    assert (
        not (pairs.groups[keep] == "academy").any() and not (pairs.rival[keep] == "academy").any()
    )
    # only the copied prompt loses pairs beyond the academy ones
    plain = (pairs.groups != "academy") & (pairs.rival != "academy")
    assert set(pairs.prompt_ids[plain & ~keep]) == {2}


def test_domain_study_pairs_the_training_modes(monkeypatch):
    seen = {}
    original = _pref_runs.adaptation_runs

    def spy(model, grp, n_labels, n_repeats, n_active, rng):
        key = (grp.name, model.training)
        seen.setdefault(key, []).append(rng.randint(10**9))  # in-domain, then held out
        return original(model, grp, n_labels, n_repeats, n_active, np.random.RandomState(0))

    monkeypatch.setattr(_pref_runs, "adaptation_runs", spy)
    ps.run_domain_study(
        dsp=tiny_dsp(),
        embedder=KeywordEmbedder(),
        modes=("pooled", "by_group"),
        config=TINY,
        progress=False,
    )
    for g in DSP_GROUPS:
        assert len(seen[g, "pooled"]) == 2
        assert seen[g, "pooled"] == seen[g, "by_group"], g


class _NoEmbedding:
    def transform(self, texts):
        raise AssertionError("embedded before the parameters were checked")


def test_training_modes_are_checked_before_any_embedding():
    with pytest.raises(ValueError, match="trainings must be a sequence of 'pooled'"):
        ps.run_preference_study(
            dsp=tiny_dsp(),
            embedder=_NoEmbedding(),
            include_hh=False,
            config=TINY,
            trainings=("pooled", "by_grup"),
            progress=False,
        )
    for modes in (("pooled", "mixd"), ()):
        with pytest.raises(ValueError, match="modes must be a non-empty sequence"):
            ps.run_domain_study(
                dsp=tiny_dsp(), embedder=_NoEmbedding(), modes=modes, config=TINY, progress=False
            )


def test_report_names_the_embedder_and_ensemble_used():
    cfg = {**TINY, "model": {**TINY.get("model", {}), "ensemble": "vanilla"}}
    res = ps.run_preference_study(
        dsp=tiny_dsp(), embedder=KeywordEmbedder(), include_hh=False, config=cfg, progress=False
    )
    assert "by the given embedder (KeywordEmbedder;" in res.markdown
    assert "HyReRewardModel: vanilla, K=" in res.markdown
    assert "MiniLM" not in res.markdown.split("\n\n")[1]


def test_bad_configuration():
    with pytest.raises(ValueError, match="three positive fractions"):
        _pref_runs.split_ids(np.arange(10), (0.5, 0.5), np.random.RandomState(0))
    with pytest.raises(ValueError, match="seeds"):
        ps._resolve_config(True, [], None)
    with pytest.raises(ValueError, match="n_labels"):
        ps._resolve_config(True, None, {"n_labels": (0, 5)})
    with pytest.raises(ValueError, match="block_size"):
        ps.embed_items([["a"]], KeywordEmbedder(), 0)

    class Broken:
        def transform(self, texts):
            return np.zeros((1, 3))

    with pytest.raises(ValueError, match="returned shape"):
        ps.embed_items([["a", "b"]], Broken(), 5)


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_HOME / "dsp").is_dir(), reason="real preference data not found")
def test_quick_study_on_real_data():
    pytest.importorskip("sentence_transformers")
    res = ps.run_preference_study(
        quick=True,
        data_home=REAL_HOME,
        cache_dir=ROOT / "benchmarks" / ".cache" / "preferences",
        include_domains=True,
        progress=False,
    )
    dsp = res.headline["dsp"]
    # the group-only models are far above chance on real DSP text
    assert dsp[GROUP_ONLY] > 0.6
    assert {"in-domain", "leave-one-domain-out"} <= {r["setting"] for r in res.rows}


def test_cli_entry_writes_the_report(tmp_path, monkeypatch, capsys):
    import argparse

    calls = {}
    run = ps.run_preference_study

    def tiny_study(**kwargs):
        calls.update(kwargs)
        return run(
            dsp=tiny_dsp(),
            embedder=KeywordEmbedder(),
            include_hh=False,
            config=TINY,
            progress=False,
        )

    monkeypatch.setattr(ps, "run_preference_study", tiny_study)
    monkeypatch.setattr(
        commands, "check_preference_data", lambda data_home: None
    )  # no real files here
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    args = argparse.Namespace(quick=True, data_home=str(tmp_path / "data"), out=str(tmp_path / "o"))
    assert commands.run_preferences(args) == 0
    assert calls["quick"] is True and calls["data_home"] == str(tmp_path / "data")
    assert Path(calls["cache_dir"]) == tmp_path / "o" / "embedding_cache"
    assert calls["trainings"] == ("pooled",)
    assert (tmp_path / "o" / "preferences.json").exists()
    # the console script runs the annotator-aware variant too unless told otherwise
    from skhyre.cli import _parser

    parsed = _parser().parse_args(["preferences", "--quick"])
    assert parsed.training == ["pooled", "by_group"]
    parsed = _parser().parse_args(["preferences", "--training", "pooled"])
    assert parsed.training == ["pooled"]
    assert "DSP: four domains" in capsys.readouterr().out


def test_study_takes_a_seed_at_the_top_of_numpys_range(monkeypatch):
    """Seeds derived from the study's (seed + an offset) wrap modulo 2**32 (they overflowed)."""

    class Drawn(Exception):
        pass

    def first_draws(model, grp, n_labels, n_repeats, n_active_repeats, rng):
        raise Drawn(rng.random_sample(3))

    monkeypatch.setattr(_pref_runs, "adaptation_runs", first_draws)
    cfg = {**TINY, "model": {**TINY["model"], "n_members": 2, "max_epochs": 1}}
    with pytest.raises(Drawn) as drawn:
        ps.run_preference_study(
            dsp=tiny_dsp(),
            embedder=KeywordEmbedder(),
            include_hh=False,
            config=cfg,
            seeds=2**32 - 1,
            progress=False,
        )
    # the same stream as before the wrap for seeds below it: seed + 1000, mod 2**32
    expected = np.random.RandomState((2**32 - 1 + 1000) % 2**32).random_sample(3)
    np.testing.assert_array_equal(drawn.value.args[0], expected)


def _verdict_rows(hyre_gain: float, *, tied: str | None = None) -> list[dict]:
    """Made-up 'dsp' rows, 3 seeds: HyRe at N=5 above every reference by ``hyre_gain``
    (plus seed noise), except ``tied``, which scores exactly as HyRe (random)."""
    rng = np.random.default_rng(0)
    refs = [SINGLE_RM, *BASELINE_NAMES.values()]
    rows = []
    for seed in range(3):
        for g in DSP_GROUPS:
            base = 0.6 + 0.05 * rng.standard_normal()
            hyre = base + hyre_gain + 0.002 * rng.standard_normal()
            for m in (HYRE_RANDOM, HYRE_BALD):
                rows.append(
                    {
                        "setting": "dsp",
                        "seed": seed,
                        "group": g,
                        "method": m,
                        "n_labels": 5,
                        "accuracy": hyre,
                    }
                )
            for m in refs:
                n = 5 if m == BASELINE_NAMES["convex"] else 0
                acc = hyre if m == tied else base + 0.002 * rng.standard_normal()
                rows.append(
                    {
                        "setting": "dsp",
                        "seed": seed,
                        "group": g,
                        "method": m,
                        "n_labels": n,
                        "accuracy": acc,
                    }
                )
    return rows


def test_target_reads_the_paired_verdicts_not_the_means():
    lines = _pref_report._target_lines(_verdict_rows(0.05), "dsp", list(DSP_GROUPS), 5)
    text = "\n".join(lines)
    assert text.count("Target met.") == 2
    assert "better" in text and "worse" not in text.replace("0 worse", "")
    # a reference level with HyRe (random) on every seed: a tie, whatever the means say
    lines = _pref_report._target_lines(
        _verdict_rows(0.05, tied=BASELINE_NAMES["logit_average"]), "dsp", list(DSP_GROUPS), 5
    )
    summary = next(x for x in lines if x.startswith(f"- {HYRE_RANDOM}"))
    assert "Target MISSED" in summary and "not better than: logit average" in summary
    cell = next(x for x in lines if x.startswith(f"| {HYRE_RANDOM} - logit average"))
    assert cell.endswith("+0.000 [+0.000, +0.000] level |")
    # no gain: every comparison level (seed noise only), the target missed
    text = "\n".join(_pref_report._target_lines(_verdict_rows(0.0), "dsp", list(DSP_GROUPS), 5))
    assert text.count("Target MISSED.") == 2 and " better |" not in text


def test_paired_verdict_cells_match_scipy():
    from scipy import stats

    a = {0: 0.70, 1: 0.74, 2: 0.69}
    b = {0: 0.60, 1: 0.66, 2: 0.64, 3: 0.9}  # seed 3 has no partner: left out
    v = _pref_report.compare(a, b)
    d = np.array([0.10, 0.08, 0.05])
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert (v.mean, v.lo, v.hi) == pytest.approx((d.mean(), lo, hi))
    assert v.verdict == "better"  # higher accuracy is better
    assert _pref_report.compare(a, {}) is None


def test_render_from_rows_needs_no_fitting(tmp_path):
    res = ps.run_preference_study(
        dsp=tiny_dsp(),
        hh=tiny_hh(),
        embedder=KeywordEmbedder(),
        config=TINY,
        progress=False,
        trainings=("pooled", "by_group"),
    )
    again = ps.render_from_rows(
        json.loads(json.dumps(res.rows)),
        res.config,
        encoder=_pref_report.encoder_name(KeywordEmbedder()),
    )
    assert again.markdown == res.markdown
    assert again.headline == res.headline
