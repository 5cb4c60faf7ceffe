"""accelerate: which runtime settings are timed (providers for the device, every graph optimisation level,
threads), that a level asked for is the one the session runs, and torch.compile of a .pt2 program timed with
its compile seconds apart and the same answers."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from frontier_support import run_cli, sample

from engine.compress import accelerate
from engine.models.predictors import OnnxPredictor

AVAILABLE = ["AzureExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_settings_are_every_level_and_thread_count_on_the_devices_providers():
    cpu = accelerate.ort_settings(AVAILABLE, device="cpu", cores=4)
    assert {s.provider for s in cpu} == {"CPUExecutionProvider"}  # Azure is no compute provider
    assert sorted((s.level, s.threads) for s in cpu) == sorted((lv, t) for lv in accelerate.ORT_LEVELS for t in (1, 4))
    gpu = accelerate.ort_settings(AVAILABLE, device="cuda", cores=4)
    assert {s.provider for s in gpu} == {"CUDAExecutionProvider"}
    assert accelerate.thread_counts(1) == (1,) and accelerate.thread_counts(8) == (1, 8)
    torch_cpu, why = accelerate.torch_settings("torchscript", device="cpu", cores=2)
    assert [(s.threads, s.compiled) for s in torch_cpu] == [(1, False), (2, False)]
    assert any("torch.compile" in w for w in why) and any("CUDA only" in w for w in why)
    torch_gpu, _ = accelerate.torch_settings("torch_export", device="cuda", cores=2)
    assert [s.precision for s in torch_gpu if not s.compiled] == ["fp32", "fp16", "bf16"]
    assert [s.compiled for s in torch_gpu][-1]


@pytest.mark.parametrize("level", accelerate.ORT_LEVELS)
def test_the_session_runs_at_the_level_asked_for(level):
    predictor = OnnxPredictor(sample("digits_mlp.onnx"), threads=1, graph_optimization=level)
    expected = getattr(ort.GraphOptimizationLevel, {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                                                    "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}[level])
    assert predictor.session.get_session_options().graph_optimization_level == expected
    assert predictor.thread_settings["ort_graph_optimization"] == level


def test_torch_compile_of_a_pt2_program_is_timed_with_its_compile_seconds_apart(tmp_path):
    result = run_cli("compress", "--model", sample("digits_mlp.pt2"), "--trust", "--data", "digits_holdout",
                     "--method", "accelerate", "--cv", "2", "--batch-sizes", "1", "--latency-time", "0.01",
                     "--latency-count", "3", "--threads", "1", "--workspace", tmp_path / "ws", "--json", timeout=300)
    assert result.returncode == 0, str(result)
    acc = result.json["acceleration"]
    assert result.json["variants"] == [] and acc["errors"] == [], acc["errors"]
    (compiled,) = [r for r in acc["settings"] if r["compiled"]]
    eager = [r for r in acc["settings"] if r["runtime"] == "torch" and not r["compiled"]]
    assert compiled["build_seconds"] > max(r["build_seconds"] for r in eager)  # the compile, not the calls
    assert compiled["max_abs_diff"] <= 1e-4 and compiled["label_agreement"] == 1.0
    assert len([r for r in acc["settings"] if r["runtime"] == "onnxruntime"]) == 4 * len(accelerate.thread_counts())
    original = result.json["original"]["latency_p50_ms"]
    for r in acc["settings"]:
        assert r["speedup"] == pytest.approx(original / r["p50_ms"])
    clean = [r for r in acc["settings"] if not r["skewed"] and r["max_abs_diff"] <= 1e-4]
    assert acc["best"] == (min(clean, key=lambda r: r["p50_ms"])["setting"] if clean else None)
    assert np.isfinite([r["p50_ms"] for r in acc["settings"]]).all()
