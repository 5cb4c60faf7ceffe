"""The CLI honours only signed trust, and ``--trust`` (re-)signs a model it already knows."""

from __future__ import annotations

import json

from frontier_support import FAST_BENCH, run_cli, sample

from engine import models
from engine.workspace import Workspace


def _run(ws, *extra):
    return run_cli("benchmark", "--model", sample("digits_mlp.pt"), "--data", "digits", "--workspace", ws, "--json",
                   *FAST_BENCH, *extra)


def test_an_unsigned_trusted_flag_is_not_believed_and_trust_re_signs_it(tmp_path):
    ws = tmp_path / "ws"
    first = _run(ws, "--trust")
    assert first.returncode == 0, str(first)
    (info,) = models.list_registered(Workspace(ws))
    assert info.trusted and info.trusted_by  # signed, naming who trusted it

    # a record from before signed trust (or a hand edit): the flag alone, no signature
    meta_path = ws / "artifacts" / info.id / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["trusted"], meta["trust"] = True, None
    meta_path.write_text(json.dumps(meta))
    assert not models.get(Workspace(ws), info.id).trusted

    refused = _run(ws, "--no-cache")
    assert refused.returncode == 2 and len(refused.stderr_lines) == 1, str(refused)
    assert "--trust" in refused.stderr_lines[0]

    again = _run(ws, "--no-cache", "--trust")
    assert again.returncode == 0, str(again)
    assert models.get(Workspace(ws), info.id).trusted  # re-signed
