"""`python -m stack.guard PGDATA`: stands in for the detached Postgres as a child of `up`.

Started by `up` with PR_SET_PDEATHSIG (SIGTERM): when `up` dies without stopping Postgres, the
guard gets SIGTERM and asks the postmaster for a fast shutdown (SIGINT), so no server outlives
the stack. `up` dismisses the guard with SIGUSR1 before it stops Postgres itself.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType


def main(pgdata: Path) -> int:
    def shut_postgres_down(signum: int, frame: FrameType | None) -> None:
        try:
            pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)   # fast shutdown: roll back, checkpoint, exit
        except (OSError, ValueError, IndexError):
            pass
        raise SystemExit(0)

    def dismissed(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shut_postgres_down)
    signal.signal(signal.SIGUSR1, dismissed)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for `up`, which stops Postgres itself
    if os.getppid() == 1:   # `up` died before the guard could arm itself
        shut_postgres_down(signal.SIGTERM, None)
    while True:
        signal.pause()


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
