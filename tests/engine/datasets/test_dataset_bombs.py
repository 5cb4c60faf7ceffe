"""Decompression bombs: small files that declare, or decode to, far more than the cap.

Each test builds its bomb, sets ``FRONTIER_MAX_DATA_MB=5`` and checks the
refusal names the cap, memory stays well below the bomb's size (tracemalloc
for NumPy, a fresh process's peak RSS for Arrow, whose allocations tracemalloc
cannot see) and nothing is written to the workspace.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from frontier_support import REPO_ROOT, run_cli, sample, snapshot

from engine import datasets
from engine.errors import FrontierError
from engine.workspace import Workspace

CAP_MB = 5
MB = 2**20


@pytest.fixture(autouse=True)
def small_cap(monkeypatch):
    monkeypatch.setenv("FRONTIER_MAX_DATA_MB", str(CAP_MB))


def _refused_without_trace(tmp_path: Path, path: Path) -> tuple[FrontierError, int]:
    """Read and register ``path``; return the refusal and the traced memory peak. Nothing may be written."""
    ws = Workspace.open(tmp_path / "ws")
    before = snapshot(ws.root)
    tracemalloc.start()
    try:
        with pytest.raises(FrontierError) as err:
            datasets.register(ws, datasets.read_file(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert snapshot(ws.root) == before
    assert "\n" not in err.value.message
    return err.value, peak


# ------------------------------------------------------------------- NPZ
def _npz(compressed: bool = True, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _declare_size(data: bytes, member: str, size: int, crc: int) -> bytes:
    """The archive with ``member``'s declared size and CRC rewritten (local header and directory),
    so that the zip reader serves the first ``size`` bytes without complaint."""
    out = bytearray(data)
    name = member.encode()
    for sig, name_len_at, name_at, crc_at in ((b"PK\x03\x04", 26, 30, 14), (b"PK\x01\x02", 28, 46, 16)):
        at = out.find(sig)
        while at >= 0:
            (n,) = struct.unpack_from("<H", out, at + name_len_at)
            if out[at + name_at:at + name_at + n] == name:
                struct.pack_into("<I", out, at + crc_at, crc)
                struct.pack_into("<I", out, at + crc_at + 8, size)  # uncompressed size follows the compressed one
            at = out.find(sig, at + 4)
    return bytes(out)


def test_npz_deflate_bomb_is_refused_from_the_directory(tmp_path):
    """50 MB of zeros deflate to ~50 KB; the declared sizes are refused before any inflation."""
    X = np.zeros((100_000, 1, 8, 8))
    path = tmp_path / "bomb.npz"
    path.write_bytes(_npz(X=X, y=np.zeros(100_000)))
    del X
    assert path.stat().st_size < MB
    err, peak = _refused_without_trace(tmp_path, path)
    assert "FRONTIER_MAX_DATA_MB" in err.message and "5.0 MB" in err.message and "raise" in err.message
    assert peak < 2 * MB, f"traced peak {peak / MB:.1f} MB"


def test_npz_whose_directory_understates_the_member_is_refused_from_the_npy_header(tmp_path):
    """The zip directory claims 1 KB; the .npy header inside declares 50 MB: no array is allocated."""
    X = np.zeros((100_000, 1, 8, 8))
    npy = io.BytesIO()
    np.lib.format.write_array(npy, X)
    data = _npz(X=X, y=np.zeros(100_000))
    del X
    path = tmp_path / "liar.npz"
    path.write_bytes(_declare_size(data, "X.npy", 1000, zlib.crc32(npy.getvalue()[:1000])))
    err, peak = _refused_without_trace(tmp_path, path)
    assert "corrupt or crafted" in err.message
    assert peak < 2 * MB, f"traced peak {peak / MB:.1f} MB"


def test_npz_that_grows_when_converted_to_float32_is_refused(tmp_path):
    """2.4 MB of uint8 images pass the zip's cap but would take 9.6 MB as float32."""
    n = 2_400
    path = tmp_path / "u8.npz"
    path.write_bytes(_npz(compressed=False, X=np.ones((n, 1, 32, 32), dtype=np.uint8), y=np.arange(n) % 2))
    err, peak = _refused_without_trace(tmp_path, path)
    assert "declares arrays of 9.4 MB" in err.message and "FRONTIER_MAX_DATA_MB" in err.message
    assert peak < 2 * MB


def test_npz_object_arrays_refused_before_reading_data(tmp_path):
    arr = np.empty(3, dtype=object)
    arr[:] = [1, "a", None]
    path = tmp_path / "obj.npz"
    path.write_bytes(_npz(X=np.zeros((3, 1, 2, 2)), y=arr))
    err, _ = _refused_without_trace(tmp_path, path)
    assert "will not unpickle" in err.message


def test_npz_with_a_member_outside_the_allow_list_is_refused(tmp_path):
    buf = io.BytesIO(_npz(X=np.zeros((4, 1, 2, 2)), y=np.arange(4) % 2))
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("payload.pkl", b"\x80\x04K\x01.")
    path = tmp_path / "extra.npz"
    path.write_bytes(buf.getvalue())
    err, _ = _refused_without_trace(tmp_path, path)
    assert "unexpected entry 'payload.pkl'" in err.message


def test_npz_truncated_data_is_refused(tmp_path):
    """A header promising more data than the member holds (the directory agreeing with the truncation)."""
    raw = io.BytesIO()
    np.lib.format.write_array(raw, np.zeros((64, 1, 2, 2)))
    npy = raw.getvalue()[:-100]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("X.npy", npy)
        y = io.BytesIO()
        np.lib.format.write_array(y, np.arange(64) % 2)
        zf.writestr("y.npy", y.getvalue())
    path = tmp_path / "short.npz"
    path.write_bytes(buf.getvalue())
    err, _ = _refused_without_trace(tmp_path, path)
    assert "corrupt or crafted" in err.message


def test_npz_under_the_cap_still_reads(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 1, 4, 4))
    path = tmp_path / "ok.npz"
    path.write_bytes(_npz(X=X, y=np.arange(50) % 2))
    ds = datasets.read_file(path)
    np.testing.assert_array_equal(ds.images, X.astype(np.float32))


# --------------------------------------------------------------- Parquet
PROBE = r"""
import json, resource, sys
import pandas, pyarrow.parquet  # imports are not the reader's memory
from engine import datasets
from engine.errors import FrontierError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    datasets.read_file(sys.argv[1])
    error = None
except FrontierError as exc:
    error = exc.message
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": error, "growth_mb": (after - before) / 1024}))
"""


def _read_in_fresh_process(path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTIER_")}
    env |= {"FRONTIER_MAX_DATA_MB": str(CAP_MB), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _dictionary_bomb(path: Path, *, rows: int = 2_000, width: int = 100_000) -> None:
    """One 100 KB string referenced by every row: 200 MB once decoded, a few KB on disk.

    Written without Arrow's schema, so readers see a plain (dictionary-encoded) text column.
    """
    text = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * width]))
    table = pa.table({"s": text, "target": pa.array(np.arange(rows) % 2)})
    pq.write_table(table, path, store_schema=False, compression="zstd")


def test_parquet_dictionary_bomb_stops_while_reading(tmp_path):
    path = tmp_path / "dict.parquet"
    _dictionary_bomb(path)
    assert path.stat().st_size < 64 << 10
    out = _read_in_fresh_process(path)
    assert out["error"] and "decodes to more than the 5.0 MB data limit (FRONTIER_MAX_DATA_MB)" in out["error"]
    assert out["growth_mb"] < 40, out  # the bomb is 200 MB


def test_parquet_declaring_too_many_rows_is_refused_before_reading(tmp_path):
    """8M zeros compress to almost nothing; the footer's row count says 64 MB."""
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"x": pa.array(np.zeros(8_000_000)), "target": pa.array(np.zeros(8_000_000, np.int8))}),
                   path, compression="zstd")
    assert path.stat().st_size < MB
    out = _read_in_fresh_process(path)
    assert out["error"] and "declares a table of" in out["error"] and "raise FRONTIER_MAX_DATA_MB" in out["error"]
    assert out["growth_mb"] < 40, out


def test_parquet_bomb_writes_nothing(tmp_path):
    path = tmp_path / "dict.parquet"
    _dictionary_bomb(path, rows=200)  # 20 MB decoded: over the 5 MB cap, small enough for this process
    err, _ = _refused_without_trace(tmp_path, path)
    assert "FRONTIER_MAX_DATA_MB" in err.message


def test_parquet_file_over_the_cap_is_refused_before_its_footer_is_parsed(tmp_path):
    """A tiny table with 6 MB of footer metadata: small declared data, but a large file to parse."""
    table = pa.table({"x": pa.array(np.arange(10.0)), "target": pa.array(np.arange(10) % 2)})
    table = table.replace_schema_metadata({b"junk": np.random.default_rng(0).bytes(6 * MB)})
    path = tmp_path / "fat_footer.parquet"
    pq.write_table(table, path)
    err, _ = _refused_without_trace(tmp_path, path)
    size = path.stat().st_size / MB  # the metadata is stored twice (Arrow's schema and Parquet's)
    assert f"is a file of {size:.1f} MB, over the 5.0 MB data limit (FRONTIER_MAX_DATA_MB)" in err.message


def test_parquet_cut_into_too_many_row_groups_is_refused(tmp_path, monkeypatch):
    from engine.datasets import parquet_reader

    monkeypatch.setattr(parquet_reader, "MAX_CHUNKS", 100)
    path = tmp_path / "confetti.parquet"
    pq.write_table(pa.table({"x": pa.array(np.arange(1000.0)), "target": pa.array(np.arange(1000) % 2)}),
                   path, row_group_size=10)
    err, _ = _refused_without_trace(tmp_path, path)
    assert "100 row groups of 2 columns" in err.message and "larger row groups" in err.message


# -------------------------------------------------------------------- CSV
def test_csv_larger_than_the_cap_is_refused_unread(tmp_path):
    path = tmp_path / "big.csv"
    line = b"1.5,2.5,0\n"
    path.write_bytes(b"a,b,t\n" + line * (6 * MB // len(line)))
    err, peak = _refused_without_trace(tmp_path, path)
    assert "is a text of 6.0 MB, over the 5.0 MB data limit (FRONTIER_MAX_DATA_MB)" in err.message
    assert peak < MB


def test_csv_whose_fields_decode_past_the_cap_is_refused_before_parsing(tmp_path):
    """2 MB of one-digit fields become 8 bytes each: 8 MB, found by counting separators."""
    path = tmp_path / "dense.csv"
    row = b",".join([b"1"] * 50) + b"\n"
    path.write_bytes(b",".join(f"c{i}".encode() for i in range(50)) + b"\n" + row * (2 * MB // len(row)))
    err, _ = _refused_without_trace(tmp_path, path)
    assert "would take about" in err.message and "FRONTIER_MAX_DATA_MB" in err.message


def test_csv_with_a_harmless_head_and_a_dense_tail_is_refused(tmp_path):
    """The estimate scans the whole text, not only the first rows."""
    path = tmp_path / "tail.csv"
    head = b"a,b\n" + b"123456789.123456789,987654321.987654321\n" * 30_000
    tail = b",\n" * (1_200_000)
    path.write_bytes(head + tail)
    assert path.stat().st_size < CAP_MB * MB
    err, _ = _refused_without_trace(tmp_path, path)
    assert "would take about" in err.message


# -------------------------------------------------------------------- CLI
@pytest.mark.parametrize("kind", ["npz", "parquet", "csv"])
def test_cli_refuses_a_bomb_in_one_line_and_creates_no_workspace(tmp_path, kind):
    path = tmp_path / f"bomb.{kind}"
    if kind == "npz":
        path.write_bytes(_npz(X=np.zeros((100_000, 1, 8, 8)), y=np.zeros(100_000)))
    elif kind == "parquet":
        _dictionary_bomb(path, rows=200)
    else:
        row = b",".join([b"1"] * 50) + b"\n"
        path.write_bytes(b",".join(f"c{i}".encode() for i in range(50)) + b"\n" + row * (2 * MB // len(row)))
    ws = tmp_path / "ws"
    r = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--data", path, "--workspace", ws,
                env={"FRONTIER_MAX_DATA_MB": str(CAP_MB)})
    assert r.returncode == 2, str(r)
    assert len(r.stderr_lines) == 1 and "FRONTIER_MAX_DATA_MB" in r.stderr_lines[0], str(r)
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not ws.exists()
