"""Preprocessing recipes: a ``ColumnTransformer`` for the clean frame of an :class:`InputSchema`.

* ``tree_native``: numbers as they are (NaN kept), categories as pandas ``category`` codes for
  models that split on categories natively (LightGBM, HistGradientBoosting).
* ``tree_ordinal``: numbers as they are, categories as ordinal codes (random forest, extra trees).
* ``linear``: numbers imputed (with missing indicators) and standardised, categories one-hot
  encoded with rare levels grouped (linear models, k-nearest neighbours).
* ``linear_counts``: as ``linear``, except that count columns (whole, non-negative, mostly
  zero: a bag of words, event tallies) become unit-length rows of ``log1p`` frequencies, the
  way text models read term counts. The generator offers it when most features are counts.
Dates become numeric parts and free text becomes TF-IDF (reduced by SVD for trees) in all three.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FunctionTransformer, make_pipeline
from sklearn.preprocessing import StandardScaler

from automl.candidates.transformers import (
    CategoryCodes,
    CountFrequencies,
    DateTimeParts,
    OneHotCategories,
    TextSVD,
    to_category,
)
from automl.data.schema import InputSchema

RECIPES = ("tree_native", "tree_ordinal", "linear", "linear_counts")
MAX_CATEGORIES = 200


def build_preprocessor(recipe: str, schema: InputSchema, seed: int = 0,
                       counts: list[str] | tuple[str, ...] = ()) -> ColumnTransformer:
    """The preprocessing step of recipe ``recipe`` for ``schema``'s columns.

    ``counts`` names the count columns (``linear_counts`` only; see
    :func:`automl.candidates.transformers.count_columns`).
    """
    builders = {"tree_native": _tree_native, "tree_ordinal": _tree_ordinal, "linear": _linear,
                "linear_counts": lambda schema, seed: _linear(schema, seed, counts)}
    if recipe not in builders:
        raise ValueError(f"unknown recipe {recipe!r}; known: {RECIPES}")
    return builders[recipe](schema, seed)


def _numbers(schema: InputSchema) -> list[str]:
    return schema.names_of("numeric") + schema.names_of("boolean")


def _text(schema: InputSchema, seed: int, dense: bool) -> list[tuple]:
    steps = []
    for name in schema.names_of("text"):
        if dense:
            pipe = TextSVD(n_components=16, random_state=seed)
        else:
            pipe = TfidfVectorizer(max_features=20000, min_df=2, sublinear_tf=True, ngram_range=(1, 2))
        steps.append((f"text_{name}", pipe, name))
    return steps


def _dates(schema: InputSchema, impute: bool) -> list[tuple]:
    names = schema.names_of("datetime")
    if not names:
        return []
    pipe = make_pipeline(DateTimeParts(), SimpleImputer(strategy="median"), StandardScaler()) if impute else DateTimeParts()
    return [("dates", pipe, names)]


def _tree_native(schema: InputSchema, seed: int) -> ColumnTransformer:
    parts = [("num", "passthrough", _numbers(schema))]
    if schema.names_of("categorical"):
        cat = make_pipeline(CategoryCodes(MAX_CATEGORIES), FunctionTransformer(to_category, feature_names_out="one-to-one"))
        parts.append(("cat", cat, schema.names_of("categorical")))
    parts += _dates(schema, impute=False) + _text(schema, seed, dense=True)
    ct = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    return ct.set_output(transform="pandas")


def _tree_ordinal(schema: InputSchema, seed: int) -> ColumnTransformer:
    parts = [("num", "passthrough", _numbers(schema))]
    if schema.names_of("categorical"):
        enc = CategoryCodes(MAX_CATEGORIES, unknown_value=-1, missing_value=-2)
        parts.append(("cat", enc, schema.names_of("categorical")))
    parts += _dates(schema, impute=False) + _text(schema, seed, dense=True)
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def _linear(schema: InputSchema, seed: int, counts=()) -> ColumnTransformer:
    parts = []
    counted = [n for n in schema.names if n in set(counts)]
    numbers = [n for n in _numbers(schema) if n not in set(counted)]
    categories = [n for n in schema.names_of("categorical") if n not in set(counted)]
    if numbers:
        num = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
        parts.append(("num", num, numbers))
    if counted:
        parts.append(("counts", CountFrequencies(), counted))
    if categories:
        cat = OneHotCategories(max_categories=50, min_frequency=5)
        parts.append(("cat", cat, categories))
    parts += _dates(schema, impute=True) + _text(schema, seed, dense=False)
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.3)


def compile_row_encoder(preprocessor: ColumnTransformer, schema: InputSchema):
    """A compiled encoder: from clean values (schema order) to the preprocessor's output.

    Only for fitted ``tree_native``/``tree_ordinal`` preprocessors over numeric, boolean and
    categorical columns (categories become a dict lookup); ``None`` for anything else, which
    then takes the general pipeline path. Used by serving's fast paths: ``encoder(values)`` for
    one row (a list), ``encoder.frame(X)`` for a clean frame.
    """
    index = {name: i for i, name in enumerate(schema.names)}
    steps: list[tuple[int, dict | None, float]] = []
    declared = {name: t for name, t, _ in preprocessor.transformers}
    for name, transformer, columns in preprocessor.transformers_:
        if isinstance(transformer, str) and transformer == "drop" or not len(columns):
            continue
        if isinstance(declared.get(name), str) and declared[name] == "passthrough":
            steps += [(index[c], None, np.nan) for c in columns]
        elif name == "cat" and (cat_steps := _category_steps(transformer, columns, index)):
            steps += cat_steps
        else:
            return None
    return RowEncoder(steps, schema.names)


class RowEncoder:
    """The plan of :func:`compile_row_encoder`: per output column, its input and lookup table."""

    def __init__(self, steps: list[tuple[int, dict | None, float]], names: list[str]):
        self.steps, self.names = steps, names

    def __call__(self, values: list) -> np.ndarray:
        return np.array([[_encode(values[i], table, unknown) for i, table, unknown in self.steps]],
                        dtype=np.float64)

    def frame(self, X) -> np.ndarray:
        out = np.empty((len(X), len(self.steps)), dtype=np.float64)
        for j, (i, table, unknown) in enumerate(self.steps):
            column = X[self.names[i]]
            if table is None:
                out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                out[:, j] = self._lookup(j, table, unknown)(column)
        return out

    def _lookup(self, j: int, table: dict, unknown: float):
        """Column j's vectorised table lookup (built once): one hash pass per column."""
        lookups = self.__dict__.setdefault("_lookups", {})
        if j not in lookups:
            import pandas as pd

            keys = [k for k in table if k is not None]
            index = pd.Index(keys, dtype=object)
            codes = np.append(np.array([table[k] for k in keys], dtype=np.float64), unknown)

            def lookup(column):
                found = codes[index.get_indexer(column.astype(object))]
                return np.where(column.isna().to_numpy(), table[None], found)

            lookups[j] = lookup
        return lookups[j]


def _category_steps(transformer, columns, index) -> list[tuple[int, dict, float]] | None:
    encoder = transformer[0] if hasattr(transformer, "steps") else transformer
    if not isinstance(encoder, CategoryCodes):
        return None  # a bundle saved with scikit-learn's OrdinalEncoder: the general path
    steps = []
    for j, col in enumerate(columns):
        table, missing, unseen = encoder.lookup(j)
        steps.append((index[col], {**table, None: missing}, unseen))
    return steps


def _key(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _encode(value, table: dict | None, unknown: float) -> float:
    if table is None:
        return np.nan if value is None else float(value)
    return table.get(_key(value), unknown)
