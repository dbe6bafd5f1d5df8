"""Scalar coercers: the rules of :meth:`automl.data.schema.InputSchema.coerce` for one value.

``scalar_coercer(role, numeric_codes)`` returns ``f(value)``, the clean value a column of that
role gets from a raw scalar (a request's field), or :data:`SLOW` when only the general path
(pandas, with its error messages naming the row and column) can say: single-row predictions
skip pandas' per-column cost this way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from automl.data.schema import _FALSE, _TRUE

SLOW = object()  # "use the general path"
_BLANK = frozenset({"", "?", "NA", "NaN", "nan", "null", "None"})


def scalar_coercer(role: str, numeric_codes: bool) -> Callable[[Any], Any]:
    """The coercer of a column of ``role`` (``numeric_codes``: a category of integer codes)."""
    if role == "numeric":
        return _num
    if role == "boolean":
        return _bool
    if role == "categorical" and numeric_codes:
        return _code
    if role == "text":
        return _text
    return _str


def _plain(value: Any) -> bool:
    return value is None or type(value) in (str, int, float)


def _blank(value: Any) -> bool:
    if value is None or (type(value) is float and math.isnan(value)):
        return True
    return str(value).strip() in _BLANK


def _num(value: Any) -> Any:
    if type(value) in (int, float):
        return float(value) if math.isfinite(value) else SLOW  # the general path refuses inf
    if type(value) is not str or "_" in value:
        return np.nan if value is None else SLOW
    try:
        number = float(value)  # "nan" and "NaN" are missing either way
    except ValueError:
        return np.nan if _blank(value) else SLOW  # the general path names the row and column
    return SLOW if math.isinf(number) else number


def _bool(value: Any) -> Any:
    if not _plain(value):
        return SLOW
    if _blank(value):
        return np.nan
    text = str(value).strip().lower()
    return 1.0 if text in _TRUE else 0.0 if text in _FALSE else SLOW


def _code(value: Any) -> Any:
    if not _plain(value):
        return SLOW
    if _blank(value):
        return np.nan
    if type(value) is str:
        return _code_str(value) if value == value.strip() else SLOW
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return SLOW


def _code_str(value: str) -> Any:
    try:
        number = float(value)
    except ValueError:
        return value
    if "_" in value or not math.isfinite(number):
        return SLOW
    return str(int(number)) if number.is_integer() else value


def _str(value: Any) -> Any:
    if type(value) is str:
        text = value.strip()
        return np.nan if text in _BLANK else text
    if not _plain(value):
        return SLOW
    return np.nan if _blank(value) else str(value).strip()


def _text(value: Any) -> Any:
    if not _plain(value):
        return SLOW
    return "" if _blank(value) else str(value).strip()
