"""``engine/`` is pure Python: it never imports streamlit, directly or through its dependencies."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ENGINE_DIR = Path(engine.__file__).resolve().parent
FORBIDDEN = "streamlit"


def _engine_files() -> list[Path]:
    files = sorted(ENGINE_DIR.rglob("*.py"))
    assert len(files) >= 10
    return files


def _imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(str(node.args[0].value))
    return names


def test_no_engine_source_imports_streamlit():
    offenders = []
    for path in _engine_files():
        for name in _imported_modules(ast.parse(path.read_text(), filename=str(path))):
            if name.split(".")[0] == FORBIDDEN:
                offenders.append(f"{path.relative_to(ENGINE_DIR.parent)}: {name}")
    assert offenders == []


def test_the_ast_check_would_catch_it():
    tree = ast.parse("import os\nfrom streamlit import x\nimport importlib\nimportlib.import_module('streamlit')\n"
                     "def f():\n    import streamlit.components.v1 as c\n")
    found = sorted(n for n in _imported_modules(tree) if n.split(".")[0] == FORBIDDEN)
    assert found == ["streamlit", "streamlit", "streamlit.components.v1"]

def test_importing_every_engine_module_loads_no_streamlit():
    modules = sorted(m.name for m in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="engine.")
                     if not m.name.endswith("__main__"))
    assert {"engine.cli", "engine.benchmark", "engine.jobs", "engine.results", "engine.models.registry"} <= set(modules)
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ENGINE_DIR.parent, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
