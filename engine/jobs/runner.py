"""Compatibility entry point: ``python -m engine.jobs.runner work|supervise JOB_DIR``.

Supervisors started by an earlier release spawn workers with this command line;
new code uses ``python -m engine.jobs.worker`` and ``python -m engine.jobs.supervisor``.
"""

from __future__ import annotations

import sys

from engine.jobs import supervisor, worker


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("work", "supervise"):
        print("usage: python -m engine.jobs.runner work|supervise JOB_DIR", file=sys.stderr)
        return 2
    return worker.main(argv[1:]) if argv[0] == "work" else supervisor.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
