"""Python source for unfitted scikit-learn objects, so notebooks show pipelines in plain calls.

:func:`render` writes ``Pipeline(steps=[...])``, ``ColumnTransformer(...)``, ``LGBMClassifier(...)``
and so on with every parameter that differs from its default, and records the imports the code
needs. It reads the object built by :func:`automl.candidates.generator.build_pipeline`, so the
notebook can never drift from what the search ran. A model family whose estimators are not
scikit-learn estimators writes its own (:attr:`Family.render
<automl.candidates.base.Family>`).
"""

from __future__ import annotations

import importlib
import inspect
import math
import types

import numpy as np
from sklearn.base import BaseEstimator

from automl.candidates.registry import family_of

WIDTH = 96


class Imports:
    """The ``from module import name`` lines a piece of generated code needs."""

    def __init__(self) -> None:
        self.names: dict[str, set[str]] = {}

    def add(self, obj) -> str:
        """Record ``obj``'s import and return the name to write in code."""
        module = public_module(obj)
        self.names.setdefault(module, set()).add(obj.__name__)
        return obj.__name__

    def lines(self) -> list[str]:
        return [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(self.names.items())]


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
