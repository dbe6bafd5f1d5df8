"""Compiled encoders: a fitted recipe's preprocessing of one row without pandas.

``compile_row_encoder`` (``tree_native``/``tree_ordinal``) and ``compile_linear_encoder``
(``linear``) read a fitted ``ColumnTransformer`` built by :mod:`automl.candidates.recipes` and
return an encoder with ``encoder(values)`` for one row (clean values in schema order) and
``encoder.frame(X)`` for a clean frame, or ``None`` when its parts have no compiled form.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from automl.candidates.transformers import CategoryCodes, OneHotCategories
from automl.data.schema import InputSchema


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
