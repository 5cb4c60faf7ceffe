"""accelerate: which runtime settings are timed (providers for the device, every graph optimisation level,
threads), that a level asked for is the one the session runs, and torch.compile of a .pt2 program timed with
its compile seconds apart and the same answers."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from frontier_support import sample

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


def test_torch_compile_of_a_pt2_program_is_timed_with_its_compile_seconds_apart():
    import contextlib
    from types import SimpleNamespace

    import torch
    from sklearn.datasets import load_digits

    from engine.compress import parity
    from engine.measure.latency import LatencySettings
    from engine.models.predictors import TorchPredictor

    X = load_digits().data
    X = np.ascontiguousarray(X[:300], dtype=np.float32)
    prep = SimpleNamespace(X=X, numeric_X=lambda: X, classes=np.arange(10), input_shape=(64,))
    program = torch.export.load(str(sample("digits_mlp.pt2")))
    rows = np.arange(120)
    src = SimpleNamespace(model=program, prep=prep, rows=rows,
                          scores=parity.scores_on(TorchPredictor(program, threads=1), prep, rows))
    latency = LatencySettings(batch_sizes=(1, 8), min_time_s=0.01, min_count=3)
    run = [accelerate.run_setting(src, accelerate.Setting("torch", "cpu", 1, compiled=c), None, latency, 0.05,
                                  contextlib.nullcontext) for c in (False, True)]
    eager, compiled = run
    assert compiled["compiled"] and "torch.compile" in compiled["setting"]
    assert compiled["build_seconds"] > 10 * eager["build_seconds"]  # the compile, kept apart from the calls
    assert compiled["max_abs_diff"] <= 1e-4 and compiled["label_agreement"] == 1.0  # the same answers
    assert [b["batch_size"] for b in compiled["batches"]] == [1, 8]
    assert compiled["speedup"] == pytest.approx(0.05 / compiled["p50_ms"])
    clean = [r for r in run if not r["skewed"]]
    best = accelerate.fastest(run)
    assert best == (min(clean, key=lambda r: r["p50_ms"]) if clean else None)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_the_cuda_precision_path_runs_here_on_the_cpu_and_reports_the_answers_it_changes(precision):
    """The fp16/bf16 + channels_last settings ``--device cuda`` times, on the CPU (no GPU is lent to every
    machine): the same code but the device. The module runs in that precision with NHWC weights, and its
    answers are compared with the fp32 source's rather than assumed equal."""
    import contextlib
    from types import SimpleNamespace

    import torch
    from sklearn.datasets import load_digits

    from engine.compress import parity
    from engine.measure.latency import LatencySettings
    from engine.models.predictors import TorchPredictor

    settings, _ = accelerate.torch_settings("torchscript", device="cuda", images=True)
    assert all(s.channels_last for s in settings) and "channels_last" in settings[1].label
    assert not any(s.channels_last for s in accelerate.torch_settings("torchscript", device="cuda")[0])

    X = np.ascontiguousarray(load_digits().data[:400].reshape(-1, 1, 8, 8), dtype=np.float32)
    prep = SimpleNamespace(X=X, numeric_X=lambda: X, classes=np.arange(10), input_shape=(1, 8, 8))
    module = torch.jit.load(str(sample("digits_cnn.pt")))  # our own sample: trusted
    rows = np.arange(400)
    src = SimpleNamespace(model=module, prep=prep, rows=rows,
                          scores=parity.scores_on(TorchPredictor(module, threads=1), prep, rows))
    setting = accelerate.Setting("torch", "cpu", 1, precision=precision, channels_last=True)
    built = accelerate._torch_predictor(SimpleNamespace(model=torch.jit.load(str(sample("digits_cnn.pt"))),
                                                        prep=prep), setting)
    weights = [p for p in built.module.parameters() if p.dim() == 4]
    assert weights and all(p.dtype == {"fp16": torch.float16, "bf16": torch.bfloat16}[precision] for p in weights)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)

    row = accelerate.run_setting(src, setting, None, LatencySettings(batch_sizes=(1,), min_time_s=0.01, min_count=3),
                                 0.05, contextlib.nullcontext)
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in module.parameters())  # converted a copy
    oracle = torch.softmax(module(torch.from_numpy(X)).float(), -1)  # fp32, by hand
    low = torch.softmax(built.module(torch.from_numpy(X).to(weights[0].dtype)).float(), -1)
    assert row["precision"] == precision and row["channels_last"]
    assert row["max_abs_diff"] == pytest.approx((low - oracle).abs().max().item(), rel=1e-3, abs=1e-6)
    assert row["label_agreement"] == pytest.approx((low.argmax(-1) == oracle.argmax(-1)).float().mean().item())
    assert 0 < row["max_abs_diff"] < 0.1 and row["label_agreement"] > 0.98
    assert accelerate.fastest([row]) is None  # changed answers (beyond 1e-4) are never the fastest "same" setting
