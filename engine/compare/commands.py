"""``python -m engine compare`` and ``python -m engine report``: argument parsing and output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine import metrics
from engine.errors import FrontierError, option


def add_arguments(p: argparse.ArgumentParser, *, runs_required: bool) -> None:
    """The options ``compare`` and ``report`` share."""
    p.add_argument("--run", action="append", default=[], required=runs_required, metavar="ID",
                   help="run id to compare (16 hex characters, from benchmark output); repeatable")
    p.add_argument("--baseline", metavar="ID", help="run every other run is compared against")
    p.add_argument("--x", default="latency_p50_ms", metavar="COST",
                   help=f"Pareto x axis (default latency_p50_ms; any of {', '.join(metrics.COST_BY_NAME)} or a metric)")
    p.add_argument("--y", metavar="METRIC", help="Pareto y axis (default: the task's primary metric, e.g. accuracy)")
    p.add_argument("--color", metavar="COLUMN", help="optional third objective, shown as colour")
    p.add_argument("--batch-size", type=int, metavar="N",
                   help="take latency and throughput at this batch size (default: batch 1 latency, best throughput)")
    p.add_argument("--metric", metavar="METRIC", help="metric the verdict and the Bayesian test use (default: primary)")
    p.add_argument("--rope", type=float, metavar="W",
                   help="region of practical equivalence for the Bayesian test, in metric units (default 0.005 "
                        "for metrics in [0, 1])")
    p.add_argument("--margin", type=float, metavar="W",
                   help="practical-equivalence margin of the verdict, in metric units (default 0.005)")
    p.add_argument("--budget", action="append", default=[], metavar="COST<=V",
                   help="cost budget of the verdict, e.g. latency_p95_ms<=2 or size_bytes<=5e6; repeatable")
    p.add_argument("--cost", default="latency_p95_ms", metavar="COST",
                   help="cost that decides between runs as good as the best (default latency_p95_ms)")


def parse_budgets(values: list[str]) -> dict[str, float]:
    """``--budget`` limits: one per cost, in the cost's own direction, finite and 0 or more."""
    out: dict[str, float] = {}
    for raw in values:
        name, op, limit = metrics.parse_limit(raw, opt="budget", what="COST")
        if name not in metrics.COST_BY_NAME:
            raise FrontierError(f"{option('budget')}: unknown cost '{name}'; choose one of "
                                f"{', '.join(metrics.COST_BY_NAME)}")
        cost = metrics.cost(name)
        if (op == ">=") != cost.higher_is_better:
            bound = "a lower bound (>=)" if cost.higher_is_better else "an upper bound (<=)"
            raise FrontierError(f"{option('budget')}: {name} takes {bound}, e.g. "
                                f"{name}{'>=' if cost.higher_is_better else '<='}{limit:g}")
        if limit < 0:
            raise FrontierError(f"{option('budget')}: {name} takes a finite value of 0 or more, got {limit:g}")
        if name in out:
            raise FrontierError(f"{option('budget')}: {name} is given twice; give one limit per cost")
        out[name] = limit
    return out


def _options(args: argparse.Namespace) -> dict[str, Any]:
    from engine.compare import Axes

    if args.batch_size is not None and args.batch_size < 1:
        raise FrontierError(f"--batch-size must be at least 1, got {args.batch_size}")
    for flag in ("rope", "margin"):
        value = getattr(args, flag)
        if value is not None and not (0 <= value < float("inf")):
            raise FrontierError(f"--{flag} must be a non-negative number, got {value}")
    return {"baseline": args.baseline, "axes": Axes(args.x, args.y, args.color), "batch_size": args.batch_size,
            "metric": args.metric, "rope": args.rope, "margin": args.margin,
            "budgets": parse_budgets(args.budget), "cost": args.cost}


def _workspace(args: argparse.Namespace):
    from engine.workspace import Workspace

    ws = Workspace.at(Path(args.workspace) if args.workspace else None)
    if not ws.results.is_dir():
        raise FrontierError(f"no results in {ws.root}: run `python -m engine benchmark` first, or pass --workspace")
    return ws


def cmd_compare(args: argparse.Namespace) -> int:
    from engine.compare import compare, parse_run_ids, to_json

    ids = parse_run_ids(args.run)
    options = _options(args)
    c = compare(_workspace(args), ids, **options)
    if args.json:
        print(json.dumps(to_json(c), default=str))
        return 0
    _print(c)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from engine.compare import compare, parse_run_ids
    from engine.report.content import comparison_report, default_runs
    from engine.report.html import write

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise FrontierError(f"--out must name an .html file, got '{args.out[:60]}'")
    if not out.parent.is_dir():
        raise FrontierError(f"--out: folder {out.parent} does not exist")
    if out.is_dir():
        raise FrontierError(f"--out: {out} is a folder; name a file such as {out / 'report.html'}")
    options = _options(args)
    ws = _workspace(args)
    ids = parse_run_ids(args.run) if args.run else default_runs(ws)
    # the report shows the decision metric's tests (and McNemar); the CLI's compare prints every metric
    c = compare(ws, ids, all_metrics_pairwise=False, **options)
    try:
        n = write(comparison_report(c), out)
    except OSError as exc:
        raise FrontierError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps({"path": str(out.resolve()), "bytes": n, "runs": c.selection.run_ids}))
    else:
        print(f"report: {out} ({n / 2**20:.1f} MB, {len(ids)} runs)", file=sys.stderr)
    return 0


def _print(c) -> None:
    t = c.table
    primary = c.verdict.metric
    m = metrics.get(primary)
    front = set(c.pareto.loc[c.pareto["on_front"], "run_id"]) if not c.pareto.empty else set()
    print(c.verdict.text)
    print()
    cols = ["run", "model", "group", primary, "95% CI", *([f"diff vs {c.selection.labels[t.baseline]}"] if t.baseline else []),
            "p50 ms", "p95 ms", "size", "front"]
    rows = []
    for r in t.frame.to_dict("records"):
        value = r.get(primary)
        ci = (f"[{m.format(r.get(f'{primary}_ci_low'))}, {m.format(r.get(f'{primary}_ci_high'))}]"
              if r.get(f"{primary}_ci_low") == r.get(f"{primary}_ci_low") else "n/a")
        row = [r["run_id"], r["label"], r["group"], f"{m.format(value)} ± {m.format(r.get(f'{primary}_std'))}", ci]
        if t.baseline:
            d = r.get(f"{primary}_diff")
            row.append("n/a" if d is None or d != d else f"{d:+.4f}")
        row += [_num(r.get("latency_p50_ms")), _num(r.get("latency_p95_ms")), _size(r.get("size_bytes")),
                "*" if r["run_id"] in front else ""]
        rows.append([str(x) for x in row])
    widths = [max(len(x) for x in col) for col in zip(cols, *rows, strict=False)]
    for row in [cols, *rows]:
        print("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=False)).rstrip())
    pw = c.pairwise
    if not pw.empty:
        print()
        shown = pw[((pw["test"] == "corrected_t") & (pw["metric"] == primary)) | (pw["test"] != "corrected_t")]
        for r in shown.to_dict("records"):
            p = r["p_adjusted"] if r["p_adjusted"] is not None else r["p_value"]
            shown_p = "" if p is None or p != p else f"p_adj = {p:.3g}  " if r["p_adjusted"] is not None else ""
            print(f"{r['test']:<13} {r['metric']:<10} {r['a_label']} vs {r['b_label']}: {shown_p}{r['verdict']}")
    for rid, why in c.verdict.excluded.items():
        print(f"left out of the verdict: {c.selection.labels[rid]} ({why})")
    for w in c.warnings:
        print(f"warning: {w}", file=sys.stderr)


def _num(v: Any) -> str:
    return "n/a" if v is None or v != v else f"{v:.3f}"


def _size(v: Any) -> str:
    if v is None or v != v:
        return "n/a"
    return f"{v / 2**20:.1f} MB" if v >= 2**20 else f"{v / 2**10:.1f} KB"
