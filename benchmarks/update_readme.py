"""Copy generated result tables into README.md (never typed by hand).

Every ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->`` block of the
README is replaced by ``benchmarks/results/NAME.md`` (and a link to
``NAME.png`` when it exists). Run after the benchmark scripts:

    python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PATTERN = re.compile(r"(<!-- results:([\w-]+) -->)(.*?)(<!-- /results:\2 -->)", re.S)


def render(name: str) -> str:
    md = RESULTS / f"{name}.md"
    if not md.exists():
        return f"\n_(no results yet: run the script that writes benchmarks/results/{name}.md)_\n"
    body = md.read_text().strip()
    png = RESULTS / f"{name}.png"
    if png.exists():
        body += f"\n\n![{name}](benchmarks/results/{name}.png)"
    return f"\n{body}\n"


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = PATTERN.sub(lambda m: m.group(1) + render(m.group(2)) + m.group(4), text)
    if new != text:
        readme.write_text(new)
        print("README.md updated")
    else:
        print("README.md already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
