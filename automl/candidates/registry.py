"""The installed model families: the built-ins, then those of the ``automl.families`` group.

The built-ins are listed here in one explicit tuple (their order breaks ties of cost); they
also register under the entry-point group in this package's ``pyproject.toml``, as any other
package does::

    [project.entry-points."automl.families"]
    my_family = "my_package.module:FAMILY"

An entry point names a :class:`~automl.candidates.base.Family` object whose ``name`` is the
entry point's name. One that cannot be loaded, is not a family, or takes a name already taken
is left out and listed in :data:`REJECTED` with the reason (``automl families`` shows it);
a broken plug-in never stops the package from working.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points

from automl.candidates.base import EXPLAINERS, Family
from automl.candidates.families import (
    extra_trees,
    hist_gradient_boosting,
    knn,
    lightgbm,
    linear,
    mlp,
    random_forest,
)
from automl.candidates.recipes import RECIPES
from automl.candidates.twins import TWINS
from automl.exceptions import ConfigError
from automl.metrics import TASKS

GROUP = "automl.families"
BUILTIN: tuple[Family, ...] = (
    lightgbm.FAMILY,
    hist_gradient_boosting.FAMILY,
    random_forest.FAMILY,
    extra_trees.FAMILY,
    linear.FAMILY,
    knn.FAMILY,
    mlp.FAMILY,
)
THIS_PACKAGE = "automl"


def _load() -> tuple[dict[str, Family], dict[str, str], dict[str, str]]:
    families = {f.name: f for f in BUILTIN}
    sources = dict.fromkeys(families, THIS_PACKAGE)
    rejected: dict[str, str] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        source = _distribution(ep)
        try:
            family = ep.load()
        except ModuleNotFoundError as exc:  # an optional family without its library
            rejected[ep.name] = f"{source}: needs {exc.name}, which is not installed"
            continue
        except Exception as exc:  # a plug-in may fail in any way; the built-ins go on
            rejected[ep.name] = f"{source}: cannot load {ep.value} ({type(exc).__name__}: {exc})"
            continue
        if families.get(ep.name) is family:
            continue  # a built-in through its own entry point, or one seen twice on the path
        problem = family_problem(family, ep.name, families)
        if problem:
            rejected[ep.name] = f"{source}: {problem}"
            continue
        families[ep.name], sources[ep.name] = family, source
    return families, sources, rejected


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else ep.value.split(":")[0].split(".")[0]


def family_problem(family, name: str, taken: dict[str, Family]) -> str | None:
    """Why ``family`` cannot register as ``name`` next to ``taken``, or None if it can."""
    if not isinstance(family, Family):
        return f"{name} is a {type(family).__name__}, not an automl.candidates.base.Family"
    if family.name != name:
        return f"the entry point is named {name!r} but the family {family.name!r}"
    if name in taken:
        return f"the name {name!r} is taken by another family"
    if family.recipe not in RECIPES:
        return f"unknown recipe {family.recipe!r}; known: {', '.join(RECIPES)}"
    if not family.tasks or not set(family.tasks) <= set(TASKS):
        return f"tasks {family.tasks!r} must be a non-empty subset of {TASKS}"
    if family.explainer not in EXPLAINERS:
        return f"unknown explainer {family.explainer!r}; known: {', '.join(EXPLAINERS)}"
    return None


FAMILIES, SOURCES, REJECTED = _load()


@contextmanager
def registered(family: Family) -> Iterator[Family]:
    """``family`` among :data:`FAMILIES` while the block runs (if it is not installed): for
    checking a family in its own package's tests before it is installed."""
    if FAMILIES.get(family.name) is family:
        yield family
        return
    problem = family_problem(family, getattr(family, "name", "?"), FAMILIES)
    if problem:
        raise ValueError(problem)
    FAMILIES[family.name] = family
    try:
        yield family
    finally:
        del FAMILIES[family.name]


def get_family(name: str) -> Family:
    """The installed family called ``name`` (KeyError if there is none)."""
    return FAMILIES[name]


def check_families(families) -> list[str]:
    """The names of :attr:`automl.config.Settings.families` (without its leading ``"+"``), if
    each is an installed family (feature twins, :mod:`automl.candidates.twins`, are left out
    of the list and pass); else ConfigError naming the installed ones (and why a
    plug-in of the name was left out), as ``automl families`` lists them."""
    names = list(families[1:] if families and families[0] == "+" else families)
    names = [n for n in names if n not in TWINS]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        why = "".join(f"; {n} was left out ({REJECTED[n]})" for n in unknown if n in REJECTED)
        raise ConfigError(f"unknown model famil{'y' if len(unknown) == 1 else 'ies'} "
                          f"{', '.join(unknown)}{why}; installed: {', '.join(FAMILIES)}; "
                          f"feature twins: {', '.join(TWINS)} "
                          "(see `automl families`)")
    return names


def family_of(estimator) -> Family | None:
    """The family whose ``build`` makes estimators like ``estimator``, or None."""
    for family in FAMILIES.values():
        if family.owns(estimator):
            return family
    return None


def preload_modules() -> list[str]:
    """Modules the families of the default search want imported in the forkserver, each once
    (an optional family's library is imported by the first trial that needs it)."""
    return list(dict.fromkeys(m for f in _searched() for m in f.preload))


def family_libraries(families=None) -> list[str]:
    """Distributions the families of the default search build on, then those of the installed
    ``families`` (a job's :attr:`~automl.config.Settings.families`), each once, in order."""
    named = [FAMILIES[n] for n in families or () if n in FAMILIES]
    return list(dict.fromkeys(lib for f in [*_searched(), *named] for lib in f.libraries))


def _searched() -> list[Family]:
    return [f for f in FAMILIES.values() if f.searched_by_default]
