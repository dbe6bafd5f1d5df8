"""The in-flight board between real processes: a worker answering is seen by every process, a
worker killed mid-answer does not keep the board busy. (The shadow waiting on it:
tests/serving/test_shadows.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from automl.serving.inflight import SLOTS, InFlight, cores_taken
from tests.serving.conftest import serving_child, wait_until


def test_another_process_answering_makes_the_board_busy_until_it_is_done(tmp_path):
    board = InFlight(tmp_path / "run" / "in-flight")
    assert not board.busy()
    pid = serving_child(board.path, hold=1.0)
    assert wait_until(board.busy), "the child's answer is seen from here"
    assert wait_until(lambda: not board.busy()), "and its end"
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_threads_of_one_process_keep_it_busy_until_the_last_is_done(tmp_path):
    board, reader = InFlight(tmp_path / "b"), InFlight(tmp_path / "b")
    first, second = board.serving(), board.serving()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert reader.busy(), "one of the two requests is still being answered"
    second.__exit__(None, None, None)
    assert not reader.busy()


def test_a_worker_killed_while_answering_does_not_keep_the_board_busy(tmp_path):
    board = InFlight(tmp_path / "b")
    pid = serving_child(board.path, hold=60.0)
    assert wait_until(board.busy)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert not board.busy(), "a dead process's slot is cleared"
    assert not InFlight(board.path).busy(), "for every reader"


def test_slots_are_words_of_the_board_file(tmp_path):
    board = InFlight(tmp_path / "b")
    with board.serving():
        assert (tmp_path / "b").stat().st_size == SLOTS * 8


def test_cores_taken_when_other_processes_fill_every_core():
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("Linux only")
    code = "import time\nend = time.time() + 20\nwhile time.time() < end: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() + 1)]
    try:
        assert wait_until(cores_taken, timeout=10), "every core is wanted by a busy process"
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
