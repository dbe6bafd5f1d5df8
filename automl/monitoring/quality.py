"""Model quality: ground truth merged by inference id, and an estimate when there is none.

Ground truth comes as JSON lines in SageMaker's ground-truth layout::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the captured inferenceId>"}, "eventVersion": "0"}

or as CSV ``inference_id,label`` (header optional). :func:`parse_ground_truth` validates a whole
upload before anything is kept: a malformed line, a duplicate id, an id no captured row has or
a label the model never saw raises :class:`InvalidRequest` naming them.

Without labels, :func:`estimate_quality` gives a classification model's expected accuracy,
AUC and log loss from its own probabilities (confidence-based performance estimation, as
NannyML's CBPE): right when the probabilities are calibrated, and marked ``estimated``.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from automl.exceptions import InvalidRequest
from automl.metrics import SECONDARY, get_metric

MAX_SHOWN = 5


def parse_ground_truth(content: bytes | str, content_type: str | None = None) -> pd.DataFrame:
    """``inference_id`` and ``label`` (text) of a ground-truth upload; JSON lines when the
    content type says so or the text starts with ``{``, CSV otherwise."""
    text = content.decode("utf-8-sig", errors="strict") if isinstance(content, bytes) else content
    kind = (content_type or "").split(";")[0].strip().lower()
    if not text.strip():
        raise InvalidRequest("the ground truth is empty; send JSON lines in SageMaker's "
                             "ground-truth layout or CSV 'inference_id,label'")
    json_type = kind in ("application/jsonlines", "application/x-ndjson", "application/json")
    unknown_type = kind in ("", "application/octet-stream", "text/plain")
    if json_type or (unknown_type and text.lstrip().startswith("{")):
        rows = _json_lines(text)
    else:
        rows = _csv_rows(text)
    frame = pd.DataFrame(rows, columns=["inference_id", "label"])
    _no_duplicates(frame)
    return frame


def _json_lines(text: str) -> list[tuple[str, str]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append(_json_row(line, number))
    return rows


def _json_row(line: str, number: int) -> tuple[str, str]:
    try:
        record = json.loads(line)
        event_id = record["eventMetadata"]["eventId"]
        data = record["groundTruthData"]
        label = _label_of(data["data"], str(data.get("encoding", "CSV")).upper())
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(
            f"ground truth line {number} is not a ground-truth record ({_reason(exc)}); each "
            'line must be {"groundTruthData": {"data": ..., "encoding": "CSV"}, '
            '"eventMetadata": {"eventId": "<inference id>"}, "eventVersion": "0"}',
            {"line": number}) from exc
    if not isinstance(event_id, str) or not event_id:
        raise InvalidRequest(f"ground truth line {number} has no eventId", {"line": number})
    return event_id, label


def _reason(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else type(exc).__name__


def _label_of(data, encoding: str) -> str:
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("bad base64") from exc
    elif encoding == "JSON" and isinstance(data, str):
        data = json.loads(data)
        if isinstance(data, dict):
            data = data["label"]
    if isinstance(data, dict | list) or data is None:
        raise TypeError("label")
    return str(data).strip()


def _csv_rows(text: str) -> list[tuple[str, str]]:
    try:
        lines = [r for r in csv.reader(io.StringIO(text)) if r and any(f.strip() for f in r)]
    except csv.Error as exc:
        raise InvalidRequest(f"malformed ground-truth CSV: {exc}") from exc
    if lines and [f.strip().lower() for f in lines[0]] == ["inference_id", "label"]:
        lines = lines[1:]
    rows = []
    for number, fields in enumerate(lines, start=1):
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise InvalidRequest(
                f"ground truth row {number} has {len(fields)} fields; each row must be "
                "'inference_id,label', both non-empty", {"row": number})
        rows.append((fields[0].strip(), fields[1].strip()))
    return rows


def _no_duplicates(frame: pd.DataFrame) -> None:
    repeated = frame["inference_id"][frame["inference_id"].duplicated()].unique()
    if len(repeated):
        raise InvalidRequest(
            f"{len(repeated)} inference ids appear more than once ({_shown(repeated)}); send "
            "one label per inference id", {"duplicates": [str(r) for r in repeated[:100]]})


def _shown(values) -> str:
    more = f" and {len(values) - MAX_SHOWN} more" if len(values) > MAX_SHOWN else ""
    return ", ".join(repr(str(v)) for v in list(values)[:MAX_SHOWN]) + more


def match_ground_truth(truth: pd.DataFrame, inference_ids: np.ndarray, task: str,
                       classes: list | None) -> tuple[np.ndarray, np.ndarray]:
    """Row positions in the window and their labels (class codes, or floats for regression).

    Raises :class:`InvalidRequest` when ids are unknown or labels are outside the classes.
    """
    positions = pd.Series(np.arange(len(inference_ids)), index=pd.Index(inference_ids))
    positions = positions[~positions.index.duplicated()]
    unknown = truth["inference_id"][~truth["inference_id"].isin(positions.index)]
    if len(unknown):
        raise InvalidRequest(
            f"{len(unknown)} inference ids have no captured request ({_shown(unknown)}); send "
            "the inferenceId the endpoint returned (':<row>' for rows of a batch request)",
            {"unknown": [str(u) for u in unknown[:100]]})
    rows = positions.loc[truth["inference_id"]].to_numpy()
    return rows, encode_labels(truth["label"], task, classes)


def encode_labels(labels: pd.Series, task: str, classes: list | None) -> np.ndarray:
    """Labels as the model's class codes 0..K-1 (or floats for regression)."""
    if task == "regression":
        values = pd.to_numeric(labels, errors="coerce")
        if values.isna().any():
            raise InvalidRequest(f"labels must be numbers for a regression model; cannot read "
                                 f"{_shown(labels[values.isna()].unique())}")
        return values.to_numpy(dtype=float)
    names = [_label_text(c) for c in classes]
    codes = pd.Index(names, dtype=object).get_indexer(labels.map(_label_text))
    if (codes < 0).any():
        outside = labels[codes < 0].unique()
        raise InvalidRequest(
            f"labels {_shown(outside)} are not classes of this model; its classes are "
            f"{_shown(names)}", {"unknown_labels": [str(v) for v in outside[:100]],
                                 "classes": names})
    return codes.astype(int)


def _label_text(value) -> str:
    """A label as text, integer-valued numbers without a decimal point (1.0 -> "1")."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def measure_quality(y: np.ndarray, predictions: np.ndarray, task: str, metric: str) -> dict:
    """The job's metric and the task's secondary metrics over labelled rows."""
    chosen = get_metric(metric, task)
    scores = {}
    for name in dict.fromkeys((chosen.name, *SECONDARY[task])):
        try:
            scores[name] = get_metric(name, task).score(y, predictions)
        except ValueError:
            continue
    return {"metric": chosen.name, "value": scores.get(chosen.name), "metrics": scores,
            "rows": int(len(y)), "estimated": False}


def estimate_quality(probabilities: np.ndarray, task: str, metric: str) -> dict | None:
    """Expected accuracy, AUC and log loss of a classifier from its probabilities alone
    (CBPE); None for regression."""
    if task == "regression" or probabilities is None or not len(probabilities):
        return None
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    scores = {"accuracy": float(p.max(axis=1).mean()),
              "auc": expected_auc(p),
              "logloss": float(-(p * np.log(p)).sum(axis=1).mean())}
    chosen = get_metric(metric, task).name
    return {"metric": chosen, "value": scores.get(chosen), "metrics": scores,
            "rows": int(len(p)), "estimated": True}


def expected_auc(p: np.ndarray) -> float:
    """The ROC AUC expected when each row's class is drawn from its probabilities: the
    expected ROC curve of every class against the rest, averaged over classes (binary: the
    positive class's)."""
    columns = [1] if p.shape[1] == 2 else range(p.shape[1])
    return float(np.mean([_expected_auc_one(p[:, k]) for k in columns]))


def _expected_auc_one(score: np.ndarray) -> float:
    order = np.argsort(-score, kind="stable")
    positive = score[order]
    tp, fp = np.cumsum(positive), np.cumsum(1.0 - positive)
    if tp[-1] <= 0 or fp[-1] <= 0:
        return float("nan")
    tpr = np.concatenate([[0.0], tp / tp[-1]])
    fpr = np.concatenate([[0.0], fp / fp[-1]])
    return float(np.trapezoid(tpr, fpr))


class GroundTruthStore:
    """Labels sent for one endpoint, kept under ``directory`` as one CSV file per upload.

    :meth:`add` takes a validated upload (:func:`parse_ground_truth`) whole or not at all: an
    id labelled by an earlier upload is refused, and the file appears by an atomic rename,
    so a crash never leaves half an upload behind. Adds to one store must be serialised by
    the caller (the service: one lock per endpoint, or a row in its database).
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def load(self) -> pd.DataFrame:
        """Every stored label: ``inference_id``, ``label`` (text)."""
        files = sorted(self.directory.glob("*.csv")) if self.directory.is_dir() else []
        frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
        if not frames:
            return pd.DataFrame({"inference_id": [], "label": []}, dtype=object)
        return pd.concat(frames, ignore_index=True)

    def add(self, truth: pd.DataFrame) -> int:
        """Store ``truth``; returns the number of labels. :class:`InvalidRequest` when an id
        already has a label."""
        known = self.load()["inference_id"]
        again = truth["inference_id"][truth["inference_id"].isin(known)]
        if len(again):
            raise InvalidRequest(
                f"{len(again)} inference ids already have a label ({_shown(again)}); nothing "
                "from this upload was stored", {"duplicates": [str(v) for v in again[:100]]})
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}.csv"
        partial = self.directory / f".{name}.partial"
        truth[["inference_id", "label"]].to_csv(partial, index=False)
        partial.replace(self.directory / name)
        return len(truth)
