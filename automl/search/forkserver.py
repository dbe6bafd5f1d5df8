"""The forkserver the local trial workers are forked from, startable before the heavy imports.

Its preload (:data:`PRELOAD`) imports what trials need (pandas, scikit-learn, the default
families' libraries) once, so each worker starts with them done. This module imports only the
standard library: the CLI calls :func:`start_early` first thing, and the forkserver's imports
then run in a process of their own while the CLI's own process imports the engine, instead of
after it (a 60 s job beside four busy processes had no worker until 24 s, and ran one trial).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading

PRELOAD = ["automl.search._forkserver_boot", "automl.search._forkserver_preload"]
"""``_forkserver_boot`` first: it makes the workers skip the parent's main module."""


def context():
    """The forkserver context, its preload set and the parent's main module described."""
    _describe_main()
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start_early() -> None:
    """Start the forkserver now, in the background (its preload takes seconds)."""
    context()
    from multiprocessing import forkserver

    threading.Thread(target=forkserver.ensure_running, name="automl-forkserver",
                     daemon=True).start()


def _describe_main() -> None:
    """Tell the forkserver (inheriting the environment) which module is the main one here, so
    that its workers do not import it again: see ``_forkserver_boot``."""
    from multiprocessing import spawn

    data = spawn.get_preparation_data("automl-worker")
    os.environ["AUTOML_PARENT_MAIN"] = json.dumps(
        {"pid": os.getpid(), "path": data.get("init_main_from_path"),
         "name": data.get("init_main_from_name")})
