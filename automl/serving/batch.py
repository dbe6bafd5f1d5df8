"""Batch prediction: a CSV of any size in, a CSV of predictions out, in chunks.

Memory stays flat with the file size: rows are read, predicted and written ``chunk_rows`` at a
time. :func:`stream_predictions` is the generator behind both ``automl predict`` and the
service's batch route (it yields encoded CSV pieces a streaming HTTP response can send).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from automl.data.intake import NA_VALUES, detect_encoding, sniff_delimiter
from automl.exceptions import DatasetError
from automl.model.bundle import ModelBundle

CHUNK_ROWS = 50_000
SNIFF_BYTES = 64 * 1024


def prediction_frame(bundle: ModelBundle, rows: pd.DataFrame) -> pd.DataFrame:
    """``prediction`` and, for classification, ``probability_<class>`` for every class."""
    if bundle.task == "regression":
        return pd.DataFrame({"prediction": bundle.predict(rows)}, index=rows.index)
    proba = bundle.predict_proba(rows)
    out = pd.DataFrame({"prediction": [bundle.classes[i] for i in proba.to_numpy().argmax(axis=1)]},
                       index=rows.index)
    for label in bundle.classes:
        out[f"probability_{label}"] = proba[label].to_numpy()
    return out


def prediction_csv(bundle: ModelBundle, rows: pd.DataFrame, header: bool) -> str:
    """:func:`prediction_frame` as CSV text, written straight from the prediction matrix.

    The same text ``prediction_frame(...).to_csv(index=False)`` gives (floats as their shortest
    repr), about twice as fast: labels are quoted once per class, not once per row.
    """
    matrix = bundle.matrix(bundle.prepare(rows))
    names = ["prediction"]
    if bundle.task == "regression":
        columns = [_floats(matrix)]
    else:
        labels = np.array([_csv_field(str(c)) for c in bundle.classes], dtype=object)
        columns = [labels[matrix.argmax(axis=1)].tolist()]
        columns += [_floats(matrix[:, k]) for k in range(matrix.shape[1])]
        names += [f"probability_{c}" for c in bundle.classes]
    lines = [",".join(_csv_field(n) for n in names)] if header else []
    lines += map(",".join, zip(*columns, strict=True))
    return "\n".join(lines) + "\n" if lines else ""


def _floats(values: np.ndarray) -> list[str]:
    """Each value's shortest repr, "" where missing."""
    values = np.asarray(values, dtype=float)
    text = list(map(float.__repr__, values.tolist()))
    for i in np.flatnonzero(np.isnan(values)).tolist():
        text[i] = ""
    return text


def _csv_field(text: str) -> str:
    text = defuse_formula(text)
    if any(ch in text for ch in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(text: str) -> str:
    """A CSV cell a spreadsheet will not run: text starting with ``= + - @``, tab or CR gets a
    leading ``'`` (OWASP's rule for CSV injection); numbers such as ``-2.5`` stay as they are."""
    if not text.startswith(FORMULA_STARTS):
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text


def stream_predictions(bundle: ModelBundle, fileobj: BinaryIO, chunk_rows: int = CHUNK_ROWS,
                       encoding: str | None = None, sep: str | None = None,
                       on_chunk: Callable[[pd.DataFrame, bytes, int], None] | None = None
                       ) -> Iterator[bytes]:
    """Predict a CSV (with a header row) read from ``fileobj``; yield the output CSV in pieces.

    The first piece carries the header (``prediction``, ``probability_<class>``...); rows keep
    their input order. ``encoding`` defaults to UTF-8 (UTF-16 when the data starts with its
    byte-order mark) and ``sep`` to the sniffed delimiter. ``on_chunk(rows, piece, offset)``,
    when given, is told each chunk of input rows with its output piece and the number of rows
    before it (data capture). Raises :class:`DatasetError` on an empty input and
    :class:`SchemaError` on rows that do not match the model.
    """
    head = fileobj.read(SNIFF_BYTES)
    if isinstance(head, str):
        head = head.encode(encoding or "utf-8")
        encoding = encoding or "utf-8"
    if not head.strip():
        raise DatasetError("the input is empty; give a CSV with a header row")
    encoding = encoding or ("utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig")
    sep = sep or sniff_delimiter(head.decode(encoding, errors="replace"))
    source = io.BufferedReader(_Prefixed(head, fileobj), buffer_size=1 << 20)
    offset = 0
    for chunk, piece in _predict_chunks(bundle, source, chunk_rows, encoding, sep):
        if on_chunk is not None:
            on_chunk(chunk, piece, offset)
        offset += len(chunk)
        yield piece


def _predict_chunks(bundle: ModelBundle, source: BinaryIO, chunk_rows: int, encoding: str,
                    sep: str) -> Iterator[tuple[pd.DataFrame, bytes]]:
    reader = pd.read_csv(source, sep=sep, encoding=encoding, na_values=NA_VALUES,
                         keep_default_na=False, chunksize=chunk_rows, low_memory=False)
    first = True
    with reader:
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]
            text = prediction_csv(bundle, chunk, header=first)
            first = False
            yield chunk, text.encode("utf-8")


def predict_csv(model_dir: str | Path, data: str | Path, output: str | Path,
                chunk_rows: int = CHUNK_ROWS, include_input: bool = False) -> int:
    """Predict every row of ``data`` in order and write ``output``; returns the row count.

    ``output`` holds the prediction columns only, or, with ``include_input``, each input row as
    it was written followed by its prediction columns (SageMaker batch transform's
    ``JoinSource=Input``)."""
    bundle = ModelBundle.load(model_dir)
    path = Path(data)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise DatasetError(f"{path.name} is empty; give a CSV with a header row")
    encoding = detect_encoding(path, head)
    sep = sniff_delimiter(head.decode(encoding, errors="replace"))
    n = 0
    with open(path, "rb") as src, open(output, "wb") as out:
        pieces = _predict_chunks(bundle, src, chunk_rows, encoding, sep) if not include_input \
            else _joined_chunks(bundle, path, chunk_rows, encoding, sep)
        for rows, piece in pieces:
            out.write(piece)
            n += len(rows)
    return n


def _joined_chunks(bundle: ModelBundle, path: Path, chunk_rows: int, encoding: str,
                   sep: str) -> Iterator[tuple[pd.DataFrame, bytes]]:
    """Input rows (their text as read, every value kept) beside their predictions, in chunks."""
    options = {"sep": sep, "encoding": encoding, "chunksize": chunk_rows, "low_memory": False}
    typed = pd.read_csv(path, na_values=NA_VALUES, keep_default_na=False, **options)
    text = pd.read_csv(path, dtype=str, keep_default_na=False, **options)
    first = True
    with typed, text:
        for chunk, raw in zip(typed, text, strict=True):
            chunk.columns = raw.columns = [str(c).strip() for c in chunk.columns]
            predicted = prediction_frame(bundle, chunk)
            clash = sorted(set(raw.columns) & set(predicted.columns))
            if clash:
                raise DatasetError(f"the input already has column(s) {', '.join(clash)}; rename "
                                   "them, or predict without --include-input")
            joined = pd.concat([raw, predicted], axis=1)
            yield chunk, joined.to_csv(index=False, header=first).encode("utf-8")
            first = False


class _Prefixed(io.RawIOBase):
    """A read-only stream: ``head`` (already read for sniffing), then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        if isinstance(data, str):
            data = data.encode("utf-8")
        buffer[:len(data)] = data
        return len(data)
