"""The service's monitoring helpers that need no service: capture retention over idle endpoints."""

from __future__ import annotations

import time

from automl.endpoint_monitor import capture_dir, enforce_all
from automl.monitoring.capture import Retention


def test_retention_reaches_idle_endpoints(tmp_path):
    old = capture_dir(tmp_path, "idle") / "2020" / "01" / "01" / "00" / "a.jsonl"
    new = capture_dir(tmp_path, "busy") / time.strftime("%Y/%m/%d/%H", time.gmtime()) / "b.jsonl"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text("{}\n")
    assert enforce_all(tmp_path, Retention(days=30)) == 1
    assert not old.exists() and new.exists()
