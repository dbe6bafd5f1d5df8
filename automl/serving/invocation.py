"""The invocation core: one prediction request in, one response out, without HTTP.

SageMaker Runtime compatible (DESIGN section 3). ``invoke(bundle, body, content_type, accept)``
parses the body (CSV rows or JSON records/instances), validates it against the bundle's schema,
predicts, and formats the answer as SageMaker Autopilot does. Client mistakes never raise: they
come back as a :class:`Response` with a 4xx status and ``{"error": {code, message, details}}``.
The web service and the standalone server both mount this function; it holds no Flask code.
"""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from automl.data.schema import InputSchema
from automl.exceptions import (  # noqa: F401 - the request errors are part of this API
    AutoMLError,
    ExplanationsUnavailable,
    InvalidRequest,
    NotAcceptable,
    PayloadTooLarge,
    SchemaError,
    UnsupportedMediaType,
    http_status,
)
from automl.jsonable import plain
from automl.model.bundle import ModelBundle
from automl.serving.batch import defuse_formula

CSV = "text/csv"
JSON = "application/json"
INPUT_FORMATS = (CSV, JSON)
OUTPUT_FORMATS = (CSV, JSON)
MAX_ROWS = 10_000
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's limit for real-time invocations
MAX_EXPLAIN_ROWS = 100
MAX_FIELDS_SHOWN = 20
INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"
"""The request and answer header that names a request in data capture (boto3 ``InferenceId``)."""
MAX_INFERENCE_ID = 64  # SageMaker's limit


@dataclass(frozen=True)
class Response:
    """What to send back: HTTP status, body bytes and its content type."""

    status: int
    body: bytes
    content_type: str = JSON

    def json(self) -> Any:
        return json.loads(self.body)


def status_for(exc: AutoMLError) -> int:
    """The HTTP status of an error, from the one table, :data:`automl.exceptions.HTTP_STATUS`."""
    return http_status(exc)


def error_response(exc: AutoMLError) -> Response:
    """``{"error": {"code", "message", "details"}, ...}`` (:func:`automl.exceptions.error_body`)
    with the status of ``exc``."""
    body = json.dumps(exc.body(), default=plain).encode()
    return Response(status_for(exc), body, JSON)


def read_body(stream: BinaryIO, content_length: int | None, limit: int = MAX_BODY_BYTES,
              setting: str = "the server's limit") -> bytes:
    """The request body, at most ``limit`` bytes: 413 from the declared length before reading
    anything, or as soon as an undeclared (chunked) body passes the limit."""
    if content_length is not None and content_length > limit:
        raise _too_large(content_length, limit, setting)
    pieces, size = [], 0
    while size <= limit:
        piece = stream.read(min(limit + 1 - size, 1 << 20))
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    if size > limit:
        raise _too_large(None, limit, setting)
    return b"".join(pieces)


def _too_large(size: int | None, limit: int, setting: str) -> PayloadTooLarge:
    shown = f"{size:,} bytes" if size is not None else "more bytes"
    return PayloadTooLarge(
        f"the request body is {shown}; real-time invocations take at most {limit:,} bytes "
        f"({setting}). Send fewer rows per request, or predict a large file with the batch route",
        {"limit_bytes": limit, "bytes": size})


def invoke(bundle: ModelBundle, body: bytes, content_type: str | None, accept: str | None = None,
           explain: bool = False, max_rows: int = MAX_ROWS,
           max_explain_rows: int = MAX_EXPLAIN_ROWS) -> Response:
    """Predict the rows in ``body`` and format the answer; client errors become 4xx responses.

    ``content_type`` is ``text/csv`` (rows in training column order, optional header row) or
    ``application/json`` (records, one record, ``{"instances": [...]}`` or ``{"features": [...]}``);
    ``accept`` is ``text/csv`` or ``application/json`` (``*/*`` or missing: JSON).
    ``explain`` adds per-row feature contributions (JSON only) from ``automl.explain.explain_rows``.
    """
    try:
        fmt_out = negotiate(accept)
        if explain and fmt_out != JSON:
            raise NotAcceptable("explanations are returned as JSON; send Accept: application/json")
        predictor = predictor_for(bundle)
        rows = predictor.parse(body, media_type(content_type), max_rows)
        if explain and len(rows) > max_explain_rows:
            raise PayloadTooLarge(
                f"explanations are computed for at most {max_explain_rows} rows per request; "
                f"this one has {len(rows)}. Split it, or ask without explain=true",
                {"rows": len(rows), "limit": max_explain_rows})
        predictions = predictor.predict(rows)
        if explain:
            _add_explanations(predictor, rows, predictions)
        return format_predictions(predictions, fmt_out, predictor.classification)
    except AutoMLError as exc:
        return error_response(exc)


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header; 415 if we cannot read it."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in INPUT_FORMATS:
        shown = repr(kind) if kind else "missing"
        raise UnsupportedMediaType(
            f"content type {shown} is not supported; send one of: {', '.join(INPUT_FORMATS)}",
            {"content_type": content_type, "supported": list(INPUT_FORMATS)})
    return kind


def negotiate(accept: str | None) -> str:
    """The response format for an Accept header: first supported type by preference; 406 if none."""
    if not accept or not accept.strip():
        return JSON
    return _negotiate(accept)


@lru_cache(maxsize=256)  # clients send the same few headers; refusals are not cached
def _negotiate(accept: str) -> str:
    ranges = []
    for i, part in enumerate(accept.split(",")):
        kind, _, params = part.partition(";")
        q = _quality(params)
        if q > 0:
            ranges.append((-q, i, kind.strip().lower()))
    for _, _, kind in sorted(ranges):
        if kind in OUTPUT_FORMATS:
            return kind
        if kind in ("*/*", "*", "application/*"):
            return JSON
        if kind == "text/*":
            return CSV
    raise NotAcceptable(f"cannot answer as {accept!r}; accept one of: {', '.join(OUTPUT_FORMATS)}",
                        {"accept": accept, "supported": list(OUTPUT_FORMATS)})


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


# --------------------------------------------------------------------------------------------
# Per-bundle compiled state: column names, scalar coercers, output labels.


class Predictor:
    """A bundle compiled for invocations: column list, scalar coercers and labels built once.

    Single-row requests skip pandas' per-column coercion: each value goes through a scalar
    coercer with the same rules as :meth:`InputSchema.coerce`, and the clean one-row frame goes
    straight to the model. Anything the scalar coercers do not handle takes the general path.
    """

    def __init__(self, bundle: ModelBundle):
        self.bundle = bundle
        self.schema: InputSchema = bundle.schema
        self.names: list[str] = self.schema.names
        self.name_set = frozenset(self.names)
        self.classification = bundle.task != "regression"
        self.labels = [_native(c) for c in bundle.classes] if self.classification else None
        self.csv_widths = _csv_widths(bundle)

    # parsing ---------------------------------------------------------------------------------

    def parse(self, body: bytes, kind: str, max_rows: int) -> Sequence:
        """The rows of a request body: records (column: raw value), or a :class:`CsvRows`."""
        text = _decode(body)
        if not text.strip():
            raise InvalidRequest("the request body is empty; send at least one row")
        rows = self._parse_csv(text, max_rows) if kind == CSV else self._parse_json(text)
        if len(rows) > max_rows:
            raise PayloadTooLarge(
                f"{len(rows)} rows in one request; the limit is {max_rows}. Split the batch, or "
                "use batch prediction for large files", {"rows": len(rows), "limit": max_rows})
        return rows

    def _parse_csv(self, text: str, max_rows: int) -> CsvRows:
        try:
            lines = [r for r in islice(csv.reader(io.StringIO(text)), max_rows + 2) if r]
        except csv.Error as exc:
            raise InvalidRequest(f"malformed CSV: {exc}") from exc
        if not lines:
            raise InvalidRequest("the request body has no CSV rows")
        header = [f.strip() for f in lines[0]]
        if self._is_header(header):
            return self._csv_rows(header, lines[1:], first=2)
        return self._csv_rows(self._column_order(len(lines[0]), 1), lines, first=1)

    def _csv_rows(self, order: list[str], lines: list[list[str]], first: int) -> CsvRows:
        for i, fields in enumerate(lines, start=first):
            if len(fields) != len(order):
                raise SchemaError(
                    f"row {i} has {len(fields)} fields; expected {len(order)} like the first row",
                    {"row": i, "fields": len(fields), "expected": len(order)})
        return CsvRows(order, lines)

    def _is_header(self, fields: list[str]) -> bool:
        return sum(map(self.name_set.__contains__, fields)) * 2 >= len(self.names)

    def _column_order(self, n_fields: int, row: int) -> list[str]:
        for order in self.csv_widths:
            if len(order) == n_fields:
                return order
        widths = " or ".join(str(len(o)) for o in self.csv_widths)
        raise SchemaError(
            f"row {row} has {n_fields} fields; expected {widths} (the columns "
            f"{_shown(self.names)} in this order, or a header row naming them)",
            {"row": row, "fields": n_fields, "expected": len(self.names), "columns": self.names})

    def _parse_json(self, text: str) -> list[dict]:
        return [self._record(item, i) for i, item in enumerate(_json_rows(load_json(text)),
                                                                 start=1)]

    def _record(self, item: Any, row: int) -> dict:
        if isinstance(item, dict) and set(item) == {"features"}:
            item = item["features"]
        if isinstance(item, dict):
            _check_scalars(item, row)
            return item
        if isinstance(item, list):
            record = dict(zip(self._column_order(len(item), row), item, strict=True))
            _check_scalars(record, row)
            return record
        raise InvalidRequest(
            f"row {row} is a {type(item).__name__}; each row must be a record (an object of "
            "column: value) or a list of values in the training column order", {"row": row})

    # predicting ------------------------------------------------------------------------------

    def predict(self, rows: Sequence) -> list[dict]:
        """Per-row prediction dicts in the SageMaker Autopilot shape."""
        matrix = self.predict_one(rows[0]) if len(rows) == 1 else None
        if matrix is None:
            matrix = self.bundle.matrix(self.schema.coerce(self.raw_frame(rows), strict=True))
        if not self.classification:
            return [{"score": v} for v in np.asarray(matrix, dtype=float).tolist()]
        best = matrix.argmax(axis=1)
        top = matrix[np.arange(len(matrix)), best].tolist()
        labels = self.labels
        return [{"predicted_label": labels[k], "probability": t, "probabilities": p,
                 "labels": labels}
                for k, t, p in zip(best.tolist(), top, matrix.tolist(), strict=True)]

    def raw_frame(self, rows: Sequence) -> pd.DataFrame:
        """The request rows as a frame of raw values."""
        if isinstance(rows, CsvRows):
            return rows.frame()
        return pd.DataFrame.from_records(rows)

    def predict_one(self, record: dict) -> np.ndarray | None:
        """One row's prediction matrix without the general path, or None to take it."""
        return self.bundle.predict_one(record)


class CsvRows(Sequence):
    """CSV request rows kept as lists of fields with their column order (no dict per row).

    ``rows[i]`` is row i as a record; :meth:`frame` builds the raw frame column by column.
    """

    def __init__(self, order: list[str], lines: list[list[str]]):
        self.order, self.lines = order, lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [dict(zip(self.order, r, strict=True)) for r in self.lines[i]]
        return dict(zip(self.order, self.lines[i], strict=True))

    def frame(self) -> pd.DataFrame:
        if not self.lines:
            return pd.DataFrame(columns=self.order)
        columns = list(zip(*self.lines, strict=True))
        unique = dict(zip(self.order, columns, strict=True))  # a repeated name: the last wins
        return pd.DataFrame({name: np.array(values, dtype=object) for name, values in unique.items()})



_PREDICTORS: dict[int, Predictor] = {}


def predictor_for(bundle: ModelBundle) -> Predictor:
    """The compiled :class:`Predictor` of ``bundle``, built on first use and kept while it lives."""
    key = id(bundle)
    predictor = _PREDICTORS.get(key)
    if predictor is None or predictor.bundle is not bundle:
        predictor = _PREDICTORS[key] = Predictor(bundle)
        weakref.finalize(bundle, _PREDICTORS.pop, key, None)
    return predictor


def _csv_widths(bundle: ModelBundle) -> list[list[str]]:
    """Column orders a header-less CSV row may follow: features only, or every training input."""
    orders = [bundle.schema.names]
    inputs = bundle.metadata.get("input_columns")
    if inputs and len(inputs) != len(orders[0]):
        orders.append(list(inputs))
    return orders


def _json_rows(data: Any) -> list:
    if isinstance(data, dict):
        if "instances" not in data:
            return [data]
        data = data["instances"]
    if not isinstance(data, list):
        raise InvalidRequest(
            f"the JSON body is a {type(data).__name__}; send a list of records, one record, or "
            '{"instances": [...]}')
    if not data:
        raise InvalidRequest("the request has no rows; send at least one")
    if all(_is_scalar(v) for v in data):
        return [data]
    return data


def load_json(text: str) -> Any:
    """Parse a JSON request body; 400 for malformed or too deeply nested JSON.

    ``NaN`` reads as missing; ``Infinity`` and numbers beyond float range (``1e999``,
    ``10**400``) are kept as markers that :func:`_check_scalars` refuses with their row and column.
    """
    try:
        return json.loads(text, parse_constant=_json_constant, parse_int=_json_int,
                          parse_float=_json_float)
    except RecursionError:
        raise InvalidRequest("the JSON body is nested too deeply; send a list of flat records "
                             'or {"instances": [...]}') from None
    except ValueError as exc:
        raise InvalidRequest(f"malformed JSON: {exc}") from exc


class _NotFinite(str):
    """A JSON number no model can read (infinite or out of float range), as written."""


def _json_constant(name: str) -> Any:
    return float("nan") if name == "NaN" else _NotFinite(name)


def _json_int(text: str) -> Any:
    value = int(text)
    return value if abs(value) < 2 ** 1023 else _NotFinite(text[:20] + ("..." if len(text) > 20
                                                                        else ""))


def _json_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _NotFinite(text)


def _check_scalars(record: dict, row: int) -> None:
    for name, value in record.items():
        if isinstance(value, _NotFinite):
            raise SchemaError(f"row {row}, column {name!r}: {value} is not a finite number; "
                              "send a number within float range, or null for missing",
                              {"row": row, "column": name})
        if not _is_scalar(value):
            raise SchemaError(f"row {row}, column {name!r}: expected a single value, got "
                              f"{type(value).__name__}", {"row": row, "column": name})


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# --------------------------------------------------------------------------------------------
# Output.


def format_predictions(predictions: list[dict], fmt: str, classification: bool) -> Response:
    """The SageMaker Autopilot response: ``{"predictions": [...]}`` or one CSV line per row."""
    if fmt == JSON:
        body = json.dumps({"predictions": predictions}, default=plain)
        return Response(200, body.encode(), JSON)
    keys = ("predicted_label", "probability") if classification else ("score",)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([_cell(p[k]) for k in keys] for p in predictions)
    return Response(200, out.getvalue().encode(), CSV)


def _cell(value: Any) -> Any:
    return defuse_formula(value) if isinstance(value, str) else value


def _add_explanations(predictor: Predictor, rows: list[dict], predictions: list[dict]) -> None:
    explain_rows = _explain_hook()
    contributions = explain_rows(predictor.bundle, predictor.raw_frame(rows))
    if isinstance(contributions, pd.DataFrame):
        contributions = contributions.to_dict(orient="records")
    for prediction, row in zip(predictions, contributions, strict=True):
        prediction["explanation"] = row


def _explain_hook() -> Callable:
    try:  # imported on first use: SHAP is slow to import and only explanations need it
        from automl.explain import explain_rows
    except ImportError as exc:
        raise ExplanationsUnavailable("explanations not available on this server",
                                      {"feature": "explain"}) from exc
    return explain_rows


def _decode(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the body is not UTF-8 text: {exc}") from exc


def _shown(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_FIELDS_SHOWN])
    return shown + (", ..." if len(names) > MAX_FIELDS_SHOWN else "")


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def inference_id(given: str | None) -> str:
    """The client's ``X-Amzn-SageMaker-Inference-Id`` (at most 64 characters), else a new one."""
    given = (given or "").strip()
    return given[:MAX_INFERENCE_ID] if given else str(uuid.uuid4())
