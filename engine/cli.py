"""``python -m engine``: the headless twin of the dashboard.

Every sub-command takes ``--workspace``; ``--json`` prints one JSON document
on stdout and nothing else; bad input exits 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from engine.errors import FrontierError, render

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise FrontierError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m engine", description="Frontier: compare models headlessly.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    b = sub.add_parser("benchmark", help="cross-validate models and time their inference")
    b.add_argument("--model", action="append", required=True, metavar="PATH",
                   help="model file (.skops, .onnx, .pt TorchScript, .pt2, .pkl/.joblib); repeatable")
    b.add_argument("--data", required=True, metavar="PATH",
                   help="dataset file (.csv, .parquet, .npz) or built-in name (digits, digits_images, "
                        "breast_cancer, wine, iris, diabetes)")
    b.add_argument("--target", metavar="COL", help="target column (default: 'target', 'label', 'y' or the last column)")
    b.add_argument("--cv", type=int, default=5, help="number of folds (default 5)")
    b.add_argument("--seed", type=int, default=0, help="fold shuffling seed (default 0)")
    b.add_argument("--as-is", action="store_true", help="evaluate fitted scikit-learn models without refitting")
    b.add_argument("--drop", action="append", default=[], metavar="COL", help="column to leave out of the features; repeatable")
    b.add_argument("--name", action="append", default=[], metavar="LABEL", help="display name for the matching --model")
    b.add_argument("--trust", action="store_true",
                   help="allow formats that can run code when loaded (pickle, TorchScript, pickled .pt2)")
    b.add_argument("--batch-sizes", default="1,8,32,128,256", metavar="LIST", help="latency batch sizes (default 1,8,32,128,256)")
    b.add_argument("--latency-time", type=float, default=0.3, metavar="S", help="minimum timed seconds per batch size (default 0.3)")
    b.add_argument("--latency-count", type=int, default=30, metavar="N", help="minimum timed calls per batch size (default 30)")
    b.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    b.add_argument("--threads", type=int, metavar="N",
                   help="threads for fits and inference (default: 1 on machines with up to 4 cores, else half; "
                        "FRONTIER_THREADS changes it)")
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where torch/ONNX models run (default cpu)")
    b.add_argument("--no-cache", action="store_true", help="recompute even when an identical run is stored")
    b.add_argument("--time-limit", type=float, metavar="S",
                   help="stop a model step (loading, one fold's fit, the latency sweep) after S seconds "
                        "(default $FRONTIER_STEP_TIME_S or 900; at most $FRONTIER_MAX_STEP_TIME_S or 3600)")
    _common(b)

    from engine.compare.commands import add_arguments

    c = sub.add_parser("compare", help="compare stored runs: table, Pareto front, significance, verdict")
    add_arguments(c, runs_required=True)
    _common(c)
    r = sub.add_parser("report", help="write a self-contained HTML report of stored runs")
    r.add_argument("--out", required=True, metavar="FILE.html", help="where to write the report")
    add_arguments(r, runs_required=False)
    _common(r)

    from engine.tune.commands import add_arguments as add_tune_arguments

    t = sub.add_parser("tune", help="search hyperparameters with Optuna; the best trials become stored runs")
    add_tune_arguments(t)
    _common(t)

    from engine.compress.commands import add_arguments as add_compress_arguments

    z = sub.add_parser("compress", help="quantize / export a model and compare each variant with it")
    add_compress_arguments(z)
    _common(z)

    from engine.tune.commands import add_worker_arguments

    w = sub.add_parser("worker", help="join a tune study from any machine sharing its storage and workspace")
    add_worker_arguments(w)
    _common(w)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", metavar="DIR", help="workspace directory (default $FRONTIER_WORKSPACE or ./workspace)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def cmd_benchmark(args: argparse.Namespace) -> int:
    from engine import benchmark
    from engine.jobs.spare import spare_worker
    from engine.measure.latency import LatencySettings
    from engine.workspace import Workspace

    if args.cv < 2:
        raise FrontierError(f"--cv must be at least 2, got {args.cv}")
    if not 0 <= args.seed < 2**32:  # what scikit-learn's splitters accept
        raise FrontierError(f"--seed must be between 0 and {2**32 - 1}, got {args.seed}")
    if len(args.name) > len(args.model):
        raise FrontierError(f"{len(args.name)} --name given for {len(args.model)} --model; give at most one per model")
    if not 0 < args.latency_time <= 60:
        raise FrontierError(f"--latency-time must be between 0 and 60 seconds, got {args.latency_time:g}")
    if args.latency_count < 1:
        raise FrontierError(f"--latency-count must be at least 1, got {args.latency_count}")
    latency = None if args.no_latency else LatencySettings(
        batch_sizes=_parse_sizes(args.batch_sizes), min_time_s=args.latency_time, min_count=args.latency_count)
    if args.threads is not None and args.threads < 1:
        raise FrontierError("--threads must be at least 1")
    limits = _limits(args.time_limit)
    config = benchmark.BenchmarkConfig(target=args.target, drop=tuple(args.drop), cv=args.cv, seed=args.seed,
                                       as_is=args.as_is, latency=latency, threads=args.threads, device=args.device)
    ws_root = Path(args.workspace) if args.workspace else None
    warm = ("skops",) if any(m.lower().endswith(".skops") for m in args.model) else ()
    jobs_dir = Workspace.at(ws_root).jobs
    with spare_worker("benchmark", jobs_dir, threads=config.n_threads, limits=limits, warm=warm) as spare:
        return _benchmark(args, config, limits, ws_root, spare)


def _benchmark(args: argparse.Namespace, config, limits, ws_root: Path | None, spare) -> int:
    import dataclasses

    from engine import benchmark, datasets, jobs, models
    from engine.jobs.memory import release_freed
    from engine.owners import local_actor
    from engine.workspace import Workspace

    # Validate everything before the workspace is touched.
    ws_probe = Workspace.at(ws_root)  # creates nothing: inputs are resolved before validation
    blobs = _read_models(args.model)
    known = [_known_artifact(ws_probe, data, Path(m), None, trusted=args.trust) if data is not None else None
             for m, data in zip(args.model, blobs, strict=True)]
    if datasets.registered_id(ws_probe, args.data) is None or not all(known):
        spare.get()  # new work is likely: a worker starts importing while this process validates
    dataset = _dataset(ws_probe, args.data)
    infos = []
    for i, (model, data) in enumerate(zip(args.model, blobs, strict=True)):
        path = Path(model)
        if data is None:
            raise FrontierError(f"model file not found: {model}")
        name = args.name[i] if i < len(args.name) else None
        infos.append(_known_artifact(ws_probe, data, path, name, trusted=args.trust)
                     or models.info_from_bytes(data, path.name, trusted=args.trust, display_name=name,
                                               source_path=path.resolve(), owner=local_actor().name))
    # plan() checks the models against the data; it must fail before the workspace exists.
    p = benchmark.plan(ws_probe, infos, dataset, config, names=[i.name for i in infos],
                       use_cache=not args.no_cache)
    ws = Workspace.open(ws_root)
    owner = local_actor().name
    if isinstance(dataset, datasets.Dataset):  # a stored description means it is registered already
        datasets.register(ws, dataset, owner=owner)
        # the worker reads the stored copy: hold only its description while it works
        dataset = datasets.info(ws, dataset.id)
        p = dataclasses.replace(p, dataset=dataset)
        release_freed()
    for p_note in p.notes:
        print(f"note: {render(p_note)}", file=sys.stderr)
    for info, data in zip(infos, blobs, strict=True):
        models.save(ws, info, data, owner=owner)
    if p.pending:
        st = jobs.run(ws, p.to_request(), on_progress=_progress_bar(args.json, len(p.pending)),
                      title=f"benchmark on {dataset.name}", limits=limits, owner=owner, spare=spare.take())
        _close_bar()
        if st.state != "done":
            raise _RunFailed(st.error or st.state)
    runs = benchmark.collect(ws, p)
    if args.json:
        print(json.dumps({"runs": [_jsonable(r) for r in runs]}, default=str))
    else:
        _print_table(runs)
    return 0


def _read_models(paths: list[str]) -> list[bytes | None]:
    """Each ``--model`` file's bytes, read once (None for a path that is not a file)."""
    return [Path(m).read_bytes() if Path(m).is_file() else None for m in paths]


def _known_artifact(ws, data: bytes, path: Path, name: str | None, *, trusted: bool):
    """The stored, checked description of an already-registered model, skipping a reload.

    Only under the same suffix, and for a code-bearing model only when it is
    trusted already or ``--trust`` is given now (then the record is re-signed
    when the model is saved); otherwise the caller validates the bytes afresh.
    """
    import dataclasses

    from engine import ids, models

    try:
        info = models.get(ws, ids.id_of(models.content_digest(data)))
    except FrontierError:
        return None
    if info.file != f"model{path.suffix.lower()}" or (info.code_bearing and not (info.trusted or trusted)):
        return None
    return dataclasses.replace(info, name=name or path.name, trusted=info.trusted or trusted)


def _limits(time_limit: float | None):
    """Job limits from ``--time-limit`` (validated before anything is written)."""
    from engine import jobs, settings

    if time_limit is None:
        return None
    most = settings.max_step_time_s()
    if not 0 < time_limit <= most:
        raise FrontierError(f"--time-limit must be more than 0 and at most {most:g} seconds "
                            f"(FRONTIER_MAX_STEP_TIME_S), got {time_limit:g}")
    return jobs.Limits(step_time_s=time_limit)


def _dataset(ws, spec: str):
    """The ``--data`` value as a registered dataset's stored description, or the data itself."""
    from engine import datasets, samples

    try:
        return datasets.describe(ws, spec)
    except FrontierError:
        held_out = {d.name: d for d in samples.holdout_datasets()} if spec in datasets.BUNDLED_IDS else {}
        if spec in held_out:  # a samples holdout in a workspace that has not registered it yet
            return held_out[spec]
        raise


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise FrontierError(f"--batch-sizes takes comma-separated integers, e.g. 1,8,32; got '{text}'") from None
    if not sizes or sizes[0] < 1:
        raise FrontierError("--batch-sizes must be positive integers")
    return sizes


_bar: Any = None


def _progress_bar(quiet: bool, n_models: int, desc: str | None = None):
    if quiet:
        return None
    from tqdm import tqdm

    global _bar
    _bar = tqdm(total=100, file=sys.stderr, unit="%", bar_format="{l_bar}{bar}| {elapsed} {postfix}",
                desc=desc or f"benchmark ({n_models} model{'s' * (n_models != 1)})")

    def update(fraction: float, message: str) -> None:
        _bar.n = round(fraction * 100)
        _bar.set_postfix_str(message[:60], refresh=False)
        _bar.refresh()
    return update


def _close_bar() -> None:
    global _bar
    if _bar is not None:
        _bar.close()
        _bar = None


def _jsonable(run: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in run.items()}


def _print_table(runs: list[dict[str, Any]]) -> None:
    from engine import metrics

    task = runs[0]["task"] if runs else "classification"
    shown = [m for m in metrics.for_task(task) if m.headline]
    cols = ["model", "mode", *(m.name for m in shown), "p50 ms", "p95 ms", "rows/s", "size", "cached"]
    rows = []
    for r in runs:
        cells = [_pm(r, m) for m in shown]
        rows.append([r["model"], r["mode"], *cells, _num(r.get("latency_p50_ms")), _num(r.get("latency_p95_ms")),
                     _num(r.get("throughput_per_s"), 0), _size(r["size_bytes"]), "yes" if r["cached"] else "no"])
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows, strict=False)]
    for row in [cols, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip())
    print(f"\nresults: run ids {', '.join(r['run_id'] for r in runs)}", file=sys.stderr)


def _pm(r: dict[str, Any], metric) -> str:
    mean, std = r.get(f"{metric.name}_mean"), r.get(f"{metric.name}_std")
    return "n/a" if mean is None else f"{metric.format(mean)} ± {metric.format(std)}"


def _num(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


class _RunFailed(FrontierError):
    pass


def cmd_compare(args: argparse.Namespace) -> int:
    from engine.compare.commands import cmd_compare as run

    return run(args)


def cmd_report(args: argparse.Namespace) -> int:
    from engine.compare.commands import cmd_report as run

    return run(args)


def cmd_tune(args: argparse.Namespace) -> int:
    from engine.tune.commands import cmd_tune as run

    return run(args)


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.tune.commands import cmd_worker as run

    return run(args)


def cmd_compress(args: argparse.Namespace) -> int:
    from engine.compress.commands import cmd_compress as run

    return run(args)


COMMANDS = {"benchmark": cmd_benchmark, "compare": cmd_compare, "report": cmd_report, "tune": cmd_tune,
            "worker": cmd_worker, "compress": cmd_compress}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except _RunFailed as exc:
        _close_bar()
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except FrontierError as exc:
        _close_bar()
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _close_bar()
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback
        from engine.errors import first_line

        _close_bar()
        print(f"error: unexpected {type(exc).__name__}: {first_line(exc)} (this is a bug in Frontier; "
              "please report it with the command that caused it)", file=sys.stderr)
        return EXIT_RUN_FAILED
