"""Entry point of a job process: ``python -m automl.jobs.launch JOB_ID RUNNER_PID``.

With ``--standby`` in place of ``JOB_ID`` the process is a warm one: it imports the engine and
starts its pool of trial workers (the forkserver's imports, seconds of CPU) before any job is
claimed, then reads the job id on stdin; end of input means "not needed" and it exits. The
runner keeps one such process ready, so a job leaving the queue starts with its workers up.

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


STANDBY = "--standby"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        watch_parent(int(argv[1]))
    from automl.jobs.execute import main as execute_main

    if argv[0] != STANDBY:
        return execute_main(argv[:1])
    executor = _warm_pool()
    job_id = sys.stdin.readline().strip()
    if not job_id:
        if executor is not None:
            executor.shutdown(wait=False)
        return 0
    return execute_main([job_id], executor=executor)


def _warm_pool():
    """The trial workers a job of this service will use; none for a Dask cluster (its workers
    are up already)."""
    from automl.jobs.execute import job_workers
    from automl.search.executors import LocalExecutor
    from automl.service_config import resolve_service_settings

    if os.environ.get("AUTOML_DASK_SCHEDULER"):
        return None
    return LocalExecutor(job_workers(resolve_service_settings()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
