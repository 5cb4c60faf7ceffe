"""``python -m engine compress``: the JSON contract, variants of the digits MLP that are stored, benchmarked
on the original's folds and compared with it (checked against the stored per-row predictions), auto
carrying on past a failed recipe, and bad flags exiting 2 with one line and nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from frontier_support import run_cli, run_cli_here, sample
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold

from engine.compress import calibration
from engine.compress.run import variant_of
from engine.jobs.spec import CompressPayload
from engine.results import ResultStore
from engine.workspace import Workspace

FAST = ("--cv", "3", "--latency-time", "0.01", "--latency-count", "3", "--batch-sizes", "1", "--threads", "1")
CONTRACT = {"method", "artifact_id", "path", "size_bytes", "size_ratio", "accuracy_mean", "accuracy_delta",
            "flip_rate", "latency_p50_ms", "speedup", "gate_passed"}


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    ws = tmp_path_factory.mktemp("compress") / "ws"
    result = run_cli("compress", "--model", sample("digits_mlp.pt"), "--trust", "--data", "digits",
                     "--method", "auto", *FAST, "--distill-epochs", "20", "--workspace", ws, "--json")
    assert result.returncode == 0, str(result)
    return ws, result.json


def _variant(doc, method, backend="onnxruntime", flavour=""):
    (v,) = [v for v in doc["variants"] if v["method"] == method and v["backend"] == backend
            and v["flavour"] == flavour]
    return v


EVERY = {("onnx", "onnxruntime", ""), ("dynamic-int8", "onnxruntime", ""), ("dynamic-int8", "torch", ""),
         ("static-int8", "onnxruntime", ""), ("fp16", "onnxruntime", ""), ("prune", "torch", "magnitude"),
         ("prune", "torch", "channels"), ("distill", "torch", "student"), ("distill", "torch", "twin")}


def test_the_json_contract(compressed):
    _, doc = compressed
    assert doc["errors"] == [] and doc["skipped"] == []
    made = {(v["method"], v["backend"], v["flavour"]) for v in doc["variants"]}
    assert made == EVERY
    for v in doc["variants"]:
        assert set(v) >= CONTRACT, CONTRACT - set(v)
        basis = v["heldout_delta"] if v["gate_basis"] == "held-out" else v["accuracy_delta"]
        assert isinstance(v["gate_passed"], bool) and v["gate_passed"] == (basis >= -1.0)
        assert v["gate_basis"] == ("held-out" if v["trained_on_fold1"] else "folds")
        assert v["size_ratio"] == pytest.approx(doc["original"]["size_bytes"] / v["size_bytes"])
        assert v["speedup"] == pytest.approx(doc["original"]["latency_p50_ms"] / v["latency_p50_ms"])
    assert _variant(doc, "onnx")["parity"]["passed"] and _variant(doc, "onnx")["parity"]["tolerance"] == 1e-4


def test_dynamic_int8_of_the_digits_mlp_is_2_5x_smaller_and_loses_at_most_a_point(compressed):
    _, doc = compressed
    for backend in ("onnxruntime", "torch"):
        v = _variant(doc, "dynamic-int8", backend)
        assert v["size_ratio"] >= 2.5 and v["accuracy_delta"] >= -1.0, v
    assert _variant(doc, "dynamic-int8", "torch")["format"] == "torchscript"


def test_variants_are_registered_runs_on_the_originals_folds_with_rows_seen(compressed):
    ws, doc = compressed
    store = ResultStore(Workspace(ws))
    orig = doc["original"]
    o_sum = store.summary(orig["run_id"])
    assert o_sum["mode"] == "as-is" and o_sum["rows_seen"] is True  # the sample was trained on 70% of digits
    o_pred = store.table(orig["run_id"], "predictions").sort_values("row")
    for v in doc["variants"]:
        s = store.summary(v["run_id"])
        assert s["artifact_id"] == v["artifact_id"] and s["folds_id"] == o_sum["folds_id"]
        assert s["rows_seen"] is True and v["rows_seen"] is True
        assert s["lineage"].startswith(f"variant of digits_mlp.pt ({orig['artifact_id']}) by {v['method']}")
        assert variant_of(s["lineage"]) == (orig["artifact_id"], v["method"])
        with open(v["path"], "rb") as fh:
            assert len(fh.read()) == v["size_bytes"]
        pred = store.table(v["run_id"], "predictions").sort_values("row")
        flipped = sum(int(a != b) for a, b in zip(o_pred["y_pred"], pred["y_pred"], strict=True))  # a hand count
        assert v["flip_rate"] == flipped / len(pred)
        per_fold = [accuracy_score(f["y_true"], f["y_pred"]) for _, f in pred.groupby("fold")]
        base = [accuracy_score(f["y_true"], f["y_pred"]) for _, f in o_pred.groupby("fold")]
        assert v["accuracy_delta"] == pytest.approx((np.mean(per_fold) - np.mean(base)) * 100)


def test_static_int8_was_calibrated_on_training_rows_of_the_first_fold_only(compressed):
    _, doc = compressed
    cal = _variant(doc, "static-int8")["calibration"]
    assert cal["method"] == "minmax" and cal["fold"] == 0 and cal["part"] == "train"
    from sklearn.datasets import load_digits

    y = load_digits().target
    splits = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    rows = calibration.calibration_rows(splits, n=256, seed=0)
    assert calibration.rows_digest(rows) == cal["rows_sha256"] and len(rows) == cal["n_rows"]  # these rows...
    assert not set(rows) & set(splits[0][1]) and set(rows) <= set(splits[0][0])  # ...none of them a test row


def _digits_folds():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y, list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y))


def _torch_outputs(path, X):
    import torch

    with torch.no_grad():
        return torch.jit.load(path)(torch.from_numpy(X)).numpy()


def test_pruned_variants_report_the_real_sparsity_counted_in_the_saved_file(compressed):
    import torch

    _, doc = compressed
    magnitude = _variant(doc, "prune", "torch", "magnitude")
    weights = [p.detach().numpy() for name, p in torch.jit.load(magnitude["path"]).named_parameters()
               if name.endswith("weight")]
    zeros, total = sum(int((w == 0).sum()) for w in weights), sum(w.size for w in weights)  # counted by hand
    d = magnitude["details"]
    assert (d["zeros"], d["weights"]) == (zeros, total) and zeros == round(0.5 * total)
    assert d["sparsity"] == zeros / total and d["requested"] == 0.5 and d["fine_tune_epochs"] == 0
    assert "real sparsity 0.500" in magnitude["lineage"] and magnitude["trained_on_fold1"] is False
    channels = _variant(doc, "prune", "torch", "channels")
    n_params = sum(p.numel() for p in torch.jit.load(channels["path"]).parameters())
    assert channels["details"]["parameters_after"] == n_params < channels["details"]["parameters_before"]
    for v in (magnitude, channels):  # what pruning itself did, apart from the rebuild it starts from
        alone = v["details"]["pruning_alone"]
        assert alone["rebuild_p50_ms"] > 0 and alone["pruned_p50_ms"] > 0 and isinstance(alone["skewed"], bool)
        assert alone["speedup"] == pytest.approx(alone["rebuild_p50_ms"] / alone["pruned_p50_ms"])
    assert sorted(channels["details"]["widths"].values()) == [[64, 32], [128, 64]]  # hidden layers halved
    assert channels["size_ratio"] > 1.5  # a smaller network, a smaller file


def test_the_distilled_student_and_its_twin_are_reported_as_measured(compressed):
    _, doc = compressed
    X, y, folds = _digits_folds()
    test = folds[0][1]
    student, twin = _variant(doc, "distill", "torch", "student"), _variant(doc, "distill", "torch", "twin")
    measured = {}
    for v in (student, twin):
        pred = _torch_outputs(v["path"], X[test]).argmax(axis=1)
        measured[v["flavour"]] = accuracy_score(y[test], pred)  # the oracle, on rows neither trained on
        assert v["details"]["heldout_accuracy"] == pytest.approx(measured[v["flavour"]])
        assert v["details"]["heldout_rows"] == len(test) and v["details"]["train_rows"] == len(folds[0][0])
        assert v["trained_on_fold1"] is True and v["rows_seen"] is True
    d = doc["distillation"]
    assert d["heldout_difference_points"] == pytest.approx(100 * (measured["student"] - measured["twin"]))
    s_right = _torch_outputs(student["path"], X[test]).argmax(axis=1) == y[test]
    t_right = _torch_outputs(twin["path"], X[test]).argmax(axis=1) == y[test]
    only_s, only_t = int((s_right & ~t_right).sum()), int((~s_right & t_right).sum())  # counted by hand
    assert (d["heldout_only_student"], d["heldout_only_twin"], d["heldout_paired_rows"]) == (only_s, only_t, len(test))
    from scipy.stats import binomtest

    exact = binomtest(only_s, only_s + only_t, 0.5).pvalue if only_s + only_t else 1.0  # McNemar's exact test
    assert d["heldout_mcnemar_p"] == pytest.approx(exact)
    for v in (student, twin):  # gated on the rows neither trained on, against the original on those rows
        held = 100 * (v["details"]["heldout_accuracy"] - v["details"]["original_heldout_accuracy"])
        assert v["heldout_delta"] == pytest.approx(held) and v["gate_passed"] == (held >= -1.0)
    assert d["cv_difference_points"] == pytest.approx(100 * (student["accuracy_mean"] - twin["accuracy_mean"]))
    assert "T=4, alpha=0.7" in student["lineage"] and "no teacher" in twin["lineage"]
    assert student["size_bytes"] == pytest.approx(twin["size_bytes"], rel=0.01)  # one network, two trainings


def test_the_sweep_has_every_model_at_every_batch_size_from_its_own_run(compressed):
    ws, doc = compressed
    store = ResultStore(Workspace(ws))
    runs = [doc["original"]["run_id"], *(v["run_id"] for v in doc["variants"])]
    assert sorted({r["run_id"] for r in doc["sweep"]}) == sorted(runs)
    for r in doc["sweep"]:
        table = store.table(r["run_id"], "latency").set_index("batch_size")
        assert r["p50_ms"] == table.loc[r["batch_size"], "p50_ms"]
        assert r["throughput_per_s"] == table.loc[r["batch_size"], "throughput_per_s"]
    for v in doc["variants"]:
        summary = store.summary(v["run_id"])
        assert (v["runtime"], v["provider"]) == (summary["backend"], summary["provider"])
        assert v["runtime"] == ("torch" if v["format"] == "torchscript" else "onnxruntime")
    assert {r["precision"] for r in doc["sweep"]} == {"as uploaded", "fp32", "int8", "fp16"}


def test_auto_times_the_runtime_settings_and_names_the_fastest_clean_one(compressed):
    from engine.compress import accelerate

    _, doc = compressed
    acc = doc["acceleration"]
    threads = accelerate.thread_counts()
    ort_rows = [r for r in acc["settings"] if r["runtime"] == "onnxruntime"]
    assert sorted((r["graph_optimization"], r["threads"]) for r in ort_rows) == sorted(
        (lv, t) for lv in accelerate.ORT_LEVELS for t in threads)
    assert sorted(r["threads"] for r in acc["settings"] if r["runtime"] == "torch") == sorted(threads)
    assert all(r["max_abs_diff"] <= 1e-4 and r["p50_ms"] > 0 for r in acc["settings"])
    clean = [r for r in acc["settings"] if not r["skewed"]]
    assert acc["best"] == (min(clean, key=lambda r: r["p50_ms"])["setting"] if clean else None)
    assert any("torch.compile" in why for why in acc["skipped"])  # a TorchScript file: said, not silently left


def test_only_the_asked_prune_kind_is_made(compressed):
    from engine.compress import run

    ws, doc = compressed
    summary = ResultStore(Workspace(ws)).summary(doc["original"]["run_id"])
    payload = CompressPayload(artifact_id=doc["original"]["artifact_id"], dataset_id=summary["dataset_id"],
                              target="target", methods=("prune",), prune_kinds=("magnitude",), cv=3, threads=1,
                              batch_sizes=(1,), latency_time_s=0.01, latency_count=3)
    out = run.execute(Workspace(ws), payload)
    assert [(v["method"], v["flavour"]) for v in out["variants"]] == [("prune", "magnitude")]
    assert out["variants"][0]["artifact_id"] == _variant(doc, "prune", "torch", "magnitude")["artifact_id"]


def test_auto_continues_past_a_failed_recipe(compressed, monkeypatch):
    from engine.compress import half, run

    monkeypatch.setattr(run, "_accelerate", lambda *a, **k: None)  # timed runtime settings: tested above
    ws, doc = compressed
    summary = ResultStore(Workspace(ws)).summary(doc["original"]["run_id"])

    def broken(data):
        raise RuntimeError("converter exploded")

    monkeypatch.setattr(half, "to_fp16", broken)
    payload = CompressPayload(artifact_id=doc["original"]["artifact_id"], dataset_id=summary["dataset_id"],
                              target="target", methods=("auto",), cv=3, threads=1, batch_sizes=(1,),
                              latency_time_s=0.01, latency_count=3, distill_epochs=20)
    out = run.execute(Workspace(ws), payload)
    assert out["errors"] == [{"method": "fp16", "backend": "onnxruntime", "flavour": "",
                              "error": "RuntimeError: converter exploded"}]
    assert {(v["method"], v["backend"], v["flavour"]) for v in out["variants"]} == EVERY - {("fp16", "onnxruntime", "")}
    # the same variants (TorchScript ones too: made in a fresh process, the same bytes), runs from the store
    assert {v["artifact_id"] for v in out["variants"]} <= {v["artifact_id"] for v in doc["variants"]}
    assert all(v["cached"] for v in out["variants"])


def test_a_failed_export_is_told_once_and_the_torch_recipe_still_runs(compressed, monkeypatch):
    from engine.compress import export, run

    ws, doc = compressed
    summary = ResultStore(Workspace(ws)).summary(doc["original"]["run_id"])
    monkeypatch.setattr(export, "to_onnx", lambda *a, **k: (_ for _ in ()).throw(ValueError("no graph\nat all")))
    payload = CompressPayload(artifact_id=doc["original"]["artifact_id"], dataset_id=summary["dataset_id"],
                              target="target", methods=("dynamic-int8", "fp16"), cv=3, threads=1, batch_sizes=(1,),
                              latency_time_s=0.01, latency_count=3)
    out = run.execute(Workspace(ws), payload)
    assert [(v["method"], v["backend"]) for v in out["variants"]] == [("dynamic-int8", "torch")]
    first, second = out["errors"]
    assert first["error"] == "the ONNX export failed: ValueError: no graph" and "\n" not in first["error"]
    assert second["method"] == "fp16" and second["error"].startswith("needs the ONNX export, which failed")


def test_without_json_a_table_and_the_same_variants(compressed):
    ws, doc = compressed
    before = sorted(p.name for p in (ws / "artifacts").iterdir())
    result = run_cli("compress", "--model", sample("digits_mlp.pt"), "--data", "digits", "--method", "dynamic-int8",
                     *FAST, "--workspace", ws)  # registered and trusted already: no --trust needed
    assert result.returncode == 0, str(result)
    assert sorted(p.name for p in (ws / "artifacts").iterdir()) == before  # the same bytes, the same ids
    assert _variant(doc, "dynamic-int8")["artifact_id"] in before
    lines = result.stdout.splitlines()
    assert lines[0].startswith("original: digits_mlp.pt") and lines[1].split()[:2] == ["method", "backend"]
    assert [line.split()[:2] for line in lines[2:]] == [["dynamic-int8", "onnxruntime"], ["dynamic-int8", "torch"]]
    assert "python -m engine compare" in result.stderr


BAD_FLAGS = [
    (["--method", "nope"], "--method: unknown method 'nope'"),
    (["--model", str(sample("digits_mlp.onnx")), "--method", "prune"],
     "--method prune does not apply to 'digits_mlp.onnx': pruning rewrites and may retrain a torch model's layers"),
    (["--method", "prune"], "a scikit-learn model has no layers to prune"),
    (["--sparsity", "1"], "--sparsity must be between 0.01 and 0.95, got 1"),
    (["--alpha", "2"], "--alpha must be between 0 and 1"),
    (["--prune-kind", "random"], "--prune-kind: invalid choice: 'random'"),
    (["--method", "onnx", "--sparsity", "0.3"], "--sparsity applies to --method prune (or auto), which was not"),
    (["--method", "fp16", "--temperature", "2"], "--temperature applies to --method distill (or auto)"),
    # given with its default value is still given (a check against the default let these through)
    (["--method", "fp16", "--sparsity", "0.5"], "--sparsity applies to --method prune (or auto)"),
    (["--method", "fp16", "--calibration", "minmax"], "--calibration applies to --method static-int8 (or auto)"),
    (["--method", "onnx", "--distill-epochs", "100"], "--distill-epochs applies to --method distill (or auto)"),
    (["--gate", "-1"], "--gate must be between 0 and 100"),
    (["--calibration", "kl"], "--calibration: invalid choice"),
    (["--calibration-rows", "0"], "--calibration-rows must be between"),
    (["--model", str(sample("digits_mlp.onnx")), "--method", "onnx"], "--method onnx does not apply"),
    (["--model", str(sample("digits_mlp.pt")), "--method", "onnx"], "TorchScript archive"),  # no --trust
    (["--model", str(sample("diabetes_ridge.skops")), "--data", "diabetes"], "regression"),
    pytest.param(["--device", "cuda"], "--device cuda was asked for but no CUDA GPU is visible",
                 marks=pytest.mark.skipif(_has_cuda(), reason="this machine has a CUDA GPU")),
]


def _bad_run(args: list[str], ws) -> object:
    base = {"--model": str(sample("digits_logreg.skops")), "--data": "digits", "--method": "auto"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    return run_cli_here("compress", "--workspace", ws, *[x for kv in base.items() for x in kv])


@pytest.fixture(scope="module")
def bad_outcomes(tmp_path_factory) -> dict[int, tuple[object, object]]:
    """Every bad-flag case through ``engine.cli.main`` in this process (each is refused before anything
    runs; the table output test above runs a real process), each with its own workspace path."""
    root = tmp_path_factory.mktemp("bad-flags")
    runnable = [i for i, c in enumerate(BAD_FLAGS) if not getattr(c, "marks", ()) or not _has_cuda()]
    return {i: (_bad_run(list(_case(i)[0]), root / f"ws{i}"), root / f"ws{i}") for i in runnable}


def _case(i: int) -> tuple:
    c = BAD_FLAGS[i]
    return tuple(c.values) if hasattr(c, "values") else c


@pytest.mark.parametrize("case", [pytest.param(i, marks=getattr(c, "marks", ())) for i, c in enumerate(BAD_FLAGS)])
def test_bad_flags_exit_2_with_one_line_and_write_nothing(case, bad_outcomes):
    result, ws = bad_outcomes[case]
    words = _case(case)[1]
    lines = result.stderr_lines
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, str(result)
    assert words in lines[0], lines[0]
    assert not ws.exists()
