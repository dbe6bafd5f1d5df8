"""Batch prediction: a CSV of any size in, a CSV of predictions out, in chunks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from automl.data.intake import NA_VALUES, detect_encoding, sniff_delimiter
from automl.exceptions import DatasetError
from automl.serving.bundle import ModelBundle

CHUNK_ROWS = 50_000


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


def predict_csv(model_dir: str | Path, data: str | Path, output: str | Path,
                chunk_rows: int = CHUNK_ROWS) -> int:
    """Predict every row of ``data`` in order and write ``output``; returns the row count."""
    bundle = ModelBundle.load(model_dir)
    path = Path(data)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if not head.strip():
        raise DatasetError(f"{path.name} is empty; give a CSV with a header row")
    encoding = detect_encoding(path, head)
    sep = sniff_delimiter(head.decode(encoding, errors="replace"))
    n = 0
    reader = pd.read_csv(path, sep=sep, encoding=encoding, na_values=NA_VALUES,
                         keep_default_na=False, chunksize=chunk_rows, low_memory=False)
    with open(output, "w", newline="") as out:
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]
            prediction_frame(bundle, chunk).to_csv(out, header=n == 0, index=False)
            n += len(chunk)
    return n
