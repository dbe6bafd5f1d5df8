"""The job runner: ``python -m automl.jobs.runner``.

On start, and at every heartbeat, it resumes the jobs left running by a runner that is gone
(:meth:`Runner.recover`): the job process finds the trials recorded so far and goes on with the
rest of the budget. Then it claims queued jobs (an atomic compare-and-set in the store) while fewer than
``max_concurrent_jobs`` run, each in its own process group so that it can be killed as a whole.
While there is room for another job, one warm job process waits with its trial workers started
(``launch --standby``), and the next claimed job goes to it: its first trial does not wait for
the workers' imports.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import time

from automl.endpoint_monitor import EndpointMonitor, Scheduler
from automl.endpoint_retrain import after_run, follow_up_all, mark_unfinished
from automl.jobs.launch import STANDBY
from automl.service_config import ServiceSettings, resolve_service_settings
from automl.store import FAILED, JobStore
from automl.store.endpoints import EndpointNotFound, EndpointStore
from automl.store.leases import HEARTBEAT_S, Owner, gone_here
from automl.store.monitoring import MonitoringStore

log = logging.getLogger("automl.runner")
POLL_S = 0.5
PARENT_ENV = "AUTOML_SERVE_PID"


class Runner:
    """Claims queued jobs and supervises their processes."""

    def __init__(self, store: JobStore, service: ServiceSettings):
        self.store, self.service = store, service
        self.children: dict[str, subprocess.Popen] = {}
        self.standby: subprocess.Popen | None = None
        self.stopping = False
        self.owner = Owner.here()
        self.renewed_at = 0.0

    def recover(self) -> list[str]:
        """Resume, as far as there is room, the running jobs no live runner owns (this one's
        predecessor's, or those of a runner on another service sharing the store that stopped
        renewing its leases); returns their ids. See :meth:`JobStore.take_orphans`."""
        room = self.service.max_concurrent_jobs - len(self.children)
        if room <= 0 or self.stopping:
            return []
        resumed, ended = self.store.take_orphans(self.owner, gone_here, room)
        for job_id in ended:
            log.warning("job %s was interrupted by a restart; not resumed", job_id)
        for job_id in resumed:
            log.warning("job %s was interrupted by a restart; resuming it", job_id)
            self._start(job_id)
        return resumed

    def step(self) -> None:
        """Renew leases, reap finished job processes, fail orphaned jobs, then start queued
        jobs while there is room."""
        self._heartbeat()
        self._reap()
        while len(self.children) < self.service.max_concurrent_jobs and not self.stopping:
            job = self.store.claim_next(self.owner)
            if job is None:
                break
            self._start(job["id"])
        if len(self.children) < self.service.max_concurrent_jobs and not self.stopping:
            self._keep_standby()

    def _heartbeat(self) -> None:
        if time.time() - self.renewed_at < HEARTBEAT_S:
            return
        self.store.leases.renew(self.owner)
        self.renewed_at = time.time()
        self.recover()

    def _start(self, job_id: str) -> None:
        proc = self._take_standby(job_id)
        if proc is None:
            proc = self._spawn(job_id)
        self.children[job_id] = proc
        log.info("job %s started (pid %d)", job_id, proc.pid)

    def _spawn(self, job_id: str, stdin=None) -> subprocess.Popen:
        env = {**os.environ, **self.service.to_env()}
        cmd = [sys.executable, "-m", "automl.jobs.launch", job_id, str(os.getpid())]
        return subprocess.Popen(cmd, env=env, start_new_session=True, stdin=stdin, text=True)

    def _keep_standby(self) -> None:
        if self.standby is None or self.standby.poll() is not None:
            self.standby = self._spawn(STANDBY, stdin=subprocess.PIPE)

    def _take_standby(self, job_id: str) -> subprocess.Popen | None:
        """Hand ``job_id`` to the warm process, if one is alive to take it."""
        proc, self.standby = self.standby, None
        if proc is None or proc.poll() is not None:
            return None
        try:
            proc.stdin.write(job_id + "\n")
            proc.stdin.close()
        except OSError:  # it died just now
            _killpg(proc.pid)
            proc.wait()
            return None
        return proc

    def _reap(self) -> None:
        for job_id, proc in list(self.children.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.children[job_id]
            error = {"code": "job_crashed", "message": f"the job process exited with code {code}",
                     "details": {"exit_code": code}}
            if self.store.finish(job_id, FAILED, error=error):
                log.error("job %s: process exited with code %s", job_id, code)
            self.store.leases.release(job_id)

    def stop(self) -> None:
        """Kill running jobs' process groups; their leases say this runner was alive until
        now, so the next runner on the store resumes them with the rest of their budget."""
        self.stopping = True
        if self.standby is not None:
            _killpg(self.standby.pid)
            self.standby.wait()
            self.standby = None
        for proc in self.children.values():
            _killpg(proc.pid)
            proc.wait()
        self.store.leases.renew(self.owner)
        self.children.clear()

    def run_forever(self, parent: int) -> None:
        """Run until a signal, or until ``parent`` (the ``automl serve`` process) is gone."""
        while not self.stopping:
            self.step()
            if os.getppid() != parent:
                log.error("the service process died; stopping")
                break
            time.sleep(POLL_S)
        self.stop()


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s runner %(message)s")
    service = resolve_service_settings()
    store = JobStore(service.db_url)
    store.create_schema()
    runner = Runner(store, service)

    def on_signal(signum, _frame) -> None:
        runner.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.recover()
    mark_unfinished(service.data_dir)
    scheduler = monitoring_scheduler(store, service).start()
    log.info("runner ready (%d job(s) at once)", service.max_concurrent_jobs)
    runner.run_forever(int(os.environ.get(PARENT_ENV) or os.getppid()))
    scheduler.stop()
    return 0


def monitoring_scheduler(store: JobStore, service: ServiceSettings) -> Scheduler:
    """Scheduled monitoring runs of the endpoints on the same store, the automatic retrainings
    they call for, and the end of retrainings once the challenger's job ended (a thread of the
    runner)."""
    endpoints = EndpointStore(store.engine)

    def endpoint(name: str) -> dict | None:
        try:
            return endpoints.get(name)
        except EndpointNotFound:
            return None
    return Scheduler(EndpointMonitor(MonitoringStore(store.engine), service), endpoint,
                     chores=(functools.partial(follow_up_all, store, service.data_dir),),
                     after_run=functools.partial(after_run, store, service))


if __name__ == "__main__":
    sys.exit(main())
