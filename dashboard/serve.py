"""``python -m dashboard.serve`` (``make serve``): the dashboard as a shared team server.

It checks the deployment before anything listens, then runs Streamlit with
hardened settings. It refuses to start — one line on stderr, exit 2 — when:

- sign-in is off: no ``[frontier.users]`` and no ``[auth]`` provider in the
  secrets Streamlit will read (``~/.streamlit/secrets.toml`` and
  ``./.streamlit/secrets.toml``), or that set-up is wrong;
- XSRF or CORS protection is turned off, or static file serving on, in a
  ``config.toml`` or a ``STREAMLIT_*`` variable;
- the upload limit asked for (``--max-upload-mb``, ``server.maxUploadSize``)
  is above :data:`dashboard.uploads.SERVER_UPLOAD_MB`.

``--check`` validates and exits without serving.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dashboard import uploads
from dashboard.auth import config
from dashboard.auth.gate import SERVE_FLAG
from engine.errors import FrontierError, first_line

APP = Path(__file__).resolve().parent / "app.py"
# option -> (value given to Streamlit, the values a config file or variable may hold without a refusal)
GUARDED: dict[str, tuple[str, tuple[str, ...]]] = {
    "server.enableXsrfProtection": ("true", ("true",)),
    "server.enableCORS": ("true", ("true",)),
    "server.enableStaticServing": ("false", ("false",)),
}
HARDENED: dict[str, str] = {
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": "false",
    "server.headless": "true",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
}


def _env_name(option: str) -> str:
    """Streamlit's environment variable for ``option`` (``server.enableCORS`` -> ``STREAMLIT_SERVER_ENABLE_CORS``)."""
    section, name = option.split(".", 1)
    words, word = [], ""
    for i, ch in enumerate(name):
        boundary = ch.isupper() and word and (not word[-1].isupper() or
                                              (i + 1 < len(name) and name[i + 1].islower()))
        if boundary:
            words.append(word)
            word = ""
        word += ch
    words.append(word)
    return "_".join(["STREAMLIT", section.upper(), *(w.upper() for w in words)])


def _config_files(cwd: Path) -> list[Path]:
    return [Path.home() / ".streamlit" / "config.toml", cwd / ".streamlit" / "config.toml"]


def _secrets_files(cwd: Path) -> list[Path]:
    return [Path.home() / ".streamlit" / "secrets.toml", cwd / ".streamlit" / "secrets.toml"]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FrontierError(f"{path} could not be read: {first_line(exc)}") from None


def _configured(option: str, cwd: Path, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The value ``option`` is given outside this launcher, and where (the last place wins, like Streamlit)."""
    found = None
    section, name = option.split(".", 1)
    for path in _config_files(cwd):
        table = _read_toml(path).get(section)
        if isinstance(table, Mapping) and name in table:
            found = (str(table[name]).lower(), str(path))
    var = _env_name(option)
    if var in env:
        found = (env[var].strip().lower(), f"${var}")
    return found


def check(*, host: str, port: int, max_upload_mb: int, cwd: Path, env: Mapping[str, str]) -> config.SignIn:
    """Validate a team deployment; one-line :class:`FrontierError` naming what to fix."""
    if not host.strip() or any(c.isspace() for c in host):
        raise FrontierError(f"HOST {host!r} is not a host name or address")
    if not 1 <= port <= 65535:
        raise FrontierError(f"PORT {port} is not a port number (1-65535)")
    cap = uploads.SERVER_UPLOAD_MB
    if not 1 <= max_upload_mb <= cap:
        raise FrontierError(f"the upload limit {max_upload_mb} MB is too high for a shared server; use at most {cap}")
    for option, (_, allowed) in GUARDED.items():
        configured = _configured(option, cwd, env)
        if configured and configured[0] not in allowed:
            raise FrontierError(f"{option} is {configured[0]} in {configured[1]}; a shared server needs it "
                                f"{allowed[0]}: remove that setting")
    size = _configured("server.maxUploadSize", cwd, env)
    if size is not None:
        try:
            too_high = float(size[0]) > cap
        except ValueError:
            raise FrontierError(f"server.maxUploadSize {size[0]!r} in {size[1]} is not a number") from None
        if too_high:
            raise FrontierError(f"server.maxUploadSize is {size[0]} MB in {size[1]}; a shared server allows at "
                                f"most {cap}: lower it")
    secrets: dict[str, Any] = {}
    for path in _secrets_files(cwd):
        secrets.update(_read_toml(path))
    signin = config.read(secrets)
    if not signin.required:
        raise FrontierError("sign-in is off: add users to .streamlit/secrets.toml ([frontier.users], hashes from "
                            "`python -m dashboard.auth hash`) or an [auth] identity provider")
    if signin.providers:
        try:
            import authlib  # noqa: F401
        except ImportError:
            raise FrontierError("sign-in with an identity provider needs Authlib; pip install 'Authlib>=1.3.2'") from None
    return signin


def streamlit_command(*, host: str, port: int, max_upload_mb: int) -> list[str]:
    """The ``streamlit run`` command line with the hardened settings."""
    options = {"server.address": host, "server.port": str(port), "server.maxUploadSize": str(max_upload_mb)}
    options |= {option: value for option, (value, _) in GUARDED.items()} | HARDENED
    flags = [part for option, value in options.items() for part in (f"--{option}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *flags, "--", SERVE_FLAG]


def _plain_http_note(host: str, cwd: Path, env: Mapping[str, str]) -> str | None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback or _configured("server.sslCertFile", cwd, env):
        return None
    return (f"note: serving on {host} over plain HTTP; passwords cross the network in the clear unless a "
            "TLS proxy is in front (or set server.sslCertFile/sslKeyFile)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--max-upload-mb", type=int, default=uploads.SERVER_UPLOAD_MB,
                        help=f"largest upload in MB (at most {uploads.SERVER_UPLOAD_MB})")
    parser.add_argument("--check", action="store_true", help="validate the deployment and exit")
    args = parser.parse_args(argv)
    cwd, env = Path.cwd(), os.environ
    try:
        signin = check(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb, cwd=cwd, env=env)
    except FrontierError as exc:
        print(f"make serve: {exc.message}", file=sys.stderr)
        return 2
    if args.check:
        ways = [w for w, on in (("passwords", signin.passwords), ("identity provider", signin.providers)) if on]
        print(f"ready: sign-in by {' and '.join(ways)}; {len(signin.admins)} admin(s)")
        return 0
    note = _plain_http_note(args.host, cwd, env)
    if note:
        print(note, file=sys.stderr)
    command = streamlit_command(host=args.host, port=args.port, max_upload_mb=args.max_upload_mb)
    sys.stdout.flush()
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
