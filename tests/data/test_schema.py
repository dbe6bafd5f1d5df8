"""Coercion of a batch whose values repeat: the same clean frame, the same errors."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from automl.data.schema import ColumnSchema, InputSchema
from automl.exceptions import SchemaError

SCHEMA = InputSchema((ColumnSchema("n", "numeric"), ColumnSchema("flag", "boolean"),
                      ColumnSchema("code", "categorical", numeric_codes=True),
                      ColumnSchema("city", "categorical"), ColumnSchema("note", "text")),
                     "y", {})
ROWS = "n,flag,code,city,note\n{n},yes,3,Paris ,hello\n,N,4.0, Oslo,\n2.5,,x, ?,?\n7,true,,NA,a b\n"


def _batch(copies: int, **replace) -> pd.DataFrame:
    text = ROWS.format(n=replace.get("n", "1"))
    body = text.splitlines()[0] + "\n" + "\n".join(text.splitlines()[1:] * copies) + "\n"
    return pd.read_csv(io.StringIO(body), keep_default_na=False, na_values=["", "NA"])


def test_a_batch_of_repeated_values_coerces_as_each_row_alone():
    batch = _batch(50)
    whole = SCHEMA.coerce(batch)
    rows = pd.concat([SCHEMA.coerce(batch.iloc[[i]]) for i in range(len(batch))])
    pd.testing.assert_frame_equal(whole, rows)
    first = whole.iloc[:4]
    assert first["city"].iloc[:2].tolist() == ["Paris", "Oslo"] and first["city"].isna().iloc[2:].all()
    assert first["code"].iloc[:2].tolist() == ["3", "4"] and first["note"].tolist()[1] == ""
    assert first["flag"].tolist()[:2] == [1.0, 0.0]


def test_a_bad_value_repeated_in_a_batch_is_reported_at_its_rows():
    batch = _batch(40).astype({"n": object})
    batch.loc[[9, 101], "n"] = "twelve"
    with pytest.raises(SchemaError) as caught:
        SCHEMA.coerce(batch)
    assert str(caught.value) == ("column 'n' expects a number; cannot read row 10 ('twelve'), "
                                 "row 102 ('twelve')")
