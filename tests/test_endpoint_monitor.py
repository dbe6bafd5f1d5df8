"""The service's monitoring helpers that need no service: capture retention over idle endpoints,
the runner's scheduler thread."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from automl.endpoint_monitor import Scheduler, capture_dir, enforce_all
from automl.monitoring.capture import Retention
from automl.service_config import resolve_service_settings


def test_retention_reaches_idle_endpoints(tmp_path):
    old = capture_dir(tmp_path, "idle") / "2020" / "01" / "01" / "00" / "a.jsonl"
    new = capture_dir(tmp_path, "busy") / time.strftime("%Y/%m/%d/%H", time.gmtime()) / "b.jsonl"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text("{}\n")
    assert enforce_all(tmp_path, Retention(days=30)) == 1
    assert not old.exists() and new.exists()


def test_the_scheduler_follows_every_run_and_does_its_chores_whatever_fails(tmp_path):
    """The runner's thread: after_run for each run it ran (one failing does not stop the
    others), then the chores (finishing retrainings), round after round."""
    followed, chores, rounds = [], [], threading.Event()

    class Monitor:
        settings = resolve_service_settings(env={}, data_dir=str(tmp_path))
        store = SimpleNamespace(fail_running=lambda reason: 0)

        def run_due(self, endpoints):
            return [{"id": "mon_bad"}, {"id": "mon_good"}]

    def after_run(run: dict) -> None:
        if run["id"] == "mon_bad":
            raise RuntimeError("one broken follow-up")
        followed.append(run["id"])

    def chore() -> None:
        chores.append(1)
        if len(chores) >= 2:
            rounds.set()

    scheduler = Scheduler(Monitor(), lambda name: None, every_s=0.01, chores=(chore,),
                          after_run=after_run).start()
    try:
        assert rounds.wait(10)
    finally:
        scheduler.stop()
    assert followed[:2] == ["mon_good", "mon_good"]
