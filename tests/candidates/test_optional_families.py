"""The optional XGBoost and CatBoost families, and the entry points pyproject.toml declares."""

from __future__ import annotations

import importlib
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from automl.candidates.base import DataShape, Family
from automl.candidates.generator import generate_candidates
from automl.candidates.registry import BUILTIN, GROUP, family_libraries, registered
from automl.testing import check_family

PYPROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
DECLARED = PYPROJECT["project"]["entry-points"][GROUP]
OPTIONAL = {"xgboost": "xgboost", "catboost": "catboost"}  # family: the library it needs


def _family(name: str) -> Family:
    pytest.importorskip(OPTIONAL[name])
    return importlib.import_module(f"automl.candidates.families.{name}").FAMILY


@pytest.mark.parametrize("name", sorted(OPTIONAL))
def test_an_optional_family_passes_check_family(name):
    check_family(_family(name))


@pytest.mark.parametrize("name", sorted(OPTIONAL))
def test_an_optional_family_is_searched_only_when_named(name):
    shape = DataShape(500, 5, "binary", 2)
    with registered(_family(name)):
        assert name not in {s.family for s in generate_candidates(shape)}
        assert [s.family for s in generate_candidates(shape, families=[name])] == [name]
        default = [s.family for s in generate_candidates(shape)]
        plus = [s.family for s in generate_candidates(shape, families=("+", name))]
        assert sorted(plus) == sorted([*default, name])
        # a bundle of such a job records the family's library version (model.bundle.provenance)
        assert OPTIONAL[name] not in family_libraries()
        assert OPTIONAL[name] in family_libraries(("+", name))
    assert PYPROJECT["project"]["optional-dependencies"][name][0].startswith(OPTIONAL[name])


def test_every_declared_entry_point_loads_its_family():
    builtin = {f.name: f for f in BUILTIN}
    assert set(builtin) <= set(DECLARED)
    for name, value in DECLARED.items():
        if name in OPTIONAL:
            pytest.importorskip(OPTIONAL[name])
        family = EntryPoint(name, value, GROUP).load()
        assert isinstance(family, Family) and family.name == name
        assert family is builtin.get(name, family)
        assert family.searched_by_default == (name not in OPTIONAL)
