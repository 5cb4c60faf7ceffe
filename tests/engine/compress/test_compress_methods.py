"""Which methods exist, which apply to which model formats, and the one-line reasons when they do not."""

from __future__ import annotations

import pytest

from engine.compress.methods import METHODS, parse_methods, plan_recipes, recipes_for
from engine.errors import FrontierError


def test_auto_is_every_recipe_and_names_are_read_once_in_order():
    assert parse_methods(["fp16", "ONNX", "fp16"]) == ("fp16", "onnx")
    assert {r.label for r in recipes_for(("auto",))} == {"onnx", "dynamic-int8", "dynamic-int8 (torch)",
                                                         "static-int8", "fp16", *ALL_TORCH}
    assert set(METHODS) >= {"onnx", "dynamic-int8", "static-int8", "fp16", "prune", "distill", "accelerate", "auto"}
    assert recipes_for(("accelerate",)) == ()  # runtime settings of the model itself: no artifact
    assert plan_recipes(("accelerate",), "onnx") == ((), [])
    assert [r.label for r in recipes_for(("prune",), ("channels",))] == ["prune (channels)"]


ALL_TORCH = {"prune (magnitude)", "prune (channels)", "distill (student)", "distill (twin)"}
DISTILL = {"distill (student)", "distill (twin)"}
PRUNE = {"prune (magnitude)", "prune (channels)"}


@pytest.mark.parametrize(("value", "words"), [("int4", "--method: unknown method 'int4'"),
                                              ("", "--method: unknown method ''")])
def test_unknown_methods_are_one_line_errors(value, words):
    with pytest.raises(FrontierError) as err:
        parse_methods([value])
    assert words in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize(("methods", "fmt", "runs", "skips"), [
    (("auto",), "torchscript", {"onnx", "dynamic-int8", "dynamic-int8 (torch)", "static-int8", "fp16", *ALL_TORCH},
     set()),
    (("auto",), "torch_export", {"onnx", "dynamic-int8", "static-int8", "fp16", *ALL_TORCH}, {"dynamic-int8 (torch)"}),
    (("auto",), "onnx", {"dynamic-int8", "static-int8", "fp16", *DISTILL}, {"onnx", "dynamic-int8 (torch)", *PRUNE}),
    (("auto",), "skops", {"onnx", "dynamic-int8", "static-int8", "fp16", *DISTILL}, {"dynamic-int8 (torch)", *PRUNE}),
    (("dynamic-int8",), "onnx", {"dynamic-int8"}, {"dynamic-int8 (torch)"}),  # one of its recipes applies
])
def test_recipes_by_format(methods, fmt, runs, skips):
    run, skipped = plan_recipes(methods, fmt)
    assert {r.label for r in run} == runs
    labels = {s["method"] + (f" ({s['flavour'] or 'torch'})" if s["backend"] == "torch" else "") for s in skipped}
    assert labels == skips and all(s["reason"] and "\n" not in s["reason"] for s in skipped)


def test_a_method_asked_by_name_that_cannot_apply_is_refused_in_one_line():
    with pytest.raises(FrontierError) as err:
        plan_recipes(("onnx",), "onnx", name="m.onnx")
    assert err.value.message.startswith("--method onnx does not apply to 'm.onnx': the model is already ONNX")
    _, skipped = plan_recipes(("auto",), "torchscript", device="cuda")  # torch's int8 kernels are CPU-only
    assert [s["method"] for s in skipped] == ["dynamic-int8"] and "CPU only" in skipped[0]["reason"]


@pytest.mark.parametrize(("fmt", "words"), [
    ("onnx", "an ONNX file is not pruned: prune the torch model it was exported from"),
    ("skops", "a scikit-learn model has no layers to prune"),
    ("pickle", "a scikit-learn model has no layers to prune")])
def test_pruning_anything_but_a_torch_model_is_refused_with_the_reason(fmt, words):
    with pytest.raises(FrontierError) as err:
        plan_recipes(("prune",), fmt, name="m")
    assert err.value.message.startswith("--method prune does not apply to 'm': ") and words in err.value.message
    assert "\n" not in err.value.message


def test_the_job_payload_reads_back_and_refuses_what_it_does_not_know():
    from engine.jobs.spec import CompressPayload, JobSpec

    p = CompressPayload(artifact_id="0" * 16, dataset_id="1" * 16, target="target", methods=("auto",))
    assert CompressPayload.from_dict(p.to_dict()) == p
    assert JobSpec.from_request({"kind": "compress", **p.to_dict()}).payload == p
    for bad in ({"methods": ["int4"]}, {"gate": -1}, {"calibration": "kl"}, {"task": "regression"}, {"extra": 1},
                {"sparsity": 0.0}, {"sparsity": 0.99}, {"alpha": 1.5}, {"temperature": 0}, {"student_depth": 9},
                {"distill_epochs": 0}, {"fine_tune_epochs": -1}, {"prune_kinds": []}, {"prune_kinds": ["random"]},
                {"student_width": True}, {"sparsity": float("nan")}):
        with pytest.raises(FrontierError) as err:
            CompressPayload.from_dict(p.to_dict() | bad)
        assert "\n" not in err.value.message
