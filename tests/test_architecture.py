"""DESIGN.md's architecture rules, checked on the source tree.

- No private name is imported across modules (``from .x import _name`` or
  ``x._name``), except from the shared homes ``_kernels`` and ``_validation``.
- ``_kernels`` imports nothing of skhyre.
- The test-time modules import no torch.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skhyre"
HOMES = {"_kernels", "_validation", "_config"}
TEST_TIME = [
    "reweighting",
    "losses",
    "acquisition",
    "_validation",
    "_adaptation",
    "_querying",
    "_diagnostics",
    "_selection",
    "pools/__init__",
    "pools/_blocks",
    "pools/_dask",
    "pools/_open",
    "_proba",
    "_kernels",
]


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _private_uses(path: Path) -> list[str]:
    names = {p.stem for p in PACKAGE.rglob("*.py")} | {
        p.parent.name for p in PACKAGE.rglob("__init__.py")
    }
    tree = ast.parse(path.read_text())
    aliases, hits = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            source = (node.module or "").split(".")[-1]
            for a in node.names:
                if node.module and a.name.startswith("_") and source not in HOMES:
                    hits.append(f"line {node.lineno}: from {node.module} import {a.name}")
                if a.name in names:
                    aliases[a.asname or a.name] = a.name
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            mod = aliases.get(node.value.id)
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            if mod and mod not in HOMES and mod != path.stem and private:
                hits.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return hits


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_across_modules(path):
    assert not _private_uses(path), f"{path.name} uses private names of other modules"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add("." if node.level else (node.module or "").split(".")[0])
    return out


def test_kernels_import_nothing_of_skhyre():
    assert not ({".", "skhyre"} & _imports(PACKAGE / "_kernels.py"))


@pytest.mark.parametrize("name", TEST_TIME)
def test_test_time_modules_import_no_torch(name):
    assert "torch" not in _imports(PACKAGE / f"{name}.py")


def test_the_private_name_check_finds_a_private_import(tmp_path):
    bad = PACKAGE / "pools" / "_open.py"
    assert _private_uses(bad) == []
    fake = tmp_path / "fake.py"
    fake.write_text("from .acquisition import _secret\nfrom . import pools\npools._hidden()\n")
    assert len(_private_uses(fake)) == 2
