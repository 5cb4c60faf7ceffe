"""``python -m dashboard.auth hash [--user NAME]``: print a password hash for ``.streamlit/secrets.toml``.

The password is read twice from the terminal (not echoed), or once from
standard input when it is not a terminal (``printf '%s' "$PW" | python -m
dashboard.auth hash``). A bad input exits 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from dashboard.auth import config, passwords
from engine.errors import FrontierError


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise FrontierError("the two passwords differ; run the command again")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.auth",
                                     description="Make a password hash for [frontier.users] in .streamlit/secrets.toml.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("hash", help="read a password, print its scrypt hash")
    make.add_argument("--user", help="print a whole `NAME = \"hash\"` line for [frontier.users]")
    args = parser.parse_args(argv)
    try:
        if args.user is not None and not config.USER_NAME_RE.fullmatch(args.user):
            raise FrontierError("--user may use only letters, digits and . _ @ - (up to 64, starting with a "
                                "letter or digit)")
        stored = passwords.hash_password(_read_password())
    except FrontierError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("error: no password given", file=sys.stderr)
        return 2
    print(f'{args.user} = "{stored}"' if args.user else stored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
