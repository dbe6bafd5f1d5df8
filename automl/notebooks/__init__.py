"""Generated notebooks: data exploration, candidate definitions, and one per leaderboard row.

:func:`write_notebooks` writes them under ``<output>/notebooks/``. Only the data-exploration
notebook is executed at generation (its outputs are saved); the per-candidate notebooks are
left for the user to run, since each one re-runs the candidate's cross-validation.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbclient import NotebookClient

from automl.layout import JobLayout
from automl.notebooks.candidate import candidate_notebook
from automl.notebooks.job import definitions_notebook, exploration_notebook

EXECUTE_TIMEOUT_S = 300


def write_notebooks(job, output_dir: str | Path, data_path: str | Path,
                    execute_exploration: bool = True, exploration: bool = True,
                    data_name: str | None = None) -> dict[str, float]:
    """Write every notebook of ``job`` (run on the file ``data_path``); return timings in seconds.

    ``data_name`` is the file name the notebooks show and read (``DATA_PATH``): the name of the
    user's own file when ``data_path`` is the service's stored copy; default ``data_path``.
    ``exploration=False`` leaves the data-exploration notebook out (the engine writes it while
    the search runs, with :func:`write_exploration`).
    """
    layout = JobLayout(output_dir)
    layout.notebooks.mkdir(parents=True, exist_ok=True)
    data_path = Path(data_path).resolve()
    shown = data_name or str(data_path)
    timings = {}
    if exploration:
        timings["exploration_s"] = write_exploration(job.profile, output_dir, data_path,
                                                     execute_exploration, data_name)
    start = time.perf_counter()
    nbformat.write(definitions_notebook(job, data_path, shown),
                   layout.job_notebook("candidate-definitions"))
    for row in job.results:
        if row.ok:
            nb = candidate_notebook(job, row.candidate_id, data_path, shown)
            nbformat.write(nb, layout.notebook(row.candidate_id))
    timings["candidates_s"] = time.perf_counter() - start
    return timings


def write_exploration(profile, output_dir: str | Path, data_path: str | Path,
                      execute_it: bool = True, data_name: str | None = None) -> float:
    """Write (and execute) ``notebooks/data-exploration.ipynb`` from a profile; returns seconds.

    Needs only the profile, so the engine runs it beside the search. It runs on ``data_path``
    and is saved showing ``data_name`` (see :func:`write_notebooks`).
    """
    start = time.perf_counter()
    layout = JobLayout(output_dir)
    directory = layout.notebooks
    directory.mkdir(parents=True, exist_ok=True)
    data_path = Path(data_path).resolve()
    job = SimpleNamespace(profile=profile)
    explore = exploration_notebook(job, data_path)
    if execute_it:
        execute(explore, directory)
    if data_name:
        shown = exploration_notebook(job, data_path, data_name)
        for ran, cell in zip(explore.cells, shown.cells, strict=True):
            ran.source = cell.source  # the outputs stay: the same code on the same file
    nbformat.write(explore, layout.job_notebook("data-exploration"))
    return time.perf_counter() - start


def execute(nb: nbformat.NotebookNode, cwd: str | Path, timeout: int = EXECUTE_TIMEOUT_S,
            kernel_name: str = "python3"):
    """Run ``nb`` in a fresh kernel (python3 unless named) in directory ``cwd``; outputs are
    stored in ``nb``."""
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(cwd)}})
    # The kernel's own log (a warning about unencrypted TCP on every start) would reach the
    # terminal of an `automl run`; the cells' output comes over the kernel's sockets.
    return client.execute(stderr=subprocess.DEVNULL)
