"""The command line: skhyre demo and --help."""

import json
import subprocess
import sys

import pytest

from skhyre.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "uci" in out


@pytest.mark.parametrize("cmd", ["demo", "uci", "preferences"])
def test_subcommand_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0
    assert "usage: skhyre " + cmd in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_demo_quick_writes_results(tmp_path, capsys):
    assert main(["demo", "--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "HyRe, BALD-active labels" in out and "Wrote:" in out
    payload = json.loads((tmp_path / "demo.json").read_text())
    assert payload["n_labels"] == [1, 5, 10]
    acc = payload["accuracy"]
    assert set(acc) >= {"uniform ensemble", "HyRe, random labels", "best member (oracle)"}
    assert all(0.0 <= v <= 1.0 for vals in acc.values() for v in vals)
    assert (tmp_path / "demo.md").read_text().startswith("| method |")
    assert (tmp_path / "demo.png").stat().st_size > 0


def test_python_dash_m_version():
    res = subprocess.run(
        [sys.executable, "-m", "skhyre", "--version"], capture_output=True, text=True, check=True
    )
    assert res.stdout.startswith("skhyre ")


def test_preferences_missing_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SKHYRE_PREFERENCE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    code = main(
        [
            "preferences",
            "--quick",
            "--data-home",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "skhyre preferences:" in err and "nowhere" in err and "SKHYRE_PREFERENCE_DATA" in err
    assert not (tmp_path / "out").exists()


def test_preferences_flags_reach_the_study(tmp_path, monkeypatch, capsys):
    """--seeds, --cache-dir, --no-domains and --no-progress are passed on (the study
    itself is stubbed: it needs the embedding model and minutes of training)."""
    from skhyre import preference_study

    seen = {}

    def fake_study(**kwargs):
        seen.update(kwargs)
        return preference_study.StudyResult(rows=[], config={"seeds": kwargs["seeds"]})

    monkeypatch.setattr(preference_study, "_check_data", lambda data_home: None)
    monkeypatch.setattr(preference_study, "run_preference_study", fake_study)
    monkeypatch.setattr(preference_study, "write_report", lambda result, out: [])
    argv = ["preferences", "--out", str(tmp_path), "--seeds", "3", "4"]
    assert main([*argv, "--cache-dir", str(tmp_path / "c"), "--no-domains", "--no-progress"]) == 0
    assert seen["seeds"] == [3, 4] and seen["cache_dir"] == str(tmp_path / "c")
    assert seen["include_domains"] is False and seen["progress"] is False
    assert seen["trainings"] == ("pooled", "by_group")
    assert main(argv) == 0
    assert seen["include_domains"] is True and seen["progress"] is True
    assert str(seen["cache_dir"]) == str(tmp_path / "embedding_cache")
