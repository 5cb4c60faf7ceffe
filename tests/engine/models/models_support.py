"""Hostile and benign model files for the model-safety tests, built in memory.

Every hostile payload here creates a *marker* file when it runs; tests first
prove with the plain library call that it does run (:func:`prove_it_runs`),
then show Frontier refuses it without the marker appearing.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SKLEARN_PREFIXES = ("sklearn.", "numpy.", "scipy.")  # the rule Frontier used to apply to skops types


class TouchOnLoad:
    """Unpickling this runs ``exec`` of code that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(TouchOnLoad(marker))


def touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('pwned')"


def prove_it_runs(load: Callable[[], Any], marker: Path) -> None:
    """Oracle: the payload really executes when loaded the unsafe way."""
    assert not marker.exists()
    load()
    assert marker.read_text() == "pwned"
    marker.unlink()


# ------------------------------------------------------------------- zips
def rewrite_zip(data: bytes, change: Callable[[str, bytes], bytes | None],
                extra: list[tuple[str, bytes]] = (), *, first: list[tuple[str, bytes]] = (),
                compression: int = zipfile.ZIP_STORED) -> bytes:
    """A copy of a zip with members changed (``None`` drops one), ``first`` entries written before the rest
    and ``extra`` after (duplicate names allowed)."""
    import warnings

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", compression=compression) as dst:
        warnings.simplefilter("ignore")  # "Duplicate name" is the point of some tests
        for name, payload in first:
            dst.writestr(name, payload)
        for item in src.infolist():
            new = change(item.filename, src.read(item.filename))
            if new is not None:
                dst.writestr(item.filename, new)
        for name, payload in extra:
            dst.writestr(name, payload)
    return out.getvalue()


def bomb_member(name: str, n_bytes: int) -> tuple[str, bytes]:
    """A member of ``n_bytes`` zeros (deflates to about a thousandth of that)."""
    return name, bytes(n_bytes)


# ------------------------------------------------------------------ skops
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def logreg_skops() -> bytes:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    return sio.dumps(LogisticRegression(max_iter=500).fit(X, y))


def _json_node(value: Any) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _dict_node() -> dict[str, Any]:
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
            "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}}


def skops_calling(module: str, function: str, args: list[Any]) -> bytes:
    """A fitted LogisticRegression whose ``tol`` is rebuilt by calling ``module.function(*args)``.

    String arguments become JSON nodes, ``{}`` an empty dict node: the call happens
    while skops reconstructs the object, before any prediction.
    """
    data = logreg_skops()
    zf = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(zf.read("schema.json"))
    call = {"__class__": function, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [_dict_node() if a == {} else _json_node(a) for a in args]}}
    schema["content"]["content"]["tol"] = call
    return rewrite_zip(data, lambda name, old: json.dumps(schema).encode() if name == "schema.json" else old)


def load_with_prefix_rule(data: bytes) -> Any:
    """What Frontier did before: trust every type skops flags whose module starts with an allowed prefix."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    return sio.loads(data, trusted=[t for t in untrusted if t.startswith(SKLEARN_PREFIXES)])


# -------------------------------------------------------------------- .pt2
def tiny_module():
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.lin(x)

    return Tiny()


def exported_pt2(*, dynamic: bool = False) -> bytes:
    """A real ``torch.export.save`` archive of a 4 -> 3 linear layer (batch dimension dynamic if asked)."""
    import torch

    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    ep = torch.export.export(tiny_module(), (torch.randn(2, 4),), dynamic_shapes=shapes)
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


def pt2_program(data: bytes) -> tuple[str, dict[str, Any]]:
    """The name and parsed JSON of a ``.pt2``'s exported program."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    name = next(n for n in zf.namelist() if n.endswith("/models/model.json"))
    return name, json.loads(zf.read(name))


def with_program(data: bytes, program: dict[str, Any]) -> bytes:
    name, _ = pt2_program(data)
    return rewrite_zip(data, lambda n, old: json.dumps(program).encode() if n == name else old)


def quiet_torch_export_load(source: Path | bytes) -> Any:
    """``torch.export.load`` with warnings and errors swallowed (the oracle only watches the marker)."""
    import contextlib
    import warnings

    import torch

    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        ep = torch.export.load(io.BytesIO(source) if isinstance(source, bytes) else str(source))
        return ep
    return None


def torchscript_bytes() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(tiny_module()), buf)
    return buf.getvalue()
