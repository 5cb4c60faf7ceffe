"""``--time-limit`` bounds each model step from the CLI; bad values are refused before anything is written."""

from __future__ import annotations

import pytest
from frontier_support import FAST_BENCH, run_cli, sample


@pytest.mark.parametrize("value", ["0", "-1", "99999", "nan"])
def test_out_of_range_time_limits_are_refused_up_front(tmp_path, value):
    r = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--data", "digits", "--workspace", tmp_path / "ws",
                "--time-limit", value)
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "--time-limit" in r.stderr_lines[0], str(r)
    assert not (tmp_path / "ws").exists()


def test_a_hanging_model_is_stopped_at_the_step_limit_and_the_finished_one_is_kept(tmp_path):
    import torch

    class Hang(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x.sum()
            while bool(y > -1.0):  # never false
                y = y + 1.0
            return x[:, :10]

    hang = tmp_path / "hang.pt"
    torch.jit.save(torch.jit.script(Hang()), str(hang))
    r = run_cli("benchmark", "--model", sample("digits_mlp.onnx"), "--model", hang, "--data", "digits",
                "--workspace", tmp_path / "ws", "--trust", "--time-limit", "3", *FAST_BENCH, timeout=120)
    assert r.returncode == 1, str(r)
    (line,) = [s for s in r.stderr_lines if s.startswith("error:")]
    assert "3 s" in line and "hang.pt" in line and "--time-limit" in line, line
    assert "kept" in line  # the ONNX model's finished run is stored and named
    assert "Traceback" not in r.stderr
