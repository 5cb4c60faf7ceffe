"""TorchScript bytes that depend only on the model: scripting and tracing in a fresh process.

``torch.jit.script`` and ``torch.jit.trace`` name and share the TorchScript
types they make through process-wide state (``___torch_mangle_N`` names, the
concrete-type store), and the order of a module's ``Final`` constants comes
from iterating a set of strings, which changes with Python's hash seed. So the
bytes ``torch.jit.save`` writes for the same weights depend on what the
process did before. An artifact's id is the hash of its bytes: a variant
rebuilt by a later run would be a new artifact and be benchmarked again.

Each model is therefore serialised by ``python -m engine.compress.serialize
trace|script`` in its own process with ``PYTHONHASHSEED=0`` (about two seconds,
mostly importing torch): the same weights give the same bytes. The parent hands
the child what this job built (``torch.save`` of a module it made a moment ago,
never a user's file) on stdin and reads the TorchScript bytes on stdout.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import FrontierError, first_line

TIMEOUT_S = 600
_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the engine package


def trace(module: Any, example: np.ndarray) -> bytes:
    """``torch.jit.trace(module, example)`` saved, made in a fresh process."""
    return _in_child("trace", module, np.ascontiguousarray(example, dtype=np.float32))


def script(module: Any) -> bytes:
    """``torch.jit.script(module)`` saved, made in a fresh process."""
    return _in_child("script", module, None)


def _in_child(kind: str, module: Any, example: np.ndarray | None) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"module": module.eval(), "example": None if example is None else torch.from_numpy(example)}, buf)
    env = {**os.environ, "PYTHONHASHSEED": "0",
           "PYTHONPATH": os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.run([sys.executable, "-m", "engine.compress.serialize", kind], input=buf.getvalue(),
                              capture_output=True, env=env, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise FrontierError(f"saving the model as TorchScript took over {TIMEOUT_S} s") from None
    if proc.returncode != 0 or not proc.stdout:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise FrontierError(f"torch.jit.{kind} failed: {first_line(lines[-1] if lines else 'no output', 200)}")
    return proc.stdout


def _main(kind: str) -> int:
    import torch

    torch.set_num_threads(1)
    if kind == "trace":  # a rebuilt model: onnx2torch's modules import torchvision when unpickled
        from engine._torch_compat import import_torchvision

        import_torchvision()
    # weights_only=False: the parent pickled a module it built a moment ago (a user's file never comes here)
    task = torch.load(io.BytesIO(sys.stdin.buffer.read()), weights_only=False)
    module = task["module"].eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        made = (torch.jit.trace(module, task["example"], check_trace=False) if kind == "trace"
                else torch.jit.script(module))
    buf = io.BytesIO()
    torch.jit.save(made, buf)
    sys.stdout.buffer.write(buf.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1]))
