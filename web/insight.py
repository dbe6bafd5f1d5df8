"""Request bodies of the per-row explanation API: which rows to explain."""

from __future__ import annotations

import pandas as pd

from automl.data.intake import read_table
from web.errors import InvalidRequest

HOW = ('send {"rows": [{"column": value, ...}]} with rows to explain, or {"row_numbers": [0, 5]} '
       "for rows of the training file (0 is its first data row)")


def rows_to_explain(body: object, data_path: str, limit: int) -> pd.DataFrame:
    """The raw rows a body asks to explain, at most ``limit`` of them."""
    if not isinstance(body, dict) or ("rows" in body) == ("row_numbers" in body):
        raise InvalidRequest(f"say which rows to explain: {HOW}")
    picked = body.get("rows", body.get("row_numbers"))
    if not isinstance(picked, list) or not picked:
        raise InvalidRequest(f"'{'rows' if 'rows' in body else 'row_numbers'}' must be a "
                             f"non-empty list: {HOW}")
    if len(picked) > limit:
        raise InvalidRequest(f"at most {limit} rows are explained per request; you sent "
                             f"{len(picked)}", {"rows": len(picked), "limit": limit})
    if "rows" in body:
        return _given_rows(picked)
    return _training_rows(picked, data_path)


def _given_rows(rows: list) -> pd.DataFrame:
    if not all(isinstance(r, dict) for r in rows):
        raise InvalidRequest(f"every item of 'rows' must be an object of column: value; {HOW}")
    return pd.DataFrame.from_records(rows)


def _training_rows(numbers: list, data_path: str) -> pd.DataFrame:
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise InvalidRequest(f"'row_numbers' must be whole numbers; {HOW}")
    frame = read_table(data_path)
    bad = [n for n in numbers if not 0 <= n < len(frame)]
    if bad:
        raise InvalidRequest(f"the training file has rows 0 to {len(frame) - 1}; there is no "
                             f"row {bad[0]}", {"rows": len(frame), "out_of_range": bad[:10]})
    return frame.iloc[numbers].reset_index(drop=True)
