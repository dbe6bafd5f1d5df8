"""Property-based API checks with schemathesis against a live ``automl serve``: whatever the
generated request, the server never answers 5xx; its stateful phase follows the OpenAPI links
from created resources. Bounded to a few examples per operation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow


def test_api_never_answers_5xx(tmp_path, sample_data):
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.skip("schemathesis is not installed")
    service = ServiceProcess(tmp_path / "data").start()
    try:
        with open(sample_data / "abalone.csv", "rb") as fh:
            assert service.post("/api/v1/datasets", files={"file": fh}).status_code == 201
        # Each operation alone, then chains: schemathesis infers ~500 links from the response
        # schemas besides our own, so the stateful phase gets more scenarios to follow some.
        single = _st(st, service.url, tmp_path, "examples,coverage,fuzzing", 8)
        chained = _st(st, service.url, tmp_path, "stateful", 30)
    finally:
        service.stop()
    for result in (single, chained):
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    covered = re.search(r"API Links:\s+(\d+) covered", chained.stdout)
    assert covered and int(covered.group(1)) >= 1, "the stateful phase followed no link"


def _st(st: str, url: str, cwd: Path, phases: str, examples: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [st, "run", f"{url}/api/v1/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", str(examples), "--phases", phases, "--request-timeout", "20",
         "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, timeout=170, cwd=cwd, env=_hooks_env())


def _hooks_env() -> dict:
    """Run with schemathesis_hooks.py (valid CSV uploads, so that links can be followed)."""
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": path}
