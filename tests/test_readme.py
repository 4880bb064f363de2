"""The README's result blocks are generated (``benchmarks/update_readme.py``), not typed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def updater():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("update_readme")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_readme_blocks_match_the_committed_results(updater):
    text = (ROOT / "README.md").read_text()
    assert updater.PATTERN.search(text), "the README has no generated results block"
    assert updater.update(text) == text, (
        "README.md is out of date with benchmarks/results/: run python benchmarks/update_readme.py"
    )


def test_split_lead(updater):
    with_list = "# T\n\nSetup.\n\n## Targets\n\n- met: x\n\n## Table\n\n| a |\n|---|\n| 1 |"
    lead, rest = updater.split_lead(with_list)
    assert lead.endswith("- met: x") and rest.startswith("## Table")
    plain = "# T\n\nSetup of the table.\n\n| a |\n|---|\n| 1 |"
    lead, rest = updater.split_lead(plain)
    assert lead == "# T" and rest.startswith("Setup of the table.")
    # no table: everything is lead, nothing to collapse
    assert updater.split_lead("# T\n\nText.") == ("# T\n\nText.", "")
