"""The shadow process's plumbing on real UNIX sockets: what a worker sends arrives whole, a copy
nobody takes is dropped, counted and starts a shadow process, a full queue drops and counts, and
answers are compared with production. (Through gunicorn: tests/e2e/test_shadow_live.py.)"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from automl.serving.inflight import InFlight
from automl.serving.invocation import CSV, JSON, invoke
from automl.serving.shadows import (
    ShadowClient,
    ShadowServer,
    address,
    bind,
    decode,
    encode,
    lowest_priority,
)
from automl.serving.variants import Variant
from tests.serving.conftest import serving_child, wait_until


def copy_of(titanic, titanic_rows):
    body = titanic_rows.head(4).to_csv(index=False, header=False).encode()
    return body, invoke(titanic, body, CSV, JSON)


def test_a_copy_arrives_whole(titanic, titanic_rows):
    body, production = copy_of(titanic, titanic_rows)
    shadow = Variant("dark", 1.0, titanic, "/jobs/j1/model")
    datagram = b"".join(encode("ep", shadow, body, CSV, production, "id-1"))
    copy = decode(datagram)
    assert (copy.endpoint, copy.variant, copy.source, copy.body, copy.content_type,
            copy.inference_id) == ("ep", "dark", "/jobs/j1/model", body, CSV, "id-1")
    assert copy.production == production


def test_one_name_per_data_directory_and_one_process_per_name(tmp_path):
    name = address(str(tmp_path / "a"))
    assert name != address(str(tmp_path / "b")) and name.startswith("\0")
    first = bind(name + uuid.uuid4().hex)
    assert first is not None and bind(first.getsockname()) is None
    first.close()


def test_a_copy_nobody_takes_is_dropped_counted_and_starts_the_shadow(tmp_path, titanic,
                                                                      titanic_rows):
    marker = tmp_path / "started"
    command = [sys.executable, "-c", "import pathlib, sys; "
               "pathlib.Path(sys.argv[1]).write_text(' '.join(sys.argv[2:]))", str(marker)]
    dropped = []
    client = ShadowClient(f"\0automl-test-{uuid.uuid4().hex}", command,
                          lambda *names: dropped.append(names))
    body, production = copy_of(titanic, titanic_rows)
    shadow = Variant("dark", 1.0, None, "/nowhere")
    assert not client.submit("ep", shadow, body, CSV, production, "id")
    assert not client.submit("ep", shadow, body, CSV, production, "id")
    assert dropped == [("ep", "dark"), ("ep", "dark")]
    deadline = time.time() + 30
    while time.time() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text() == f"--parent {os.getpid()}", "started once, told its parent"
    while client._child is None:  # set by the spawning thread just after the start
        time.sleep(0.01)
    assert client._child.wait(timeout=10) == 0


def test_a_full_queue_drops_and_counts_and_answers_are_compared(titanic, titanic_rows):
    name = f"\0automl-test-{uuid.uuid4().hex}"
    sock = bind(name)
    results, dropped = [], []
    server = ShadowServer(sock, lambda path: titanic, results.append,
                          lambda *names: dropped.append(names), size=1, idle_exit=0.5)
    client = ShadowClient(name, [sys.executable, "-c", "pass"])
    body, production = copy_of(titanic, titanic_rows)
    shadow = Variant("dark", 1.0, None, "/jobs/j1/model")
    assert all(client.submit("ep", shadow, body, CSV, production, f"id-{i}") for i in range(3))
    server.start_receiving()
    deadline = time.time() + 10
    while time.time() < deadline and len(dropped) < 2:
        time.sleep(0.05)
    assert dropped == [("ep", "dark"), ("ep", "dark")], "one fits the queue, two are dropped"
    server.run()  # answers the queued copy, then exits when idle
    [result] = results
    assert (result.endpoint, result.variant, result.inference_id) == ("ep", "dark", "id-0")
    assert result.answer.status == 200 and result.rows == result.agreed == 4, "same model"
    sock.close()


def autogroup(pid: int) -> tuple[str, int] | None:
    """``pid``'s autogroup and its nice value (``/autogroup-136 nice 19``); None without them.

    Kernels with autogroups off (``sched_autogroup_enabled`` 0, as on some CI machines) show
    the file empty."""
    try:
        fields = Path(f"/proc/{pid}/autogroup").read_text().split()
    except OSError:
        return None
    if len(fields) != 3:
        return None
    return fields[0], int(fields[2])


def test_the_shadow_process_priority_is_the_lowest_in_a_cpu_group_of_its_own():
    """SCHED_IDLE, and its own session whose autogroup (niced to 19) is not the service's: in
    the workers' autogroup it would spend their CPU share beside other busy programs."""
    if not hasattr(os, "SCHED_IDLE"):
        pytest.skip("SCHED_IDLE is Linux's")
    workers = autogroup(os.getpid())
    pid = os.fork()
    if pid == 0:
        lowest_priority()
        own = autogroup(os.getpid())
        os._exit(0 if os.sched_getscheduler(0) == os.SCHED_IDLE and os.getsid(0) == os.getpid()
                 and (workers is None or own is None or (own[1] == 19 and own[0] != workers[0]))
                 else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_the_shadow_waits_for_production_to_finish_before_it_answers(tmp_path, titanic,
                                                                      titanic_rows):
    board = InFlight(tmp_path / "board")
    looked, answered_while_busy = [], []

    def busy() -> bool:
        looked.append(board.busy())
        return looked[-1]

    name = f"\0automl-test-{uuid.uuid4().hex}"
    server = ShadowServer(bind(name), lambda path: titanic,
                          lambda result: answered_while_busy.append((board.busy(), result)),
                          lambda *names: None, idle_exit=1.0, busy=busy)
    server.start_receiving()
    body = titanic_rows.head(2).to_csv(index=False, header=False).encode()
    pid = serving_child(board.path, hold=1.0)
    assert wait_until(board.busy)
    client = ShadowClient(name, [sys.executable, "-c", "pass"])
    assert client.submit("ep", Variant("dark", 1.0, None, "/m"), body, CSV,
                         invoke(titanic, body, CSV, JSON), "id-1")
    server.run()  # answers the copy once the child is done, exits 1 s later
    os.waitpid(pid, 0)
    [(busy_then, result)] = answered_while_busy
    assert looked[0] is True and not busy_then, "it waited, and answered once nobody was"
    assert result.inference_id == "id-1" and result.answer.status == 200


def test_beside_programs_taking_every_core_the_shadow_answers_one_copy_a_second(titanic,
                                                                                titanic_rows):
    name = f"\0automl-test-{uuid.uuid4().hex}"
    answered = []
    server = ShadowServer(bind(name), lambda path: titanic,
                          lambda result: answered.append(time.monotonic()), lambda *names: None,
                          idle_exit=0.3, crowded=lambda: True)
    server.start_receiving()
    body = titanic_rows.head(2).to_csv(index=False, header=False).encode()
    client = ShadowClient(name, [sys.executable, "-c", "pass"])
    production = invoke(titanic, body, CSV, JSON)
    for i in range(3):
        assert client.submit("ep", Variant("dark", 1.0, None, "/m"), body, CSV, production, f"{i}")
    assert wait_until(lambda: server.copies.qsize() == 3)
    server.run()
    assert len(answered) == 3, "none is lost"
    gaps = [later - earlier for earlier, later in zip(answered, answered[1:], strict=False)]
    assert min(gaps) >= 0.9, gaps
