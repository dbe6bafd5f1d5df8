"""Imported once, in the forkserver that forks the trial workers, and nowhere else.

multiprocessing prepares each worker by importing the parent's main module again (as
``__mp_main__``) unless the worker's own ``__main__`` already is that module. Trials never need
the user's main module, and importing it re-runs a script's top-level code: a script calling
``automl.fit`` outside an ``if __name__ == "__main__":`` guard would start a job inside every
worker. So the forkserver's ``__main__`` takes the name of the parent's main module (passed in
``AUTOML_PARENT_MAIN``), and the workers it forks skip that import. Workers only run functions
of this package.
"""

from __future__ import annotations

import json
import os
import sys
import types

ENV = "AUTOML_PARENT_MAIN"


def _adopt_parent_main() -> None:
    try:
        parent = json.loads(os.environ.get(ENV, "{}"))
    except ValueError:
        return
    if parent.get("pid") != os.getppid():
        return
    main = sys.modules.get("__main__")
    if main is None:
        main = sys.modules["__main__"] = types.ModuleType("__main__")
    if parent.get("path"):
        main.__file__ = parent["path"]
    if parent.get("name"):
        main.__spec__ = types.SimpleNamespace(name=parent["name"])


_adopt_parent_main()
