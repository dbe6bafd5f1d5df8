"""Profile a table: column roles, problem type, and the warnings a data scientist wants.

Role rules, in order (documented in the README):
  * constant: one distinct value (or none): dropped.
  * boolean: a bool column, or strings that are all true/false, yes/no, t/f, y/n.
  * numeric: a number column, except integer columns with 3 to 10 distinct values (integer
    codes: categorical, unless more than 70% of them are 0, which reads as a count) and integer
    columns whose values are all distinct and evenly spaced (a row id: id-like).
  * datetime: strings of which at least 95% parse as dates or timestamps.
  * text: strings with 3 or more words on average and more than half of the rows distinct.
  * id-like: other strings with more than 95% of the values distinct: dropped with a warning.
  * categorical: every other string column.

Task rules: a non-numeric or boolean target is classification; a numeric target is
classification when it is integer-valued with at most 20 distinct values (or exactly two
distinct values of any kind) and regression otherwise. Two classes: binary; more: multiclass.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from automl.exceptions import ConfigError, DatasetError

ROLES = ("numeric", "categorical", "boolean", "datetime", "text", "id-like", "constant")
FEATURE_ROLES = ("numeric", "categorical", "boolean", "datetime", "text")
_TRUE = {"true", "yes", "t", "y"}
_FALSE = {"false", "no", "f", "n"}
MAX_CLASSES = 200
_SAMPLE = 5000


@dataclass(frozen=True)
class ColumnProfile:
    """One column: its role, missing share, cardinality and a few statistics."""

    name: str
    role: str
    dtype: str
    missing_share: float
    n_unique: int
    stats: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetProfile:
    """What intake found: shape, roles, task, class balance and warnings. JSON-serialisable."""

    n_rows: int
    n_columns: int
    target: str
    task: str
    columns: tuple[ColumnProfile, ...]
    rows_dropped_missing_target: int = 0
    n_duplicate_rows: int = 0
    class_counts: dict = field(default_factory=dict)
    warnings: tuple[dict, ...] = ()
    data_hash: str = ""

    @property
    def features(self) -> list[ColumnProfile]:
        return [c for c in self.columns if c.role in FEATURE_ROLES]

    def names(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DatasetProfile:
        d = dict(d)
        d["columns"] = tuple(ColumnProfile(**c) for c in d["columns"])
        d["warnings"] = tuple(d.get("warnings", ()))
        return cls(**d)


def infer_task(y: pd.Series) -> str:
    """binary, multiclass or regression from the target's values (rules in the module doc)."""
    values = y.dropna()
    n_unique = values.nunique()
    if n_unique == 2:
        return "binary"
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "multiclass"
    integer_valued = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    return "multiclass" if integer_valued and n_unique <= 20 else "regression"


def column_role(s: pd.Series) -> str:
    """The role of one feature column (rules in the module doc)."""
    values = s.dropna()
    n_unique = values.nunique()
    if n_unique <= 1:
        return "constant"
    if pd.api.types.is_bool_dtype(values) or _is_boolean_strings(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return _numeric_role(values, n_unique)
    text = values.astype(str)
    if _is_datetime(text):
        return "datetime"
    if n_unique > 0.5 * len(text) and text.str.split().str.len().mean() >= 3:
        return "text"
    if n_unique > 0.95 * len(text) and len(text) >= 20:
        return "id-like"
    return "categorical"


def _numeric_role(values: pd.Series, n_unique: int) -> str:
    as_float = values.to_numpy(dtype=float)
    if not np.all(np.mod(as_float, 1) == 0):
        return "numeric"
    if 3 <= n_unique <= 10 and (as_float == 0).mean() <= 0.7:
        return "categorical"
    if n_unique == len(values) and len(values) >= 20:
        steps = np.unique(np.diff(np.sort(as_float)))
        if len(steps) == 1:
            return "id-like"
    return "numeric"


def _is_boolean_strings(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values):
        return False
    lowered = set(values.astype(str).str.strip().str.lower().unique())
    return len(lowered) == 2 and lowered <= (_TRUE | _FALSE) and bool(lowered & _TRUE)


def _is_datetime(text: pd.Series) -> bool:
    sample = text.head(_SAMPLE)
    looks = sample.str.contains(r"^\d{1,4}[-/.:]\d{1,2}[-/.:]\d{1,4}", regex=True)
    if looks.mean() < 0.95:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.95


def profile_dataset(
    frame: pd.DataFrame, target: str, task: str | None = None, data_hash: str = "",
    n_folds: int = 5,
) -> tuple[DatasetProfile, pd.DataFrame]:
    """Profile ``frame`` for predicting ``target``; returns the profile and the rows kept.

    Rows whose target is missing are dropped (and counted in the profile).
    """
    if target not in frame.columns:
        columns = list(map(str, frame.columns))
        raise DatasetError(target_not_found(target, columns), {"target": target, "columns": columns})
    kept = frame[frame[target].notna()].reset_index(drop=True)
    if kept.empty:
        raise DatasetError(f"target column '{target}' has no values; every row's target is missing")
    task = _check_task(kept[target], task or infer_task(kept[target]), target)
    numeric_stats = numeric_summary(kept.select_dtypes("number"))
    columns = tuple(
        _column_profile(kept[c], c == target, numeric_stats.get(c)) for c in kept.columns
    )
    counts = kept[target].astype(str).value_counts() if task != "regression" else pd.Series()
    profile = DatasetProfile(
        n_rows=len(kept), n_columns=frame.shape[1], target=target, task=task, columns=columns,
        rows_dropped_missing_target=len(frame) - len(kept),
        n_duplicate_rows=int(kept.duplicated().sum()),
        class_counts={str(k): int(v) for k, v in counts.items()},
        data_hash=data_hash,
    )
    _check_rows(profile, n_folds)
    warnings = _warnings(profile, kept)
    return DatasetProfile(**{**profile.__dict__, "warnings": tuple(warnings)}), kept


def target_not_found(target: str, columns: list[str], listed: int = 20) -> str:
    """The message for a target that is not a column: the likeliest columns meant, then the
    columns (the first ``listed`` of them; a bag of words has hundreds)."""
    lowered = {c.lower(): c for c in columns}
    meant = [lowered[target.lower()]] if target.lower() in lowered else \
        difflib.get_close_matches(target, columns, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(map(repr, meant))}? " if meant else ""
    more = f" and {len(columns) - listed} more" if len(columns) > listed else ""
    return (f"target column '{target}' not found; {hint}"
            f"columns are: {', '.join(columns[:listed])}{more}")


def _check_task(y: pd.Series, task: str, target: str) -> str:
    n_unique = y.nunique()
    if task in ("binary", "multiclass") and n_unique < 2:
        raise DatasetError(
            f"target '{target}' has a single class ({y.iloc[0]!r}); a classifier needs at least two",
            {"target": target},
        )
    if task == "binary" and n_unique > 2:
        raise ConfigError(f"task 'binary' needs two classes but '{target}' has {n_unique}; use multiclass")
    if task == "multiclass" and n_unique > MAX_CLASSES:
        raise ConfigError(
            f"target '{target}' has {n_unique} classes (more than {MAX_CLASSES}); "
            "is it a regression target? pass task=regression"
        )
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise ConfigError(f"task 'regression' needs a numeric target but '{target}' holds text")
        if n_unique < 2:
            raise DatasetError(f"target '{target}' is constant; there is nothing to predict")
    return task


def numeric_summary(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per numeric column: mean, std, min, quartiles and max of the non-missing values (the
    figures of ``DataFrame.describe``), computed for all columns at once: ``describe`` goes
    column by column and took 1.8 s on a bag of 857 words."""
    if frame.shape[1] == 0:
        return {}
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns give NaN
        q = np.nanpercentile(values, [0, 25, 50, 75, 100], axis=0)
        figures = {"mean": np.nanmean(values, axis=0), "std": np.nanstd(values, axis=0, ddof=1),
                   "min": q[0], "25%": q[1], "50%": q[2], "75%": q[3], "max": q[4]}
    return {str(name): {k: float(v[j]) for k, v in figures.items()}
            for j, name in enumerate(frame.columns)}


def _column_profile(s: pd.Series, is_target: bool, numeric: dict | None) -> ColumnProfile:
    role = "target" if is_target else column_role(s)
    stats: dict = {}
    values = s.dropna()
    if numeric is not None:
        stats = {k: float(v) for k, v in numeric.items() if pd.notna(v)}
    elif len(values):
        top = values.astype(str).value_counts().head(5)
        stats = {"top": {str(k): int(v) for k, v in top.items()}}
    return ColumnProfile(
        name=str(s.name), role=role, dtype=str(s.dtype),
        missing_share=float(s.isna().mean()), n_unique=int(values.nunique()), stats=stats,
    )


def _check_rows(profile: DatasetProfile, n_folds: int) -> None:
    if profile.n_rows < max(n_folds, 2) * 2:
        raise DatasetError(
            f"only {profile.n_rows} rows with a target; at least {max(n_folds, 2) * 2} are needed "
            f"for {n_folds}-fold cross-validation",
            {"rows": profile.n_rows},
        )
    if not profile.features:
        raise DatasetError(
            "no usable feature columns: every column besides the target is constant or an id; "
            "add columns that describe the rows"
        )


def _warnings(profile: DatasetProfile, frame: pd.DataFrame) -> list[dict]:
    out = []
    if profile.n_duplicate_rows:
        out.append(_warn("duplicate_rows", f"{profile.n_duplicate_rows} rows are exact duplicates",
                         "duplicates inflate cross-validation scores; drop them if they are not real repeats"))
    if profile.rows_dropped_missing_target:
        out.append(_warn("missing_target", f"{profile.rows_dropped_missing_target} rows have no target and were dropped",
                         "label those rows or leave them out of training"))
    out += _class_warnings(profile)
    for col in profile.columns:
        out += _column_warnings(col, profile)
    out += _leakage_warnings(profile, frame)
    return out


def _warn(code: str, message: str, advice: str, column: str | None = None) -> dict:
    return {"code": code, "message": message, "advice": advice, "column": column}


def _class_warnings(profile: DatasetProfile) -> list[dict]:
    if not profile.class_counts:
        return []
    counts = sorted(profile.class_counts.values())
    out = []
    if counts[0] / profile.n_rows < 0.1:
        out.append(_warn("class_imbalance",
                         f"the smallest class holds {counts[0]} of {profile.n_rows} rows ({counts[0] / profile.n_rows:.1%})",
                         "prefer auc, logloss or balanced_accuracy over accuracy; collect more rows of rare classes"))
    if counts[0] < 10:
        out.append(_warn("too_few_rows_per_class",
                         f"{sum(c < 10 for c in counts)} classes have fewer than 10 rows (smallest: {counts[0]})",
                         "scores for those classes are unreliable; merge rare classes or collect more rows"))
    return out


def _column_warnings(col: ColumnProfile, profile: DatasetProfile) -> list[dict]:
    if col.role == "id-like":
        return [_warn("id_like", f"column '{col.name}' looks like an identifier and was dropped",
                      "ids carry no signal for new rows; remove it from the file", col.name)]
    if col.role == "constant":
        return [_warn("constant", f"column '{col.name}' has a single value and was dropped",
                      "remove it from the file", col.name)]
    out = []
    if col.role == "categorical" and col.n_unique > 100:
        out.append(_warn("high_cardinality", f"column '{col.name}' has {col.n_unique} distinct values",
                         "rare values are grouped together; consider a coarser version of this column", col.name))
    if col.missing_share > 0.5:
        out.append(_warn("mostly_missing", f"column '{col.name}' is {col.missing_share:.0%} missing",
                         "check how it was collected; missingness itself is used as a signal", col.name))
    return out


def _leakage_warnings(profile: DatasetProfile, frame: pd.DataFrame) -> list[dict]:
    """Columns that alone predict the target almost perfectly (a future value leaked in?)."""
    y = frame[profile.target]
    out = []
    for col in profile.features:
        if col.role == "text" or col.n_unique > 0.5 * profile.n_rows:
            continue
        if _single_column_fit(frame[col.name], y, profile.task) >= 0.99:
            out.append(_warn("leakage_suspect",
                             f"column '{col.name}' alone predicts '{profile.target}' almost perfectly",
                             "check that it is known at prediction time; if it is derived from the target, remove it",
                             col.name))
    return out


def _single_column_fit(x: pd.Series, y: pd.Series, task: str) -> float:
    """Accuracy (classification) or R^2 (regression) of predicting y from x's bins alone."""
    if pd.api.types.is_numeric_dtype(x) and x.nunique() > 20:
        x = pd.Series(pd.qcut(x, 20, labels=False, duplicates="drop"))
    groups, _ = pd.factorize(x, use_na_sentinel=False)
    n_groups = groups.max() + 1
    if task == "regression":
        yv = y.to_numpy(dtype=float)
        total = float(((yv - yv.mean()) ** 2).sum())
        if total == 0:
            return 0.0
        means = np.bincount(groups, yv, n_groups) / np.bincount(groups, minlength=n_groups)
        return 1 - float(((yv - means[groups]) ** 2).sum()) / total
    classes, n_classes = pd.factorize(y)[0], y.nunique()
    table = np.bincount(groups * n_classes + classes, minlength=n_groups * n_classes)
    majority = table.reshape(n_groups, n_classes).max(axis=1).sum()
    baseline = np.bincount(classes).max()
    return majority / len(y) if baseline / len(y) < 0.95 else 0.0
