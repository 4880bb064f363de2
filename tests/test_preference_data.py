"""Loaders and pair builders of skhyre.studies.preference_data.

Tests on the real files use ``../shared/data`` next to the repository and
skip when it is absent; the error paths (missing files, checksum failure,
malformed content) use tiny files generated in ``tmp_path``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skhyre.studies import preference_data as pd_mod
from skhyre.studies.preference_data import (
    DSP_DOMAINS,
    DSP_GROUPS,
    format_exchange,
    load_dsp,
    load_hh_rlhf,
    make_dsp_pairs,
    make_hh_pairs,
    split_last_turn,
)

REAL_HOME = Path(__file__).resolve().parents[2] / "shared" / "data"
HAS_DSP = (REAL_HOME / "dsp" / "domain_specific_preference.test.json").is_file()
HAS_HH = all((REAL_HOME / rel).is_file() for rel, _ in pd_mod.HH_SUBSETS.values())
needs_dsp = pytest.mark.skipif(not HAS_DSP, reason=f"DSP data not found under {REAL_HOME}")
needs_hh = pytest.mark.skipif(not HAS_HH, reason=f"HH-RLHF data not found under {REAL_HOME}")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No environment variable, and a home folder without ~/skhyre_data."""
    monkeypatch.delenv("SKHYRE_PREFERENCE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def _tiny_dsp(n: int = 3) -> list[dict]:
    return [
        {"query": f"Question {i}?", "responses": {d: f"{d} answer {i}" for d in DSP_DOMAINS}}
        for i in range(n)
    ]


def _write(path: Path, raw: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return hashlib.sha256(raw).hexdigest()


def _write_dsp(home: Path, items, monkeypatch) -> Path:
    raw = json.dumps(items).encode()
    digest = _write(home / "dsp" / "domain_specific_preference.test.json", raw)
    monkeypatch.setattr(pd_mod, "_DSP_SHA256", digest)
    return home


def _write_hh(home: Path, subset: str, lines: list[str], monkeypatch) -> Path:
    rel, _ = pd_mod.HH_SUBSETS[subset]
    raw = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    digest = _write(home / rel, raw)
    monkeypatch.setitem(pd_mod.HH_SUBSETS, subset, (rel, digest))
    return home


# --------------------------------------------------------------------------- real files
@needs_dsp
def test_load_dsp_real_file():
    dsp = load_dsp(data_home=REAL_HOME)
    assert dsp.responses.shape == (661, 5)
    assert dsp.prompts.shape == (661,)
    assert dsp.domains == list(DSP_DOMAINS)
    assert all(isinstance(t, str) for t in dsp.responses.ravel())
    assert sum(not t.strip() for t in dsp.responses.ravel()) <= 1  # one empty answer
    assert "CC BY-NC" in dsp.DESCR
    assert Path(dsp.filename).name == "domain_specific_preference.test.json"


@needs_dsp
def test_load_dsp_from_environment_variable(isolated, monkeypatch):
    monkeypatch.setenv("SKHYRE_PREFERENCE_DATA", str(REAL_HOME))
    assert load_dsp().responses.shape == (661, 5)


@needs_hh
@pytest.mark.parametrize(
    ("subset", "n"), [("harmless-base", 2312), ("helpful-base", 2352), ("helpful-base-via-dsp", 2352)]
)
def test_load_hh_real_files(subset, n):
    hh = load_hh_rlhf(subset, data_home=REAL_HOME)
    assert hh.chosen.shape == hh.rejected.shape == (n,)
    assert hh.subset in ("harmless-base", "helpful-base")
    # chosen and rejected share the prefix and differ in the final answer
    c, r = hh.chosen[0], hh.rejected[0]
    assert c != r
    assert split_last_turn(c)[0] == split_last_turn(r)[0]


@needs_dsp
def test_make_dsp_pairs_real_is_balanced_and_conflicting():
    dsp = load_dsp(data_home=REAL_HOME)
    pairs = make_dsp_pairs(dsp, random_state=0)
    assert 0.95 * 661 * 4 * 4 < pairs.X.shape[0] <= 661 * 4 * 4
    assert (pairs.X[:, 0] != pairs.X[:, 1]).all()  # identical answers are left out
    assert abs(pairs.y.mean() - 0.5) < 0.03
    # the same two answers are preferred in opposite directions by two groups
    a = pairs.groups == "academy"
    b = pairs.groups == "business"
    win = np.where(pairs.y == 1, pairs.X[:, 0], pairs.X[:, 1])
    ab = a & (pairs.rival == "business") & (pairs.prompt_ids == 0)
    ba = b & (pairs.rival == "academy") & (pairs.prompt_ids == 0)
    assert win[ab][0] != win[ba][0]


# --------------------------------------------------------------------------- error paths
def test_missing_file_names_every_place(isolated, monkeypatch):
    env_home = isolated / "env_home"
    monkeypatch.setenv("SKHYRE_PREFERENCE_DATA", str(env_home))
    with pytest.raises(FileNotFoundError) as info:
        load_dsp(data_home=isolated / "arg_home")
    msg = str(info.value)
    assert str(isolated / "arg_home" / "dsp") in msg
    assert str(env_home / "dsp") in msg
    assert "skhyre_data" in msg and "SKHYRE_PREFERENCE_DATA" in msg
    with pytest.raises(FileNotFoundError, match="harmless-base"):
        load_hh_rlhf("harmless-base", data_home=isolated / "arg_home")


def test_checksum_mismatch_is_refused(isolated):
    _write(isolated / "dsp" / "domain_specific_preference.test.json", b"[]")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_dsp(data_home=isolated)
    rel, _ = pd_mod.HH_SUBSETS["helpful-base"]
    _write(isolated / rel, gzip.compress(b'{"chosen": "a", "rejected": "b"}\n'))
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_hh_rlhf("helpful-base", data_home=isolated)


def test_data_home_argument_wins_over_environment(isolated, monkeypatch):
    other = _write_dsp(isolated / "other", _tiny_dsp(2), monkeypatch)
    home = _write_dsp(isolated / "arg", _tiny_dsp(2), monkeypatch)
    monkeypatch.setenv("SKHYRE_PREFERENCE_DATA", str(other))
    assert Path(load_dsp(data_home=home).filename).is_relative_to(home)
    assert Path(load_dsp().filename).is_relative_to(other)


def test_tiny_dsp_parses_and_malformed_is_refused(isolated, monkeypatch):
    _write_dsp(isolated, _tiny_dsp(3), monkeypatch)
    dsp = load_dsp(data_home=isolated)
    assert dsp.responses[1, DSP_DOMAINS.index("business")] == "business answer 1"
    bad = _tiny_dsp(2)
    del bad[1]["responses"]["normal"]
    _write_dsp(isolated, bad, monkeypatch)
    with pytest.raises(ValueError, match="item 1"):
        load_dsp(data_home=isolated)
    digest = _write(isolated / "dsp" / "domain_specific_preference.test.json", b"{not json")
    monkeypatch.setattr(pd_mod, "_DSP_SHA256", digest)
    with pytest.raises(ValueError, match="not valid UTF-8 JSON"):
        load_dsp(data_home=isolated)


def test_tiny_hh_parses_and_malformed_is_refused(isolated, monkeypatch):
    line = json.dumps({"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: No"})
    _write_hh(isolated, "harmless-base", [line, line], monkeypatch)
    hh = load_hh_rlhf("harmless-base", data_home=isolated)
    assert hh.chosen.shape == (2,) and "offensive" in hh.DESCR
    _write_hh(isolated, "harmless-base", [line, json.dumps({"chosen": "x"})], monkeypatch)
    with pytest.raises(ValueError, match="line 2"):
        load_hh_rlhf("harmless-base", data_home=isolated)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown HH-RLHF subset"):
        load_hh_rlhf("helpful-online")
    with pytest.raises(TypeError, match="subset must be a string"):
        load_hh_rlhf(3)
    with pytest.raises(TypeError, match="data_home"):
        load_dsp(data_home=3)


# --------------------------------------------------------------------------- pairs
def _tiny_bunch(n: int = 4) -> Bunch:
    items = _tiny_dsp(n)
    resp = np.empty((n, 5), dtype=object)
    resp[:] = [[it["responses"][d] for d in DSP_DOMAINS] for it in items]
    return Bunch(
        prompts=np.array([it["query"] for it in items], dtype=object),
        responses=resp,
        domains=list(DSP_DOMAINS),
    )


def test_make_dsp_pairs_structure():
    data = _tiny_bunch(4)
    pairs = make_dsp_pairs(data, prompt_ids=[1, 3], random_state=0)
    assert pairs.X.shape == (2 * len(DSP_GROUPS) * 4, 2)
    assert set(pairs.prompt_ids) == {1, 3}
    win = np.where(pairs.y == 1, pairs.X[:, 0], pairs.X[:, 1])
    lose = np.where(pairs.y == 1, pairs.X[:, 1], pairs.X[:, 0])
    for w, loser, g, r, p in zip(win, lose, pairs.groups, pairs.rival, pairs.prompt_ids):
        assert w == format_exchange(f"Question {p}?", f"{g} answer {p}")
        assert loser.endswith(f"{r} answer {p}")
        assert g != r
    again = make_dsp_pairs(data, prompt_ids=[1, 3], random_state=0)
    np.testing.assert_array_equal(again.y, pairs.y)
    assert 0 < pairs.y.mean() < 1


def test_make_dsp_pairs_skips_identical_answers():
    data = _tiny_bunch(1)
    data.responses[0, DSP_DOMAINS.index("normal")] = data.responses[0, 0]  # normal copies academy
    pairs = make_dsp_pairs(data, random_state=0)
    assert pairs.X.shape == (len(DSP_GROUPS) * 4 - 1, 2)
    assert not ((pairs.groups == "academy") & (pairs.rival == "normal")).any()


def test_make_dsp_pairs_bad_input():
    data = _tiny_bunch(2)
    with pytest.raises(ValueError, match="groups must be"):
        make_dsp_pairs(data, groups=["cooking"])
    with pytest.raises(ValueError, match="prompt_ids must index"):
        make_dsp_pairs(data, prompt_ids=[5])
    with pytest.raises(ValueError, match="prompt_ids must be"):
        make_dsp_pairs(data, prompt_ids=[0.5])


def test_make_hh_pairs_and_last_turn():
    data = Bunch(
        chosen=np.array(["\n\nHuman: A\n\nAssistant: B\n\nHuman: C\n\nAssistant: good"] * 20, dtype=object),
        rejected=np.array(["\n\nHuman: A\n\nAssistant: B\n\nHuman: C\n\nAssistant: bad"] * 20, dtype=object),
    )
    pairs = make_hh_pairs(data, random_state=0)
    winners = pairs.X[np.arange(20), 1 - pairs.y]
    assert set(winners) == {"Human: C\n\nAssistant: good"}
    assert 0 < pairs.y.mean() < 1
    assert split_last_turn("Assistant: only") == ("", "only")
    with pytest.raises(ValueError, match="no 'Assistant:'"):
        split_last_turn("\n\nHuman: hello")
    with pytest.raises(ValueError, match="same length"):
        make_hh_pairs(Bunch(chosen=np.array(["a"]), rejected=np.array(["a", "b"])))
