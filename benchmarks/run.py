"""Run the performance suite and write ``benchmarks/RESULTS.md`` and ``results.json``.

Every goal is a ratio against a bare baseline measured in the same run, the
two sides interleaved where they can be, because these machines are noisy::

    .venv/bin/python -m benchmarks.run                 # or: make bench
    .venv/bin/python -m benchmarks.run --only listing  # one group; other rows are kept

Groups: harness (latency harness vs a bare loop), cli (first run vs
``cross_validate``; cached re-run vs first), listing (runs listing and the
Benchmark page at 1,000 vs 10 runs), memory (process-tree peak vs feature
bytes at 1M rows), contention (the two-click sample benchmark with one core
kept busy), latency_load (harness vs a bare loop under no load, one busy core
and every core busy, and whether the skew flag fired), tune (the engine's study
loop vs bare Optuna, the sampler at 1,000 vs 100 trials, 2 PostgreSQL workers
vs 1), tune_page (the Tune page's data and figures at 10,000 vs 1,000 trials), compress (the fastest
variant within the gate vs the original; ONNX Runtime fp32 vs torch eager; the job's speedup vs a bare loop's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import ROOT

OUT_MD = ROOT / "benchmarks" / "RESULTS.md"
OUT_JSON = ROOT / "benchmarks" / "results.json"


def _groups() -> dict[str, Callable[[], list[dict[str, Any]]]]:
    from benchmarks import (
        cli_speed,
        compare,
        compress,
        contention,
        harness,
        latency_load,
        listing,
        memory,
        tune,
        tune_page,
    )

    return {
        "harness": harness.bench_harness_overhead,
        "cli": lambda: [*cli_speed.bench_cli_vs_cross_validate(), *cli_speed.bench_cached_cli()],
        "listing": listing.bench_listing,
        "compare": compare.bench_compare_page,
        "memory": memory.bench_memory,
        "contention": contention.bench_two_click_under_load,
        "latency_load": latency_load.bench_latency_under_load,
        "tune": tune.bench_tune,
        "tune_page": tune_page.bench_tune_page,
        "compress": compress.bench_compress,
    }


def _previous() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(OUT_JSON.read_text())
    except (OSError, ValueError):
        return {}
    return {r.get("group", ""): r for r in data.get("groups", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--only", action="append", choices=list(_groups()), help="run only this group (repeatable)")
    args = parser.parse_args(argv)
    from engine.measure.environment import cpu_model

    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu_model(),
            "cores": os.cpu_count(), "python": platform.python_version()}
    groups = _previous()
    for name, fn in _groups().items():
        if args.only and name not in args.only:
            continue
        print(f"running {name}...", file=sys.stderr)
        groups[name] = {"group": name, "meta": meta, "rows": fn()}
    ordered = [groups[n] for n in _groups() if n in groups]
    OUT_JSON.write_text(json.dumps({"groups": ordered}, indent=1) + "\n")
    lines = [
        "# Frontier benchmark results", "",
        "Written by `make bench` (`python -m benchmarks.run`; one group: `python -m benchmarks.run --only GROUP`, "
        "which keeps the other groups' rows). Each goal is a ratio against a baseline "
        "measured in the same run; each group says when and where it was measured.", "",
        "| group | benchmark | baseline | Frontier | ratio | goal | met | measured |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in ordered:
        when = f"{g['meta']['date']}, {g['meta']['cpu']} ({g['meta']['cores']} cores)"
        for r in g["rows"]:
            met = "—" if r["pass"] is None else ("yes" if r["pass"] else "**no**")
            lines.append(f"| {g['group']} | {r['benchmark']} | {r['baseline']} | {r['ours']} | {r['ratio']:.3f} "
                         f"| {r['goal']} | {met} | {when} |")
    OUT_MD.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["pass"] is not False for g in ordered for r in g["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
