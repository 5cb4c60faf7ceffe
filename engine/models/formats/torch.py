"""TorchScript and ``torch.export`` (``.pt2``) archives: checked member by member.

A TorchScript archive is Python code and pickles: it always needs trust. A
``.pt2`` archive is read entry by entry through
:class:`~engine.archives.SafeZip` — one copy per name (Python's zipfile reads
the last of two same-named entries, torch's reader the first), names from
torch 2.13's save layout only, declared sizes under the model cap — and
needs trust when loading it could run code:

- entries ``torch.export.load`` unpickles: payloads marked ``use_pickle``,
  custom and opaque objects, legacy ``.pt`` weights/constants, sample inputs
  that a weights-only load refuses (torch retries them with full pickle),
  and the legacy layout;
- native code: AOTInductor shared libraries under ``data/aotinductor/``;
- code in the graph: guard code (``exec``'d when the module is built), shape
  expressions that are not plain arithmetic (torch passes them to
  ``sympy.sympify``, which evaluates Python), and call targets outside
  ATen's tensor operators (a target like ``torch.os.system`` would be called).
"""

from __future__ import annotations

import ast
import io
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

from engine.archives import SafeZip, is_zip
from engine.errors import FrontierError, first_line, option
from engine.models.formats.limits import open_zip

_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# paths inside the archive's root folder, after torch/export/pt2_archive/constants.py (torch 2.13)
PT2_LAYOUT = re.compile("|".join([
    r"archive_format", r"archive_version", r"byteorder", r"version", r"\.data/version", r"\.data/serialization_id",
    rf"models/{_PART}\.json",
    rf"data/weights/{_PART}",
    rf"data/constants/{_PART}",
    rf"data/sample_inputs/{_PART}\.pt",
    rf"extra/{_PART}(?:/{_PART})*",
    rf"data/aotinductor/{_PART}(?:/{_PART})+",
]))
AOTI_DIR = "data/aotinductor/"
# ATen operators that touch files or print; everything else in aten is tensor arithmetic
_ATEN_SIDE_EFFECTS = frozenset({"from_file", "save", "_print"})
_ATEN_TARGET = re.compile(r"torch\.ops\.aten\.([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_TARGETS = frozenset(
    [f"_operator.{op}" for op in ("getitem", "add", "sub", "mul", "floordiv", "truediv", "mod", "pow", "neg",
                                  "pos", "abs", "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "not_")]
    + [f"torch.sym_{op}" for op in ("float", "int", "max", "min", "not", "ite", "sqrt", "sum")]
    + [f"math.{op}" for op in ("ceil", "floor", "trunc", "sqrt")])
# what may appear in a shape expression torch hands to sympy.sympify
_SYMPY_CALLS = frozenset({
    "Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Pow", "Mod", "Max", "Min", "Abs", "floor", "ceiling",
    "FloorDiv", "CeilDiv", "CleanDiv", "ModularIndexing", "PythonMod", "IntTrueDiv", "FloatTrueDiv", "ToFloat",
    "TruncToInt", "TruncToFloat", "CeilToInt", "FloorToInt", "RoundToInt", "Eq", "Ne", "Lt", "Le", "Gt", "Ge",
    "And", "Or", "Not",
})
_SYMPY_NAMES = frozenset({"oo", "zoo", "nan", "true", "false", "True", "False"})
_SYMBOL_NAME = re.compile(r"[a-z]{1,4}[0-9]{1,9}")
_AST_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd, ast.Not,
            ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.And, ast.Or)
MAX_EXPR_CHARS = 4000


# ------------------------------------------------------------- TorchScript
def detect_torchscript(name: str, data: bytes) -> str:
    """``torchscript`` for a TorchScript archive; a torch.save checkpoint or anything else is refused."""
    if not is_zip(data):
        raise FrontierError(f"'{name}' is not a TorchScript archive; save it with torch.jit.save")
    names = open_zip(data, f"'{name}'").names
    if not any("/code/" in n or n.startswith("code/") for n in names):
        raise FrontierError(
            f"'{name}' is a torch.save checkpoint (weights without the architecture); export the model with torch.jit.save, torch.export.save or to ONNX")
    return "torchscript"


def torchscript_archive(data: bytes, what: str) -> SafeZip:
    """The TorchScript zip, its directory checked (duplicates, names, declared sizes) before torch reads it."""
    return open_zip(data, what)


# --------------------------------------------------------------------- .pt2
def pt2_archive(data: bytes, what: str = "the .pt2 archive") -> tuple[SafeZip, str]:
    """The ``.pt2`` zip with every entry checked against torch's layout, and its root folder."""
    if not is_zip(data):
        raise FrontierError(f"{what} is not a zip archive; save it with torch.export.save")
    roots: set[str] = set()

    def allowed(entry: str) -> bool:
        root, _, rest = entry.partition("/")
        roots.add(root)
        return bool(rest) and PT2_LAYOUT.fullmatch(rest) is not None

    zf = open_zip(data, what, allowed=allowed)
    if len(roots) != 1:
        raise FrontierError(f"{what} has entries under {len(roots)} top-level folders; torch.export.save writes one")
    root = roots.pop()
    if not any(n.startswith(f"{root}/models/") for n in zf.names):
        raise FrontierError(f"{what} holds no exported program; save it with torch.export.save")
    return zf, root


def _json(zf: SafeZip, entry: str, what: str) -> Any:
    try:
        return json.loads(zf.read(entry))
    except FrontierError:
        raise
    except (ValueError, RecursionError) as exc:
        raise FrontierError(f"{what}: '{entry}' is not valid JSON ({first_line(exc)})") from None


def _pickled_payloads(zf: SafeZip, root: str, what: str) -> list[str]:
    """Entries ``torch.export.load`` would unpickle."""
    risky: list[str] = []
    for entry in zf.names:
        rest = entry[len(root) + 1:]
        if re.fullmatch(r"data/(weights|constants)/[^/]+_config\.json", rest):
            config = _json(zf, entry, what)
            payloads = config.get("config") if isinstance(config, dict) else None
            if not isinstance(payloads, dict):
                raise FrontierError(f"{what}: '{entry}' is not a torch payload config; re-save the model")
            constants = rest.startswith("data/constants/")
            for fqn, meta in payloads.items():
                path = meta.get("path_name") if isinstance(meta, dict) else None
                if (not isinstance(path, str) or meta.get("use_pickle")
                        or (constants and not path.startswith("tensor_"))):
                    risky.append(f"{entry}:{fqn}"[:200])
        elif re.fullmatch(r"data/(weights|constants)/[^/]+\.pt", rest):
            risky.append(entry)  # legacy pickled state dict or constants
        elif rest.startswith("data/sample_inputs/") and not _weights_only_loads(zf.read(entry), f"{what}: '{entry}'"):
            risky.append(entry)  # torch.export.load retries a failing weights-only load with full pickle
    if f"{root}/archive_format" not in zf.names:
        risky.append("(legacy archive layout)")
    return risky


def _weights_only_loads(payload: bytes, what: str) -> bool:
    """Whether torch's weights-only unpickler accepts ``payload`` (itself a zip, checked first)."""
    import torch

    if not payload:
        return True
    if is_zip(payload):
        open_zip(payload, what).close()  # declared sizes under the cap before torch reads it
    try:
        with warnings.catch_warnings():  # a hostile payload's warnings are not ours to print
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(payload), weights_only=True)
    except Exception:
        return False
    return True


def _native_code(zf: SafeZip, root: str) -> list[str]:
    return [f"{n} (native code)" for n in zf.names if n[len(root) + 1:].startswith(AOTI_DIR)]


def _graph_code(zf: SafeZip, root: str, what: str) -> list[str]:
    """Places in the exported programs' JSON where loading or calling the model runs Python."""
    found: list[str] = []
    for entry in zf.names:
        if not re.fullmatch(r"models/[^/]+\.json", entry[len(root) + 1:]):
            continue
        program = _json(zf, entry, what)
        if isinstance(program, dict) and program.get("guards_code"):
            found.append(f"{entry}: guard code")
        stack: list[Any] = [program]
        while stack and len(found) < 20:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
                continue
            if not isinstance(item, dict):
                continue
            for key, value in item.items():
                if key == "expr_str" and not is_plain_arithmetic(value):
                    found.append(f"{entry}: shape expression {str(value)[:60]!r}")
                elif key in ("target", "as_operator") and isinstance(value, str) and not is_tensor_op(value):
                    found.append(f"{entry}: call to {value[:80]!r}")
                elif key in ("as_custom_obj", "as_opaque_obj"):
                    found.append(f"{entry}: custom object argument")
                elif isinstance(value, dict | list):
                    stack.append(value)
    return found


def is_tensor_op(target: str) -> bool:
    """An ATen tensor operator or plain arithmetic on sizes (what exported graphs of models call)."""
    m = _ATEN_TARGET.fullmatch(target)
    return (m is not None and m.group(1) not in _ATEN_SIDE_EFFECTS) or target in _PLAIN_TARGETS


def is_plain_arithmetic(expr: object) -> bool:
    """A sympy shape expression with symbols, numbers and arithmetic only (nothing ``eval`` could abuse)."""
    if not isinstance(expr, str) or len(expr) > MAX_EXPR_CHARS:
        return False
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    symbol_args = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _SYMPY_CALLS:
                return False
            if node.func.id == "Symbol":
                if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                        and _SYMBOL_NAME.fullmatch(node.args[0].value)):
                    return False
                symbol_args.add(id(node.args[0]))
            elif node.keywords:
                return False
            if any(not isinstance(k.value, ast.Constant) or not isinstance(k.value.value, bool) or k.arg is None
                   for k in node.keywords):
                return False
        elif isinstance(node, ast.Name):
            if not (node.id in _SYMPY_CALLS or node.id in _SYMPY_NAMES or _SYMBOL_NAME.fullmatch(node.id)):
                return False
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and id(node) not in symbol_args:
                return False
            if not isinstance(node.value, int | float | str):
                return False
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Load,
                                   ast.keyword, *_AST_OPS)):
            return False
    return True


def pt2_pickle_members(data: bytes, what: str = "the .pt2 archive") -> list[str]:
    """Entries of a ``.pt2`` archive that ``torch.export.load`` would unpickle."""
    zf, root = pt2_archive(data, what)
    with zf:
        return _pickled_payloads(zf, root, what)


@dataclass(frozen=True)
class Pt2Code:
    """What in a ``.pt2`` archive runs code when it is loaded or called."""

    pickles: tuple[str, ...]
    native: tuple[str, ...]
    graph: tuple[str, ...]

    @property
    def members(self) -> list[str]:
        return [*self.pickles, *self.native, *self.graph]

    def refusal(self, what: str) -> FrontierError:
        if self.pickles:
            how = f"whose contents fall back to pickle ({self.pickles[0]})"
        elif self.native:
            how = f"carrying an AOTInductor shared library ({self.native[0]})"
        else:
            how = f"whose graph runs Python ({self.graph[0]})"
        return FrontierError(f"{what} is a .pt2 archive {how}, which can run code when loaded; mark it trusted "
                             f"({option('trust')}) only if you trust its author")


def pt2_code(data: bytes, what: str = "the .pt2 archive") -> Pt2Code:
    """Everything in a ``.pt2`` archive that can run code when it is loaded or called: needs trust."""
    zf, root = pt2_archive(data, what)
    with zf:
        return Pt2Code(tuple(_pickled_payloads(zf, root, what)), tuple(_native_code(zf, root)),
                       tuple(_graph_code(zf, root, what)))


def pt2_code_members(data: bytes, what: str = "the .pt2 archive") -> list[str]:
    """The entries and graph places of :func:`pt2_code`, as one list."""
    return pt2_code(data, what).members


def pt2_static_metadata(data: bytes, what: str = "the .pt2 archive") -> dict[str, Any]:
    """Input specs and parameter count read from a ``.pt2``'s JSON graph, loading nothing."""
    import numpy as np

    zf, root = pt2_archive(data, what)
    with zf:
        try:
            name = next(n for n in zf.names if re.fullmatch(rf"{re.escape(root)}/models/[^/]+\.json", n))
            module = _json(zf, name, what)["graph_module"]
            values = module["graph"]["tensor_values"]
            specs = module["signature"]["input_specs"]
        except (StopIteration, KeyError, TypeError):
            return {}  # an unfamiliar layout: the worker describes it after loading

    def dims(tensor: str) -> list[int | None]:
        return [d.get("as_int") if isinstance(d, dict) else None for d in values[tensor]["sizes"]]

    inputs, n_params = [], 0
    try:
        for spec in specs:
            if "user_input" in spec and "as_tensor" in spec["user_input"]["arg"]:
                arg = spec["user_input"]["arg"]["as_tensor"]["name"]
                dtype = {6: "float16", 7: "float32", 8: "float64", 13: "bfloat16"}.get(values[arg]["dtype"], "other")
                inputs.append({"name": arg, "shape": dims(arg), "dtype": dtype})
            elif "parameter" in spec or "buffer" in spec:
                arg = (spec.get("parameter") or spec["buffer"])["arg"]["name"]
                if arg in values:
                    n_params += int(np.prod([d or 0 for d in dims(arg)]))
    except (KeyError, TypeError, ValueError):
        return {}
    return {"inputs": inputs, "n_parameters": n_params or None}
