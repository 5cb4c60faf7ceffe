"""engine.compare.selection: run ids from users, selections in order, comparison groups, the run
picker's filters and latency at a chosen batch size.

Runs are written straight into a workspace with ``ResultStore.save`` (summaries shaped like a
real ``benchmark`` run's), so every expected value is known from how the run was written. One
test uses real runs: the ``digits_comparison`` workspace plus a CNN benchmarked on
``digits_images`` (same rows, labels and folds as ``digits``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from frontier_support import FAST_BENCH, copy_workspace, run_cli, sample

from engine.compare import RunFilter, candidates, parse_run_ids, select
from engine.compare.pairwise import pairs
from engine.compare.selection import group_key, lineage_kind
from engine.errors import FrontierError
from engine.results import ResultStore, RunRecord
from engine.results.folds import folds_id
from engine.workspace import Workspace

N_ROWS = 50
DIGITS_ID = "68620f2325db13f3"
IRIS_ID = "1a2b3c4d5e6f7081"


def rid(n: int) -> str:
    """A distinct 16-hex run id whose first 6 characters differ between runs."""
    return f"{n:06x}" + "0" * 9 + "a"


# ------------------------------------------------------------------ writing runs
def fold_of(n_folds: int, seed: int, n: int = N_ROWS) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % n_folds


def predictions(n_folds: int, seed: int, n_classes: int = 2) -> pd.DataFrame:
    rows = np.arange(N_ROWS)
    y = rows % n_classes
    return pd.DataFrame({"row": rows, "fold": fold_of(n_folds, seed), "y_true": y, "y_pred": y})


def summary(run_id: str, *, model: str, dataset: str = "digits", dataset_id: str = DIGITS_ID,
            n_folds: int = 5, seed: int = 0, fmt: str = "onnx", mode: str = "as-is",
            created_at: str = "2024-05-01T12:00:00+00:00", accuracy: float = 0.9,
            lineage: str | None = None, latency_p50_ms: float | None = 1.0,
            with_folds_id: bool = True, n_classes: int = 2, **extra) -> dict:
    """A summary row with the fields a real ``benchmark`` run stores."""
    s = {
        "run_id": run_id, "model": model, "artifact_id": "ab" * 8, "format": fmt, "mode": mode,
        "task": "classification", "dataset": dataset, "dataset_id": dataset_id, "target": "target",
        "n_rows": N_ROWS, "n_features": 64, "n_folds": n_folds, "seed": seed, "rows_seen": False,
        "accuracy_mean": accuracy, "accuracy_std": 0.01, "f1_macro_mean": accuracy - 0.001,
        "f1_macro_std": 0.01, "roc_auc_mean": 0.99, "roc_auc_std": 0.001, "log_loss_mean": 0.1,
        "log_loss_std": 0.01, "latency_p50_ms": latency_p50_ms,
        "latency_p95_ms": None if latency_p50_ms is None else latency_p50_ms * 1.5,
        "latency_p99_ms": None if latency_p50_ms is None else latency_p50_ms * 2.0,
        "latency_batch_size": 1, "latency_skewed": False,
        "throughput_per_s": None if latency_p50_ms is None else 8000.0 / latency_p50_ms,
        "throughput_batch_size": 8, "size_bytes": 10_000, "n_parameters": 1_000,
        "backend": "onnxruntime", "device": "cpu", "threads": 1, "engine_version": "0.1.0",
        "created_at": created_at, "classes": list(range(n_classes)),
        "config": {"target": "target", "drop": [], "cv": n_folds, "seed": seed, "as_is": False},
        "environment": {"cpu": "test cpu", "cores": 2, "threads": 1, "python": "3.11",
                        "engine_version": "0.1.0"},
        "lineage": lineage,
    }
    if with_folds_id:
        s["folds_id"] = folds_id(predictions(n_folds, seed, n_classes), list(range(n_classes)))
    return s | extra


def save(ws: Workspace, s: dict, *, latency: pd.DataFrame | None = None) -> str:
    k = int(s["n_folds"])
    pred = predictions(k, int(s["seed"]), len(s["classes"]))
    n_test = np.bincount(pred["fold"], minlength=k)
    folds = pd.DataFrame({"fold": np.arange(k), "n_test": n_test, "fit_seconds": 0.0,
                          "accuracy": s["accuracy_mean"] + np.linspace(-0.01, 0.01, k)})
    tables = {"folds": folds, "predictions": pred}
    if latency is not None:
        tables["latency"] = latency
    ResultStore(ws).save(RunRecord(s["run_id"], s, tables))
    return s["run_id"]


def latency_table(values: dict[int, float]) -> pd.DataFrame:
    """Latency stats per batch size: p50 = v, p95 = 2v, p99 = 3v, throughput = batch / v * 1000."""
    bs = sorted(values)
    return pd.DataFrame({"batch_size": bs, "n_calls": 10,
                         "p50_ms": [values[b] for b in bs], "p95_ms": [2 * values[b] for b in bs],
                         "p99_ms": [3 * values[b] for b in bs],
                         "throughput_per_s": [b / values[b] * 1000 for b in bs]})


# ------------------------------------------------------------------ parse_run_ids
BAD_IDS = [
    "nothex", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEG", "0123456789ABCDEF!",
    "https://frontier.example/compare?run=0123456789abcdef", "../0123456789abcdef",
    "0123456789abcdef/..", "0123456789abcd ef", "0x0123456789abcd", "",
    "０１２３４５６７８９ａｂｃｄｅｆ", "0123456789abcde\u0301", "0123456789abcdef\x00",
]


@pytest.mark.parametrize("value", BAD_IDS)
def test_parse_run_ids_rejects_anything_but_16_hex(value):
    with pytest.raises(FrontierError) as err:
        parse_run_ids(["0123456789abcdef", value])
    msg = str(err.value)
    assert "\n" not in msg
    shown = value[:40].encode("unicode_escape").decode()
    assert f"'{shown}'" in msg, msg  # names the offending value (as typed, at most 40 characters)
    assert "not a run id" in msg


def test_parse_run_ids_message_is_one_line_for_a_value_holding_newlines():
    with pytest.raises(FrontierError) as err:
        parse_run_ids(["0123456789abcdef\nerror: forged second line"])
    assert "\n" not in str(err.value) and "\\n" in str(err.value)


def test_parse_run_ids_lowercases_strips_and_drops_duplicates_in_order():
    a, b = "0123456789abcdef", "fedcba9876543210"
    assert parse_run_ids([b, a.upper(), f"  {a}\n", b, a]) == [b, a]
    assert parse_run_ids([]) == []


# ------------------------------------------------------------------ a synthetic workspace
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Runs of known shape: two groups of folds on digits, older runs without folds_id, iris,
    twins sharing a model name, latency tables, lineages and dates for the picker."""
    ws = Workspace.open(tmp_path_factory.mktemp("selection") / "ws")
    spec = {
        # name: (summary kwargs, latency table)
        "mlp": (dict(model="mlp.onnx", created_at="2024-05-01T09:00:00+00:00", accuracy=0.95),
                latency_table({1: 0.5, 8: 1.6})),
        "logreg": (dict(model="logreg.skops", fmt="skops", mode="cv-refit",
                        created_at="2024-05-02T09:00:00+00:00", accuracy=0.93,
                        lineage="bundled sample"), latency_table({1: 0.2})),
        "rf": (dict(model="rf.skops", fmt="skops", mode="cv-refit", created_at="2024-05-03T09:00:00+00:00",
                    accuracy=0.91, lineage="trial 3 of study rf-study"), None),
        "int8": (dict(model="mlp.onnx (dynamic-int8)", created_at="2024-05-04T09:00:00+00:00",
                      accuracy=0.948, lineage="variant of 40d1dfe80eb4a16a (dynamic-int8)"),
                 latency_table({1: 0.3, 8: 0.9})),
        "twin1": (dict(model="twin", created_at="2024-05-05T09:00:00+00:00"), None),
        "twin2": (dict(model="twin", fmt="torchscript", created_at="2024-05-06T09:00:00+00:00"), None),
        "seed1": (dict(model="mlp.onnx", seed=1, created_at="2024-05-07T09:00:00+00:00"), None),
        "cv3": (dict(model="mlp.onnx", n_folds=3, created_at="2024-05-08T09:00:00+00:00"), None),
        "iris": (dict(model="logreg.skops", dataset="iris", dataset_id=IRIS_ID, fmt="skops",
                      mode="cv-refit", n_classes=3, created_at="2024-06-01T09:00:00+00:00"), None),
        "old1": (dict(model="old a", with_folds_id=False, created_at="2023-01-01T09:00:00+00:00"), None),
        "old2": (dict(model="old b", with_folds_id=False, created_at="2023-01-02T09:00:00+00:00"), None),
        "old_seed1": (dict(model="old c", seed=1, with_folds_id=False,
                           created_at="2023-01-03T09:00:00+00:00"), None),
        "nolat": (dict(model="nolat.onnx", latency_p50_ms=None, created_at="2024-05-09T09:00:00+00:00"),
                  None),
    }
    ids = {}
    for i, (name, (kwargs, latency)) in enumerate(spec.items()):
        ids[name] = save(ws, summary(rid(i + 1), **kwargs), latency=latency)
    return ws, ids, {name: kwargs for name, (kwargs, _) in spec.items()}


def test_select_keeps_the_requested_order(synthetic):
    ws, ids, _ = synthetic
    asked = [ids["rf"], ids["mlp"].upper(), ids["iris"], ids["logreg"], ids["mlp"]]
    sel = select(ws, asked)
    assert sel.run_ids == [ids["rf"], ids["mlp"], ids["iris"], ids["logreg"]]
    assert sel.runs["model"].tolist() == ["rf.skops", "mlp.onnx", "logreg.skops", "logreg.skops"]
    # the index frame a page already holds gives the same selection
    again = select(ws, asked, index=ResultStore(ws).runs())
    assert again.run_ids == sel.run_ids


def test_select_raises_one_error_naming_every_unknown_id(synthetic):
    ws, ids, _ = synthetic
    unknown = ["00000000000000aa", "ffffffffffffffff"]
    with pytest.raises(FrontierError) as err:
        select(ws, [ids["mlp"], unknown[0], ids["rf"], unknown[1]])
    msg = str(err.value)
    assert all(u in msg for u in unknown), msg
    assert ids["mlp"] not in msg and ids["rf"] not in msg
    with pytest.raises(FrontierError):
        select(ws, [])


def test_select_in_an_empty_workspace_names_the_id(tmp_path):
    ws = Workspace.open(tmp_path / "empty")
    with pytest.raises(FrontierError, match="0123456789abcdef"):
        select(ws, ["0123456789abcdef"])


def test_labels_are_unique_when_two_runs_share_a_model_name(synthetic):
    ws, ids, _ = synthetic
    sel = select(ws, [ids["twin1"], ids["mlp"], ids["twin2"]])
    labels = sel.labels
    assert len(set(labels.values())) == 3
    assert labels[ids["mlp"]] == "mlp.onnx"  # a unique name is shown as is
    for r in (ids["twin1"], ids["twin2"]):
        assert labels[r].startswith("twin") and labels[r] != "twin"
    assert sel.runs["label"].tolist() == [labels[r] for r in sel.run_ids]
    assert set(sel.tables("folds")) == set(labels.values())  # one table per run, none lost


# regression: unique_labels once appended only run_id[:6] to repeated names, so these collided
@pytest.mark.parametrize("case", ["id-prefix", "decorated-name"])
def test_labels_stay_unique_in_crafted_cases(tmp_path, case):
    ws = Workspace.open(tmp_path / "ws")
    if case == "id-prefix":
        runs = [("abcdef0000000001", "m"), ("abcdef0000000002", "m")]
    else:
        runs = [("abcdef0000000001", "m"), ("1234560000000002", "m"), ("9999990000000003", "m (abcdef)")]
    for run_id, model in runs:
        save(ws, summary(run_id, model=model))
    sel = select(ws, [r for r, _ in runs])
    assert len(set(sel.labels.values())) == len(runs), sel.labels


# ------------------------------------------------------------------ comparison groups
def test_runs_on_other_folds_land_in_other_groups(synthetic):
    ws, ids, _ = synthetic
    names = ["mlp", "logreg", "seed1", "int8", "cv3"]
    sel = select(ws, [ids[n] for n in names])
    group = {n: sel.group_of(ids[n]) for n in names}
    assert group["mlp"] == group["logreg"] == group["int8"]
    assert len({group["mlp"], group["seed1"], group["cv3"]}) == 3
    # the largest group first, its runs in selection order
    assert next(iter(sel.groups.values())) == [ids["mlp"], ids["logreg"], ids["int8"]]
    # all are "digits": the names of the groups still differ (folds and seed said)
    assert len(set(sel.group_names.values())) == 3
    assert "seed 1" in sel.group_names[group["seed1"]] and "3 folds" in sel.group_names[group["cv3"]]
    # pairs (the paired tests) are formed within a group only
    assert sorted(map(sorted, pairs(sel))) == sorted(
        sorted(p) for p in [(ids["mlp"], ids["logreg"]), (ids["mlp"], ids["int8"]), (ids["logreg"], ids["int8"])])


def test_runs_without_folds_id_fall_back_to_dataset_folds_and_seed(synthetic):
    ws, ids, _ = synthetic
    sel = select(ws, [ids["old1"], ids["old2"], ids["old_seed1"]])
    g = {n: sel.group_of(ids[n]) for n in ("old1", "old2", "old_seed1")}
    assert g["old1"] == g["old2"] == f"{DIGITS_ID}/5/0"
    assert g["old_seed1"] == f"{DIGITS_ID}/5/1"
    # a run with a folds_id is grouped by it
    assert group_key({"folds_id": "28465c57a17055c9", "dataset_id": DIGITS_ID}) == "28465c57a17055c9"
    assert group_key({"folds_id": None, "dataset_id": IRIS_ID, "n_folds": 3, "seed": 2}) == f"{IRIS_ID}/3/2"
    assert group_key(pd.Series({"folds_id": float("nan"), "dataset_id": IRIS_ID, "n_folds": 5, "seed": 0})) \
        == f"{IRIS_ID}/5/0"


def test_iris_and_digits_are_never_one_group(synthetic):
    ws, ids, _ = synthetic
    sel = select(ws, [ids["mlp"], ids["iris"]])
    assert sel.group_of(ids["mlp"]) != sel.group_of(ids["iris"])
    assert pairs(sel) == []


@pytest.fixture(scope="module")
def digits_and_images(digits_comparison, tmp_path_factory):
    """The digits comparison plus a CNN benchmarked on digits_images (a private copy)."""
    ws = copy_workspace(digits_comparison.workspace, tmp_path_factory.mktemp("images") / "ws")
    r = run_cli("benchmark", "--model", sample("digits_cnn.onnx"), "--data", "digits_images",
                "--workspace", ws, "--json", *FAST_BENCH)
    assert r.returncode == 0, str(r)
    (cnn,) = r.json["runs"]
    return ws, [run["run_id"] for run in digits_comparison.runs], cnn


def test_digits_and_digits_images_runs_form_one_group(digits_and_images):
    ws, digits_ids, cnn = digits_and_images
    assert cnn["dataset"] == "digits_images"
    # oracle: the stored out-of-fold rows, folds and labels are the same for both datasets
    root = ws / "results"
    cols = ["row", "fold", "y_true"]
    a = pd.read_parquet(root / cnn["run_id"] / "predictions.parquet")[cols].sort_values("row")
    b = pd.read_parquet(root / digits_ids[0] / "predictions.parquet")[cols].sort_values("row")
    np.testing.assert_array_equal(a.to_numpy(dtype=np.int64), b.to_numpy(dtype=np.int64))

    sel = select(Workspace.at(ws), [*digits_ids, cnn["run_id"]])
    assert len(sel.groups) == 1
    (name,) = sel.group_names.values()
    assert name == "digits / digits_images"
    assert len(pairs(sel)) == 6 * 5 // 2


# ------------------------------------------------------------------ the run picker
def _pick(runs: pd.DataFrame, ids: dict[str, str], **f) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[r] for r in candidates(runs, RunFilter(**f))["run_id"]}


def test_candidates_filters(synthetic):
    ws, ids, spec = synthetic
    runs = ResultStore(ws).runs()
    everything = set(ids)
    assert _pick(runs, ids) == everything
    assert candidates(runs, RunFilter())["run_id"].tolist() == runs["run_id"].tolist()  # order kept

    datasets = {n: s.get("dataset", "digits") for n, s in spec.items()}
    assert _pick(runs, ids, datasets=("iris",)) == {"iris"}
    assert _pick(runs, ids, datasets=("digits",)) == {n for n, d in datasets.items() if d == "digits"}
    assert _pick(runs, ids, formats=("skops",)) == {"logreg", "rf", "iris"}
    assert _pick(runs, ids, formats=("skops", "torchscript")) == {"logreg", "rf", "iris", "twin2"}
    assert _pick(runs, ids, modes=("cv-refit",)) == {"logreg", "rf", "iris"}
    assert _pick(runs, ids, models=("twin",)) == {"twin1", "twin2"}
    assert _pick(runs, ids, lineages=("trial",)) == {"rf"}
    assert _pick(runs, ids, lineages=("variant",)) == {"int8"}
    assert _pick(runs, ids, lineages=("bundled sample",)) == {"logreg"}
    assert _pick(runs, ids, lineages=("uploaded",)) == everything - {"rf", "int8", "logreg"}
    assert _pick(runs, ids, lineages=("trial", "variant")) == {"rf", "int8"}
    # dates: whole days, both ends included
    assert _pick(runs, ids, since=dt.date(2024, 5, 8)) == {"cv3", "nolat", "iris"}
    assert _pick(runs, ids, until=dt.date(2023, 12, 31)) == {"old1", "old2", "old_seed1"}
    assert _pick(runs, ids, since=dt.date(2024, 5, 2), until=dt.date(2024, 5, 3)) == {"logreg", "rf"}
    # text: every word must match model, dataset, mode, owner or format (case-insensitive)
    assert _pick(runs, ids, text="LOGREG") == {"logreg", "iris"}
    assert _pick(runs, ids, text="logreg iris") == {"iris"}
    assert _pick(runs, ids, text="int8") == {"int8"}
    assert _pick(runs, ids, text="nothing-like-this") == set()
    assert _pick(runs, ids, text=ids["seed1"][:8]) == {"seed1"}  # a run id prefix of 6+ characters
    # filters combine
    assert _pick(runs, ids, datasets=("digits",), formats=("skops",), text="rf") == {"rf"}
    assert _pick(runs, ids, formats=("onnx",), since=dt.date(2024, 5, 4), until=dt.date(2024, 5, 8),
                 lineages=("uploaded",)) == {"twin1", "seed1", "cv3"}


def test_candidates_of_an_empty_index_is_empty():
    assert candidates(pd.DataFrame(), RunFilter(datasets=("digits",))).empty


@pytest.mark.parametrize(("lineage", "kind"), [
    (None, "uploaded"), ("", "uploaded"), ("uploaded", "uploaded"), ("trial 12 of study s", "trial"),
    ("variant of 0123456789abcdef (fp16)", "variant"), ("bundled sample", "bundled sample"),
    ("something else", "uploaded")])
def test_lineage_kind(lineage, kind):
    assert lineage_kind(lineage) == kind


# ------------------------------------------------------------------ latency at a batch size
def test_batch_size_replaces_latency_with_the_latency_tables_values(synthetic):
    ws, ids, _ = synthetic
    names = ["mlp", "logreg", "int8", "rf"]
    plain = select(ws, [ids[n] for n in names])
    # without a batch size: the summary's batch-1 figures
    assert plain.runs["latency_p50_ms"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert not plain.warnings

    sel = select(ws, [ids[n] for n in names], batch_size=8)
    runs = sel.runs.set_index("run_id")
    # the latency tables written above: mlp at 8 = 1.6 ms, int8 at 8 = 0.9 ms
    for name, v in (("mlp", 1.6), ("int8", 0.9)):
        row = runs.loc[ids[name]]
        assert row["latency_p50_ms"] == pytest.approx(v)
        assert row["latency_p95_ms"] == pytest.approx(2 * v)
        assert row["latency_p99_ms"] == pytest.approx(3 * v)
        assert row["throughput_per_s"] == pytest.approx(8 / v * 1000)
    for name in ("logreg", "rf"):  # logreg timed at batch 1 only, rf has no latency table
        row = runs.loc[ids[name]]
        for col in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "throughput_per_s"):
            assert np.isnan(row[col]), (name, col)
    assert (sel.runs["latency_batch_size"] == 8).all()
    assert len(sel.warnings) == 1
    warning = sel.warnings[0]
    assert "batch size 8" in warning and "logreg.skops" in warning and "rf.skops" in warning
    assert "mlp.onnx" not in warning.replace("mlp.onnx (dynamic-int8)", "")

    at1 = select(ws, [ids["logreg"]], batch_size=1).runs.iloc[0]
    assert at1["latency_p50_ms"] == pytest.approx(0.2) and at1["latency_p95_ms"] == pytest.approx(0.4)
