"""Error messages speak the words of the place the input was made, and user text cannot break them."""

from __future__ import annotations

import pytest

from engine.errors import OPTIONS, FrontierError, first_line, option, render


def test_an_option_renders_as_a_flag_in_the_cli_and_as_a_label_in_the_ui():
    err = FrontierError(f"pass {option('drop', 'name')} or check {option('target')}")
    assert err.message == str(err) == "pass --drop name or check --target"
    assert err.ui_message == "pass 'Drop columns': name or check 'Target column'"


@pytest.mark.parametrize("name", ["\x02bogus\x03", "\x02drop\x01x\x03y", "a\x01b", "\x03\x02", "model\x02"])
def test_marker_characters_in_user_text_never_raise_or_leak(name):
    err = FrontierError(f"'{name}' failed; see {option('threads')}")
    for text in (err.message, err.ui_message, render(err.template)):
        assert not set(text) & {"\x01", "\x02", "\x03"}
        assert "\n" not in text
    assert err.message.endswith("see --threads")


def test_messages_are_one_line():
    assert FrontierError("a\nb\r\n  c").message == "a b c"
    assert first_line(ValueError("\n\nfirst\nsecond")) == "first"
    assert first_line(ValueError("")) == "ValueError"


def test_a_torchscript_failure_is_told_by_its_cause_not_the_interpreter_banner():
    import torch

    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(64, 8)))
    with pytest.raises(Exception) as caught:
        scripted(torch.zeros(2, 30))
    assert str(caught.value).startswith("The following operation failed in the TorchScript interpreter.")
    assert first_line(caught.value) == "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x30 and 64x8)"
    # a hostile model can raise the banner itself: the last line still comes out printable
    forged = RuntimeError("The following operation failed in the TorchScript interpreter.\n\n**x**\x1b[2J")
    assert first_line(forged) == "**x**\\x1b[2J"


def test_every_option_has_both_vocabularies():
    for name, (cli, ui) in OPTIONS.items():
        assert cli.startswith("--") and ui and not ui.startswith("--"), name
    with pytest.raises(KeyError):
        option("no_such_option")


@pytest.mark.parametrize("name", ["\x1b[2J\x1b[31mred", "nul\x00byte", "bell\x07", "c1\x9bcsi", "tab\there"])
def test_control_characters_from_hostile_names_are_escaped(name):
    err = FrontierError(f"'{name}.onnx' is not a valid ONNX model")
    for text in (err.message, err.ui_message):
        assert text.isprintable(), repr(text)
    assert first_line(ValueError(f"bad {name}")).isprintable()


def test_the_cli_turns_an_unexpected_error_into_one_line(monkeypatch, capsys):
    from engine import cli

    def boom(args):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setitem(cli.COMMANDS, "benchmark", boom)
    code = cli.main(["benchmark", "--model", "m.onnx", "--data", "iris"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error: unexpected RuntimeError: something broke") and "Traceback" not in err[0]
