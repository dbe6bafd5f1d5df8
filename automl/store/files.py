"""Files of the service: uploaded datasets and job artifact directories under the data dir.

Uploads are copied to disk in chunks and never held whole in memory. Stored file names are
made from ids, never from what a user sent, so no upload can write outside the data dir.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from automl.data.intake import check_csv, detect_encoding, read_table, sniff_delimiter
from automl.data.profile import column_role, infer_task
from automl.exceptions import DatasetError

CHUNK = 1 << 20
_HEAD_BYTES = 256 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadTooLarge(DatasetError):
    """The upload is bigger than the configured limit."""

    code = "payload_too_large"


def dataset_path(data_dir: str | Path, dataset_id: str) -> Path:
    return Path(data_dir) / "datasets" / f"{dataset_id}.csv"


def job_dir(data_dir: str | Path, job_id: str) -> Path:
    return Path(data_dir) / "jobs" / job_id


def safe_display_name(name: str | None) -> str:
    """A file name fit for display: no directories, no control characters, at most 200 chars."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = _SAFE_NAME.sub("_", base).strip(" .")[:200]
    return base or "upload.csv"


def save_stream(chunks: Iterable[bytes] | BinaryIO, dest: Path, max_bytes: int) -> int:
    """Copy a stream (file object or iterable of bytes) to ``dest`` in chunks; returns its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(chunks, "read"):
        stream = chunks
        chunks = iter(lambda: stream.read(CHUNK), b"")
    size = 0
    tmp = dest.with_suffix(".part")
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"the upload is larger than the limit of {max_bytes} bytes",
                                         {"max_bytes": max_bytes})
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def file_profile(path: Path, max_columns: int = 2_000) -> dict:
    """A look at a whole CSV, read as a job reads it (:func:`automl.data.intake.read_table`):
    the row count and, per column, dtype, role, missing share, distinct values and the task it
    would make as a target. The full profile (class balance, leakage) needs a target, so each job
    computes its own.

    Checked first in time linear in the file's size, before any per-column work: at most
    ``max_columns`` columns, and every row read as the jobs will read it (field count, and the
    csv reader's field size limit of this process, see ``apply_process_limits``)."""
    head = _head(path)
    encoding = detect_encoding(path, head)
    text = head.decode(encoding, errors="ignore")
    delimiter = sniff_delimiter(text)
    _check_width(path, delimiter, max_columns)
    _header(text, delimiter, path)
    _check_rows(path, encoding, delimiter)
    frame = read_table(path)
    if frame.empty:
        raise DatasetError(f"{path.name} has a header but no data rows; add rows below the header")
    return {"n_rows": len(frame), "columns": [_column(frame[c]) for c in frame.columns]}


def _check_width(path: Path, delimiter: str, max_columns: int) -> None:
    """Count the header's delimiters in a streamed read of its whole line, however long."""
    sep, count = delimiter.encode(), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            end = chunk.find(b"\n")
            count += chunk.count(sep, 0, None if end < 0 else end)
            if count >= max_columns or end >= 0:
                break
    if count + 1 > max_columns:
        shown = f"{count + 1}" if end >= 0 else f"more than {max_columns}"
        raise DatasetError(f"the header has {shown} columns; this server takes at most "
                           f"{max_columns} (AUTOML_MAX_COLUMNS). Select the columns you need",
                           {"limit": max_columns})


def _check_rows(path: Path, encoding: str, delimiter: str) -> None:
    try:
        check_csv(path, encoding, delimiter)
    except DatasetError as exc:
        if "field larger than field limit" not in exc.message:
            raise
        raise _value_too_long(exc.details.get("line")) from None


def _value_too_long(line: int | None) -> DatasetError:
    limit = csv.field_size_limit()
    return DatasetError(f"line {line}: a value is longer than {limit:,} bytes, the longest this "
                        "server reads (AUTOML_MAX_FIELD_BYTES); shorten it or check the quoting",
                        {"line": line, "limit": limit})


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if not head.strip():
        raise DatasetError("the file is empty; upload a CSV with a header row and data rows")
    if head.startswith((b"PK\x03\x04", b"PAR1")):
        raise DatasetError("the file is an archive or Parquet file, not a CSV; export it as CSV")
    return head


def _header(text: str, delimiter: str, path: Path) -> list[str]:
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _value_too_long(1) from None
        raise DatasetError(f"the header row cannot be read: {exc}") from None
    header = [h.strip() for h in header]
    if len(header) < 2 or not all(header):
        raise DatasetError("a dataset needs a header row naming at least two columns "
                           "(features and a target), none of them empty",
                           {"columns": header[:50]})
    dups = sorted(name for name, n in Counter(header).items() if n > 1)
    if dups:
        raise DatasetError(f"duplicate column names: {', '.join(map(repr, dups))}; "
                           "give every column a unique name", {"duplicates": dups})
    return header


def _column(s: pd.Series) -> dict:
    example = s.dropna()
    n_unique = int(example.nunique())
    return {"name": str(s.name), "dtype": str(s.dtype), "role": column_role(s),
            "missing_share": round(float(s.isna().mean()), 4), "n_unique": n_unique,
            "as_target": infer_task(example) if n_unique >= 2 else None,
            "example": None if example.empty else str(example.iloc[0])[:100]}


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
