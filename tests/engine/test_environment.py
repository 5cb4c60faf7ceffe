"""Environment records: what a run was measured on, and what differs between runs."""

from __future__ import annotations

import os

from engine.measure import environment


def _env(**changes):
    base = environment.record(threads=2, backend="onnxruntime", device="cpu", provider="CPUExecutionProvider",
                              precision="fp32")
    return base | changes


def test_record_names_this_machine_and_the_libraries():
    env = _env()
    assert env["cores"] == os.cpu_count() and env["threads"] == 2
    assert env["libraries"]["scikit-learn"] and env["libraries"]["onnxruntime"]
    assert env["cpu"] == environment.cpu_model()


def test_same_machine_different_backends_do_not_differ():
    assert environment.differences([_env(), _env(backend="torch", provider=None)]) == []


def test_differences_name_the_fields_and_libraries_that_differ():
    a = _env()
    b = _env(cpu="Some Other CPU", threads=8)
    b["libraries"] = a["libraries"] | {"onnxruntime": "0.0.1"}
    assert environment.differences([a, b]) == ["cpu", "threads", "onnxruntime"]
    assert environment.differences([a, None]) != []  # a run without a record is not silently equal
