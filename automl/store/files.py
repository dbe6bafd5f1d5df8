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
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from automl.data.intake import detect_encoding, read_table, sniff_delimiter
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


def file_profile(path: Path) -> dict:
    """A look at a whole CSV, read as a job reads it (:func:`automl.data.intake.read_table`):
    the row count and, per column, dtype, role, missing share, distinct values and the task it
    would make as a target. Reading the whole file costs the memory a job on it will need anyway;
    the full profile (class balance, leakage) needs a target, so each job computes its own."""
    head = _head(path)
    text = head.decode(detect_encoding(path, head), errors="ignore")
    _header(text, sniff_delimiter(text), path)
    frame = read_table(path)
    return {"n_rows": len(frame), "columns": [_column(frame[c]) for c in frame.columns]}


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
        raise DatasetError(f"the header row cannot be read: {exc}") from None
    header = [h.strip() for h in header]
    if len(header) < 2 or not all(header):
        raise DatasetError("a dataset needs a header row naming at least two columns "
                           "(features and a target), none of them empty",
                           {"columns": header[:50]})
    dups = sorted({h for h in header if header.count(h) > 1})
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
