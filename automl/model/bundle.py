"""A model bundle: a directory that loads and predicts without the job store.

Layout: ``model.joblib`` (the fitted scikit-learn estimator, trained on the clean frame with
classes encoded 0..K-1), ``schema.json`` (the :class:`InputSchema`), ``metadata.json`` (task,
classes, metric, score, candidate, library versions, data hash, seed). Only bundles this package
wrote are ever unpickled; never a file a user uploaded.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from automl.candidates.registry import family_libraries
from automl.data.schema import InputSchema
from automl.exceptions import NotFound
from automl.jsonable import dumps
from automl.model.pipeline import predict_matrix

MODEL_FILE, SCHEMA_FILE, METADATA_FILE = "model.joblib", "schema.json", "metadata.json"
BACKGROUND_FILE = "background.joblib"
BACKGROUND_ROWS = 100
_CORE = ("automl", "scikit-learn")
_DATA = ("pandas", "numpy", "optuna", "joblib")


def library_versions(families=None) -> dict[str, str]:
    """Python's version and those of this package, the searched families' libraries (see
    :attr:`Family.libraries <automl.candidates.base.Family>`; the default set's and those of
    the job's ``families`` setting) and the data stack."""
    versions = {"python": platform.python_version()}
    for name in dict.fromkeys((*_CORE, *family_libraries(families), *_DATA)):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def provenance(families=None) -> dict:
    """When a bundle is made and with what (``created_at``, ``versions`` of its metadata) by
    a job with the ``families`` setting."""
    return {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": library_versions(families)}


@dataclass
class ModelBundle:
    """A fitted model with its input schema; predicts on raw frames in the training layout."""

    model: object
    schema: InputSchema
    task: str
    classes: list | None
    metadata: dict = field(default_factory=dict)
    background: pd.DataFrame | None = None  # clean training rows, the explainers' reference

    @staticmethod
    def background_of(X: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
        """A sample of ``BACKGROUND_ROWS`` clean training rows to keep with a bundle."""
        return X.sample(min(BACKGROUND_ROWS, len(X)), random_state=seed)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Validate and coerce raw rows against the schema (raises :class:`SchemaError`)."""
        return self.schema.coerce(frame, strict=True)

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities, one column per class label (classification only)."""
        if self.task == "regression":
            raise TypeError("predict_proba is for classification models; this one is regression")
        proba = self._raw_matrix(frame)
        return pd.DataFrame(proba, columns=self.classes, index=frame.index)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""
        matrix = self._raw_matrix(frame)
        if self.task == "regression":
            return np.asarray(matrix, dtype=float)
        return np.asarray(self.classes, dtype=object)[matrix.argmax(axis=1)]

    def _raw_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions of raw rows. One row takes the endpoints' scalar coercers (the schema's
        rules, without pandas' per-column cost) when its values allow; else :meth:`prepare`."""
        if len(frame) == 1:
            matrix = self.predict_one(frame.to_dict("records")[0])
            if matrix is not None:
                return matrix
        return self.matrix(self.prepare(frame))

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        """Predictions of a clean frame: values, or probabilities over ``classes``.

        Uses the model's compiled path where its family has one (the same numbers, without
        the pipeline's per-call overhead; one row takes the single-row path), the pipeline
        otherwise.
        """
        compiled = self.compiled()
        if compiled is None and len(X) == 1:  # one row gains nothing from a pool of threads
            return self._one_thread(predict_matrix, self.model, X, self.task,
                                    len(self.classes or ()))
        if compiled is None:
            return predict_matrix(self.model, X, self.task, len(self.classes or ()))
        if len(X) == 1:  # the row path skips even the preprocessors' per-call overhead
            return compiled(X.iloc[0].tolist())
        return compiled.frame(X)

    def predict_one(self, record: dict) -> np.ndarray | None:
        """The prediction matrix of one raw record (column: scalar) by the scalar coercers
        and the compiled path, or None when the record needs :meth:`prepare` (cached)."""
        if not hasattr(self, "_record_predictor"):
            from automl.model.fastpath import RecordPredictor

            self._record_predictor = RecordPredictor(self.model, self.schema, self.task,
                                                     len(self.classes or ()), self.compiled())
        return self._record_predictor(record)

    def _one_thread(self, fn, *args):
        """``fn(*args)`` on one OpenMP thread (:class:`automl.model.fastpath.OneThread`)."""
        if not hasattr(self, "_one"):
            from automl.model.fastpath import OneThread

            self._one = OneThread()
        return self._one(fn, *args)

    def compiled(self):
        """The compiled predictor of :mod:`automl.model.fastpath`, or None (cached)."""
        if not hasattr(self, "_compiled"):
            from automl.model.fastpath import compile_row_predictor

            self._compiled = compile_row_predictor(self.model, self.schema, self.task,
                                                   len(self.classes or ()))
        return self._compiled

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.model, directory / MODEL_FILE)
        if self.background is not None:
            joblib.dump(self.background, directory / BACKGROUND_FILE)
        self.schema.save(directory / SCHEMA_FILE)
        meta = {**self.metadata, "task": self.task, "classes": self.classes}
        (directory / METADATA_FILE).write_text(dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ModelBundle:
        directory = find_bundle(directory)
        meta = json.loads((directory / METADATA_FILE).read_text())
        schema = InputSchema.load(directory / SCHEMA_FILE)
        model = joblib.load(directory / MODEL_FILE)
        background = (joblib.load(directory / BACKGROUND_FILE)
                      if (directory / BACKGROUND_FILE).is_file() else None)
        return cls(model, schema, meta["task"], meta.get("classes"), meta, background)


def find_bundle(path: str | Path) -> Path:
    """The bundle directory at ``path`` or in its ``model/`` subdirectory (a run's output)."""
    path = Path(path)
    for candidate in (path, path / "model"):
        if (candidate / METADATA_FILE).is_file() and (candidate / MODEL_FILE).is_file():
            return candidate
    raise NotFound(f"no model bundle at {path}: expected {MODEL_FILE}, {SCHEMA_FILE} and "
                   f"{METADATA_FILE} there or in {path / 'model'}")

