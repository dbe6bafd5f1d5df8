"""Generated notebooks re-run a leaderboard row offline and print the same score."""

from __future__ import annotations

import re
import warnings

import nbformat
import pandas as pd
import pytest

from automl.candidates.generator import build_pipeline
from automl.notebooks import cells, execute, write_notebooks
from automl.notebooks.render import Imports, render


def _run(nb, cwd) -> dict:
    """Execute ``nb``; return the kernel's ``cv_score`` (read back by an extra cell)."""
    nb.cells.append(nbformat.v4.new_code_cell("print(repr(cv_score))"))
    with warnings.catch_warnings():
        # jupyter_client / zmq on this Python emit deprecation notices in the test process
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*zmq.*", category=RuntimeWarning)
        execute(nb, cwd)
    return float(nb.cells[-1].outputs[0]["text"])


def _assert_same_4_digits(a: float, b: float) -> None:
    assert f"{a:.4g}" == f"{b:.4g}", (a, b)


def _notebooks(job, path, out):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        write_notebooks(job, out, path, execute_exploration=False)
    return out / "notebooks"


def test_awkward_column_names(awkward_job, tmp_path):
    job, path = awkward_job
    directory = _notebooks(job, path, tmp_path)
    cid = job.winner.candidate_id
    nb = nbformat.read(directory / f"{cid}.ipynb", as_version=4)
    _assert_same_4_digits(_run(nb, directory), job.winner.score)


def test_every_completed_row_and_job_notebooks_are_written(titanic_job, tmp_path):
    job, path = titanic_job
    directory = _notebooks(job, path, tmp_path)
    names = {p.stem for p in directory.glob("*.ipynb")}
    assert {r.candidate_id for r in job.results if r.ok} <= names
    assert {"data-exploration", "candidate-definitions"} <= names
    definitions = nbformat.read(directory / "candidate-definitions.ipynb", as_version=4)
    source = "\n".join(c.source for c in definitions.cells)
    assert "'space':" in source and "automl.fit(" in source  # the latter in a markdown cell
    code = "\n".join(c.source for c in definitions.cells if c.cell_type == "code")
    assert "import automl" not in code and "from automl" not in code


def test_generated_coercion_equals_schema_coerce(awkward_job):
    job, path = awkward_job
    raw = pd.read_csv(path)
    namespace = {"pd": pd, "np": __import__("numpy"), "raw": raw}
    exec(cells.COERCE_HELPERS + "\n" + cells.coerce_cell(job.bundle.schema), namespace)
    pd.testing.assert_frame_equal(namespace["X"], job.bundle.schema.coerce(raw, strict=False))


@pytest.mark.parametrize("cid_index", range(3))
def test_rendered_pipeline_round_trips(titanic_job, cid_index):
    job, _ = titanic_job
    trial = sorted(job.trials.values(), key=lambda t: t.candidate_id)[cid_index]
    pipeline = build_pipeline(trial.spec, trial.params, job.bundle.schema, trial.seed)
    imports = Imports()
    code = render(pipeline, imports)
    namespace: dict = {"__name__": "notebook"}
    exec("import numpy as np\n" + "\n".join(imports.lines()) + "\n" + imports.inline_source()
         + f"\nobj = {code}", namespace)
    assert render(namespace["obj"], Imports()) == code
    def shown(obj) -> str:  # the inlined functions are new objects: drop their addresses
        return re.sub(r" at 0x[0-9a-f]+", "", repr(obj))

    assert shown(namespace["obj"]) == shown(pipeline)


def test_exploration_notebook_is_executed(awkward_job, tmp_path):
    job, path = awkward_job
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*zmq.*", category=RuntimeWarning)
        write_notebooks(job, tmp_path, path)
    nb = nbformat.read(tmp_path / "notebooks" / "data-exploration.ipynb", as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]


def _first_notebook_reproduces(job, path, out, trials: list, marker: str) -> None:
    """The first of ``trials`` has a notebook with ``marker`` in its code that re-runs to the
    trial's leaderboard score."""
    assert trials, "the search did not try the candidate"
    cid = trials[0].candidate_id
    row = next(r for r in job.results if r.candidate_id == cid)
    nb = nbformat.read(_notebooks(job, path, out) / f"{cid}.ipynb", as_version=4)
    assert marker in "\n".join(c.source for c in nb.cells)
    _assert_same_4_digits(_run(nb, out / "notebooks"), row.score)


def test_log_target_candidate_notebook_reproduces_its_score(skewed_job, tmp_path):
    job, path = skewed_job
    logged = [t for t in job.trials.values() if t.spec.name == "lightgbm_log1p"]
    _first_notebook_reproduces(job, path, tmp_path, logged, "func=np.log1p")


def test_target_encoding_candidate_notebook_reproduces_its_score(encoded_job, tmp_path):
    job, path = encoded_job
    encoded = [t for t in job.trials.values() if t.spec.recipe == "tree_target"]
    _first_notebook_reproduces(job, path, tmp_path, encoded, "TargetEncoder(")
