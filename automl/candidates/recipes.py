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
from scipy import sparse
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
    for name, transformer, columns in _fitted_parts(preprocessor):
        if isinstance(declared.get(name), str) and declared[name] == "passthrough":
            steps += [(index[c], None, np.nan) for c in columns]
        elif name == "cat" and (cat_steps := _category_steps(transformer, columns, index)):
            steps += cat_steps
        else:
            return None
    return RowEncoder(steps, schema.names)


def compile_linear_encoder(preprocessor: ColumnTransformer, schema: InputSchema):
    """A compiled encoder for a fitted ``linear`` preprocessor over numeric, boolean and
    categorical columns: one row with NumPy and dict lookups (numbers imputed, flagged and
    scaled; categories one-hot), in the preprocessor's output layout, sparse where it is.
    ``frame(X)`` is the preprocessor's own transform. ``None`` for anything else."""
    index = {name: i for i, name in enumerate(schema.names)}
    parts = []
    for name, transformer, columns in _fitted_parts(preprocessor):
        if name == "num" and _imputed_and_scaled(transformer):
            parts.append(_NumberRow(transformer, [index[c] for c in columns]))
        elif name == "cat" and isinstance(transformer, OneHotCategories):
            parts.append(_OneHotRow(transformer, [index[c] for c in columns]))
        else:
            return None  # dates, text, counts: the general path
    return LinearRowEncoder(preprocessor, parts) if parts else None


def _fitted_parts(preprocessor: ColumnTransformer) -> list[tuple]:
    """The fitted ``(name, transformer, columns)`` that produce output (not dropped, not empty)."""
    return [(name, transformer, columns) for name, transformer, columns in preprocessor.transformers_
            if not (isinstance(transformer, str) and transformer == "drop") and len(columns)]


def _imputed_and_scaled(transformer) -> bool:
    steps = [step for _, step in getattr(transformer, "steps", [])]
    return len(steps) == 2 and isinstance(steps[0], SimpleImputer) and isinstance(steps[1], StandardScaler)


class LinearRowEncoder:
    """The plan of :func:`compile_linear_encoder`: its parts' outputs side by side."""

    def __init__(self, preprocessor: ColumnTransformer, parts: list):
        self.preprocessor, self.parts = preprocessor, parts
        self.sparse = bool(getattr(preprocessor, "sparse_output_", False))

    def __call__(self, values: list):
        row = np.concatenate([part(values) for part in self.parts])[None, :]
        return sparse.csr_matrix(row) if self.sparse else row

    def frame(self, X):
        return self.preprocessor.transform(X)


class _NumberRow:
    """``SimpleImputer(median, add_indicator=True)`` then ``StandardScaler`` on one row."""

    def __init__(self, pipeline, inputs: list[int]):
        imputer, scaler = pipeline.steps[0][1], pipeline.steps[1][1]
        self.inputs, self.fill = inputs, imputer.statistics_
        self.kept = ~np.isnan(self.fill)  # the imputer drops columns with no value in fit
        indicator = imputer.indicator_
        self.flagged = indicator.features_ if indicator is not None else np.empty(0, dtype=int)
        self.mean, self.scale = scaler.mean_, scaler.scale_

    def __call__(self, values: list) -> np.ndarray:
        x = np.array([np.nan if values[i] is None else float(values[i]) for i in self.inputs])
        missing = np.isnan(x)
        v = np.concatenate([np.where(missing, self.fill, x)[self.kept],
                            missing[self.flagged].astype(np.float64)])
        return (v - self.mean) / self.scale


class _OneHotRow:
    """:class:`OneHotCategories` on one row: a dict lookup per column."""

    def __init__(self, encoder: OneHotCategories, inputs: list[int]):
        self.inputs = inputs
        self.columns = [encoder.positions(j) for j in range(len(inputs))]
        widths = [width for *_, width in self.columns]
        self.offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int)
        self.width = int(sum(widths))

    def __call__(self, values: list) -> np.ndarray:
        out = np.zeros(self.width)
        for i, offset, (table, missing, unseen, _) in zip(self.inputs, self.offsets, self.columns,
                                                           strict=True):
            value = _key(values[i])
            position = missing if value is None else table.get(value, unseen)
            if position is not None:
                out[offset + position] = 1.0
        return out


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
