"""The input schema of a model: which columns it reads, their roles, and how values are coerced.

The same :meth:`InputSchema.coerce` runs on training data and on every prediction request, so the
pipeline always sees one clean frame: numbers as float64, categories as strings (integer codes
normalised: 1, 1.0 and "1" are the same category), booleans as 0/1, dates and text as strings.
Missing values are NaN throughout.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.profile import FEATURE_ROLES, DatasetProfile
from automl.exceptions import SchemaError

_TRUE = {"true", "yes", "t", "y", "1", "1.0"}
_FALSE = {"false", "no", "f", "n", "0", "0.0"}
MAX_REPORTED = 5


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    role: str
    numeric_codes: bool = False


@dataclass(frozen=True)
class InputSchema:
    """Columns a model reads, in training order, and what was dropped and why."""

    columns: tuple[ColumnSchema, ...]
    target: str
    dropped: dict

    @classmethod
    def from_profile(cls, profile: DatasetProfile) -> InputSchema:
        cols = tuple(
            ColumnSchema(c.name, c.role, c.role == "categorical" and _is_numeric_dtype_name(c.dtype))
            for c in profile.columns if c.role in FEATURE_ROLES
        )
        dropped = {c.name: c.role for c in profile.columns if c.role in ("id-like", "constant")}
        return cls(cols, profile.target, dropped)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def names_of(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    def to_dict(self) -> dict:
        return {"target": self.target, "dropped": self.dropped,
                "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict) -> InputSchema:
        return cls(tuple(ColumnSchema(**c) for c in d["columns"]), d["target"], d.get("dropped", {}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> InputSchema:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def coerce(self, frame: pd.DataFrame, strict: bool = True) -> pd.DataFrame:
        """The clean frame the pipelines read: schema columns only, in order, values coerced.

        Missing columns raise :class:`SchemaError` naming them; extra columns are ignored.
        With ``strict``, a value that cannot be read as its column's type (text in a numeric
        column) raises with its row and column; otherwise it becomes missing.
        """
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise SchemaError(
                f"missing columns: {', '.join(map(repr, missing))}; the model expects: "
                f"{', '.join(map(repr, self.names))}",
                {"missing": missing, "expected": self.names},
            )
        out = {c.name: _coerce_column(frame[c.name], c, strict) for c in self.columns}
        return pd.DataFrame(out, index=frame.index)


def _is_numeric_dtype_name(dtype: str) -> bool:
    return dtype.startswith(("int", "float", "uint", "Int", "Float", "UInt"))


def _coerce_column(s: pd.Series, col: ColumnSchema, strict: bool) -> pd.Series:
    """:func:`_coerce_values` of a column, done once per distinct value when values repeat
    (categories, codes, flags: the string work per value is most of a batch's coercion)."""
    if len(s) < _DISTINCT_FROM_ROWS or col.role == "numeric" and _is_plain_number(s):
        return _coerce_values(s, col, strict)
    codes, distinct = pd.factorize(s, use_na_sentinel=False)
    if len(distinct) > len(s) // 2:
        return _coerce_values(s, col, strict)
    try:
        clean = _coerce_values(pd.Series(distinct, dtype=s.dtype), col, strict)
    except SchemaError:  # reported with the rows and values of the whole column
        return _coerce_values(s, col, strict)
    return pd.Series(clean.to_numpy()[codes], index=s.index, dtype=clean.dtype)


_DISTINCT_FROM_ROWS = 64


def _is_plain_number(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _coerce_values(s: pd.Series, col: ColumnSchema, strict: bool) -> pd.Series:
    if col.role == "numeric":
        return _to_float(s, col.name, strict)
    if col.role == "boolean":
        return _to_bool(s, col.name, strict)
    if col.role == "categorical" and col.numeric_codes:
        return _to_code_strings(s)
    if col.role == "text":
        return _to_strings(s).fillna("")
    return _to_strings(s)


_BLANKS = ["", "?", "NA", "NaN", "nan", "null", "None"]


def _stripped(s: pd.Series) -> pd.Series:
    """Values as stripped strings (object dtype), NaN where missing."""
    text = s.astype(str).str.strip().astype(object)
    return text.where(s.notna(), np.nan)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | _stripped(s).isin(_BLANKS)


def _to_float(s: pd.Series, name: str, strict: bool) -> pd.Series:
    if _is_plain_number(s):
        values = s.astype("float64")
        if strict:
            _refuse_infinite(s, values, name)
        return values
    values = pd.to_numeric(s.astype(str).str.strip(), errors="coerce").astype("float64")
    bad = values.isna() & ~_blank(s)
    if strict and bad.any():
        _raise_bad(s, bad, name, "a number")
    if strict:
        _refuse_infinite(s, values, name)
    return values.where(~bad, np.nan)


def _refuse_infinite(s: pd.Series, values: pd.Series, name: str) -> None:
    """Models cannot read infinity: a prediction request holding one is the client's error."""
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        _raise_bad(s, pd.Series(infinite, index=s.index), name, "a finite number")


def _to_bool(s: pd.Series, name: str, strict: bool) -> pd.Series:
    text = s.astype(str).str.strip().str.lower()
    values = pd.Series(np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan)),
                       index=s.index)
    bad = values.isna() & ~_blank(s)
    if strict and bad.any():
        _raise_bad(s, bad, name, "true or false")
    return values


def _to_code_strings(s: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(s, errors="coerce")
    integral = numbers.notna() & (np.mod(numbers.fillna(0), 1) == 0)
    text = _stripped(s)
    codes = numbers.where(integral, 0).astype("int64").astype(str).astype(object)
    return text.where(~integral, codes).where(~_blank(s), np.nan)


def _to_strings(s: pd.Series) -> pd.Series:
    text = _stripped(s)
    return text.where(~text.isin(_BLANKS), np.nan)


def _raise_bad(s: pd.Series, bad: pd.Series, name: str, expected: str) -> None:
    rows = list(np.flatnonzero(bad.to_numpy()))
    shown = ", ".join(f"row {r + 1} ({s.iloc[r]!r})" for r in rows[:MAX_REPORTED])
    more = f" and {len(rows) - MAX_REPORTED} more" if len(rows) > MAX_REPORTED else ""
    raise SchemaError(
        f"column '{name}' expects {expected}; cannot read {shown}{more}",
        {"column": name, "rows": [int(r) + 1 for r in rows[:100]]},
    )
