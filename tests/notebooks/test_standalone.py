"""Every notebook of a job runs where this package is not installed, and reproduces its score.

The kernel is this interpreter started with ``-I -S``: no PYTHONPATH, no user site, no current
directory and no ``.pth`` files, so the editable install of this package (a ``.pth`` finder) is
not on its path; only the site-packages directory is, for pandas, scikit-learn, LightGBM,
matplotlib and ipykernel. A fresh virtualenv would need those downloaded and built for every
session; this gives the same guarantee for our package. Since site-packages also holds our
other dependencies, each notebook's imports are checked against the libraries the README names.
"""

from __future__ import annotations

import ast
import json
import shutil
import site
import sys
import warnings

import nbformat
import pytest

from automl.notebooks import execute, write_notebooks

ALLOWED = {"numpy", "pandas", "sklearn", "lightgbm", "matplotlib", "scipy", "joblib",
           "threadpoolctl", "warnings"}
LAUNCH = ("import sys; sys.path[:0] = {paths!r}; "
          "from ipykernel import kernelapp; kernelapp.launch_new_instance()")


@pytest.fixture(scope="module")
def bare_kernel(tmp_path_factory):
    """A kernelspec ``bare-python3`` for a kernel that cannot import this package."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "bare-python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-I", "-S", "-c", LAUNCH.format(paths=site.getsitepackages()),
            "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "bare", "language": "python"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(root))
        yield "bare-python3"


def run(nb, cwd, kernel: str, extra: str | None = None):
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "bare", "language": "python"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*zmq.*", category=RuntimeWarning)
        execute(nb, cwd, kernel_name=kernel)
    return nb


def imported_modules(nb) -> set[str]:
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add(node.module.split(".")[0])
    return names


def test_the_bare_kernel_cannot_import_this_package(bare_kernel, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "try:\n    import automl\nexcept ModuleNotFoundError:\n    print('absent')\n"
        "import pandas, sklearn, lightgbm, matplotlib\nprint('libraries present')")]
    out = "".join(o.get("text", "") for o in run(nb, tmp_path, bare_kernel).cells[0].outputs)
    assert out.split() == ["absent", "libraries", "present"]


def test_every_notebook_runs_without_this_package_and_reproduces_its_score(
        bare_kernel, titanic_job, tmp_path):
    job, path = titanic_job
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        write_notebooks(job, tmp_path, path, execute_exploration=False, data_name="titanic.csv")
    directory = tmp_path / "notebooks"
    shutil.copy(path, directory / "titanic.csv")  # the user's own copy, beside the notebooks
    scores = {r.candidate_id: r.score for r in job.results if r.ok}
    assert set(scores) == {p.stem for p in directory.glob("*.ipynb")} - {
        "data-exploration", "candidate-definitions"}
    for nb_path in sorted(directory.glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        assert imported_modules(nb) <= ALLOWED, (nb_path.name, imported_modules(nb) - ALLOWED)
        if nb_path.stem != "candidate-definitions":  # it reads no data
            assert "DATA_PATH = 'titanic.csv'" in nb.cells[1].source, nb_path.name
        cid = nb_path.stem
        ran = run(nb, directory, bare_kernel, "print(repr(cv_score))" if cid in scores else None)
        errors = [o for c in ran.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, (nb_path.name, errors[:1])
        if cid in scores:
            printed = "".join(o.get("text", "") for o in ran.cells[-1].outputs)
            assert f"{float(printed):.4g}" == f"{scores[cid]:.4g}", cid
            assert (directory / f"{cid}.joblib").is_file(), cid  # the refit model it saves
    explore = nbformat.read(directory / "data-exploration.ipynb", as_version=4)
    assert explore.cells[0].source.startswith("# Data exploration: `titanic.csv`")
