"""The shadow process of a service: ``python -m web.shadow_process --parent PID``.

Started by a web worker (:class:`~automl.serving.shadows.ShadowClient`) when its first shadow
copy finds nobody listening; loads the first copy's model, then answers every worker's copies at
the lowest CPU priority, each when no worker is answering a production request (and, while
other programs take every core, one a second: :mod:`automl.serving.inflight`), and records them
exactly as a worker would (:func:`web.variant_service.record_shadow`): Prometheus counts in the
service's multiprocess directory, captures under the shadow variant's name.
Settings come from the ``AUTOML_*`` variables the worker was started with.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from automl.service_config import resolve_service_settings
from automl.serving.inflight import InFlight, board_path, cores_taken
from automl.serving.shadows import ShadowServer, address, bind, lowest_priority

log = logging.getLogger("automl.shadow")
WARM_NICE = 10
"""The shadow's priority while it imports and loads its first model (within its worker's CPU
group, behind the workers); then :func:`lowest_priority`. Loading at the lowest priority
beside other busy programs took minutes, and every copy meanwhile was dropped."""


def main(argv: list[str] | None = None) -> int:
    """Take the service's shadow socket (exit 0 if another process has it) and serve it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parent", type=int, default=None,
                        help="exit when this process (the worker that started us) is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s shadow %(message)s")
    os.nice(WARM_NICE)
    settings = resolve_service_settings()
    sock = bind(address(settings.data_dir))
    if sock is None:
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    board = InFlight(board_path(settings.data_dir))
    server = ShadowServer(sock, _loader(), _recorder(settings), _dropper(), parent=args.parent,
                          busy=board.busy, crowded=cores_taken)
    server.start_receiving()
    if not server.warm():
        return 0
    log.info("shadow process %s ready (%s)", settings.data_dir, lowest_priority())
    server.run()
    return 0


def _loader():
    from automl.serving.server import load_bundle

    return load_bundle


def _recorder(settings):
    from automl.store import JobStore
    from automl.store.monitoring import MonitoringStore
    from web.observe import Observer
    from web.variant_service import record_shadow

    observer = Observer(MonitoringStore(JobStore(settings.db_url).engine), settings)
    return lambda result: record_shadow(observer, result)


def _dropper():
    from web.variant_service import shadow_dropped

    return shadow_dropped


if __name__ == "__main__":
    sys.exit(main())
