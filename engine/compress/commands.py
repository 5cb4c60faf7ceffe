"""``python -m engine compress``: make compressed variants of one model and compare each with it.

Every flag, the model, the data and which methods apply to the model's format
are checked in this process before anything is written; then the dataset and
the model are registered and a ``compress`` job runs them (see
:mod:`engine.compress.run`). Importing this module imports no scikit-learn,
torch or ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from engine.compress.calibration import BATCH, DEFAULT_ROWS
from engine.compress.methods import (
    CALIBRATIONS,
    DEFAULTS,
    METHODS,
    PRUNE_KINDS,
    parse_methods,
    plan_recipes,
)
from engine.errors import FrontierError, option


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--model", action="append", required=True, metavar="PATH",
                   help="the model to compress (.skops, .onnx, .pt TorchScript, .pt2, .pkl/.joblib)")
    c.add_argument("--data", required=True, metavar="PATH",
                   help="dataset file, built-in name, samples holdout or registered dataset id")
    c.add_argument("--target", metavar="COL", help="target column (a class column: compress gates on accuracy)")
    c.add_argument("--drop", action="append", default=[], metavar="COL", help="column to leave out; repeatable")
    c.add_argument("--name", metavar="LABEL", help="display name of the model (default: the file name)")
    c.add_argument("--method", action="append", required=True, metavar="NAME",
                   help=f"compression method, repeatable: {', '.join(METHODS)} (auto: every one that applies)")
    c.add_argument("--gate", type=float, default=1.0, metavar="POINTS",
                   help="a variant passes when it loses at most this many accuracy points (default 1.0)")
    c.add_argument("--calibration", choices=CALIBRATIONS,
                   help=f"static-int8 calibration method (default {CALIBRATIONS[0]})")
    c.add_argument("--calibration-rows", type=int, metavar="N",
                   help=f"static-int8 calibration rows, from the first fold's training part, fed in batches of "
                        f"{BATCH} (default {DEFAULT_ROWS})")
    c.add_argument("--prune-kind", action="append", choices=PRUNE_KINDS, metavar="KIND",
                   help="prune: magnitude (global unstructured) or channels (structured); repeatable (default both)")
    c.add_argument("--sparsity", type=float, metavar="S",
                   help="prune: share of weights (magnitude) or of each layer's channels (channels) to remove "
                        f"(default {DEFAULTS['sparsity']:g})")
    c.add_argument("--fine-tune-epochs", type=int, metavar="N",
                   help="prune: epochs of fine-tuning on fold 1's training part (default 0: none)")
    c.add_argument("--student-width", type=int, metavar="N",
                   help=f"distill: hidden width of the MLP student (default {DEFAULTS['student_width']:g})")
    c.add_argument("--student-depth", type=int, metavar="N",
                   help=f"distill: hidden layers of the student (default {DEFAULTS['student_depth']:g}; 0: linear)")
    c.add_argument("--temperature", type=float, metavar="T",
                   help=f"distill: softening temperature of the teacher's targets (default {DEFAULTS['temperature']:g})")
    c.add_argument("--alpha", type=float, metavar="A",
                   help=f"distill: weight of the teacher's soft targets against the labels (default {DEFAULTS['alpha']:g})")
    c.add_argument("--distill-epochs", type=int, metavar="N",
                   help=f"distill: training epochs of the student and its twin (default {DEFAULTS['distill_epochs']:g})")
    c.add_argument("--cv", type=int, default=5, help="number of folds (default 5)")
    c.add_argument("--seed", type=int, default=0, help="fold shuffling seed (default 0)")
    c.add_argument("--trust", action="store_true",
                   help="allow formats that can run code when loaded (pickle, TorchScript, pickled .pt2)")
    c.add_argument("--batch-sizes", default="1,32", metavar="LIST",
                   help="latency batch sizes (default 1,32; 1 is always measured: speedups are at batch 1)")
    c.add_argument("--latency-time", type=float, default=0.2, metavar="S",
                   help="minimum timed seconds per batch size (default 0.2)")
    c.add_argument("--latency-count", type=int, default=20, metavar="N",
                   help="minimum timed calls per batch size (default 20)")
    c.add_argument("--threads", type=int, metavar="N", help="threads for inference (default as benchmark)")
    c.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where variants run (default cpu)")
    c.add_argument("--time-limit", type=float, metavar="S", help="stop any step after S seconds")


OWNER = {"sparsity": "prune", "fine_tune_epochs": "prune", "prune_kind": "prune", "student_width": "distill",
         "student_depth": "distill", "temperature": "distill", "alpha": "distill", "distill_epochs": "distill",
         "calibration": "static-int8", "calibration_rows": "static-int8"}
UNSET = {**DEFAULTS, "calibration": CALIBRATIONS[0], "calibration_rows": DEFAULT_ROWS}  # a flag left out


def _given_settings(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(flag, the method it belongs to) of every recipe setting given on the command line (argparse's
    default is None for them: a value equal to the default was still given)."""
    return [(name, method) for name, method in OWNER.items() if getattr(args, name) is not None]


def _fill_defaults(args: argparse.Namespace) -> None:
    for name, value in UNSET.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def _check_flags(args: argparse.Namespace) -> None:
    """The CLI's own flags (the request's settings are checked by :func:`engine.compress.request.build`)."""
    parse_methods(args.method)  # an unknown method is told before the model is read
    if not (math.isfinite(args.latency_time) and 0 < args.latency_time <= 60):
        raise FrontierError(f"--latency-time must be between 0 and 60 seconds, got {args.latency_time:g}")
    if args.latency_count < 1:
        raise FrontierError(f"--latency-count must be at least 1, got {args.latency_count}")
    asked = set(parse_methods(args.method))
    for flag, method in _given_settings(args):
        if method not in asked and "auto" not in asked:
            raise FrontierError(f"{option(flag)} applies to --method {method} (or auto), which was not asked for; "
                                "add that method or leave the flag out")
    if len(args.model) != 1:
        raise FrontierError(f"{option('model')} was given {len(args.model)} times; compress takes one model "
                            "(run it once per model)")


def cmd_compress(args: argparse.Namespace) -> int:
    from engine import datasets, jobs, models
    from engine.benchmark.plan import _require_cuda
    from engine.cli import (
        _close_bar,
        _dataset,
        _known_artifact,
        _limits,
        _parse_sizes,
        _progress_bar,
        _read_models,
        _RunFailed,
    )
    from engine.compress import request
    from engine.owners import local_actor
    from engine.workspace import Workspace

    # Validate everything before the workspace is touched.
    _check_flags(args)
    _fill_defaults(args)
    sizes = tuple(sorted({1, *_parse_sizes(args.batch_sizes)}))
    limits = _limits(args.time_limit)
    if args.device == "cuda":
        _require_cuda()
    ws_root = Path(args.workspace) if args.workspace else None
    ws_probe = Workspace.at(ws_root)
    path = Path(args.model[0])
    (data,) = _read_models(args.model)
    if data is None:
        raise FrontierError(f"model file not found: {args.model[0]}")
    owner = local_actor().name
    info = (_known_artifact(ws_probe, data, path, args.name, trusted=args.trust)
            or models.info_from_bytes(data, path.name, trusted=args.trust, display_name=args.name,
                                      source_path=path.resolve(), owner=owner))
    dataset = _dataset(ws_probe, args.data)
    payload = request.build(ws_probe, info, dataset, methods=args.method, target=args.target,
                            drop=tuple(args.drop), name=info.name, gate=args.gate, cv=args.cv, seed=args.seed,
                            threads=args.threads, device=args.device, calibration=args.calibration,
                            calibration_rows=args.calibration_rows, batch_sizes=sizes,
                            latency_time_s=float(args.latency_time), latency_count=args.latency_count,
                            prune_kinds=tuple(args.prune_kind) if args.prune_kind else None,
                            **{name: getattr(args, name) for name in DEFAULTS})
    skipped = plan_recipes(payload.methods, info.format, device=args.device, name=info.name,
                           prune_kinds=payload.prune_kinds)[1]

    ws = Workspace.open(ws_root)
    if isinstance(dataset, datasets.Dataset):
        datasets.register(ws, dataset, owner=owner)
    models.save(ws, info, data, owner=owner)
    st = jobs.run(ws, {"kind": "compress", **payload.to_dict()},
                  on_progress=_progress_bar(args.json, 1, desc=f"compress {info.name[:30]}"),
                  title=f"compress {info.name} on {dataset.name}", limits=limits, owner=owner)
    _close_bar()
    if st.state != "done":
        raise _RunFailed(st.error or st.state)
    result = st.result or {}
    if not result.get("variants") and not (result.get("acceleration") or {}).get("settings"):
        why = [f"{e['method']}: {e['error']}" for e in result.get("errors", [])]
        why += [f"{s['method']}: {s['reason']}" for s in result.get("skipped", []) if s not in skipped]
        raise _RunFailed("no variant was made: " + ("; ".join(dict.fromkeys(why)) or "no recipe applies"))
    if args.json:
        print(json.dumps(_jsonable(result), default=str))
    else:
        _print(result)
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _num(v: Any, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def _which(entry: dict[str, Any]) -> str:
    return f"{entry['method']} ({entry.get('flavour') or entry['backend']})"


def _print(result: dict[str, Any]) -> None:
    o = result["original"]
    seen = " (scored on rows it was trained on)" if o.get("rows_seen") else ""
    print(f"original: {o['name']}  accuracy {_num(o.get('accuracy_mean'), '.4f')}  "
          f"p50 {_num(o.get('latency_p50_ms'), '.3f')} ms  {o['size_bytes']:,} bytes{seen}")
    cols = ["method", "backend", "size", "smaller", "accuracy", "Δ folds", "Δ held-out", "flips", "p50 ms",
            "speedup", "gate"]
    busy = bool(o.get("latency_skewed")) or any(v.get("latency_skewed") for v in result["variants"])
    rows = [[v["method"] + (f" ({v['flavour']})" if v.get("flavour") else ""), v["backend"], f"{v['size_bytes']:,}",
             _num(v.get("size_ratio"), ".2f") + "x", _num(v.get("accuracy_mean"), ".4f"),
             _num(v.get("accuracy_delta"), "+.2f") + ("*" if v.get("trained_on_fold1") else ""),
             _num(v.get("heldout_delta"), "+.2f"), _num(v.get("flip_rate"), ".2%"),
             _num(v.get("latency_p50_ms"), ".3f"),
             _num(v.get("speedup"), ".2f") + "x" + ("!" if v.get("latency_skewed") or o.get("latency_skewed") else ""),
             ("pass" if v.get("gate_passed") else "FAIL") + (" (held-out)" if v.get("gate_basis") == "held-out" else "")]
            for v in result["variants"]]
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows, strict=False)]
    for row in [cols, *rows] if rows else []:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip())
    if any(v.get("trained_on_fold1") for v in result["variants"]):
        print("* trained on fold 1's training part, so scored on rows it saw in the other folds: gated on "
              "fold 1's held-out rows (Δ held-out) instead")
    if busy:
        print("! latency measured while the machine was busy: that speedup is not a clean measurement")
    from engine.charts.compress import pruning_alone_lines

    for line in pruning_alone_lines(result):
        print(line)
    acc = result.get("acceleration")
    if acc:
        for r in acc.get("settings", []):
            flag = " (busy machine)" if r["skewed"] else ""
            print(f"runtime: {r['setting']}: p50 {r['p50_ms']:.4f} ms, {_num(r.get('speedup'), '.2f')}x, "
                  f"built in {r['build_seconds']:.2f} s{flag}")
        if acc.get("best"):
            print(f"fastest runtime setting: {acc['best']}")
        for e in acc.get("errors", []):
            print(f"failed runtime setting {e['setting']}: {e['error']}", file=sys.stderr)
        for why in acc.get("skipped", []):
            print(f"runtime settings: {why}", file=sys.stderr)
    d = result.get("distillation")
    if d:
        test = (f"; {d['heldout_only_student']} row(s) only the student got right, {d['heldout_only_twin']} only "
                f"the twin, McNemar exact p = {d['heldout_mcnemar_p']:.3g}" if "heldout_mcnemar_p" in d else "")
        print(f"distillation: student {d['student_heldout_accuracy']:.4f} vs its twin without teacher "
              f"{d['twin_heldout_accuracy']:.4f} on fold 1's {d['heldout_rows']} held-out rows "
              f"({d['heldout_difference_points']:+.2f} points{test})")
    for s in result.get("skipped", []):
        print(f"skipped {_which(s)}: {s['reason']}", file=sys.stderr)
    for e in result.get("errors", []):
        print(f"failed {_which(e)}: {e['error']}", file=sys.stderr)
    runs = " ".join(f"--run {r}" for r in [o["run_id"], *(v["run_id"] for v in result["variants"])])
    print(f"results: compare them with `python -m engine compare {runs} --baseline {o['run_id']}`", file=sys.stderr)
