"""Retraining an endpoint's model from what it saw (issue 16, part 3).

:func:`prepare` gathers the endpoint's labelled captures (every variant), holds out the newest
share and writes the challenger's training file (the original rows plus the older labelled
captures) and the held-out rows under ``<data>/retrain/<endpoint>/<id>/``. Once the
challenger's job has finished, :func:`compare` scores the endpoint's current model and the
challenger's winner on the held-out rows (:func:`automl.monitoring.retrain.compare_on_holdout`)
and keeps the result beside them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd

from automl.data.intake import read_table
from automl.endpoint_monitor import capture_root
from automl.exceptions import NotFound
from automl.model.bundle import ModelBundle
from automl.monitoring.capture import DEFAULT_VARIANT
from automl.monitoring.quality import GroundTruthStore
from automl.monitoring.reader import read_window
from automl.monitoring.retrain import (
    HOLDOUT_SHARE,
    RetrainData,
    compare_on_holdout,
    first_copies,
    labelled_captures,
    retraining_data,
)


def retrain_dir(data_dir: str | Path, endpoint: str, retrain_id: str) -> Path:
    return Path(data_dir) / "retrain" / endpoint / retrain_id


def prepare(data_dir: str | Path, endpoint: str, bundle: ModelBundle, original: str | Path,
            holdout_share: float = HOLDOUT_SHARE) -> tuple[str, RetrainData, Path]:
    """(retrain id, the material, the challenger's training CSV)."""
    labelled = _labelled(data_dir, endpoint, bundle)
    data = retraining_data(read_table(original), labelled, bundle.schema.target, holdout_share)
    retrain_id = f"rt_{uuid.uuid4().hex[:12]}"
    directory = retrain_dir(data_dir, endpoint, retrain_id)
    directory.mkdir(parents=True)
    train = directory / "train.csv"
    data.train.to_csv(train, index=False)
    data.holdout.to_csv(directory / "holdout.csv", index=False)
    return retrain_id, data, train


def _labelled(data_dir, endpoint: str, bundle: ModelBundle) -> pd.DataFrame:
    """Labelled captures of every variant of the endpoint, oldest first."""
    truth = GroundTruthStore(Path(data_dir) / "ground-truth" / endpoint).load()
    root = capture_root(data_dir) / endpoint
    variants = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    windows = first_copies([read_window(v, bundle.schema.names,
                                        bundle.metadata.get("input_columns"))
                            for v in sorted(variants, key=lambda p: p.name != DEFAULT_VARIANT)])
    parts = [labelled_captures(w, truth, bundle.schema.target, bundle.task, bundle.classes)
             for w in windows]
    if not parts:
        return labelled_captures_empty(bundle)
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values("_inference_time", kind="stable").reset_index(drop=True)


def labelled_captures_empty(bundle: ModelBundle) -> pd.DataFrame:
    return pd.DataFrame(columns=[*bundle.schema.names, bundle.schema.target, "_inference_time"])


def save_meta(data_dir, endpoint: str, retrain_id: str, meta: dict) -> None:
    path = retrain_dir(data_dir, endpoint, retrain_id) / "retrain.json"
    path.write_text(json.dumps(meta, indent=2, default=str))


def load_meta(data_dir, endpoint: str, retrain_id: str) -> dict:
    """The record of one retraining; :class:`NotFound` when there is none by that id."""
    if not isinstance(retrain_id, str) or not retrain_id.startswith("rt_") or "/" in retrain_id:
        raise NotFound(f"endpoint '{endpoint}' has no retraining '{retrain_id}'")
    path = retrain_dir(data_dir, endpoint, retrain_id) / "retrain.json"
    if not path.is_file():
        raise NotFound(f"endpoint '{endpoint}' has no retraining '{retrain_id}'",
                       {"endpoint": endpoint, "retrain_id": retrain_id})
    return json.loads(path.read_text())


def compare(data_dir, endpoint: str, retrain_id: str, champion: ModelBundle,
            challenger: ModelBundle, metric: str) -> dict:
    """Champion against challenger on the held-out rows; computed once and kept."""
    directory = retrain_dir(data_dir, endpoint, retrain_id)
    done = directory / "comparison.json"
    if done.is_file():
        return json.loads(done.read_text())
    holdout = read_table(directory / "holdout.csv")
    result = compare_on_holdout(champion, challenger, holdout, metric)
    done.write_text(json.dumps(result, indent=2))
    return result
