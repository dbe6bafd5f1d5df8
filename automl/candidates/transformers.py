"""The few transformers the recipes need beyond scikit-learn's own.

Kept small and public so that generated notebooks can show (or inline) them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
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
