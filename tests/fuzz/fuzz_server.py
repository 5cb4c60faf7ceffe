"""The server stand-in for the fuzz tests: registers uploads in-process, one case after another.

``python tests/fuzz/fuzz_server.py MANIFEST WORKSPACE START`` reads the cases
listed in ``MANIFEST`` (JSON: ``{"warmup": [...], "cases": [...]}``, each case
naming a file of bytes), warms up on the valid seeds in a scratch workspace
(so imports and first-use caches are in the baseline), then registers each
case from index ``START`` on exactly as the engine exposes it to a server:

- a model: ``engine.models.register_bytes(ws, data, name, trusted=False, display_name=...)``;
- a dataset: ``engine.datasets.register(ws, engine.datasets.read_bytes(data, name=name))``.

One JSON line per event goes to stdout: ``ready`` (baseline memory), then
``start`` and ``end`` for each case. ``end`` says how the case ended
(``ok``, ``error`` for a FrontierError, ``bug`` for any other exception),
what the workspace gained (only a successful registration may add, and only
its own complete folder), whether the registration reads back, and the
case's peak RSS: the kernel's high-water mark (``VmHWM``), reset before each
case, so an allocation spike inside a case is never missed between samples.

It runs as a separate process so that a case that crashes the interpreter
(a segfault in a parser) or hangs is reported by the test as that case's
failure instead of taking pytest down, and so its memory baseline is its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def reset_peak() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """The RSS high-water mark (``VmHWM``: kept by the kernel, so no spike between samples is missed)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; never reset


def listing(ws) -> dict[str, tuple]:
    """Every entry under artifacts/ and datasets/: kind, size, mtime (a cheap snapshot).

    Taken twice per case, so it walks with ``os.scandir`` (what ``Path.rglob`` does underneath,
    without building a Path per entry): every entry, hidden ones included; symlinks are not followed
    into, and one to a folder lists as a folder."""
    out: dict[str, tuple] = {}
    for top in (ws.artifacts, ws.datasets):
        if not top.is_dir():
            continue
        stack = [(os.fspath(top), top.relative_to(ws.root).as_posix())]
        while stack:
            folder, rel = stack.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    name = f"{rel}/{entry.name}"
                    if entry.is_dir():
                        out[name] = ("dir",)
                        if not entry.is_symlink():
                            stack.append((entry.path, name))
                    else:
                        st = entry.stat(follow_symlinks=False)
                        out[name] = ("file", st.st_size, st.st_mtime_ns, st.st_ino)
    return dict(sorted(out.items()))


def where(exc: BaseException) -> str:
    """Where an exception came from: the innermost Frontier frames, then the innermost frame of all."""
    frames = traceback.extract_tb(exc.__traceback__)

    def show(f: traceback.FrameSummary) -> str:
        name = f.filename.replace(str(REPO_ROOT) + "/", "")
        name = name.split("site-packages/", 1)[1] if "site-packages/" in name else name
        return f"{name}:{f.lineno} {f.name}"

    ours = [f for f in frames if f.filename.startswith(str(REPO_ROOT / "engine"))][-3:]
    text = " <- ".join(show(f) for f in reversed(ours)) or "(no engine frame)"
    if frames and (not ours or frames[-1] is not ours[-1]):
        text += f"; raised in {show(frames[-1])}"
    return text


def register(ws, case: dict, data: bytes) -> tuple[str, object]:
    from engine import datasets, models

    if case["kind"] == "model":
        info = models.register_bytes(ws, data, case["name"], trusted=False, display_name=case["display"])
        return info.id, info
    ds = datasets.register(ws, datasets.read_bytes(data, name=case["name"]))
    return ds.id, ds


def verify(ws, case: dict, data: bytes, result_id: str, result: object) -> str | None:
    """Why a registration that returned is not a valid one (None when it is)."""
    from engine import datasets, models

    try:
        if case["kind"] == "model":
            info = models.get(ws, result_id)
            stored = (ws.artifacts / result_id / info.file).read_bytes()
            if hashlib.sha256(stored).digest() != hashlib.sha256(data).digest():
                return "the stored model file is not the uploaded bytes"
            if result_id not in {i.id for i in models.list_registered(ws)}:
                return "the model is missing from list_registered"
            return None
        if result.kind == "tabular" and len(result.columns) < 2:  # the rule CSV and Parquet uploads follow
            return f"it is a table of {len(result.columns)} column(s) {result.columns}: no features and a target"
        loaded = datasets.load(ws, result_id)
        if loaded.n_rows != result.n_rows or loaded.columns != result.columns:
            return (f"the stored dataset reads back as {loaded.n_rows} rows x {loaded.columns[:5]}, not "
                    f"{result.n_rows} rows x {result.columns[:5]}")
        datasets.info(ws, result_id)
        if result_id not in set(datasets.list_registered(ws)["id"]):
            return "the dataset is missing from list_registered"
        return None
    except Exception as exc:  # any failure to read back is the finding
        return f"reading the registration back failed: {type(exc).__name__}: {str(exc).strip()[:300]}"


def workspace_problem(before: dict, after: dict, outcome: str, result_id: str | None, kind: str) -> str | None:
    """What the case left in artifacts/ or datasets/ that it should not have."""
    top = "artifacts" if kind == "model" else "datasets"
    folder = f"{top}/{result_id}"
    own = (lambda k: k == folder or k.startswith(folder + "/")) if outcome == "ok" else (lambda k: False)
    added = sorted(set(after) - set(before))
    touched = sorted(k for k in set(before) if not own(k) and before[k] != after.get(k))
    hidden = [k for k in after if any(part.startswith(".") for part in k.split("/")[1:])]
    if hidden:
        return f"stray staging or temporary entries: {hidden[:5]}"
    if touched:
        return f"entries of other registrations removed or changed: {touched[:5]}"
    if outcome != "ok":
        return f"a failed registration added {added[:5]}" if added else None
    foreign = [a for a in added if not own(a)]
    if foreign:
        return f"a registration of {result_id} also added {foreign[:5]}"
    if folder not in after:
        return f"the registration returned {result_id} but {folder} does not exist"
    files = {k.rsplit("/", 1)[1] for k in after if k.startswith(folder + "/")}
    if "meta.json" not in files or len(files) < 2:
        return f"{folder} is incomplete: {sorted(files)}"
    return None


def main(argv: list[str]) -> int:
    manifest = json.loads(Path(argv[0]).read_text())
    ws_root, start = Path(argv[1]), int(argv[2])
    import psutil

    from engine.errors import FrontierError
    from engine.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="fuzz-warmup-") as scratch:
        warm = Workspace.open(scratch)
        for case in manifest["warmup"]:
            with contextlib.suppress(FrontierError):
                register(warm, case, Path(case["file"]).read_bytes())
    ws = Workspace.open(ws_root)
    proc = psutil.Process()
    rss_mb = proc.memory_info().rss / 2**20
    resets = reset_peak()
    # growth is measured from the resting RSS when each case's peak can be isolated, else from the
    # warm-up's high-water mark (a looser bound)
    emit({"event": "ready", "pid": os.getpid(), "rss_mb": rss_mb, "peak_mb": rss_mb if resets else peak_rss_mb(),
          "per_case_peaks": resets})
    cases = manifest["cases"]
    for index in range(start, len(cases)):
        case = cases[index]
        data = Path(case["file"]).read_bytes()
        emit({"event": "start", "index": index})
        before = listing(ws)
        reset_peak()
        t0 = time.perf_counter()
        end: dict = {"event": "end", "index": index, "id": case["id"]}
        result = result_id = None
        try:
            result_id, result = register(ws, case, data)
            end |= {"outcome": "ok", "result_id": result_id}
        except FrontierError as exc:
            end |= {"outcome": "error", "message": exc.message}
        except BaseException as exc:  # the finding: anything but a FrontierError
            if isinstance(exc, KeyboardInterrupt):
                raise
            end |= {"outcome": "bug", "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                    "message": str(exc).strip()[:500], "where": where(exc)}
        end["seconds"] = round(time.perf_counter() - t0, 4)
        end["peak_mb"] = peak_rss_mb()  # the case's own peak (the high-water mark was reset before it)
        end["ws_problem"] = workspace_problem(before, listing(ws), end["outcome"], result_id, case["kind"])
        if end["outcome"] == "ok":
            end["invalid"] = verify(ws, case, data, result_id, result)
        end["rss_mb"] = proc.memory_info().rss / 2**20
        emit(end)
        del result, data
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    sys.exit(main(sys.argv[1:]))
