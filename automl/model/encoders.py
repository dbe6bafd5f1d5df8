"""Compiled encoders: a fitted recipe's preprocessing of one row without pandas.

``compile_encoder(preprocessor, schema)`` reads a fitted ``ColumnTransformer`` built by
:mod:`automl.candidates.recipes` (any recipe: numbers, categories, counts, dates, text) and
returns an :class:`Encoder`: ``encoder(values)`` encodes one row (clean values in schema order)
and ``encoder.frame(X)`` a clean frame, both in the preprocessor's output layout. Categories of
the tree recipes come out as their numeric codes (``native``: the pipeline hands the estimator
pandas ``category`` columns of those codes), so only a family's own row predictor reads them.
``None`` when a part has no compiled form (a bundle saved with scikit-learn's encoders).
"""

from __future__ import annotations

import array
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler, TargetEncoder
from sklearn.utils import check_array

from automl.candidates.transformers import (
    DATE_PARTS,
    CategoryCodes,
    CountFrequencies,
    DateTimeParts,
    OneHotCategories,
    TextSVD,
)
from automl.data.schema import InputSchema


def compile_encoder(preprocessor: ColumnTransformer, schema: InputSchema) -> Encoder | None:
    """The compiled :class:`Encoder` of a fitted recipe preprocessor, or None."""
    index = {name: i for i, name in enumerate(schema.names)}
    declared = {name: t for name, t, _ in preprocessor.transformers}
    parts = []
    for name, transformer, columns in _fitted_parts(preprocessor):
        inputs = [index[c] for c in columns] if not isinstance(columns, str) else [index[columns]]
        if isinstance(declared.get(name), str) and declared[name] == "passthrough":
            part = _Numbers(inputs)
        else:
            part = _part(transformer, inputs)
        if part is None:
            return None
        parts.append((part, transformer, columns))
    native = any(isinstance(p, _Codes) and p.native for p, _, _ in parts)
    return Encoder(preprocessor, parts, native)


def _part(transformer, inputs: list[int]):
    steps = [step for _, step in transformer.steps] if hasattr(transformer, "steps") \
        else [transformer]
    first = steps[0]
    if isinstance(first, CategoryCodes) and len(steps) <= 2:
        return _Codes(first, inputs, native=len(steps) == 2)
    if isinstance(first, OneHotCategories) and len(steps) == 1:
        return _OneHot(first, inputs)
    if isinstance(first, TargetEncoder) and len(steps) == 1:
        return _TargetEncoded(first, inputs)
    if isinstance(first, CountFrequencies) and len(steps) == 1:
        return _Counts(inputs)
    if isinstance(first, TextSVD):
        return _Text(first.tfidf_, inputs[0], first.svd_.components_)
    if isinstance(first, TfidfVectorizer):
        return _Text(first, inputs[0], None)
    if isinstance(first, DateTimeParts) and len(steps) in (1, 3):
        scale = _ImputeScale(steps[1], steps[2]) if len(steps) == 3 else None
        return _Dates(inputs, scale)
    if isinstance(first, SimpleImputer) and len(steps) == 2 and isinstance(steps[1], StandardScaler):
        return _ImputedNumbers(inputs, _ImputeScale(first, steps[1]))
    return None


def _fitted_parts(preprocessor: ColumnTransformer) -> list[tuple]:
    """The fitted ``(name, transformer, columns)`` that produce output (not dropped, not empty)."""
    return [(name, transformer, columns) for name, transformer, columns in preprocessor.transformers_
            if not (isinstance(transformer, str) and transformer == "drop")
            and (isinstance(columns, str) or len(columns))]


class Encoder:
    """The plan of :func:`compile_encoder`: its parts' outputs side by side.

    ``native``: categories come out as numeric codes where the pipeline gives pandas
    categories, and frames are assembled part by part; otherwise a frame is the
    preprocessor's own transform and a row is sparse where the preprocessor's output is.
    """

    def __init__(self, preprocessor: ColumnTransformer, parts: list[tuple], native: bool):
        self.preprocessor, self.native = preprocessor, native
        self.parts = [part for part, _, _ in parts]
        self.fitted = [(transformer, columns) for _, transformer, columns in parts]
        self.sparse = bool(getattr(preprocessor, "sparse_output_", False))

    def __call__(self, values: list):
        row = np.concatenate([part(values) for part in self.parts])
        if not self.sparse:
            return row[None, :]
        columns = np.flatnonzero(row).astype(np.int32)
        return sparse.csr_matrix((row[columns], columns, np.array([0, len(columns)], np.int32)),
                                 shape=(1, len(row)))

    def frame(self, X: pd.DataFrame, shared: dict | None = None):
        """The encoding of a clean frame, what the preprocessor's ``transform`` gives.

        ``shared``: a dict an ensemble hands every member's encoder for the same rows. It keeps
        each text column's TF-IDF matrix, so members whose fitted vectorizers are the same (every
        recipe vectorizes a text column alike, fitted on the same rows) compute it once.
        """
        if not self.native and not self._has_text():
            return self.preprocessor.transform(X)
        shared = {} if shared is None else shared
        blocks = []
        for k, (transformer, columns) in enumerate(self.fitted):
            if self.native and hasattr(transformer, "steps") \
                    and isinstance(transformer[0], CategoryCodes):
                transformer = transformer[0]  # the codes, not pandas categories of them
            blocks.append(self._block(k, transformer, X[columns], shared))
        if self.native:
            return np.column_stack([np.asarray(b.toarray() if sparse.issparse(b) else b,
                                               dtype=np.float64).reshape(len(X), -1)
                                    for b in blocks])
        return _hstack(blocks, self.sparse)

    def _has_text(self) -> bool:
        return any(isinstance(t, TextSVD | TfidfVectorizer) for t, _ in self.fitted)

    def _block(self, k: int, transformer, X, shared: dict | None):
        if isinstance(transformer, str):  # passthrough
            return X.to_numpy(dtype=np.float64, na_value=np.nan)
        if shared is None or not isinstance(transformer, TextSVD | TfidfVectorizer) \
                or not isinstance(X, pd.Series):
            return transformer.transform(X)
        vectorizer = transformer.tfidf_ if isinstance(transformer, TextSVD) else transformer
        key = self._text_key(k, vectorizer)
        if key not in shared:  # clean text is strings, "" where missing: what TextSVD reads
            shared[key] = tfidf(vectorizer, X.tolist())
        weights = shared[key]
        return transformer.svd_.transform(weights) if isinstance(transformer, TextSVD) else weights

    def _text_key(self, k: int, vectorizer) -> str:
        """A fitted vectorizer's content hash (computed once: a vocabulary takes milliseconds)."""
        keys = self.__dict__.setdefault("_text_keys", {})
        if k not in keys:
            import joblib

            keys[k] = joblib.hash(vectorizer)
        return keys[k]


def tfidf(vectorizer: TfidfVectorizer, docs: list[str]):
    """``vectorizer.transform(docs)`` for strings: the same matrix, faster for the recipes'
    vectorizers, whose terms :func:`lean_terms` finds and which are counted here without an
    exception per unknown bigram; any other vectorizer transforms as it does.

    A text that occurs more than once is vectorized once and its row repeated: each row of
    the matrix depends on its own text only, so the rows are the same numbers.
    """
    codes, distinct = pd.factorize(np.asarray(docs, dtype=object), use_na_sentinel=False)
    if len(distinct) == len(docs):
        return _tfidf(vectorizer, docs)
    return _tfidf(vectorizer, distinct.tolist())[codes]


def _tfidf(vectorizer: TfidfVectorizer, docs: list[str]):
    terms = lean_terms(vectorizer)
    if terms is None or not hasattr(vectorizer, "_tfidf") \
            or not all(type(doc) is str for doc in docs):
        return vectorizer.transform(docs)
    get = vectorizer.vocabulary_.get
    columns, counts, indptr = [], array.array("i"), [0]
    for doc in docs:
        found: dict[int, int] = {}
        for term in terms(doc):
            j = get(term)
            if j is not None:
                found[j] = found.get(j, 0) + 1
        columns.extend(found)
        counts.extend(found.values())
        indptr.append(len(columns))
    index = np.int32 if indptr[-1] <= np.iinfo(np.int32).max else np.int64
    matrix = sparse.csr_matrix((np.frombuffer(counts, dtype=np.intc),
                                np.asarray(columns, dtype=index), np.asarray(indptr, dtype=index)),
                               shape=(len(docs), len(vectorizer.vocabulary_)),
                               dtype=vectorizer.dtype)
    matrix.sort_indices()
    return vectorizer._tfidf.transform(matrix, copy=False)


_PLAIN = {"analyzer": "word", "input": "content", "preprocessor": None, "tokenizer": None,
          "stop_words": None, "lowercase": True, "binary": False}


def lean_terms(vectorizer: TfidfVectorizer) -> Callable[[str], list[str]] | None:
    """The terms ``build_analyzer()`` gives a string, for the recipes' vectorizers (words, lower
    case, no stop words, unigrams or unigrams and bigrams), found with one regular expression
    and one join per bigram instead of the analyzer's chain of calls; None for any other."""
    params = vectorizer.get_params()
    if any(params[k] != v for k, v in _PLAIN.items()) or params["strip_accents"] \
            or params["ngram_range"] not in ((1, 1), (1, 2)):
        return None
    find = re.compile(params["token_pattern"]).findall
    if params["ngram_range"] == (1, 1):
        return lambda doc: find(doc.lower())

    def terms(doc: str) -> list[str]:
        tokens = find(doc.lower())
        return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:], strict=False)]

    return terms


def _hstack(blocks: list, sparse_output: bool):
    """Parts side by side as ``ColumnTransformer`` stacks them (sparse: CSR of every part)."""
    if sparse_output:
        return sparse.hstack([check_array(b, accept_sparse=True, ensure_all_finite=False)
                              for b in blocks]).tocsr()
    return np.hstack([b.toarray() if sparse.issparse(b) else b for b in blocks])


class _Numbers:
    """Numbers (and booleans) passed through: floats, NaN where missing."""

    def __init__(self, inputs: list[int]):
        self.inputs = inputs

    def __call__(self, values: list) -> np.ndarray:
        return np.array([np.nan if values[i] is None else values[i] for i in self.inputs],
                        dtype=np.float64)


class _Codes:
    """:class:`CategoryCodes` on one row: a dict lookup per column (the tree recipes)."""

    def __init__(self, encoder: CategoryCodes, inputs: list[int], native: bool):
        self.inputs, self.native = inputs, native
        self.tables = []
        for j in range(len(inputs)):
            table, missing, unseen = encoder.lookup(j)
            self.tables.append(({**table, None: missing}, unseen))

    def __call__(self, values: list) -> np.ndarray:
        return np.array([table.get(_key(values[i]), unseen)
                         for i, (table, unseen) in zip(self.inputs, self.tables, strict=True)],
                        dtype=np.float64)


class _TargetEncoded:
    """A fitted ``TargetEncoder`` on one row: a dict lookup per column of its encodings (one per
    class for multiclass, feature by feature), the target's mean for a category fit never saw."""

    def __init__(self, encoder: TargetEncoder, inputs: list[int]):
        self.inputs = inputs
        width = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
        unseen = np.atleast_1d(np.asarray(encoder.target_mean_, dtype=np.float64))
        self.tables = []
        for j, categories in enumerate(encoder.categories_):
            columns = np.column_stack(encoder.encodings_[j * width:(j + 1) * width])
            table = {_key(c): columns[k] for k, c in enumerate(categories)}
            self.tables.append((table, unseen))

    def __call__(self, values: list) -> np.ndarray:
        return np.concatenate([table.get(_key(values[i]), unseen)
                               for i, (table, unseen) in zip(self.inputs, self.tables, strict=True)])


class _OneHot:
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


class _ImputeScale:
    """A fitted ``SimpleImputer(median)`` (its missing indicator too) then ``StandardScaler``."""

    def __init__(self, imputer: SimpleImputer, scaler: StandardScaler):
        self.fill = imputer.statistics_
        self.kept = ~np.isnan(self.fill)  # the imputer drops columns with no value in fit
        indicator = imputer.indicator_
        self.flagged = indicator.features_ if indicator is not None else np.empty(0, dtype=int)
        self.mean, self.scale = scaler.mean_, scaler.scale_

    def __call__(self, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        v = np.concatenate([np.where(missing, self.fill, x)[self.kept],
                            missing[self.flagged].astype(np.float64)])
        return (v - self.mean) / self.scale


class _ImputedNumbers:
    """The linear recipes' numbers: imputed, flagged and standardised."""

    def __init__(self, inputs: list[int], scale: _ImputeScale):
        self.inputs, self.scale = inputs, scale

    def __call__(self, values: list) -> np.ndarray:
        return self.scale(np.array([np.nan if values[i] is None else values[i]
                                    for i in self.inputs], dtype=np.float64))


class _Counts:
    """:class:`CountFrequencies` on one row: ``log1p`` of the counts, scaled to unit length."""

    def __init__(self, inputs: list[int]):
        self.inputs = inputs

    def __call__(self, values: list) -> np.ndarray:
        numbers = np.array([[np.nan if values[i] is None else values[i] for i in self.inputs]],
                           dtype=np.float64)
        counts = np.log1p(np.clip(np.nan_to_num(numbers), 0, None))
        norms = np.linalg.norm(counts, axis=1, keepdims=True)
        return (counts / np.where(norms > 0, norms, 1.0))[0]


class _Dates:
    """:class:`DateTimeParts` on one row (pandas parses the one value, as it parses a column),
    then the linear recipes' imputer and scaler when the recipe has them."""

    EPOCH = pd.Timestamp("1970-01-01", tz="UTC")

    def __init__(self, inputs: list[int], scale: _ImputeScale | None):
        self.inputs, self.scale = inputs, scale

    def __call__(self, values: list) -> np.ndarray:
        out = []
        for i in self.inputs:
            value = values[i]
            raw = np.array([np.nan if value is None else value], dtype=object)
            when = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
            out += [self._part(when, part) for part in DATE_PARTS]
        x = np.array(out, dtype=np.float64)
        return x if self.scale is None else self.scale(x)

    def _part(self, when: pd.DatetimeIndex, part: str) -> float:
        if part == "epoch_days":
            return ((when - self.EPOCH).total_seconds() / 86400.0)[0]
        return float(getattr(when, "day_of_week" if part == "dayofweek" else part)[0])


class _Text:
    """TF-IDF of one text value (the fitted vectorizer's own analyzer, vocabulary and idf,
    sub-linear counts, unit length), then the SVD's projection when the recipe reduces it."""

    def __init__(self, vectorizer: TfidfVectorizer, input_: int, components: np.ndarray | None):
        self.input, self.components = input_, components
        self.analyze = lean_terms(vectorizer) or vectorizer.build_analyzer()
        self.vocabulary, self.idf = vectorizer.vocabulary_, vectorizer.idf_
        self.sublinear = vectorizer.sublinear_tf
        self.width = len(self.idf)

    def __call__(self, values: list) -> np.ndarray:
        counts: dict[int, int] = {}
        for term in self.analyze(_text(values[self.input])):
            j = self.vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        columns = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        tf = np.array([counts[j] for j in columns.tolist()], dtype=np.float64)
        if self.sublinear:
            tf = np.log(tf) + 1.0
        weights = tf * self.idf[columns]
        norm = np.sqrt(np.dot(weights, weights))
        if norm > 0:
            weights = weights / norm
        if self.components is not None:
            return self.components[:, columns] @ weights
        out = np.zeros(self.width)
        out[columns] = weights
        return out


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _key(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value
