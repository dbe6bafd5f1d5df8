#!/usr/bin/env python3
"""What handing one shadow copy to another process costs the sending (production) process.

    python benchmarks/shadow_handoff.py [--copies 20000] [--size 200]

For each IPC a receiver process drains the copies while this process sends ``--copies``
messages of ``--size`` bytes ``--gap-us`` apart without waiting (a full queue drops the copy).
Reports the sender's CPU time per copy (``time.process_time``: every thread of the sender, so a
multiprocessing queue's feeder thread counts; the loop and its sleep are the same for all) and
the wall time of the send call itself (what a production request waits).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import socket
import time

ADDRESS = f"\0automl-handoff-bench-{os.getpid()}"


def _drain_socket(ready) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(ADDRESS)
    sock.settimeout(2.0)
    ready.set()
    try:
        while sock.recv(1 << 20):
            pass
    except TimeoutError:
        pass


def _drain_queue(q) -> None:
    try:
        while True:
            q.get(timeout=2.0)
    except queue.Empty:
        pass


def _drain_pipe(fd: int, other: int) -> None:
    os.close(other)  # the write end, inherited: EOF comes only when no process holds it
    while os.read(fd, 1 << 20):
        pass


def _timed(send, copies: int, message: bytes, gap_s: float) -> dict:
    """Send ``copies`` copies ``gap_s`` apart (requests arriving), timing each send call."""
    dropped, in_send, cpu = 0, 0.0, time.process_time()
    for _ in range(copies):
        started = time.perf_counter()
        dropped += not send(message)
        in_send += time.perf_counter() - started
        time.sleep(gap_s)
    return {"cpu_us": 1e6 * (time.process_time() - cpu) / copies,
            "send_call_us": 1e6 * in_send / copies, "dropped": dropped}


def unix_datagram(copies: int, message: bytes, gap_s: float) -> dict:
    ready = mp.Event()
    receiver = mp.Process(target=_drain_socket, args=(ready,))
    receiver.start()
    ready.wait()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def send(m: bytes) -> bool:
        try:
            sock.sendto(m, socket.MSG_DONTWAIT, ADDRESS)
            return True
        except BlockingIOError:
            return False
    figures = _timed(send, copies, message, gap_s)
    receiver.join()
    return figures


def mp_queue(copies: int, message: bytes, gap_s: float) -> dict:
    q = mp.Queue(256)
    receiver = mp.Process(target=_drain_queue, args=(q,))
    receiver.start()

    def send(m: bytes) -> bool:
        try:
            q.put_nowait(m)
            return True
        except queue.Full:
            return False
    cpu = time.process_time()
    figures = _timed(send, copies, message, gap_s)
    q.close()
    q.join_thread()  # the feeder thread's pickling and writing is the sender's cost too
    figures["cpu_us"] = 1e6 * (time.process_time() - cpu) / copies
    receiver.join()
    return figures


def pipe(copies: int, message: bytes, gap_s: float) -> dict:
    read, write = os.pipe()
    receiver = mp.Process(target=_drain_pipe, args=(read, write))
    receiver.start()
    os.close(read)
    os.set_blocking(write, False)

    def send(m: bytes) -> bool:
        try:
            return os.write(write, m) == len(m)  # atomic only up to PIPE_BUF (4096) bytes
        except BlockingIOError:
            return False
    figures = _timed(send, copies, message, gap_s)
    os.close(write)
    receiver.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--gap-us", type=float, default=200.0, help="pause between copies")
    args = parser.parse_args()
    message = os.urandom(args.size)
    print(json.dumps({name: run(args.copies, message, args.gap_us / 1e6) for name, run in (
        ("unix_datagram", unix_datagram), ("multiprocessing_queue", mp_queue),
        ("pipe", pipe))}, indent=2))


if __name__ == "__main__":
    main()
