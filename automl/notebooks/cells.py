"""Code cells shared by the generated notebooks: reading the table, coercing columns, the target.

Every cell is plain pandas / NumPy / scikit-learn source generated from the job's records
(schema, profile, settings); column names are always written with ``repr()``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat.v4 as nbf

from automl.data.intake import NA_VALUES, detect_encoding, sniff_delimiter
from automl.data.schema import _FALSE, _TRUE, InputSchema

BLANKS = ["", "?", "NA", "NaN", "nan", "null", "None"]

COERCE_HELPERS = f'''\
BLANKS = {BLANKS!r}
TRUE, FALSE = {sorted(_TRUE)!r}, {sorted(_FALSE)!r}


def blank(s):
    return s.isna() | s.astype(str).str.strip().isin(BLANKS)


def to_number(s):
    """Numbers as float64; text that is not a number becomes NaN."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    return pd.to_numeric(s.astype(str).str.strip(), errors="coerce").astype("float64")


def to_boolean(s):
    """true/yes/1 -> 1.0, false/no/0 -> 0.0, anything else NaN."""
    text = s.astype(str).str.strip().str.lower()
    values = np.where(text.isin(TRUE), 1.0, np.where(text.isin(FALSE), 0.0, np.nan))
    return pd.Series(values, index=s.index)


def to_code(s):
    """Integer codes as strings, so that 1, 1.0 and "1" are the same category."""
    numbers = pd.to_numeric(s, errors="coerce")
    integral = numbers.notna() & (np.mod(numbers.fillna(0), 1) == 0)
    text = s.astype(object).map(lambda v: str(v).strip(), na_action="ignore")
    codes = numbers.where(integral).map(lambda v: str(int(v)), na_action="ignore")
    out = pd.Series(np.where(integral, codes, text), index=s.index, dtype=object)
    return out.where(~blank(s), np.nan)


def to_text(s):
    """Strings, stripped; blanks become NaN."""
    text = s.astype(object).map(lambda v: str(v).strip(), na_action="ignore")
    return text.where(~blank(s), np.nan).astype(object)
'''


def md(text: str):
    return nbf.new_markdown_cell(text)


def code(text: str):
    return nbf.new_code_cell(text.strip("\n"))


def read_call(data_path: str | Path) -> str:
    """``pd.read_csv(DATA_PATH, ...)`` with the options intake used for this file."""
    path = Path(data_path)
    if path.suffix.lower() == ".parquet":
        return "pd.read_parquet(DATA_PATH)"
    try:
        head = path.read_bytes()[: 64 * 1024]
        encoding = detect_encoding(path, head)
        delimiter = sniff_delimiter(head.decode(encoding, errors="replace"))
    except (OSError, ValueError):
        encoding, delimiter = "utf-8-sig", ","
    return (f"pd.read_csv(\n    DATA_PATH, sep={delimiter!r}, encoding={encoding!r},\n"
            f"    na_values={NA_VALUES!r},\n"
            "    keep_default_na=False, skipinitialspace=True, low_memory=False,\n)")


def load_cell(data_path: str | Path) -> str:
    """Read the table, strip column names, keep rows that have a target."""
    return f"""\
raw = {read_call(data_path)}
raw.columns = [str(c).strip() for c in raw.columns]
n_read = len(raw)
raw = raw[raw[TARGET].notna()].reset_index(drop=True)
print(f"{{n_read}} rows read, {{len(raw)}} with a target, {{raw.shape[1]}} columns")"""


_ROLE_CALL = {"numeric": "to_number({})", "boolean": "to_boolean({})", "text": "to_text({}).fillna('')",
              "categorical": "to_text({})", "datetime": "to_text({})"}


def coerce_cell(schema: InputSchema) -> str:
    """``X``: the schema's columns, in training order, each coerced as the service does."""
    lines = []
    for col in schema.columns:
        call = "to_code({})" if col.role == "categorical" and col.numeric_codes else _ROLE_CALL[col.role]
        lines.append(f"    {col.name!r}: {call.format(f'raw[{col.name!r}]')},  # {col.role}")
    body = "\n".join(lines)
    return f"X = pd.DataFrame({{\n{body}\n}}, index=raw.index)\nX.head()"


def target_cell(task: str, classes: list | None) -> str:
    """``y``: float values (regression) or class codes 0..K-1 in sorted label order."""
    if task == "regression":
        return "y = raw[TARGET].to_numpy(dtype=float)\nprint(pd.Series(y).describe())"
    return f"""\
CLASSES = {list(classes)!r}


def plain(value):
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


code_of = {{str(label): i for i, label in enumerate(CLASSES)}}
y = raw[TARGET].map(lambda v: code_of[str(plain(v))]).to_numpy(dtype=int)
print(dict(zip(CLASSES, np.bincount(y, minlength=len(CLASSES)))))"""
