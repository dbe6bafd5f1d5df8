"""Reading captured data back: records from a directory tree, then one window as frames.

:func:`iter_records` yields the data-capture records of every ``.jsonl`` file under a
directory (oldest hour first), skipping and counting lines that are not capture records (a
torn last line after a crash, foreign JSON). :func:`read_window` turns them into the raw input
frame the model was asked, one inference id per row and, when the answers were JSON, the
prediction matrix the model gave.

Rows and inference ids: a one-row request's row carries the request's ``inferenceId``; the
rows of a batch request carry ``<inferenceId>:<i>`` (i from 0), so ground truth can name them.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.intake import NA_VALUES
from automl.monitoring.capture import capture_files

CHUNK_BYTES = 16 * 1024 * 1024


@dataclass
class ReadStats:
    """What a read found: files, good records, rows, and skipped lines with a few reasons."""

    files: int = 0
    records: int = 0
    rows: int = 0
    malformed: int = 0
    reasons: list[str] = field(default_factory=list)

    def skip(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.reasons) < 10:
            self.reasons.append(f"{where}: {reason}")

    def to_dict(self) -> dict:
        return {"files": self.files, "records": self.records, "rows": self.rows,
                "malformed_lines": self.malformed, "malformed_examples": self.reasons}


def iter_records(directory: str | Path, stats: ReadStats | None = None,
                 since: str | None = None, until: str | None = None) -> Iterator[dict]:
    """Capture records under ``directory``; ``since``/``until`` (``YYYY/MM/DD/HH``, inclusive)
    select hour folders. Malformed lines are counted in ``stats`` and skipped."""
    stats = stats if stats is not None else ReadStats()
    root = Path(directory)
    for path in capture_files(root):
        hour = "/".join(path.relative_to(root).parts[-5:-1])
        if (since and hour < since) or (until and hour > until):
            continue
        stats.files += 1
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                record, reason = _parse_line(line)
                if record is None:
                    stats.skip(f"{path.name} line {number}", reason)
                    continue
                stats.records += 1
                yield record


def _parse_line(line: bytes) -> tuple[dict | None, str]:
    try:
        record = json.loads(line)
    except ValueError:
        return None, "not JSON (a torn or truncated line)"
    if not isinstance(record, dict):
        return None, "not a capture record"
    data = record.get("captureData")
    meta = record.get("eventMetadata")
    if not isinstance(data, dict) or not isinstance(meta, dict):
        return None, "no captureData/eventMetadata: not a capture record"
    if not isinstance(data.get("endpointInput"), dict) or \
            not isinstance(data["endpointInput"].get("data"), str):
        return None, "no captureData.endpointInput.data"
    return record, ""


def payload_text(payload: dict) -> str:
    """The text of an ``endpointInput``/``endpointOutput`` (base64 decoded); ValueError if
    it cannot be read."""
    data = payload.get("data")
    if not isinstance(data, str):
        raise ValueError("no data")
    if str(payload.get("encoding", "")).upper() == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"bad base64 data: {exc}") from exc
    return data


@dataclass
class Window:
    """Captured rows: the raw inputs, their inference ids and times, and (JSON answers) the
    predictions the endpoint returned (probabilities, or scores for regression)."""

    frame: pd.DataFrame
    inference_ids: np.ndarray
    times: np.ndarray
    predictions: np.ndarray | None
    stats: ReadStats


def read_window(directory: str | Path, columns: list[str], input_columns: list[str] | None = None,
                since: str | None = None, until: str | None = None) -> Window:
    """The captured rows under ``directory`` as one :class:`Window`.

    ``columns`` is the model's feature order (a header-less CSV row in that order), and
    ``input_columns`` the training inputs (the other order a CSV row may follow).
    """
    stats = ReadStats()
    decoder = _Decoder(columns, input_columns or columns)
    for record in iter_records(directory, stats, since, until):
        try:
            decoder.add(record)
        except ValueError as exc:
            stats.skip(f"record {record['eventMetadata'].get('eventId', '?')}", str(exc))
    window = decoder.window(stats)
    stats.rows = len(window.frame)
    return window


class _Decoder:
    """Accumulates request payloads; parses the CSV ones in one pandas call per column order."""

    def __init__(self, columns: list[str], input_columns: list[str]):
        self.columns, self.orders = columns, [columns, input_columns]
        self.csv: dict[tuple, list[tuple[str, int]]] = {}
        self.blocks: list[tuple] = []  # (kind, key or frame, ids, time, predictions)

    def add(self, record: dict) -> None:
        meta, data = record["eventMetadata"], record["captureData"]
        text = payload_text(data["endpointInput"])
        kind = str(data["endpointInput"].get("observedContentType", "")).split(";")[0].strip()
        if kind.lower() == "application/json":
            frame = self._json_frame(text)
            block = ("json", frame, len(frame))
        else:
            order, body, n = self._csv_part(text)
            self.csv.setdefault(order, []).append((body, n))
            block = ("csv", order, n)
        output = data.get("endpointOutput")
        preds = _output_matrix(output, block[2]) if isinstance(output, dict) else None
        ids = _row_ids(str(meta.get("inferenceId") or meta.get("eventId") or ""), block[2],
                       meta.get("rowOffset"))
        self.blocks.append((*block, ids, str(meta.get("inferenceTime", "")), preds))

    def _csv_part(self, text: str) -> tuple[tuple, str, int]:
        """The column order, the data lines (ending with a newline) and their count of one
        CSV payload; copies the text only when it needs cleaning (large payloads are the
        common case)."""
        if "\r" in text or "\n\n" in text or text[:1] == "\n":
            text = "".join(line + "\n" for line in text.splitlines() if line.strip())
        elif text and not text.endswith("\n"):
            text += "\n"
        first_end = text.find("\n")
        fields = [f.strip() for f in next(csv.reader([text[:first_end]]), [])]
        header = len(set(fields)) == len(fields)
        if fields and header and sum(f in self.columns for f in fields) * 2 >= len(self.columns):
            order, text = tuple(fields), text[first_end + 1:]
        else:
            order = next((tuple(o) for o in self.orders if len(o) == len(fields)), None)
            if order is None:
                raise ValueError(f"a CSV row of {len(fields)} fields; the model reads "
                                 f"{len(self.columns)}")
        quoted = '"' in text  # a quoted field may hold a newline: count rows properly
        n = sum(1 for _ in csv.reader(io.StringIO(text))) if quoted else text.count("\n")
        return order, text, n

    def _json_frame(self, text: str) -> pd.DataFrame:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError("malformed JSON input") from exc
        if isinstance(data, dict):
            data = data.get("instances", [data])
        if not isinstance(data, list) or not data:
            raise ValueError("a JSON input with no rows")
        if all(not isinstance(v, dict | list) for v in data):
            data = [data]
        records = [self._record(item) for item in data]
        return pd.DataFrame.from_records(records)

    def _record(self, item) -> dict:
        if isinstance(item, dict) and set(item) == {"features"}:
            item = item["features"]
        if isinstance(item, dict):
            return item
        order = next((o for o in self.orders if isinstance(item, list) and len(o) == len(item)),
                     None)
        if order is None:
            raise ValueError("a JSON row that is neither a record nor a list of the model's "
                             "columns")
        return dict(zip(order, item, strict=True))

    def window(self, stats: ReadStats) -> Window:
        parsed = {order: _read_csv(order, parts, stats) for order, parts in self.csv.items()}
        ids = _cat([block[3] for block in self.blocks])
        times = _cat([np.repeat(block[4], block[2]) for block in self.blocks])
        preds = [block[5] for block in self.blocks]
        matrix = np.concatenate(preds) if preds and all(p is not None for p in preds) else None
        return Window(self._frame(parsed), ids, times, matrix, stats)

    def _frame(self, parsed: dict[tuple, pd.DataFrame]) -> pd.DataFrame:
        """The rows in capture order: the parsed CSV itself when every request was CSV in one
        column order (the usual case, no copy), else the blocks put back in order."""
        if len(parsed) == 1 and all(block[0] == "csv" for block in self.blocks):
            return next(iter(parsed.values()))
        offsets = dict.fromkeys(parsed, 0)
        frames = []
        for kind, key, n, *_ in self.blocks:
            if kind == "csv":
                frames.append(parsed[key].iloc[offsets[key]:offsets[key] + n])
                offsets[key] += n
            else:
                frames.append(key)
        if not frames:
            return pd.DataFrame(columns=self.columns)
        return pd.concat(frames, ignore_index=True)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.array([], dtype=object)


def _read_csv(order: tuple, parts: list[tuple[str, int]], stats: ReadStats) -> pd.DataFrame:
    """Parse CSV payloads (text ending with a newline, row count) in chunks of about
    ``CHUNK_BYTES``, consuming ``parts`` as it goes so that peak memory stays near the frame's
    own size. A chunk that does not parse is parsed payload by payload; a payload that does
    not parse (rows of the wrong width) becomes missing rows and is counted as malformed."""
    frames = []
    parts.reverse()
    while parts:
        chunk, size = [], 0
        while parts and size < CHUNK_BYTES:
            chunk.append(parts.pop())
            size += len(chunk[-1][0])
        frames.append(_parse_chunk(order, chunk, stats))
    if not frames:
        return pd.DataFrame(columns=list(order))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _parse_chunk(order: tuple, chunk: list[tuple[str, int]], stats: ReadStats) -> pd.DataFrame:
    expected = sum(n for _, n in chunk)
    try:
        frame = _parse("".join(text for text, _ in chunk), order)
        if len(frame) == expected:
            return frame
    except ValueError:
        pass
    if len(chunk) == 1:
        stats.skip("a CSV request", "rows of another width than the first; read as missing")
        return pd.DataFrame(index=range(expected), columns=list(order), dtype=object)
    return pd.concat([_parse_chunk(order, [part], stats) for part in chunk], ignore_index=True)


def _parse(text: str, order: tuple) -> pd.DataFrame:
    if not text:
        return pd.DataFrame(columns=list(order))
    return pd.read_csv(io.BytesIO(text.encode("utf-8")), header=None, names=list(order),
                       na_values=NA_VALUES, keep_default_na=False, skipinitialspace=True,
                       low_memory=False)


def _row_ids(inference_id: str, n: int, offset=None) -> np.ndarray:
    """``<id>`` for a request of one row, ``<id>:<row>`` for each row of a longer one, and for
    a batch request's chunk, numbered from its ``rowOffset`` in the request."""
    if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
        return np.array([f"{inference_id}:{offset + i}" for i in range(n)], dtype=object)
    if n == 1:
        return np.array([inference_id], dtype=object)
    return np.array([f"{inference_id}:{i}" for i in range(n)], dtype=object)


def _output_matrix(output: dict, n: int) -> np.ndarray | None:
    """Probabilities (classification) or scores (regression) from a JSON answer; None when
    the answer is CSV (it holds only the top probability) or does not match the rows."""
    kind = str(output.get("observedContentType", "")).split(";")[0].strip().lower()
    if kind != "application/json":
        return None
    try:
        rows = json.loads(payload_text(output))["predictions"]
        if rows and "probabilities" in rows[0]:
            matrix = np.array([r["probabilities"] for r in rows], dtype=float)
        else:
            matrix = np.array([r["score"] for r in rows], dtype=float)
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return matrix if len(matrix) == n else None
