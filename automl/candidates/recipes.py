"""Preprocessing recipes: a ``ColumnTransformer`` for the clean frame of an :class:`InputSchema`.

* ``tree_native``: numbers as they are (NaN kept), categories as pandas ``category`` codes for
  models that split on categories natively (LightGBM, HistGradientBoosting).
* ``tree_ordinal``: numbers as they are, categories as ordinal codes (random forest, extra trees).
* ``linear``: numbers imputed (with missing indicators) and standardised, categories one-hot
  encoded with rare levels grouped (linear models, k-nearest neighbours).
* ``tree_target``: as ``tree_native``, plus the out-of-fold target encoding (scikit-learn's
  ``TargetEncoder``: a shrunk mean of the target per category, one column per class for
  multiclass) of the high-cardinality categories (``encoded``), next to their codes. Its
  ``fit_transform`` encodes each training row from the other folds' rows (cross fitting), so
  the model does not learn from its own target; new rows get the encoding of all training rows.
* ``linear_counts``: as ``linear``, except that count columns (whole, non-negative, mostly
  zero: a bag of words, event tallies) become unit-length rows of ``log1p`` frequencies, the
  way text models read term counts. The generator offers it when most features are counts.
Dates become numeric parts and free text becomes TF-IDF (reduced by SVD for trees) in all three.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import FunctionTransformer, make_pipeline
from sklearn.preprocessing import StandardScaler, TargetEncoder

from automl.candidates.transformers import (
    CategoryCodes,
    CountFrequencies,
    DateTimeParts,
    OneHotCategories,
    TextSVD,
    to_category,
)
from automl.data.schema import InputSchema

RECIPES = ("tree_native", "tree_target", "tree_ordinal", "linear", "linear_counts")
MAX_CATEGORIES = 200
ENCODING_FOLDS = 5
HIGH_CARDINALITY = 10  # levels from which a categorical column is target-encoded


def build_preprocessor(recipe: str, schema: InputSchema, seed: int = 0,
                       counts: list[str] | tuple[str, ...] = (),
                       encoded: list[str] | tuple[str, ...] = ()) -> ColumnTransformer:
    """The preprocessing step of recipe ``recipe`` for ``schema``'s columns.

    ``counts`` names the count columns (``linear_counts`` only; see
    :func:`automl.candidates.transformers.count_columns`); ``encoded`` the categorical columns
    to target-encode (``tree_target`` only).
    """
    builders = {"tree_native": _tree_native, "tree_ordinal": _tree_ordinal, "linear": _linear,
                "linear_counts": lambda schema, seed: _linear(schema, seed, counts),
                "tree_target": lambda schema, seed: _tree_native(schema, seed, encoded)}
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


def _tree_native(schema: InputSchema, seed: int, encoded=()) -> ColumnTransformer:
    parts = [("num", "passthrough", _numbers(schema))]
    if schema.names_of("categorical"):
        cat = make_pipeline(CategoryCodes(MAX_CATEGORIES), FunctionTransformer(to_category, feature_names_out="one-to-one"))
        parts.append(("cat", cat, schema.names_of("categorical")))
    targeted = [n for n in schema.names_of("categorical") if n in set(encoded)]
    if targeted:
        folds = KFold(ENCODING_FOLDS, shuffle=True, random_state=seed)
        parts.append(("target", TargetEncoder(cv=folds), targeted))
    parts += _dates(schema, impute=False) + _text(schema, seed, dense=True)
    # target encodings are named as their columns: prefixed then, so no two outputs share a name
    ct = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=bool(targeted))
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
