"""Copy generated result tables into README.md (never typed by hand).

Every ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->`` block of the
README is replaced by ``benchmarks/results/NAME.md`` (and a link to
``NAME.png`` when it exists). A block opened as ``<!-- results:NAME collapse -->``
puts the tables in a collapsed ``<details>`` element (GitHub renders the
Markdown inside it) and keeps the figure visible. Run after the benchmark
scripts:

    python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PATTERN = re.compile(
    r"(<!-- results:([\w-]+)( collapse)? -->)(.*?)(<!-- /results:\2 -->)", re.S
)


def split_lead(body: str) -> tuple[str, str]:
    """``body`` cut before its first table: the lead (without trailing headings) and the rest."""
    lines = body.splitlines()
    first_table = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    cut = first_table
    while cut > 0 and (not lines[cut - 1].strip() or lines[cut - 1].startswith("#")):
        cut -= 1
    if cut > 0 and not lines[cut - 1].startswith("- ") and first_table < len(lines):
        # keep a lead only when it ends in a list (targets, verdicts), else the setup
        # paragraph belongs with its table
        header = next((i for i, line in enumerate(lines[:cut]) if not line.startswith("#")), 0)
        cut = header
    return "\n".join(lines[:cut]).strip(), "\n".join(lines[cut:]).strip()


def render(name: str, collapse: bool = False) -> str:
    md = RESULTS / f"{name}.md"
    if not md.exists():
        return f"\n_(no results yet: run the script that writes benchmarks/results/{name}.md)_\n"
    body = md.read_text().strip()
    if collapse:
        lead, rest = split_lead(body)
        n_lines = rest.count("\n") + 1
        body = (
            (f"{lead}\n\n" if lead else "")
            + f"<details><summary>The tables ({n_lines} more lines of "
            f"<code>benchmarks/results/{name}.md</code>)</summary>\n\n{rest}\n\n</details>"
        )
    png = RESULTS / f"{name}.png"
    if png.exists():
        body += f"\n\n![{name}](benchmarks/results/{name}.png)"
    return f"\n{body}\n"


def update(text: str) -> str:
    """``text`` with every results block re-rendered."""
    return PATTERN.sub(
        lambda m: m.group(1) + render(m.group(2), bool(m.group(3))) + m.group(5), text
    )


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = update(text)
    if new != text:
        readme.write_text(new)
        print("README.md updated")
    else:
        print("README.md already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
