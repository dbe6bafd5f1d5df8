"""Entry point of a job process: ``python -m automl.jobs.launch JOB_ID RUNNER_PID``.

It watches the runner before importing the engine (seconds of imports): the runner may die in
that time, and then ``os.getppid()`` read later would already be init's. When the runner is
gone the job kills its own process group, so a restart never finds an orphan still writing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def watch_parent(parent: int) -> None:
    """Kill this process group as soon as ``parent`` is no longer this process's parent."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        watch_parent(int(argv[1]))
    from automl.jobs.execute import main as execute_main

    return execute_main(argv[:1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
