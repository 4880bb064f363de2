"""Personalizing a reward ensemble on real text preferences (issues 5 and 8).

DSP: four domains (academy, business, entertainment, literature) whose
preferences over the same answers conflict; HH-RLHF: helpful vs harmless
(the paper's Table 3 setting). One HyReRewardModel is trained on the
aggregate of all groups' pairs, then personalized to each group from
N = 1, 5, 10, 20, 40 of its pairs (random and BALD), against a single reward
network, every ensemble combination of ``skhyre.baselines`` (the best-member
oracle marked), and the ensemble trained on that group alone (upper bound).
The same protocol is then rerun with the group ids given to ``fit``
(``training="by_group"``), with the same references over its members.
Then the annotator-aware section (``_text_domains.run_domains``): domain ids
given to ``fit``, ``by_group``/``mixed`` vs ``pooled``, in-domain and
leave-one-domain-out. The protocol is documented in
``skhyre/studies/preferences.py``.

Run ``python benchmarks/preferences.py`` (about 10-15 minutes on 2 cores once
the embeddings are cached in ``benchmarks/.cache/``; the first run embeds
~7,300 answers, ~10 minutes more) or ``--quick``. Data: ``$SKHYRE_PREFERENCE_DATA``,
else ``../shared/data``, else ``~/skhyre_data``. Writes ``preferences.json``,
``preferences.md`` and ``preferences.png`` to ``--out`` (default
``benchmarks/results``).

``--from-json benchmarks/results/preferences.json`` renders the report again
from a finished run's rows (no fitting, no data needed): the tables, the
paired verdicts and the figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, machine_info, machine_line
from _text_domains import CACHE_DIR, data_home, run_domains


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")
    p.add_argument("--out", default=str(RESULTS), help="output folder (default: %(default)s)")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2; quick: 0)"
    )
    p.add_argument(
        "--no-domains", action="store_true", help="skip the annotator-aware (issue 8) section"
    )
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="re-render the report from this run's JSON (no fitting)",
    )
    args = p.parse_args(argv)
    if args.from_json is not None:
        return rerender(args.from_json, args.out, argv)

    import torch

    from skhyre.studies.preferences import run_preference_study, write_report

    # one thread: on a shared 2-core machine two torch threads per process thrash
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = run_preference_study(
        quick=args.quick,
        seeds=args.seeds,
        data_home=data_home(),
        cache_dir=CACHE_DIR,
        trainings=("pooled", "by_group"),
    )
    if not args.no_domains:
        dom = run_domains(args.quick, args.seeds if args.seeds else None)
        res.rows += dom["rows"]
        res.markdown += "\n" + dom["markdown"]
        res.headline["domains"] = dom["headline"]
    res.seconds = time.perf_counter() - t0
    info = machine_info()
    preamble = (
        "# Real text preferences: personalization with HyReRewardModel\n\n"
        f"Machine: {machine_line(info)}\n\n"
        f"Command: `python benchmarks/preferences.py{' --quick' if args.quick else ''}"
        f"{' --seeds ' + ' '.join(map(str, args.seeds)) if args.seeds else ''}` "
        f"({res.seconds:.0f} s, embeddings cached).\n\n"
    )
    res.config["machine"] = info
    print(res.markdown)
    files = write_report(res, args.out, "preferences", preamble)
    print(f"\n{res.seconds:.0f} s. Wrote: " + ", ".join(str(f) for f in files))
    return 0


def rerender(path: Path, out: str, argv: list[str] | None = None) -> int:
    """The report of the run in ``path`` (its JSON), rendered again into ``out``."""
    import json
    import re
    from datetime import datetime, timezone

    from skhyre.studies._pref_settings import QUICK
    from skhyre.studies.preferences import render_from_rows, write_report

    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    cfg = payload["config"]
    if "n_prompts" not in cfg:  # runs before the count was stored: read it off their report
        md = Path(path).with_suffix(".md")
        found = (
            re.search(
                r"four domains as user groups \((\d+) prompts\)", md.read_text(encoding="utf-8")
            )
            if md.is_file()
            else None
        )
        if found:
            cfg["n_prompts"] = int(found.group(1))
    res = render_from_rows(payload["rows"], cfg)
    res.seconds = payload.get("seconds", 0.0)
    info = cfg.get("machine") or {}
    quick = all(cfg.get(k) == QUICK[k] for k in ("dsp_prompts", "hh_pairs"))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    args = " ".join(sys.argv[1:] if argv is None else argv)
    preamble = (
        "# Real text preferences: personalization with HyReRewardModel\n\n"
        + (f"Machine: {machine_line(info)}\n\n" if info else "")
        + f"Command: `python benchmarks/preferences.py{' --quick' if quick else ''}` "
        f"({res.seconds:.0f} s, embeddings cached). Tables and verdicts re-rendered from that "
        f"run's rows by `python benchmarks/preferences.py {args}` on {now}.\n\n"
    )
    files = write_report(res, out, "preferences", preamble)
    print("Wrote: " + ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
