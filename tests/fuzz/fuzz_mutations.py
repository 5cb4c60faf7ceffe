"""Deterministic malformed model and data files for the upload fuzz tests.

A :class:`Spec` names one case (``kind/seed/op/k``) without building it, so
test ids are known at collection time at no cost; :func:`build` makes its
bytes from the :class:`Corpus` (the bundled sample models, and datasets built
from scikit-learn's bundled data written as CSV, Parquet and NPZ) with a
``numpy.random.Generator`` seeded by the case id. The same id always gives the
same bytes, so every failure is reproducible from its id alone::

    from fuzz_mutations import Corpus, build, spec_by_id
    case = build(spec_by_id("model/digits_logreg.skops/flip/2"), Corpus())

Mutation families: byte level (truncation, flips, zeroed ranges, inserted,
deleted or duplicated chunks, random bytes, empty files), zip level (members
duplicated, added, dropped, nested; central-directory sizes, CRCs, flags and
methods that lie; decompression bombs with honest and lying sizes), format
level (skops schemas, ONNX graphs, ``.pt2`` JSON programs, ``.npy`` headers,
CSV text, Parquet schemas and codecs), renamed suffixes, and odd display or
file names on valid files.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_models" / "artifacts"
GLOBAL_SEED = 20240605
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MB = 2**20

MODEL_SEEDS = ("digits_logreg.skops", "diabetes_ridge.skops", "digits_random_forest.skops",
               "digits_hist_gradient_boosting.skops", "digits_logreg.onnx", "digits_mlp.onnx", "digits_cnn.onnx",
               "digits_mlp.pt", "digits_cnn.pt", "digits_mlp.pt2")
FRAMES = ("iris", "wine", "breast_cancer", "diabetes", "digits")


# ------------------------------------------------------------------ records
@dataclass(frozen=True)
class Spec:
    """One case, unbuilt: what to start from (``seed``) and what to do to it (``op``, variant ``k``)."""

    kind: str                   # "model" or "dataset"
    seed: str                   # corpus entry the case starts from
    op: str                     # mutation (a key of OPS)
    k: int = 0                  # variant of the mutation
    name: str | None = None     # upload name (default: the seed's name)
    display: str | None = None  # display name given with a model

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.seed}/{self.op}/{self.k}"

    @property
    def upload_name(self) -> str:
        return self.name if self.name is not None else self.seed


@dataclass(frozen=True)
class Case:
    """A built case: the bytes to upload and the names they come with."""

    id: str
    kind: str
    name: str
    display: str | None
    data: bytes

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()


# ------------------------------------------------------------------ corpus
class Corpus:
    """The valid files every case starts from (built on first use, then cached)."""

    def model(self, name: str) -> bytes:
        return _sample(name)

    def frame(self, name: str) -> pd.DataFrame:
        return _frame(name).copy()

    def bytes(self, seed: str) -> bytes:
        """The seed file's bytes: a sample model, or ``<frame>.csv|.parquet|.npz``, ``digits_images.npz``."""
        if seed in MODEL_SEEDS:
            return self.model(seed)
        return _dataset_bytes(seed)


@functools.cache
def _sample(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


@functools.cache
def _frame(name: str) -> pd.DataFrame:
    from sklearn import datasets as skd

    loader = {"iris": skd.load_iris, "wine": skd.load_wine, "breast_cancer": skd.load_breast_cancer,
              "diabetes": skd.load_diabetes, "digits": skd.load_digits}[name]
    return loader(as_frame=True).frame


@functools.cache
def _dataset_bytes(seed: str) -> bytes:
    stem, _, suffix = seed.rpartition(".")
    if seed == "digits_images.npz":
        from sklearn.datasets import load_digits

        d = load_digits()
        return npz_bytes(X=d.images[:, None, :, :].astype(np.float32), y=d.target.astype(np.int64))
    frame = _frame(stem)
    if suffix == "csv":
        return frame.to_csv(index=False).encode()
    if suffix == "parquet":
        return parquet_bytes(frame)
    if suffix == "npz":
        return npz_bytes(X=frame.drop(columns="target").to_numpy(np.float64), y=frame["target"].to_numpy())
    raise KeyError(seed)


# ----------------------------------------------------------------- writers
def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=True)
    return buf.getvalue()


def zip_bytes(members: list[tuple[str, bytes]], *, compression: int = zipfile.ZIP_STORED,
              comment: bytes = b"") -> bytes:
    """A zip of ``members`` in order (duplicates kept), with fixed timestamps: the same input, the same bytes."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = compression
                zf.writestr(info, data)
            zf.comment = comment
    return buf.getvalue()


def npz_bytes(compression: int = zipfile.ZIP_STORED, **arrays: np.ndarray) -> bytes:
    """An NPZ as ``np.savez`` writes it, but byte-reproducible (fixed member timestamps)."""
    return zip_bytes([(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()], compression=compression)


def parquet_bytes(frame: pd.DataFrame | None = None, *, table=None, **options) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if table is None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, **options)
    return buf.getvalue()


def members(data: bytes) -> list[tuple[str, bytes, int]]:
    """(name, bytes, compression) of every member of a valid zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i), i.compress_type) for i in zf.infolist()]


def rezip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data, compression in entries:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = compression
                zf.writestr(info, data)
    return buf.getvalue()


def central_headers(data: bytes) -> list[int]:
    """Offsets of the central-directory headers of a zip, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pos, n = zf.start_dir, len(zf.infolist())
    # start_dir is relative to the archive's start; the archives here have nothing prepended
    out = []
    for _ in range(n):
        if data[pos:pos + 4] != b"PK\x01\x02":
            break
        out.append(pos)
        n_name, n_extra, n_comment = struct.unpack("<HHH", data[pos + 28:pos + 34])
        pos += 46 + n_name + n_extra + n_comment
    return out


# central header fields: offset and struct format
CD_FIELDS = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"), "csize": (20, "<I"), "usize": (24, "<I")}


def patch_central(data: bytes, index: int, field: str, value: int) -> bytes:
    offset, fmt = CD_FIELDS[field]
    pos = central_headers(data)[index] + offset
    out = bytearray(data)
    out[pos:pos + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(out)


def central_value(data: bytes, index: int, field: str) -> int:
    offset, fmt = CD_FIELDS[field]
    pos = central_headers(data)[index] + offset
    return struct.unpack(fmt, data[pos:pos + struct.calcsize(fmt)])[0]


BOMB_BYTES = 1 << 30  # what a bomb inflates to: far past both the caps and the tests' memory budget


@functools.cache
def deflate_zeros(n_mb: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``n_mb`` MB of zeros (about 1000x smaller) and its CRC-32.

    One MB is compressed once, ending on a full flush (byte-aligned, no back references),
    and that block repeated: a valid stream built in milliseconds rather than seconds."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(MB)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * n_mb + comp.flush()
    crc, zeros = 0, bytes(MB)
    for _ in range(n_mb):
        crc = zlib.crc32(zeros, crc)
    return stream, crc


def bomb_zip(entries: list[tuple[str, bytes]], bomb_name: str, inflated: int = BOMB_BYTES, *,
             declared: int | None = None) -> bytes:
    """A zip of ``entries`` plus a deflated member of ``inflated`` zeros declaring ``declared`` bytes
    (its true size by default: an honest bomb; smaller: a size that lies). Written by hand, since
    zipfile always writes the true size."""
    body = io.BytesIO()
    central = []
    all_entries = [(n, d, False) for n, d in entries] + [(bomb_name, b"", True)]
    for name, data, is_bomb in all_entries:
        raw_name = name.encode()
        if is_bomb:
            comp, crc = deflate_zeros(inflated // MB)
            usize = inflated if declared is None else declared
            method = 8
        else:
            comp, crc, usize, method = data, zlib.crc32(data), len(data), 0
        offset = body.tell()
        body.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(comp), usize,
                               len(raw_name), 0) + raw_name + comp)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc,
                                   len(comp), usize, len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name)
    start = body.tell()
    cd = b"".join(central)
    body.write(cd)
    body.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), len(cd), start, 0))
    return body.getvalue()


# ----------------------------------------------------------- the operators
Op = Callable[["Corpus", str, np.random.Generator, int], bytes]
OPS: dict[str, Op] = {}


def op(name: str) -> Callable[[Op], Op]:
    def wrap(fn: Op) -> Op:
        OPS[name] = fn
        return fn
    return wrap


def _rng_for(spec: Spec) -> np.random.Generator:
    return np.random.default_rng([GLOBAL_SEED, zlib.crc32(spec.id.encode())])


# byte level -------------------------------------------------------------
@op("truncate")
def _truncate(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    data = c.bytes(seed)
    if k == 0:  # clip the end: zip directories, Parquet footers, protobuf tails
        return data[:len(data) - int(rng.integers(1, min(64, len(data))))]
    if k == 1:  # a short prefix: only the magic survives
        return data[:int(rng.integers(1, 17))]
    return data[:int(rng.integers(1, len(data)))]


@op("flip")
def _flip(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    data = bytearray(c.bytes(seed))
    n = (1, 4, 16, 64)[k % 4]
    if k >= 4:  # flips in the last KB: directories and footers
        lo = max(0, len(data) - 1024)
        positions = lo + rng.choice(len(data) - lo, size=min(n, len(data) - lo), replace=False)
    else:
        positions = rng.choice(len(data), size=min(n, len(data)), replace=False)
    for p in positions:
        data[int(p)] ^= int(rng.integers(1, 256))
    return bytes(data)


@op("zero")
def _zero(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    data = bytearray(c.bytes(seed))
    length = int(rng.integers(16, 4097))
    start = int(rng.integers(0, max(1, len(data) - 16)))
    data[start:start + length] = bytes(len(data[start:start + length]))
    return bytes(data)


@op("insert")
def _insert(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    data = c.bytes(seed)
    at = int(rng.integers(0, len(data)))
    return data[:at] + rng.bytes(int(rng.integers(1, 513))) + data[at:]


@op("delete")
def _delete(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    data = c.bytes(seed)
    at = int(rng.integers(0, len(data) - 1))
    return data[:at] + data[at + int(rng.integers(1, 513)):]


@op("repeat")
def _repeat(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    data = c.bytes(seed)
    at = int(rng.integers(0, len(data) - 1))
    chunk = data[at:at + int(rng.integers(8, 4097))]
    return data[:at] + chunk * 3 + data[at:]


@op("empty")
def _empty(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    return b""


@op("random")
def _random(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """k=0: one byte; 1: 4 KB; 2: a zip's magic then noise; 3: a Parquet's magic at both ends;
    4: a protobuf-like start (ONNX); 5: NUL bytes."""
    body = rng.bytes(4096)
    return [rng.bytes(1), body, b"PK\x03\x04" + body, b"PAR1" + body + b"PAR1", b"\x08\x07\x12\x04" + body,
            bytes(4096)][k]


@op("rename")
def _rename(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The seed's valid bytes under another suffix (the spec's ``name``)."""
    return c.bytes(seed)


@op("name")
def _name(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The seed's valid bytes under an odd upload or display name (the spec's ``name``/``display``)."""
    return c.bytes(seed)


@op("badname")
def _badname(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """Bytes that are refused (noise for a model, a one-column CSV for a dataset) under an odd name
    (the spec's ``name``): the refusal has to name the file without breaking its one line."""
    return b"only_one_column\n1\n2\n" if seed.endswith(".csv") else rng.bytes(2048)


@op("prepend")
def _prepend(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    return rng.bytes(int(rng.integers(1, 200))) + c.bytes(seed)


@op("append")
def _append(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    return c.bytes(seed) + rng.bytes(int(rng.integers(1, 200)))


# zip level --------------------------------------------------------------
KEY_MEMBER = {".skops": "schema.json", ".pt2": "models/model.json", ".pt": "data.pkl", ".npz": "X.npy"}


def _key_index(entries: list[tuple[str, bytes, int]], seed: str) -> int:
    key = KEY_MEMBER[Path(seed).suffix]
    return next(i for i, (n, _, _) in enumerate(entries) if n == key or n.endswith("/" + key))


@op("zip_dup")
def _zip_dup(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """A member twice, the copy altered (k=0: the key member; else a random one)."""
    entries = members(c.bytes(seed))
    i = _key_index(entries, seed) if k == 0 else int(rng.integers(0, len(entries)))
    name, data, comp = entries[i]
    altered = bytearray(data or b"x")
    altered[int(rng.integers(0, len(altered)))] ^= 0x55
    copy = (name, bytes(altered), comp)
    return rezip([*entries, copy] if k % 2 == 0 else [copy, *entries])


@op("zip_drop")
def _zip_drop(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    entries = members(c.bytes(seed))
    i = _key_index(entries, seed) if k == 0 else int(rng.integers(0, len(entries)))
    return rezip(entries[:i] + entries[i + 1:])


EXTRA_NAMES = ("evil.py", "../escape.npy", "/abs/path.npy", "dir/../../up.npy", "C:x.npy", "a\\b.npy",
               "extra.npy", "notes.txt", "schema.json/", "ÿ.npy")


@op("zip_extra")
def _zip_extra(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    entries = members(c.bytes(seed))
    root = entries[0][0].split("/")[0] + "/" if "/" in entries[0][0] else ""
    name = EXTRA_NAMES[k % len(EXTRA_NAMES)]
    payload = npy_bytes(np.arange(4.0)) if name.endswith(".npy") else b"import os\n"
    at = int(rng.integers(0, len(entries) + 1))
    return rezip([*entries[:at], (root + name if k >= len(EXTRA_NAMES) else name, payload, 0), *entries[at:]])


@op("zip_nested")
def _zip_nested(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The whole archive as the content of its own key member."""
    data = c.bytes(seed)
    entries = members(data)
    i = _key_index(entries, seed)
    name, _, comp = entries[i]
    return rezip([*entries[:i], (name, data, comp), *entries[i + 1:]])


@op("zip_method")
def _zip_method(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The key member compressed with bzip2 or lzma (k), or a method number no one knows (k=2)."""
    entries = members(c.bytes(seed))
    i = _key_index(entries, seed)
    if k < 2:
        name, data, _ = entries[i]
        entries[i] = (name, data, (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)[k])
        return rezip(entries)
    return patch_central(rezip(entries), i, "method", 99)


@op("zip_lie")
def _zip_lie(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The central directory lies about the key member: k=0 size far too small, 1 huge (4 GB),
    2 compressed size too large, 3 wrong CRC, 4 encrypted flag, 5 a data-descriptor flag."""
    entries = members(c.bytes(seed))
    i = _key_index(entries, seed)
    data = rezip(entries)
    if k == 0:
        return patch_central(data, i, "usize", max(1, central_value(data, i, "usize") // 16))
    if k == 1:
        return patch_central(data, i, "usize", 0xFFFF_FFF0)
    if k == 2:
        return patch_central(data, i, "csize", central_value(data, i, "csize") + 4096)
    if k == 3:
        return patch_central(data, i, "crc", central_value(data, i, "crc") ^ 0xDEADBEEF)
    if k == 4:
        return patch_central(data, i, "flags", central_value(data, i, "flags") | 0x1)
    return patch_central(data, i, "flags", central_value(data, i, "flags") | 0x8)


@op("zip_bomb")
def _zip_bomb(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The key member replaced by 1 GB of deflated zeros (a 1 MB member): k=0 declares its true
    size, k=1 declares 1 KB (a lie the reader must catch while inflating)."""
    entries = members(c.bytes(seed))
    i = _key_index(entries, seed)
    name = entries[i][0]
    rest = [(n, d) for j, (n, d, _) in enumerate(entries) if j != i]
    return bomb_zip(rest, name, declared=None if k == 0 else 1024)


@op("zip_empty")
def _zip_empty(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    return zip_bytes([], comment=b"" if k == 0 else rng.bytes(2000))


# skops ------------------------------------------------------------------
def _skops_with_schema(c: Corpus, seed: str, schema: bytes) -> bytes:
    entries = members(c.bytes(seed))
    i = _key_index(entries, seed)
    entries[i] = (entries[i][0], schema, entries[i][2])
    return rezip(entries)


def _schema(c: Corpus, seed: str) -> dict:
    entries = members(c.bytes(seed))
    return json.loads(entries[_key_index(entries, seed)][1])


def _walk(obj, path=()):
    """Every (path, dict) in a JSON tree."""
    if isinstance(obj, dict):
        yield path, obj
        for key, value in obj.items():
            yield from _walk(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _walk(value, (*path, i))


@op("skops_text")
def _skops_text(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """schema.json's text cut short (k=0) or with flipped bytes (k>0); the zip itself is sound."""
    entries = members(c.bytes(seed))
    text = bytearray(entries[_key_index(entries, seed)][1])
    if k == 0:
        return _skops_with_schema(c, seed, bytes(text[:int(rng.integers(1, len(text)))]))
    for p in rng.choice(len(text), size=4 * k, replace=False):
        text[int(p)] ^= int(rng.integers(1, 128))
    return _skops_with_schema(c, seed, bytes(text))


CLASS_SWAPS = ("eval", "system", "Popen", "LogisticRegression", "dict", "ndarray", "", "x" * 5000, "__reduce__",
               "Tree")
MODULE_SWAPS = ("builtins", "os", "subprocess", "numpy", "sklearn.linear_model._logistic", "", "numpy.testing",
                "sklearn.tree._tree", "..", "nonexistent.module")
LOADER_SWAPS = ("FunctionNode", "ObjectNode", "NdArrayNode", "MethodNode", "NotALoader", "", "ListNode",
                "TypeNode", "JsonNode", "SparseMatrixNode")
VALUE_SWAPS = (None, 0, -1, 2**70, 1e308, "", "x" * 1000, [], {}, [[[[]]]], True, {"__class__": "dict"})


@op("skops_swap")
def _skops_swap(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """One node's class (k%4=0), module (1), loader (2) or some value (3) swapped for another."""
    schema = _schema(c, seed)
    nodes = [d for _, d in _walk(schema) if "__class__" in d]
    node = nodes[int(rng.integers(0, len(nodes)))]
    which = k % 4
    if which == 0:
        node["__class__"] = CLASS_SWAPS[int(rng.integers(0, len(CLASS_SWAPS)))]
    elif which == 1:
        node["__module__"] = MODULE_SWAPS[int(rng.integers(0, len(MODULE_SWAPS)))]
    elif which == 2:
        node["__loader__"] = LOADER_SWAPS[int(rng.integers(0, len(LOADER_SWAPS)))]
    else:
        keys = [key for key in node if not key.startswith("__")] or list(node)
        node[keys[int(rng.integers(0, len(keys)))]] = VALUE_SWAPS[int(rng.integers(0, len(VALUE_SWAPS)))]
    return _skops_with_schema(c, seed, json.dumps(schema).encode())


@op("skops_deep")
def _skops_deep(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """A schema nested 50,000 levels deep (k=0: lists; k=1: dict nodes skops would recurse into)."""
    depth = 50_000
    if k == 0:
        text = "[" * depth + "]" * depth
    else:
        node = '{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": ['
        text = node * depth + "]}" * depth
    return _skops_with_schema(c, seed, text.encode())


@op("skops_npy")
def _skops_npy(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """One ``.npy`` member replaced: k=0 an object (pickled) array, 1 a header claiming 10^12 values,
    2 a header that is Python code, 3 a Fortran-ordered 3-D array, 4 text bytes."""
    entries = members(c.bytes(seed))
    npys = [i for i, (n, _, _) in enumerate(entries) if n.endswith(".npy")]
    i = npys[int(rng.integers(0, len(npys)))]
    if k == 0:
        payload = npy_bytes(np.array([{"a": 1}, len], dtype=object))
    elif k == 1:
        payload = _npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }")
    elif k == 2:
        payload = _npy_with_header("{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (3,), }")
    elif k == 3:
        payload = npy_bytes(np.asfortranarray(np.ones((2, 3, 4))))
    else:
        payload = b"hello, not an array"
    entries[i] = (entries[i][0], payload, entries[i][2])
    return rezip(entries)


def _npy_with_header(header: str, body: bytes = b"\x00" * 64, version: tuple[int, int] = (1, 0)) -> bytes:
    text = header.encode("latin1")
    if version == (1, 0):
        pad = (64 - (10 + len(text) + 1) % 64) % 64
        text = text + b" " * pad + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body
    pad = (64 - (12 + len(text) + 1) % 64) % 64
    text = text + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(text)) + text + body


@op("skops_object")
def _skops_object(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """A valid skops file of something that is not a fitted estimator (``seed`` only names the suffix)."""
    import skops.io as sio
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    iris = _frame("iris")
    objects = [
        lambda: [1, 2, 3],
        lambda: {"coef_": [1.0, 2.0]},
        lambda: np.arange(12.0).reshape(3, 4),
        lambda: 42,
        lambda: LogisticRegression(),  # not fitted
        lambda: StandardScaler().fit(iris.iloc[:, :4]),  # a transformer: no predict
        lambda: FunctionTransformer(np.log1p),  # a callable: needs trust
        lambda: KMeans(n_clusters=2, n_init=1, random_state=0).fit(iris.iloc[:, :4].to_numpy()),  # off the list
        lambda: "just a string",
        lambda: None,
    ]
    return _stable_skops(sio.dumps(objects[k]()))


def _stable_skops(data: bytes) -> bytes:
    """A skops file with its object ids (memory addresses) renumbered and fixed timestamps: the same
    object always gives the same bytes."""
    entries = members(data)
    schema = json.loads(next(d for n, d, _ in entries if n == "schema.json"))
    ids: dict[int, int] = {}
    for _, node in _walk(schema):
        if isinstance(node.get("__id__"), int):
            ids.setdefault(node["__id__"], len(ids) + 1)

    def fix(obj):
        if isinstance(obj, list):
            return [fix(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        out = {}
        for key, value in obj.items():
            if key == "__id__" or (key == "content" and obj.get("__loader__") == "CachedNode"):
                value = ids.get(value, value)
            elif key == "file" and isinstance(value, str) and value.removesuffix(".npy").isdigit():
                value = f"{ids.get(int(value.removesuffix('.npy')), 0)}.npy"
            out[key] = fix(value)
        return out

    renamed = []
    for name, payload, comp in entries:
        if name == "schema.json":
            payload = json.dumps(fix(schema), indent=2).encode()
        elif name.removesuffix(".npy").isdigit():
            name = f"{ids.get(int(name.removesuffix('.npy')), 0)}.npy"
        renamed.append((name, payload, comp))
    return rezip(sorted(renamed))


# ONNX -------------------------------------------------------------------
def _onnx_model(c: Corpus, seed: str):
    import onnx

    return onnx.load_from_string(c.bytes(seed))


@op("onnx_graph")
def _onnx_graph(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """Structural lies in a parsed ONNX model, re-serialised (see the list below, by k)."""
    import onnx
    from onnx import TensorProto, helper

    m = _onnx_model(c, seed)
    g = m.graph
    init = g.initializer[int(rng.integers(0, len(g.initializer)))] if len(g.initializer) else None
    if k == 0:  # an initializer declaring 2^40 values, its data unchanged
        del init.dims[:]
        init.dims.extend([2**20, 2**20])
    elif k == 1:  # negative dims
        del init.dims[:]
        init.dims.extend([-1, 5])
    elif k == 2:  # an input dimension of 2^62
        g.input[0].type.tensor_type.shape.dim[-1].dim_value = 2**62
    elif k == 3:  # no graph at all
        m.ClearField("graph")
    elif k == 4:  # an operator from a domain no runtime has
        g.node[0].domain = "evil.custom"
    elif k == 5:  # an operator no one defines
        g.node[int(rng.integers(0, len(g.node)))].op_type = "NotAnOp"
    elif k == 6:  # opset 999
        m.opset_import[0].version = 999
    elif k == 7:  # a second input
        g.input.append(helper.make_tensor_value_info("second", TensorProto.FLOAT, [1, 2]))
    elif k == 8:  # a string input
        g.input[0].type.tensor_type.elem_type = TensorProto.STRING
    elif k == 9:  # weights "stored" outside the file, escaping the folder
        _external(init, "../../../../etc/passwd")
    elif k == 10:
        _external(init, "/etc/passwd")
    elif k == 11:
        _external(init, "weights.bin")
    elif k == 12:
        _external(init, "meta.json")
    elif k == 13:  # a cycle: the first node with inputs reads the last node's output
        next(n for n in g.node if len(n.input)).input[0] = g.node[-1].output[0]
    elif k == 14:  # IR version 0
        m.ir_version = 0
    elif k == 15:  # an input without a type
        g.input[0].ClearField("type")
    elif k == 16:  # a sequence input
        g.input[0].type.CopyFrom(helper.make_sequence_type_proto(
            helper.make_tensor_type_proto(TensorProto.FLOAT, [1, 64])))
    elif k == 17:  # raw data shorter than the dims declare
        init.raw_data = init.raw_data[:max(0, len(init.raw_data) // 2 - 1)] if init.raw_data else b"\x00"
    elif k == 18:  # markup and NUL in names and docs
        g.name = "<script>alert(1)</script>\x00"
        m.doc_string = "**bold** <img src=x onerror=alert(1)>"
        m.producer_name = "\u202eevil"
    elif k == 19:  # a model-local function that calls itself, used by a node
        f = helper.make_function("local", "Loop1", ["x"], ["y"],
                                 [helper.make_node("Loop1", ["x"], ["y"], domain="local")],
                                 [helper.make_opsetid("", 17)])
        m.functions.append(f)
        m.opset_import.append(helper.make_opsetid("local", 1))
        n = next(n for n in g.node if len(n.input))
        n.CopyFrom(helper.make_node("Loop1", [n.input[0]], [n.output[0]], domain="local"))
    elif k == 20:  # an output that no node produces
        g.output[0].name = "nowhere"
    elif k == 21:  # a node attribute holding a huge declared tensor
        t = onnx.TensorProto()
        t.data_type = TensorProto.FLOAT
        t.dims.extend([2**31, 2**31])
        g.node.append(helper.make_node("Constant", [], ["huge_const"], value=t))
    return m.SerializeToString()


def _external(init, location: str) -> None:
    import onnx

    init.ClearField("raw_data")
    del init.float_data[:]
    init.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "64")):
        entry = init.external_data.add()
        entry.key, entry.value = key, value


# .pt2 -------------------------------------------------------------------
def _pt2_with(c: Corpus, seed: str, rel: str, payload: bytes | None) -> bytes:
    entries = members(c.bytes(seed))
    root = entries[0][0].split("/")[0]
    names = [n for n, _, _ in entries]
    full = f"{root}/{rel}"
    if payload is None:
        return rezip([e for e in entries if e[0] != full])
    if full in names:
        i = names.index(full)
        entries[i] = (full, payload, entries[i][2])
    else:
        entries.append((full, payload, 0))
    return rezip(entries)


def _pt2_json(c: Corpus, seed: str, rel: str):
    entries = dict((n.split("/", 1)[1], d) for n, d, _ in members(c.bytes(seed)))
    return json.loads(entries[rel])


class _Evil:
    def __reduce__(self):
        import os

        return (os.getcwd, ())


@op("pt2_program")
def _pt2_program(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
    """The exported program's JSON (models/model.json) and its neighbours, altered (by k)."""
    import pickle

    rel = "models/model.json"
    program = _pt2_json(c, seed, rel)
    text = json.dumps(program)
    if k == 0:  # cut short
        return _pt2_with(c, seed, rel, text.encode()[:int(rng.integers(1, len(text)))])
    if k == 1:  # a call target that runs a shell
        return _pt2_with(c, seed, rel, text.replace('"torch.ops.aten.', '"torch.os.system.', 1).encode())
    if k == 2:  # an ATen op that reads files
        return _pt2_with(c, seed, rel, text.replace('"torch.ops.aten.linear.default"',
                                                    '"torch.ops.aten.from_file.default"', 1).encode())
    if k == 3:  # guard code
        program["guards_code"] = ["import os; os.getcwd()"]
    elif k == 4:  # a shape expression that is Python
        program.setdefault("graph_module", {}).setdefault("graph", {})["extra"] = {
            "expr_str": "__import__('os').getcwd()"}
    elif k == 5:  # sizes that lie: huge, negative, text
        values = program["graph_module"]["graph"]["tensor_values"]
        for i, value in enumerate(values.values()):
            for d in value.get("sizes", []):
                d["as_int"] = [10**30, -5, "abc", None][i % 4]
    elif k == 6:  # an unknown dtype everywhere
        for value in program["graph_module"]["graph"]["tensor_values"].values():
            value["dtype"] = 999
    elif k == 7:  # input specs of the wrong shape
        program["graph_module"]["signature"]["input_specs"] = [{"user_input": {"arg": "not a dict"}}, 5, None]
    elif k == 8:  # JSON nested past any recursion limit
        return _pt2_with(c, seed, rel, ("[" * 100_000 + "]" * 100_000).encode())
    elif k == 9:  # weights config asking for pickle
        config = _pt2_json(c, seed, "data/weights/model_weights_config.json")
        for meta in config["config"].values():
            meta["use_pickle"] = True
        return _pt2_with(c, seed, "data/weights/model_weights_config.json", json.dumps(config).encode())
    elif k == 10:  # weights config of the wrong shape
        return _pt2_with(c, seed, "data/weights/model_weights_config.json", b'{"config": [1, 2, 3]}')
    elif k == 11:  # sample inputs that are a pickle calling a function
        return _pt2_with(c, seed, "data/sample_inputs/model.pt", pickle.dumps(_Evil()))
    elif k == 12:  # native code
        return _pt2_with(c, seed, "data/aotinductor/model/model.so", b"\x7fELF" + bytes(64))
    elif k == 13:  # the legacy layout (no archive_format)
        return _pt2_with(c, seed, "archive_format", None)
    elif k == 14:  # the program missing
        return _pt2_with(c, seed, rel, None)
    elif k == 15:  # sample inputs that are a zip bomb
        return _pt2_with(c, seed, "data/sample_inputs/model.pt",
                         bomb_zip([], "archive/data.pkl"))
    elif k == 16:  # the program is a JSON list, not an object
        return _pt2_with(c, seed, rel, b"[1, 2, 3]")
    elif k == 17:  # two top-level folders
        entries = members(c.bytes(seed))
        entries.append(("other/archive_format", b"pt2", 0))
        return rezip(entries)
    return _pt2_with(c, seed, rel, json.dumps(program).encode())


# CSV ---------------------------------------------------------------------
def _csv(frame: pd.DataFrame, **options) -> bytes:
    return frame.to_csv(index=False, **options).encode()


def _cells(frame: pd.DataFrame, rng: np.random.Generator, share: float, *, features_only: bool = True):
    cols = [c for c in frame.columns if c != "target"] if features_only else list(frame.columns)
    n = max(1, int(share * len(frame) * len(cols)))
    rows = rng.integers(0, len(frame), n)
    picks = rng.integers(0, len(cols), n)
    return [(int(r), cols[int(p)]) for r, p in zip(rows, picks, strict=True)]


def _with_values(frame: pd.DataFrame, rng: np.random.Generator, values: list, share: float = 0.1,
                 features_only: bool = True) -> pd.DataFrame:
    frame = frame.astype(object)
    for r, col in _cells(frame, rng, share, features_only=features_only):
        frame.at[r, col] = values[int(rng.integers(0, len(values)))]
    return frame


CSV_OPS: dict[str, Callable[[pd.DataFrame, np.random.Generator], bytes]] = {
    # encodings
    "utf16": lambda f, r: f.to_csv(index=False).encode("utf-16"),
    "utf16le": lambda f, r: f.to_csv(index=False).encode("utf-16-le"),
    "utf32": lambda f, r: f.to_csv(index=False).encode("utf-32"),
    "utf8_bom": lambda f, r: b"\xef\xbb\xbf" + _csv(f),
    "latin1": lambda f, r: f.rename(columns={f.columns[0]: "längd (cm)"}).to_csv(index=False).encode("latin-1"),
    "invalid_utf8": lambda f, r: _csv(f).replace(b"\n", b"\n\xff\xfe\xfa", 3),
    "cp1252_text": lambda f, r: f.assign(note="café – “quoted”").to_csv(index=False).encode("cp1252"),
    # delimiters and line ends
    "semicolon": lambda f, r: _csv(f, sep=";"),
    "tab": lambda f, r: _csv(f, sep="\t"),
    "pipe": lambda f, r: _csv(f, sep="|"),
    "decimal_comma": lambda f, r: _csv(f, sep=";", decimal=","),
    "crlf": lambda f, r: _csv(f, lineterminator="\r\n"),
    "cr_only": lambda f, r: _csv(f, lineterminator="\r"),
    "sep_hint": lambda f, r: b"sep=;\n" + _csv(f, sep=";"),
    # missing and special values
    "nan_cells": lambda f, r: _csv(_with_values(f, r, [np.nan])),
    "nan_words": lambda f, r: _csv(_with_values(f, r, ["NaN", "nan", "NA", "null", "None", "#N/A", "-", "?"])),
    "inf": lambda f, r: _csv(_with_values(f, r, ["inf", "-inf", "Infinity", "1e400", "-1e999"])),
    "target_nan": lambda f, r: _csv(f.assign(target=np.where(np.arange(len(f)) % 3 == 0, np.nan, f["target"]))),
    "target_all_nan": lambda f, r: _csv(f.assign(target=np.nan)),
    "target_constant": lambda f, r: _csv(f.assign(target=0)),
    "target_unique": lambda f, r: _csv(f.assign(target=[f"id{i}" for i in range(len(f))])),
    "target_bool": lambda f, r: _csv(f.assign(target=f["target"] > 0)),
    "target_huge_int": lambda f, r: _csv(f.assign(target=["99999999999999999999999"] * len(f))),
    "all_nan_features": lambda f, r: _csv(f.assign(**{c: np.nan for c in f.columns if c != "target"})),
    # types
    "mixed_types": lambda f, r: _csv(_with_values(f, r, ["abc", "12abc", "1.2.3", "TRUE", "0x1F"], 0.02)),
    "bool_column": lambda f, r: _csv(f.assign(flag=np.arange(len(f)) % 2 == 0)),
    "date_column": lambda f, r: _csv(f.assign(when=pd.date_range("2020-01-01", periods=len(f), freq="D"))),
    "all_text": lambda f, r: _csv(f.astype(str).apply(lambda s: "v" + s)),
    "huge_numbers": lambda f, r: _csv(_with_values(f, r, ["1e308", "-1e308", "123456789012345678901234567890",
                                                          "4.9e-324"])),
    "thousands": lambda f, r: _csv(_with_values(f, r, ["1,000.5", "2,000,000"])),
    "whitespace": lambda f, r: _csv(f).replace(b",", b" ,  "),
    # structure
    "ragged_extra": lambda f, r: _csv(f).replace(b"\n", b",1,2,3\n", 5),
    "ragged_short": lambda f, r: b"\n".join(line.rsplit(b",", 1)[0] if i % 7 == 3 else line
                                            for i, line in enumerate(_csv(f).split(b"\n"))),
    "unterminated_quote": lambda f, r: _csv(f).replace(b"\n", b'\n"', 1),
    "quoted_newlines": lambda f, r: _csv(f.assign(note='line one\nline, two "quoted"')),
    "stray_quotes": lambda f, r: _csv(f).replace(b",", b',"', 3),
    "header_only": lambda f, r: _csv(f).split(b"\n", 1)[0] + b"\n",
    "no_header": lambda f, r: _csv(f).split(b"\n", 1)[1],
    "dup_header": lambda f, r: _csv(f.set_axis(["a"] * (f.shape[1] - 1) + ["target"], axis=1)),
    "empty_header": lambda f, r: b"," * (f.shape[1] - 1) + b"\n" + _csv(f).split(b"\n", 1)[1],
    "single_row": lambda f, r: _csv(f.iloc[:1]),
    "two_rows": lambda f, r: _csv(f.iloc[:2]),
    "single_column": lambda f, r: _csv(f[["target"]]),
    "wide": lambda f, r: _csv(pd.DataFrame(r.integers(0, 9, (20, 1000)), columns=[f"c{i}" for i in range(1000)])),
    "long_field": lambda f, r: _csv(f.assign(note=["x" * (2 * MB) if i == 0 else "" for i in range(len(f))])),
    "long_header": lambda f, r: _csv(f.rename(columns={f.columns[0]: "h" * 100_000})),
    "markup_header": lambda f, r: _csv(f.set_axis(["<script>alert(1)</script>", "**bold**", "=cmd|' /C calc'!A0",
                                                   "a\x00b", *f.columns[4:]], axis=1)),
    "ansi_header": lambda f, r: _csv(f.assign(**{"\x1b[2J\x1b[31mred": ["a", "b"] * (len(f) // 2)})),
    "unicode_header": lambda f, r: _csv(f.set_axis(["🙂", "\u202eevil", "名前", "ß", *f.columns[4:]], axis=1)),
    "nul_bytes": lambda f, r: _csv(f).replace(b".", b".\x00", 7),
    "comment_lines": lambda f, r: b"# exported by a tool\n# another comment\n" + _csv(f),
    "only_newlines": lambda f, r: b"\n" * 1000,
    "garbage_rows": lambda f, r: _csv(f) + r.bytes(300) + b"\n",
    "duplicate_rows": lambda f, r: _csv(pd.concat([f.iloc[:1]] * 200, ignore_index=True)),
    "field_bomb": lambda f, r: b"a,b\n" + b"," * (7 * MB) + b"\n",
    "rows_bomb": lambda f, r: b"a,b\n" + b"1,2\n" * (2 * MB - 10),
    "index_column": lambda f, r: f.to_csv(index=True).encode(),
}

CSV_FRAMES = {  # which frame each CSV op starts from (iris unless named)
    "markup_header": "iris", "unicode_header": "iris", "target_huge_int": "wine", "all_text": "wine",
    "decimal_comma": "diabetes", "inf": "diabetes", "nan_cells": "breast_cancer", "mixed_types": "breast_cancer",
    "long_field": "wine", "thousands": "wine",
}


def _csv_op(name: str) -> Op:
    def fn(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
        return CSV_OPS[name](c.frame(seed.rpartition(".")[0]), rng)
    return fn


for _name in CSV_OPS:
    OPS[f"csv_{_name}"] = _csv_op(_name)


# Parquet ------------------------------------------------------------------
def _pq_table(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def _pq_add(frame: pd.DataFrame, name: str, array, *, replace: bool = False) -> bytes:
    table = _pq_table(frame.drop(columns=[name]) if replace else frame)
    return parquet_bytes(table=table.append_column(name, array))


def _pq_dict_bomb(frame: pd.DataFrame) -> bytes:
    """A text column whose one 4 MB value repeats on every row: a few KB on disk (one dictionary
    entry, compressed), 600 MB decoded. Stored without the Arrow schema, so it reads back as
    plain text, not a dictionary."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    blob = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(frame), dtype=np.int32)),
                                          pa.array(["x" * (4 * MB)]))
    table = _pq_table(frame).append_column("blob", blob)
    buf = io.BytesIO()
    pq.write_table(table, buf, store_schema=False, compression="zstd")
    return buf.getvalue()


def _pq_ops():
    import pyarrow as pa

    n = lambda f: len(f)  # noqa: E731
    return {
        "list_column": lambda f, r: _pq_add(f, "tags", pa.array([[i, i + 1] for i in range(n(f))])),
        "struct_column": lambda f, r: _pq_add(f, "point", pa.array([{"x": i, "y": 1.5} for i in range(n(f))])),
        "map_column": lambda f, r: _pq_add(f, "props", pa.array([[("k", i)] for i in range(n(f))],
                                                                 type=pa.map_(pa.string(), pa.int64()))),
        "list_target": lambda f, r: _pq_add(f, "target", pa.array([[int(t)] for t in f["target"]]), replace=True),
        "nested_list": lambda f, r: _pq_add(f, "deep", pa.array([[[[i]]] for i in range(n(f))])),
        "dictionary": lambda f, r: parquet_bytes(f.assign(kind=pd.Categorical(["a", "b", "c"] * (n(f) // 3)
                                                                              + ["a"] * (n(f) % 3)))),
        "decimal": lambda f, r: _pq_add(f, "price", pa.array([__import__("decimal").Decimal("1.25")] * n(f))),
        "timestamp_tz": lambda f, r: parquet_bytes(f.assign(when=pd.date_range("2020", periods=n(f), tz="UTC"))),
        "date32": lambda f, r: _pq_add(f, "day", pa.array(np.arange(n(f), dtype="int32"), pa.int32()).cast(
            pa.date32())),
        "time64": lambda f, r: _pq_add(f, "clock", pa.array(np.arange(n(f), dtype="int64"), pa.time64("us"))),
        "duration": lambda f, r: _pq_add(f, "took", pa.array(np.arange(n(f), dtype="int64"), pa.duration("s"))),
        "large_string": lambda f, r: _pq_add(f, "note", pa.array(["x"] * n(f), pa.large_string())),
        "binary": lambda f, r: _pq_add(f, "blob", pa.array([b"\x00\xff"] * n(f), pa.binary())),
        "null_column": lambda f, r: _pq_add(f, "nothing", pa.nulls(n(f))),
        "float16": lambda f, r: _pq_add(f, "half", pa.array(np.ones(n(f), dtype=np.float16))),
        "uint64_huge": lambda f, r: _pq_add(f, "big", pa.array(np.full(n(f), 2**64 - 1, dtype=np.uint64))),
        "int_nulls": lambda f, r: _pq_add(f, "sparse", pa.array([None if i % 2 else i for i in range(n(f))],
                                                                pa.int64())),
        "all_null_target": lambda f, r: _pq_add(f, "target", pa.nulls(n(f), pa.float64()), replace=True),
        "dup_names": lambda f, r: parquet_bytes(table=pa.table([pa.array(f.iloc[:, 0]), pa.array(f.iloc[:, 1]),
                                                                pa.array(f["target"])], names=["a", "a", "target"])),
        "zero_rows": lambda f, r: parquet_bytes(f.iloc[:0]),
        "one_column": lambda f, r: parquet_bytes(f[["target"]]),
        "bool_target": lambda f, r: parquet_bytes(f.assign(target=f["target"] > 0)),
        "many_groups": lambda f, r: parquet_bytes(f, row_group_size=3),
        "wide": lambda f, r: parquet_bytes(pd.DataFrame(r.integers(0, 9, (20, 1000)),
                                                        columns=[f"c{i}" for i in range(1000)])),
        "zstd": lambda f, r: parquet_bytes(f, compression="zstd"),
        "brotli": lambda f, r: parquet_bytes(f, compression="brotli"),
        "gzip": lambda f, r: parquet_bytes(f, compression="gzip"),
        "lz4": lambda f, r: parquet_bytes(f, compression="lz4"),
        "uncompressed": lambda f, r: parquet_bytes(f, compression="none"),
        "dict_bomb": lambda f, r: _pq_dict_bomb(f),
        "pandas_meta_garbage": lambda f, r: parquet_bytes(table=_pq_table(f).replace_schema_metadata(
            {b"pandas": b"{not json"})),
        "pandas_meta_lies": lambda f, r: parquet_bytes(table=_pq_table(f).replace_schema_metadata({b"pandas": json.dumps({
            "index_columns": ["missing_index"], "column_indexes": [], "columns": [
                {"name": "sepal length (cm)", "field_name": "nope", "pandas_type": "categorical",
                 "numpy_type": "int8", "metadata": {"num_categories": 3, "ordered": False}}],
            "pandas_version": "9.9"}).encode()})),
        "pandas_meta_extension": lambda f, r: parquet_bytes(table=_pq_table(f).replace_schema_metadata({b"pandas": json.dumps({
            "index_columns": [], "column_indexes": [], "columns": [
                {"name": c, "field_name": c, "pandas_type": "float64", "numpy_type": "period[D]", "metadata": None}
                for c in f.columns], "pandas_version": "2.2"}).encode()})),
        "markup_names": lambda f, r: parquet_bytes(f.set_axis(["<b>x</b>", "a\x00b", "", "**m**", *f.columns[4:]],
                                                              axis=1)),
        "no_end_magic": lambda f, r: parquet_bytes(f)[:-4] + b"PAR0",
        "footer_length_lie": lambda f, r: (lambda d: d[:-8] + struct.pack("<I", 2**31 - 1) + d[-4:])(
            parquet_bytes(f)),
    }


PQ_OPS = (
    "list_column", "struct_column", "map_column", "list_target", "nested_list", "dictionary", "decimal",
    "timestamp_tz", "date32", "time64", "duration", "large_string", "binary", "null_column", "float16",
    "uint64_huge", "int_nulls", "all_null_target", "dup_names", "zero_rows", "one_column", "bool_target",
    "many_groups", "wide", "zstd", "brotli", "gzip", "lz4", "uncompressed", "dict_bomb", "pandas_meta_garbage",
    "pandas_meta_lies", "pandas_meta_extension", "markup_names", "no_end_magic", "footer_length_lie",
)


def _pq_op(name: str) -> Op:
    def fn(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
        return _pq_ops()[name](c.frame(seed.rpartition(".")[0]), rng)
    return fn


for _name in PQ_OPS:
    OPS[f"pq_{_name}"] = _pq_op(_name)


# NPZ -----------------------------------------------------------------------
def _iris_arrays() -> tuple[np.ndarray, np.ndarray]:
    f = _frame("iris")
    return f.drop(columns="target").to_numpy(np.float64), f["target"].to_numpy()


def _longdouble(X: np.ndarray) -> np.ndarray:
    """``X`` as long doubles with their padding bytes zeroed (else they hold whatever memory held)."""
    out = X.astype(np.longdouble)
    if np.finfo(np.longdouble).nmant == 63 and out.itemsize > 10:  # x87 80-bit values in 12 or 16 bytes
        out.view(np.uint8).reshape(*out.shape, out.itemsize)[..., 10:] = 0
    return out


def _npz_ops():
    X, y = _iris_arrays()
    n = len(X)
    img = np.random.default_rng(0).random((30, 1, 8, 8)).astype(np.float32)
    obj = np.empty(n, dtype=object)
    obj[:] = [{"row": i} for i in range(n)]
    x_hdr = lambda header, body=b"\x00" * 64: zip_bytes([("X.npy", _npy_with_header(header, body)),  # noqa: E731
                                                         ("y.npy", npy_bytes(y))])
    return {
        "object_X": lambda: npz_bytes(X=X.astype(object), y=y),
        "object_y": lambda: npz_bytes(X=X, y=obj),
        "rows_mismatch": lambda: npz_bytes(X=X, y=y[:-1]),
        "missing_y": lambda: npz_bytes(X=X),
        "missing_X": lambda: npz_bytes(y=y),
        "lowercase_x": lambda: npz_bytes(x=X, y=y),
        "extra_array": lambda: npz_bytes(X=X, y=y, notes=np.array(["hello"])),
        "X_1d": lambda: npz_bytes(X=X[:, 0], y=y),
        "X_3d": lambda: npz_bytes(X=X.reshape(n, 2, 2), y=y),
        "X_5d": lambda: npz_bytes(X=X.reshape(n, 1, 1, 2, 2), y=y),
        "y_2d": lambda: npz_bytes(X=X, y=y[:, None]),
        "X_complex": lambda: npz_bytes(X=X.astype(np.complex128), y=y),
        "X_bool": lambda: npz_bytes(X=X > 2, y=y),
        "X_str": lambda: npz_bytes(X=X.astype(str), y=y),
        "X_datetime": lambda: npz_bytes(X=X.astype("int64").astype("datetime64[s]"), y=y),
        "X_float128": lambda: npz_bytes(X=_longdouble(X), y=y),
        "X_float16": lambda: npz_bytes(X=X.astype(np.float16), y=y),
        "X_int_extremes": lambda: npz_bytes(X=np.where(X > 3, np.iinfo(np.int64).max, np.iinfo(np.int64).min), y=y),
        "X_uint64": lambda: npz_bytes(X=np.full(X.shape, 2**64 - 1, dtype=np.uint64), y=y),
        "X_structured": lambda: npz_bytes(X=np.zeros(n, dtype=[("a", "f8"), ("b", "i4")]), y=y),
        "X_void": lambda: npz_bytes(X=np.zeros((n, 2), dtype="V8"), y=y),
        "X_inf": lambda: npz_bytes(X=np.where(X > 5, np.inf, X), y=y),
        "X_nan": lambda: npz_bytes(X=np.where(X > 5, np.nan, X), y=y),
        "X_fortran": lambda: npz_bytes(X=np.asfortranarray(X), y=y),
        "X_bigendian": lambda: npz_bytes(X=X.astype(">f8"), y=y.astype(">i8")),
        "y_float_nan": lambda: npz_bytes(X=X, y=np.where(y == 1, np.nan, y.astype(float))),
        "y_strings": lambda: npz_bytes(X=X, y=np.array(["setosa", "versicolor", "virginica"])[y]),
        "y_bytes": lambda: npz_bytes(X=X, y=np.array([b"a", b"b\x00", b"\xff"])[y]),
        "y_long_unicode": lambda: npz_bytes(X=X, y=np.array(["x" * 20_000] * n)),
        "y_bool": lambda: npz_bytes(X=X, y=y > 0),
        "y_uint64": lambda: npz_bytes(X=X, y=np.where(y > 0, 2**64 - 1, 0).astype(np.uint64)),
        "zero_rows": lambda: npz_bytes(X=X[:0], y=y[:0]),
        "zero_columns": lambda: npz_bytes(X=X[:, :0], y=y),
        "huge_shape": lambda: x_hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 4), }"),
        "negative_shape": lambda: x_hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (-150, 4), }"),
        "shape_small_lie": lambda: x_hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (10, 4), }",
                                         X.tobytes()),
        "header_code": lambda: x_hdr("{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (1,)}"),
        "header_garbage": lambda: x_hdr("not a dict at all" + "\x00" * 8),
        "header_v3": lambda: zip_bytes([("X.npy", _npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (150, 4), }", X.tobytes(), (3, 0))),
            ("y.npy", npy_bytes(y))]),
        "header_huge": lambda: zip_bytes([("X.npy", _npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (150, 4), " + " " * 200_000 + "}", X.tobytes(),
            (2, 0))), ("y.npy", npy_bytes(y))]),
        "images_ok": lambda: npz_bytes(X=img, y=np.arange(30) % 3),
        "images_uint8": lambda: npz_bytes(X=(img * 255).astype(np.uint8), y=np.arange(30) % 3),
        "images_nan": lambda: npz_bytes(X=np.where(img > 0.5, np.nan, img), y=np.arange(30) % 3),
        "images_float16": lambda: npz_bytes(X=img.astype(np.float16), y=np.arange(30) % 3),
        "images_zero_size": lambda: npz_bytes(X=np.zeros((30, 1, 0, 8), np.float32), y=np.arange(30) % 3),
        "images_int_overflow": lambda: npz_bytes(X=np.full((30, 1, 8, 8), np.iinfo(np.int64).max), y=np.arange(30)),
        "deflated": lambda: npz_bytes(zipfile.ZIP_DEFLATED, X=X, y=y),
        "bomb_honest": lambda: bomb_zip([("y.npy", npy_bytes(y))], "X.npy"),
        "bomb_lying": lambda: bomb_zip([("y.npy", npy_bytes(y))], "X.npy", declared=4096),
        "dir_entry": lambda: zip_bytes([("X.npy/", b""), ("y.npy", npy_bytes(y))]),
        "nested_npz": lambda: zip_bytes([("X.npy", npz_bytes(X=X, y=y)), ("y.npy", npy_bytes(y))]),
        "pickle_member": lambda: zip_bytes([("X.npy", __import__("pickle").dumps(_Evil())),
                                            ("y.npy", npy_bytes(y))]),
    }


NPZ_OPS = (
    "object_X", "object_y", "rows_mismatch", "missing_y", "missing_X", "lowercase_x", "extra_array", "X_1d",
    "X_3d", "X_5d", "y_2d", "X_complex", "X_bool", "X_str", "X_datetime", "X_float128", "X_float16",
    "X_int_extremes", "X_uint64", "X_structured", "X_void", "X_inf", "X_nan", "X_fortran", "X_bigendian",
    "y_float_nan", "y_strings", "y_bytes", "y_long_unicode", "y_bool", "y_uint64", "zero_rows", "zero_columns",
    "huge_shape", "negative_shape", "shape_small_lie", "header_code", "header_garbage", "header_v3",
    "header_huge", "images_ok", "images_uint8", "images_nan", "images_float16", "images_zero_size",
    "images_int_overflow", "deflated", "bomb_honest", "bomb_lying", "dir_entry", "nested_npz", "pickle_member",
)


def _npz_op(name: str) -> Op:
    def fn(c: Corpus, seed: str, rng: np.random.Generator, k: int) -> bytes:
        return _npz_ops()[name]()
    return fn


for _name in NPZ_OPS:
    OPS[f"npz_{_name}"] = _npz_op(_name)


# --------------------------------------------------------------- the cases
MODEL_DISPLAY_NAMES = ("\x00", "a\x00b", "<script>alert(1)</script>", "**bold** [link](javascript:alert(1))",
                       "line one\nline two", "x" * 10_000, "", "   ", "\u202eevil.exe", "🙂 $\\frac{1}{2}$ `code`")
MODEL_UPLOAD_NAMES = ("<b>x</b>.onnx", "a\nb.onnx", "x\x00.onnx", "../../../etc/passwd.onnx", "MODEL.ONNX",
                      "model.onnx.txt", ".onnx", "model", "x" * 300 + ".onnx", "C:\\temp\\m.onnx")
BAD_NAMES = ("\x1b[2J\x1b[31mred", "line one\nline two", "tab\there", "nul\x00byte", "bell\x07\x08back",
             "\u202eevil", "<script>alert(1)</script>", "x" * 2000, "csi\x9b31m")
DATASET_UPLOAD_NAMES = ("iris\x00.csv", "<img src=x onerror=alert(1)>.csv", "**iris**.csv", "a\nb.csv",
                        "x" * 5000 + ".csv", "../../x.csv", "IRIS.CSV", "iris.csv.exe", "iris", ".csv")
MODEL_RENAMES = (("digits_mlp.onnx", ".skops"), ("digits_mlp.onnx", ".pt"), ("digits_mlp.onnx", ".pt2"),
                 ("digits_mlp.onnx", ".pkl"), ("digits_mlp.onnx", ".joblib"), ("digits_mlp.onnx", ".txt"),
                 ("digits_logreg.skops", ".onnx"), ("digits_logreg.skops", ".pt"), ("digits_logreg.skops", ".pt2"),
                 ("digits_mlp.pt", ".pt2"), ("digits_mlp.pt", ".skops"), ("digits_mlp.pt2", ".pt"),
                 ("digits_mlp.pt2", ".skops"), ("digits_mlp.pt2", ".onnx"), ("iris.csv", ".onnx"),
                 ("iris.npz", ".skops"), ("iris.parquet", ".onnx"), ("iris.npz", ".pt2"))
DATASET_RENAMES = (("iris.csv", ".npz"), ("iris.csv", ".parquet"), ("iris.parquet", ".csv"),
                   ("iris.parquet", ".npz"), ("iris.npz", ".csv"), ("iris.npz", ".parquet"),
                   ("digits_logreg.skops", ".npz"), ("digits_logreg.onnx", ".csv"), ("digits_mlp.pt", ".npz"),
                   ("digits_mlp.pt2", ".parquet"), ("iris.csv", ".pq"), ("iris.parquet", ".PQ"))


def _renamed(seed: str, suffix: str) -> str:
    return Path(seed).stem + suffix


def _generic(kind: str, seed: str, *, light: bool = False) -> list[Spec]:
    ops = [("truncate", 3), ("flip", 6), ("zero", 1), ("insert", 1), ("delete", 1), ("repeat", 1),
           ("prepend", 1), ("append", 1)]
    if light:  # big seeds: fewer cases (each valid-looking one costs a full parse)
        ops = [("truncate", 2), ("flip", 2)]
    return [Spec(kind, seed, name, k) for name, n in ops for k in range(n)]


def model_specs() -> list[Spec]:
    out: list[Spec] = []
    for seed in MODEL_SEEDS:
        out += _generic("model", seed, light=seed in ("digits_hist_gradient_boosting.skops",
                                                      "digits_random_forest.skops", "digits_cnn.pt"))
    for suffix_seed in ("digits_logreg.skops", "digits_logreg.onnx", "digits_mlp.pt", "digits_mlp.pt2"):
        out += [Spec("model", suffix_seed, "empty")] + [Spec("model", suffix_seed, "random", k) for k in range(6)]
    for seed in ("digits_logreg.skops", "diabetes_ridge.skops", "digits_mlp.pt", "digits_mlp.pt2"):
        out += [Spec("model", seed, "zip_dup", k) for k in range(2)]
        out += [Spec("model", seed, "zip_drop", k) for k in range(2)]
        out += [Spec("model", seed, "zip_extra", k) for k in ((0, 1, 4, 7, 8) if seed.endswith(".skops")
                                                              else (0, 1, 10, 17))]
        out += [Spec("model", seed, "zip_nested")]
        out += [Spec("model", seed, "zip_method", k) for k in range(3)]
        out += [Spec("model", seed, "zip_lie", k) for k in range(6)]
        out += [Spec("model", seed, "zip_bomb", k) for k in range(2)]
    out += [Spec("model", "digits_logreg.skops", "zip_empty", k) for k in range(2)]
    out += [Spec("model", "digits_logreg.skops", "skops_text", k) for k in range(4)]
    out += [Spec("model", "diabetes_ridge.skops", "skops_text", k) for k in range(2)]
    out += [Spec("model", "digits_logreg.skops", "skops_swap", k) for k in range(16)]
    out += [Spec("model", "diabetes_ridge.skops", "skops_swap", k) for k in range(8)]
    out += [Spec("model", "digits_random_forest.skops", "skops_swap", k) for k in range(4)]
    out += [Spec("model", "digits_logreg.skops", "skops_deep", k) for k in range(2)]
    out += [Spec("model", "digits_logreg.skops", "skops_npy", k) for k in range(5)]
    out += [Spec("model", "digits_logreg.skops", "skops_object", k) for k in range(10)]
    out += [Spec("model", "digits_mlp.onnx", "onnx_graph", k) for k in range(22)]
    out += [Spec("model", "digits_logreg.onnx", "onnx_graph", k) for k in (2, 3, 4, 5, 8, 13, 15)]
    out += [Spec("model", "digits_mlp.pt2", "pt2_program", k) for k in range(18)]
    out += [Spec("model", seed, "rename", i, name=_renamed(seed, suffix))
            for i, (seed, suffix) in enumerate(MODEL_RENAMES)]
    out += [Spec("model", "digits_logreg.onnx", "name", i, display=d) for i, d in enumerate(MODEL_DISPLAY_NAMES)]
    out += [Spec("model", "digits_logreg.onnx", "name", 100 + i, name=n) for i, n in enumerate(MODEL_UPLOAD_NAMES)]
    out += [Spec("model", "digits_logreg.onnx", "badname", i, name=n + ".onnx") for i, n in enumerate(BAD_NAMES)]
    return out


def dataset_specs() -> list[Spec]:
    out: list[Spec] = []
    for seed in ("iris.csv", "wine.csv", "diabetes.csv", "iris.parquet", "wine.parquet", "breast_cancer.parquet",
                 "iris.npz", "digits_images.npz"):
        out += _generic("dataset", seed)
    for seed in ("iris.csv", "iris.parquet", "iris.npz"):
        out += [Spec("dataset", seed, "empty")] + [Spec("dataset", seed, "random", k) for k in range(6)]
    for name in CSV_OPS:
        out.append(Spec("dataset", f"{CSV_FRAMES.get(name, 'iris')}.csv", f"csv_{name}"))
    for name in PQ_OPS:
        out.append(Spec("dataset", "iris.parquet", f"pq_{name}"))
    for name in NPZ_OPS:
        out.append(Spec("dataset", "iris.npz", f"npz_{name}"))
    out += [Spec("dataset", "iris.npz", "zip_dup", k) for k in range(2)]
    out += [Spec("dataset", "iris.npz", "zip_extra", k) for k in (1, 2, 6, 7)]
    out += [Spec("dataset", "iris.npz", "zip_lie", k) for k in range(6)]
    out += [Spec("dataset", "iris.npz", "zip_method", k) for k in range(3)]
    out += [Spec("dataset", seed, "rename", i, name=_renamed(seed, suffix))
            for i, (seed, suffix) in enumerate(DATASET_RENAMES)]
    out += [Spec("dataset", "iris.csv", "name", i, name=n) for i, n in enumerate(DATASET_UPLOAD_NAMES)]
    out += [Spec("dataset", "iris.csv", "badname", i, name=n + ".csv") for i, n in enumerate(BAD_NAMES)]
    return out


@functools.cache
def all_specs() -> tuple[Spec, ...]:
    specs = model_specs() + dataset_specs()
    ids = [s.id for s in specs]
    dups = {i for i in ids if ids.count(i) > 1}
    assert not dups, f"duplicate case ids: {sorted(dups)[:5]}"
    return tuple(specs)


def spec_by_id(case_id: str) -> Spec:
    for spec in all_specs():
        if spec.id == case_id:
            return spec
    raise KeyError(case_id)


def build(spec: Spec, corpus: Corpus) -> Case:
    data = OPS[spec.op](corpus, spec.seed, _rng_for(spec), spec.k)
    return Case(spec.id, spec.kind, spec.upload_name, spec.display, bytes(data))
