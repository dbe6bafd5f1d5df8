"""Families from other packages: the ``automl.families`` entry points, ``automl families``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.candidates.registry import FAMILIES, REJECTED, family_problem, registered
from automl.exceptions import ConfigError

ROOT = Path(__file__).parents[2]

PLUGIN = '''
from sklearn.dummy import DummyClassifier, DummyRegressor

from automl.candidates.base import Family, choice


def space(shape):
    if shape.task == "regression":
        return {"strategy": choice("mean", "median")}
    return {"strategy": choice("prior", "most_frequent")}


def defaults(shape):
    return [{"strategy": "mean" if shape.task == "regression" else "prior"}]


def build(task, params, seed):
    return DummyRegressor(**params) if task == "regression" else DummyClassifier(**params)


FAMILY = Family("constant", "linear", ("binary", "multiclass", "regression"), 0.1, space,
                defaults, build, estimators=(DummyClassifier, DummyRegressor))
'''

ENTRY_POINTS = """[automl.families]
constant = automl_constant_family:FAMILY
broken = automl_constant_family:NO_SUCH_NAME
absent = automl_no_such_module:FAMILY
notfamily = automl_constant_family:space
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """A directory holding an installed third-party package that registers ``constant`` (a
    working family) and three that cannot register: a missing name, a missing module (an
    optional library not installed) and a function that is not a family."""
    site = tmp_path_factory.mktemp("site")
    (site / "automl_constant_family.py").write_text(PLUGIN)
    info = site / "automl_constant_family-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: automl-constant-family\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def _python(args: list[str], site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=site)


def test_automl_families_lists_the_built_ins_and_their_package():
    done = subprocess.run([sys.executable, "-m", "automl.cli", "families"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["family", "tasks", "cost", "recipe", "default", "package"]
    listed = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(listed) == set(FAMILIES)
    assert listed["lightgbm"][1:] == ["binary,multiclass,regression", "0.4", "tree_native", "yes",
                                      "automl"]


def test_a_third_party_family_registers_through_the_entry_point(plugin_path):
    done = _python(["-m", "automl.cli", "families"], plugin_path)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert rows["constant"][1:] == ["binary,multiclass,regression", "0.1", "linear", "yes",
                                    "automl-constant-family"]
    assert "lightgbm" in rows and not {"broken", "absent", "notfamily"} & set(rows)
    assert "not loaded: broken: automl-constant-family: cannot load" in done.stderr
    assert ("not loaded: absent: automl-constant-family: needs automl_no_such_module, which is "
            "not installed") in done.stderr
    assert "not loaded: notfamily: automl-constant-family: notfamily is a function, not an " \
        "automl.candidates.base.Family" in done.stderr


def test_a_third_party_family_is_searched_and_passes_check_family(plugin_path):
    script = ("from automl.candidates.base import DataShape\n"
              "from automl.candidates.generator import generate_candidates\n"
              "from automl.candidates.registry import FAMILIES\n"
              "from automl.testing import check_family\n"
              "specs = generate_candidates(DataShape(100, 3, 'binary', 2))\n"
              "print(specs[0].family)\n"
              "check_family(FAMILIES['constant'])\n"
              "print('conforms')\n")
    done = _python(["-c", script], plugin_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["constant", "conforms"]  # cheapest first: cost 0.1


def test_naming_a_family_that_is_not_installed_says_which_are(monkeypatch):
    monkeypatch.setitem(REJECTED, "gone", "gone-pkg: needs gonelib, which is not installed")
    with pytest.raises(ConfigError) as info:
        generate_candidates(DataShape(100, 3, "binary", 2), families=["lightgbm", "gone"])
    assert info.value.message.startswith(
        "unknown model family gone; gone was left out (gone-pkg: needs gonelib, which is not "
        "installed); installed: lightgbm, ")


def test_registration_refuses_what_would_break_the_search():
    knn = FAMILIES["knn"]
    assert "not an automl.candidates.base.Family" in family_problem(object(), "x", FAMILIES)
    assert "named 'other'" in family_problem(knn, "other", {})
    assert "taken" in family_problem(knn, "knn", FAMILIES)
    assert "unknown recipe" in family_problem(replace(knn, recipe="raw"), "knn", {})
    assert "subset" in family_problem(replace(knn, tasks=("ranking",)), "knn", {})
    with pytest.raises(ValueError, match="taken"), registered(replace(knn)):
        pass
    with registered(replace(knn, name="knn_again")) as family:
        assert FAMILIES["knn_again"] is family
    assert "knn_again" not in FAMILIES
