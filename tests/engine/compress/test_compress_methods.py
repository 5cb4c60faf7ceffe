"""Which methods exist, which apply to which model formats, and the one-line reasons when they do not."""

from __future__ import annotations

import pytest

from engine.compress.methods import METHODS, parse_methods, plan_recipes, recipes_for
from engine.errors import FrontierError


def test_auto_is_every_recipe_and_names_are_read_once_in_order():
    assert parse_methods(["fp16", "ONNX", "fp16"]) == ("fp16", "onnx")
    assert {r.label for r in recipes_for(("auto",))} == {"onnx", "dynamic-int8", "dynamic-int8 (torch)",
                                                         "static-int8", "fp16"}
    assert set(METHODS) >= {"onnx", "dynamic-int8", "static-int8", "fp16", "auto"}


@pytest.mark.parametrize(("value", "words"), [("prune", "--method prune is not built yet"),
                                              ("distill", "--method distill is not built yet"),
                                              ("int4", "--method: unknown method 'int4'")])
def test_unknown_and_later_methods_are_one_line_errors(value, words):
    with pytest.raises(FrontierError) as err:
        parse_methods([value])
    assert words in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize(("methods", "fmt", "runs", "skips"), [
    (("auto",), "torchscript", {"onnx", "dynamic-int8", "dynamic-int8 (torch)", "static-int8", "fp16"}, set()),
    (("auto",), "torch_export", {"onnx", "dynamic-int8", "static-int8", "fp16"}, {"dynamic-int8 (torch)"}),
    (("auto",), "onnx", {"dynamic-int8", "static-int8", "fp16"}, {"onnx", "dynamic-int8 (torch)"}),
    (("auto",), "skops", {"onnx", "dynamic-int8", "static-int8", "fp16"}, {"dynamic-int8 (torch)"}),
    (("dynamic-int8",), "onnx", {"dynamic-int8"}, {"dynamic-int8 (torch)"}),  # one of its recipes applies
])
def test_recipes_by_format(methods, fmt, runs, skips):
    run, skipped = plan_recipes(methods, fmt)
    assert {r.label for r in run} == runs
    labels = {s["method"] + (" (torch)" if s["backend"] == "torch" else "") for s in skipped}
    assert labels == skips and all(s["reason"] and "\n" not in s["reason"] for s in skipped)


def test_a_method_asked_by_name_that_cannot_apply_is_refused_in_one_line():
    with pytest.raises(FrontierError) as err:
        plan_recipes(("onnx",), "onnx", name="m.onnx")
    assert err.value.message.startswith("--method onnx does not apply to 'm.onnx': the model is already ONNX")
    _, skipped = plan_recipes(("auto",), "torchscript", device="cuda")  # torch's int8 kernels are CPU-only
    assert [s["backend"] for s in skipped] == ["torch"] and "CPU only" in skipped[0]["reason"]


def test_the_job_payload_reads_back_and_refuses_what_it_does_not_know():
    from engine.jobs.spec import CompressPayload, JobSpec

    p = CompressPayload(artifact_id="0" * 16, dataset_id="1" * 16, target="target", methods=("auto",))
    assert CompressPayload.from_dict(p.to_dict()) == p
    assert JobSpec.from_request({"kind": "compress", **p.to_dict()}).payload == p
    for bad in ({"methods": ["prune"]}, {"gate": -1}, {"calibration": "kl"}, {"task": "regression"}, {"extra": 1}):
        with pytest.raises(FrontierError) as err:
            CompressPayload.from_dict(p.to_dict() | bad)
        assert "\n" not in err.value.message
