"""JSON for what NumPy and pandas hand back: the one conversion every file and response uses.

``json.dumps(obj, default=plain)`` (or :func:`dumps`) writes NumPy scalars as Python numbers,
arrays and other iterables as lists and anything else as its ``str``, and keeps NaN as JSON's
``NaN`` the way ``json`` does; :func:`jsonable` converts a whole document ahead of time and
turns NaN and infinities into ``None``, for readers that accept strict JSON only (databases,
browsers).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """``json.dumps``'s ``default``: a value ``json`` cannot write, as one it can."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return list(value)
    return str(value)


def dumps(obj: Any, **kwargs) -> str:
    """``json.dumps`` with :func:`plain` for what it cannot write."""
    return json.dumps(obj, default=plain, **kwargs)


def jsonable(value: Any) -> Any:
    """``value`` with NaN/inf as ``None`` and NumPy scalars as Python ones (valid JSON everywhere)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
