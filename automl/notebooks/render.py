"""Python source for unfitted scikit-learn objects, so notebooks show pipelines in plain calls.

:func:`render` writes ``Pipeline(steps=[...])``, ``ColumnTransformer(...)``, ``LGBMClassifier(...)``
and so on with every parameter that differs from its default, and records the imports the code
needs. It reads the object built by :func:`automl.candidates.generator.build_pipeline`, so the
notebook can never drift from what the search ran. A model family whose estimators are not
scikit-learn estimators writes its own (:attr:`Family.render
<automl.candidates.base.Family>`). Objects of this package (the few transformers the recipes add
to scikit-learn's) are not imported: :meth:`Imports.inline_source` writes their code out, with
what they use from their module, so a notebook runs where this package is not installed.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import types

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import BaseCrossValidator

from automl.candidates.registry import family_of

WIDTH = 96


class Imports:
    """The ``from module import name`` lines a piece of generated code needs, and the objects
    of this package it uses (written out by :meth:`inline_source`, never imported)."""

    def __init__(self) -> None:
        self.names: dict[str, set[str]] = {}
        self.inlined: list = []

    def add(self, obj) -> str:
        """Record ``obj``'s import (or, for this package's objects, its source) and return the
        name to write in code."""
        if obj.__module__.split(".")[0] == PACKAGE:
            if obj not in self.inlined:
                self.inlined.append(obj)
            return obj.__name__
        module = public_module(obj)
        self.names.setdefault(module, set()).add(obj.__name__)
        return obj.__name__

    def lines(self) -> list[str]:
        return [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(self.names.items())]

    def inline_source(self) -> str:
        """The source of the inlined objects with the imports, constants and helpers they use
        from their modules, in module order; empty when there are none."""
        modules: dict[str, list[str]] = {}
        for obj in self.inlined:
            modules.setdefault(obj.__module__, []).append(obj.__name__)
        return "\n\n\n".join(module_excerpt(importlib.import_module(m), names)
                              for m, names in modules.items())


PACKAGE = __name__.split(".")[0]


def module_excerpt(module: types.ModuleType, names: list[str]) -> str:
    """``names`` of ``module`` and everything of the module they use, as standalone source:
    the import lines they need, then the top-level definitions in the module's order."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    defined = {name: node for node in tree.body for name in _defines(node)}
    needed, todo = set(), list(names)
    while todo:
        node = defined[todo.pop()]
        if id(node) in needed:
            continue
        needed.add(id(node))
        todo += [n for n in _uses(node) if n in defined and id(defined[n]) not in needed]
    parts = [ast.get_source_segment(source, node) for node in tree.body if id(node) in needed
             and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    imports = [p for p in parts if p.startswith(("import ", "from "))]
    if any(f"{PACKAGE}." in p or p.startswith(f"import {PACKAGE}") for p in imports):
        raise TypeError(f"{module.__name__} uses this package's other modules; it cannot be "
                        "written into a standalone notebook")
    body = [p for p in parts if p not in imports]
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(body)


def _defines(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    return []


def _uses(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def public_module(obj) -> str:
    """The shortest module path without private parts that exports ``obj``."""
    parts = obj.__module__.split(".")
    for end in range(1, len(parts) + 1):
        if any(p.startswith("_") for p in parts[:end]):
            break
        name = ".".join(parts[:end])
        try:
            if getattr(importlib.import_module(name), obj.__name__, None) is obj:
                return name
        except ImportError:
            continue
    return obj.__module__


def render(value, imports: Imports, indent: int = 0, output: str | None = None) -> str:
    """Source that rebuilds ``value`` (an estimator, container, function, type or literal)."""
    family = family_of(value)
    if family is not None and family.render is not None:
        return family.render(value, imports)
    if isinstance(value, BaseEstimator):
        return _estimator(value, imports, indent, output)
    if isinstance(value, BaseCrossValidator):
        return _splitter(value, imports)
    if isinstance(value, list | tuple):
        return _sequence(value, imports, indent, output)
    if isinstance(value, dict):
        items = [(repr(k), render(v, imports, indent + 4, output)) for k, v in value.items()]
        return _wrap("{", [f"{k}: {v}" for k, v in items], "}", indent)
    return _scalar(value, imports)


def _scalar(value, imports: Imports) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"np.{value.__name__}"
    if isinstance(value, np.ufunc) and getattr(np, value.__name__, None) is value:
        return f"np.{value.__name__}"
    if isinstance(value, types.FunctionType | type):
        return imports.add(value)
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as code")


def _sequence(value, imports: Imports, indent: int, output: str | None) -> str:
    items = [render(v, imports, indent + 4, output) for v in value]
    if isinstance(value, tuple):
        return _wrap("(", items + ([""] if len(items) == 1 else []), ")", indent)
    return _wrap("[", items, "]", indent)


def _estimator(est: BaseEstimator, imports: Imports, indent: int, output: str | None) -> str:
    name = imports.add(type(est))
    config = getattr(est, "_sklearn_output_config", {}).get("transform")
    inner = config or output
    args = [f"{k}={render(v, imports, indent + 4, inner)}" for k, v in _changed_params(est)]
    code = _wrap(f"{name}(", args, ")", indent)
    if config and config != output:
        code += f".set_output(transform={config!r})"
    return code


def _splitter(cv: BaseCrossValidator, imports: Imports) -> str:
    """``KFold(n_splits=5, shuffle=True, random_state=0)``: a splitter from its attributes."""
    names = [k for k in inspect.signature(type(cv).__init__).parameters if k != "self"]
    args = ", ".join(f"{k}={_scalar(getattr(cv, k), imports)}" for k in names)
    return f"{imports.add(type(cv))}({args})"


def _changed_params(est: BaseEstimator) -> list[tuple[str, object]]:
    signature = inspect.signature(type(est).__init__).parameters
    out = []
    for key, value in est.get_params(deep=False).items():
        default = signature[key].default if key in signature else inspect.Parameter.empty
        if default is inspect.Parameter.empty or not _same(value, default):
            out.append((key, value))
    return out


def _same(a, b) -> bool:
    if isinstance(a, BaseEstimator) or isinstance(b, BaseEstimator):
        return False
    try:
        return type(a) is type(b) and repr(a) == repr(b)
    except Exception:  # exotic defaults: write the value out
        return False


def _wrap(start: str, items: list[str], end: str, indent: int) -> str:
    one_line = start + ", ".join(items) + end
    if "\n" not in one_line and indent + len(one_line) <= WIDTH:
        return one_line.replace(", )", ",)")
    pad = " " * (indent + 4)
    items = [i for i in items if i]
    if all("\n" not in i and "(" not in i for i in items):
        return f"{start}\n{_pack(items, pad)}\n{' ' * indent}{end}"
    body = ",\n".join(pad + i for i in items)
    return f"{start}\n{body},\n{' ' * indent}{end}"


def _pack(items: list[str], pad: str) -> str:
    lines, line = [], pad
    for item in items:
        if line.strip() and len(line) + len(item) + 2 > WIDTH:
            lines.append(line.rstrip())
            line = pad
        line += item + ", "
    lines.append(line.rstrip())
    return "\n".join(lines)
