"""Registering a dataset: its file saved under the data directory, looked at whole
(:func:`~automl.store.files.file_profile`) and recorded in the job store, or nothing kept.

Used for uploads (web) and for the training data of a retraining (the runner starts those too).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from automl.exceptions import DatasetError
from automl.store.files import dataset_path, file_profile, safe_display_name, save_stream
from automl.store.jobstore import JobStore, new_id


def register_dataset(store: JobStore, data_dir: str | Path,
                     chunks: Iterable[bytes] | BinaryIO, filename: str | None,
                     max_bytes: int, max_columns: int) -> dict:
    """Save ``chunks`` as a new dataset's file, profile it and record it; returns the row.
    :class:`DatasetError` (naming ``filename``, not the stored file) when it cannot be read."""
    dataset_id = new_id("ds")
    path = dataset_path(data_dir, dataset_id)
    name = safe_display_name(filename)
    size = save_stream(chunks, path, max_bytes)
    try:
        if size == 0:
            raise DatasetError("the file is empty; upload a CSV with a header row and data rows")
        lite = file_profile(path, max_columns)
    except DatasetError as exc:  # messages name the stored file: name the user's instead
        path.unlink(missing_ok=True)
        exc.message = exc.message.replace(path.name, name)
        exc.args = (exc.message,)
        raise
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return store.add_dataset({
        "id": dataset_id, "name": name, "path": str(path), "size_bytes": size,
        "n_rows": lite["n_rows"], "columns": lite["columns"],
        "warnings": lite_warnings(lite["columns"])})


def lite_warnings(columns: list[dict]) -> list[dict]:
    """What an upload's columns warn of before any job: constant or id-like columns (dropped),
    mostly missing ones."""
    out = []
    for c in columns:
        if c["role"] in ("constant", "id-like"):
            out.append({"code": c["role"], "column": c["name"],
                        "message": f"column '{c['name']}' looks {c['role']}; it will be dropped"})
        elif c["missing_share"] > 0.5:
            out.append({"code": "mostly_missing", "column": c["name"],
                        "message": f"column '{c['name']}' is {c['missing_share']:.0%} missing"})
    return out
