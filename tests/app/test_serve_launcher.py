"""``make serve`` (``python -m dashboard.serve``) refuses an unsafe deployment before anything listens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from app_support import team_secrets

from dashboard import serve, uploads

REPO = Path(__file__).resolve().parents[2]


def _toml(data: dict, prefix: str = "") -> str:
    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        elif isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, list):
            lines.append(f"{k} = [{', '.join(repr(x).replace(chr(39), chr(34)) for x in v)}]")
        else:
            lines.append(f"{k} = {v}")
    out = "\n".join(lines) + "\n"
    for k, v in tables:
        name = f"{prefix}{k}"
        out += f"\n[{name}]\n" + _toml(v, prefix=f"{name}.")
    return out


@pytest.fixture
def site(tmp_path) -> Path:
    """A working directory and home of its own: the launcher reads ./.streamlit and ~/.streamlit."""
    (tmp_path / ".streamlit").mkdir()
    return tmp_path


def _write(site: Path, name: str, data: dict, *, home: bool = False) -> None:
    folder = site / "home" / ".streamlit" if home else site / ".streamlit"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(_toml(data))


def _launch(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    clean |= {"HOME": str(site / "home"), "PYTHONPATH": str(REPO)} | env
    return subprocess.run([sys.executable, "-m", "dashboard.serve", "--check", *args], cwd=site, env=clean,
                          capture_output=True, text=True, timeout=120)


def _refused(out: subprocess.CompletedProcess, words: str) -> None:
    assert out.returncode == 2, out
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("make serve: ") and words in lines[0], out.stderr


def test_a_team_set_up_is_accepted(site):
    _write(site, "secrets.toml", team_secrets())
    out = _launch(site)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ready: sign-in by passwords; 1 admin(s)"


def test_sign_in_off_is_refused(site):
    """Attack/accident: `make serve` on a fresh checkout would hand every visitor the local admin."""
    _refused(_launch(site), "sign-in is off")


def test_secrets_in_the_home_folder_count(site):
    _write(site, "secrets.toml", team_secrets(), home=True)
    assert _launch(site).returncode == 0


@pytest.mark.parametrize("secrets, words", [
    ({"frontier": {"users": {}}}, "[frontier.users] in secrets.toml is empty"),
    ({"frontier": {"users": {"alice": "hunter2"}}}, "not in the form scrypt"),
])
def test_a_broken_sign_in_set_up_is_refused(site, secrets, words):
    _write(site, "secrets.toml", secrets)
    _refused(_launch(site), words)


def test_an_unreadable_secrets_file_is_refused(site):
    (site / ".streamlit" / "secrets.toml").write_text("[frontier.users\nalice = ")
    _refused(_launch(site), "could not be read")


@pytest.mark.parametrize("config, words", [
    ({"server": {"enableXsrfProtection": False}}, "server.enableXsrfProtection is false"),
    ({"server": {"enableCORS": False}}, "server.enableCORS is false"),
    ({"server": {"enableStaticServing": True}}, "server.enableStaticServing is true"),
    ({"server": {"maxUploadSize": 500}}, "server.maxUploadSize is 500 MB"),
])
def test_weakened_streamlit_settings_in_config_toml_are_refused(site, config, words):
    _write(site, "secrets.toml", team_secrets())
    _write(site, "config.toml", config)
    _refused(_launch(site), words)


@pytest.mark.parametrize("var, value, words", [
    ("STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION", "false", "$STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION"),
    ("STREAMLIT_SERVER_ENABLE_CORS", "False", "server.enableCORS is false"),
    ("STREAMLIT_SERVER_MAX_UPLOAD_SIZE", "1000", "server.maxUploadSize is 1000 MB"),
])
def test_weakened_settings_in_the_environment_are_refused(site, var, value, words):
    _write(site, "secrets.toml", team_secrets())
    _refused(_launch(site, **{var: value}), words)


def test_too_high_an_upload_limit_is_refused(site):
    _write(site, "secrets.toml", team_secrets())
    _refused(_launch(site, "--max-upload-mb", "500"), f"use at most {uploads.SERVER_UPLOAD_MB}")


def test_the_command_carries_the_hardened_settings():
    cmd = serve.streamlit_command(host="0.0.0.0", port=8600, max_upload_mb=64)
    options = dict(zip(cmd[5::2], cmd[6::2], strict=False))
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    assert options["--server.address"] == "0.0.0.0" and options["--server.port"] == "8600"
    assert options["--server.maxUploadSize"] == "64"
    for option, value in {"server.enableXsrfProtection": "true", "server.enableCORS": "true",
                          "server.enableStaticServing": "false", "client.showErrorDetails": "none",
                          "client.toolbarMode": "minimal", "browser.gatherUsageStats": "false",
                          "server.headless": "true"}.items():
        assert options[f"--{option}"] == value
    assert cmd[-2:] == ["--", "--frontier-serve"]


def test_streamlit_env_names_match_streamlit():
    assert serve._env_name("server.enableXsrfProtection") == "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION"
    assert serve._env_name("server.enableCORS") == "STREAMLIT_SERVER_ENABLE_CORS"
    assert serve._env_name("server.maxUploadSize") == "STREAMLIT_SERVER_MAX_UPLOAD_SIZE"


def test_make_run_binds_to_localhost_and_make_serve_where_told():
    run = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "--server.address 127.0.0.1" in run.stdout
    served = subprocess.run(["make", "-n", "serve", "HOST=0.0.0.0", "PORT=9000"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert "-m dashboard.serve --host 0.0.0.0 --port 9000" in served.stdout
