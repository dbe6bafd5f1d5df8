"""The few transformers the recipes need beyond scikit-learn's own.

Kept small and public so that generated notebooks can show (or inline) them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

DATE_PARTS = ("year", "month", "day", "dayofweek", "hour", "epoch_days")


class DateTimeParts(TransformerMixin, BaseEstimator):
    """Expand date/time strings into numeric parts: year, month, day, weekday, hour, days since 1970."""

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray(_columns(X), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X):
        frame = pd.DataFrame(X, columns=self.feature_names_in_)
        parts = {}
        for name in self.feature_names_in_:
            when = pd.to_datetime(frame[name], errors="coerce", format="mixed", utc=True)
            for part in DATE_PARTS:
                parts[f"{name}__{part}"] = _part(when, part)
        return pd.DataFrame(parts, index=frame.index).to_numpy(dtype=float)

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{n}__{p}" for n in self.feature_names_in_ for p in DATE_PARTS], dtype=object)


def _part(when: pd.Series, part: str) -> pd.Series:
    if part == "epoch_days":
        seconds = (when - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
        return seconds / 86400.0
    return getattr(when.dt, "day_of_week" if part == "dayofweek" else part).astype(float)


def _columns(X) -> list[str]:
    if hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    return [f"x{i}" for i in range(np.asarray(X).shape[1])]


def to_category(X: pd.DataFrame) -> pd.DataFrame:
    """Cast ordinal codes to pandas ``category`` so LightGBM and HistGradientBoosting split natively."""
    return X.astype("category")


class _Categories(TransformerMixin, BaseEstimator):
    """What both category encoders learn in fit, per column: the categories kept for their own
    code, whether others share one "other" code, and whether values were missing.

    At most ``max_categories`` codes per column: categories seen fewer than ``min_frequency``
    times, and those beyond the ``max_categories - 1`` most frequent, share the "other" code
    (the last); the kept ones are numbered in sorted order. Counting uses pandas' hash tables:
    scikit-learn's encoders count text categories in Python, which took a third of a LightGBM
    trial on adult.
    """

    def __init__(self, max_categories: int = 200, min_frequency: int = 1):
        self.max_categories = max_categories
        self.min_frequency = min_frequency

    def fit(self, X, y=None):
        frame = _frame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.categories_, self.has_other_, self.has_missing_ = [], [], []
        for name in frame.columns:
            kept, other = _frequent(frame[name], self.min_frequency, self.max_categories)
            self.categories_.append(kept)
            self.has_other_.append(other)
            self.has_missing_.append(bool(frame[name].isna().any()))
        return self

    def _codes(self, column: pd.Series, j: int, missing: float, unseen: float) -> np.ndarray:
        """Codes of one column; ``unseen`` for a category fit did not keep and no "other"."""
        index = pd.Index(self.categories_[j], dtype=object)
        codes = index.get_indexer(column.astype(object)).astype(np.float64)
        absent = column.isna().to_numpy()
        other = self._other(j)
        codes[(codes < 0) & ~absent] = unseen if other is None else other
        codes[absent] = missing
        return codes

    def _other(self, j: int) -> int | None:
        """Column ``j``'s "other" code (after its kept categories), if fit grouped any."""
        return len(self.categories_[j]) if self.has_other_[j] else None


class CategoryCodes(_Categories):
    """Categories as integer codes (floats): the codes of scikit-learn's ``OrdinalEncoder``
    with ``max_categories``, for trees. At transform, a category not seen in fit takes the
    "other" code when the column has one, else ``unknown_value``; a missing value takes
    ``missing_value``."""

    def __init__(self, max_categories: int = 200, min_frequency: int = 1,
                 unknown_value: float = np.nan, missing_value: float = np.nan):
        super().__init__(max_categories, min_frequency)
        self.unknown_value = unknown_value
        self.missing_value = missing_value

    def transform(self, X):
        frame = _frame(X, self.feature_names_in_)
        columns = [self._codes(frame.iloc[:, j], j, self.missing_value, self.unknown_value)
                   for j in range(frame.shape[1])]
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def lookup(self, j: int) -> tuple[dict, float, float]:
        """Column ``j``'s codes as plain data: ``({category: code}, missing code, unseen code)``."""
        other = self._other(j)
        unseen = float(self.unknown_value if other is None else other)
        table = {value: float(k) for k, value in enumerate(self.categories_[j])}
        return table, float(self.missing_value), unseen

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)


class OneHotCategories(_Categories):
    """Sparse one-hot columns, for linear models: one per kept category, one for "other" and
    one for missing values when fit saw them. A category not seen in fit sets "other", or
    nothing when the column has no "other"."""

    def transform(self, X):
        frame = _frame(X, self.feature_names_in_)
        rows, cols, offset = [np.empty(0, np.int64)], [np.empty(0, np.int64)], 0
        for j in range(frame.shape[1]):
            _, missing, _, width = self.positions(j)
            codes = self._codes(frame.iloc[:, j], j, -1 if missing is None else missing, -1)
            hot = codes >= 0
            rows.append(np.flatnonzero(hot))
            cols.append(codes[hot].astype(np.int64) + offset)
            offset += width
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(frame), offset))

    def positions(self, j: int) -> tuple[dict, int | None, int | None, int]:
        """Column ``j``'s outputs as plain data: ``({category: position}, position set by a
        missing value, position set by an unseen category, width)``; ``None`` sets nothing."""
        cats = self.categories_[j]
        width = len(cats) + self.has_other_[j]
        return ({value: k for k, value in enumerate(cats)}, width if self.has_missing_[j] else None,
                self._other(j), width + self.has_missing_[j])

    def get_feature_names_out(self, input_features=None):
        names = []
        for j, column in enumerate(self.feature_names_in_):
            names += [f"{column}_{value}" for value in self.categories_[j]]
            names += [f"{column}_(other)"] * self.has_other_[j]
            names += [f"{column}_(missing)"] * self.has_missing_[j]
        return np.asarray(names, dtype=object)


def _frame(X, columns=None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X, dtype=object)
    names = columns if columns is not None else [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=list(names))


def _frequent(column: pd.Series, min_frequency: int, max_categories: int) -> tuple[np.ndarray, bool]:
    """The categories kept for their own code (sorted) and whether any share "other"; among
    equally frequent categories the smaller ones are kept."""
    counts = column.value_counts(dropna=True)
    ranked = sorted(zip(counts.index, counts.to_numpy(), strict=True),
                    key=lambda item: (-item[1], _sort_key(item[0])))
    kept = [value for value, count in ranked if count >= min_frequency]
    other = len(kept) < len(ranked) or len(kept) > max_categories
    if other:
        kept = kept[:max(max_categories - 1, 0)]
    return np.asarray(sorted(kept, key=_sort_key), dtype=object), other


def _sort_key(value):
    return (0, value, "") if isinstance(value, str) else (1, "", str(value))


class TextSVD(TransformerMixin, BaseEstimator):
    """TF-IDF of one text column reduced to ``n_components`` dense dimensions (for tree models)."""

    def __init__(self, n_components: int = 16, max_features: int = 20000, random_state=None):
        self.n_components = n_components
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        text = _as_text(X)
        self.name_ = str(getattr(X, "name", "text"))
        self.tfidf_ = TfidfVectorizer(max_features=self.max_features, min_df=2, sublinear_tf=True,
                                      ngram_range=(1, 2))
        matrix = self.tfidf_.fit_transform(text)
        k = max(1, min(self.n_components, matrix.shape[1] - 1, matrix.shape[0] - 1))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(matrix)
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        return self.svd_.transform(self.tfidf_.transform(_as_text(X)))

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{self.name_}__svd{i}" for i in range(self.svd_.n_components)], dtype=object)


def _as_text(X) -> list[str]:
    values = np.asarray(X, dtype=object).ravel()
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def count_columns(X: pd.DataFrame, min_zero_share: float = 0.5) -> list[str]:
    """Columns that read as counts: whole, non-negative numbers, at least ``min_zero_share`` of
    them zero (0 takes every whole, non-negative column). Integer codes kept as text (a
    categorical column of small counts) count too.

    Bag-of-words matrices and event tallies look like this; the ``linear_counts`` recipe
    treats them as term frequencies.
    """
    names = []
    for name in X.columns:
        v = _as_numbers(X[name])
        if v is None:
            continue
        v = v[~np.isnan(v)]
        if len(v) and v.min() >= 0 and np.all(v == np.round(v)) and (v == 0).mean() >= min_zero_share:
            names.append(name)
    return names


def bag_of_words_columns(X: pd.DataFrame) -> list[str]:
    """Every whole, non-negative column when most columns are mostly-zero counts (a bag of
    words), else none: what the ``linear_counts`` recipe reads as term frequencies."""
    if len(count_columns(X, min_zero_share=0.5)) * 2 < X.shape[1]:
        return []
    return count_columns(X, min_zero_share=0.0)


def _as_numbers(values: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(values):
        return None
    numbers = _numeric(values)
    if numbers.isna().sum() > values.isna().sum():
        return None  # some text is not a number
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _numeric(values: pd.Series) -> pd.Series:
    """Numbers as they are; integer codes kept as text parsed (what is not a number: NaN)."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    return pd.to_numeric(values, errors="coerce")


class CountFrequencies(TransformerMixin, BaseEstimator):
    """Counts as sub-linear term frequencies: ``log1p(count)``, then each row scaled to unit
    length (the document-length normalisation of text models). Missing counts are zeros."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        numbers = pd.DataFrame(X).apply(_numeric).to_numpy(dtype=float, na_value=np.nan)
        values = np.log1p(np.clip(np.nan_to_num(numbers), 0, None))
        norms = np.linalg.norm(values, axis=1, keepdims=True)
        return values / np.where(norms > 0, norms, 1.0)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features if input_features is not None else
                          [f"x{i}" for i in range(self.n_features_in_)], dtype=object)
