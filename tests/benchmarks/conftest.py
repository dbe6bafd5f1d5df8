"""Helpers for the tests of benchmarks/ scripts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str):
    """benchmarks/<name>.py as a module ``bench_<name>`` (a script puts its folder on sys.path
    for its siblings; taken off again so that no other test imports a script by accident)."""
    before = list(sys.path)
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.path[:] = before
    return module
