"""Cross-validation of one trial: a pure function run in a worker process or on a Dask worker.

``evaluate(trial, data)`` fits the trial's pipeline on every fold's training rows, predicts the
validation rows, and returns a :class:`TrialResult` with per-fold scores and out-of-fold
predictions. ``data`` is either a path to the job's pickled :class:`TrainingData` (loaded once
per process and cached) or the object itself (Dask resolves scattered data to it).
"""

from __future__ import annotations

import pickle
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from automl.candidates.generator import build_pipeline
from automl.data.schema import InputSchema
from automl.data.splits import Fold
from automl.metrics import get_metric, secondary_scores
from automl.model.latency import BUDGET_S, BUDGET_SHARE, row_latency_ms
from automl.model.pipeline import predict_matrix
from automl.search.records import (
    STOPPED_AT_BUDGET,
    TrialResult,
    TrialSpec,
    TrialState,
    over_limit,
)


@dataclass
class TrainingData:
    """Everything a trial needs besides its spec: the clean frame, encoded target, folds."""

    X: pd.DataFrame
    y: np.ndarray
    task: str
    n_classes: int
    schema: InputSchema
    folds: list[Fold]
    classes: list | None = None

    def save(self, path: str | Path) -> str:
        with open(path, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return str(path)


class TrialTimeout(Exception):
    """The trial ran past its deadline."""


_CACHE: dict[str, TrainingData] = {}


def load_data(data: str | TrainingData) -> TrainingData:
    """The training data behind a reference, cached per process."""
    if isinstance(data, TrainingData):
        return data
    if data not in _CACHE:
        _CACHE.clear()
        with open(data, "rb") as fh:
            _CACHE[data] = pickle.load(fh)
    return _CACHE[data]


def evaluate(trial: TrialSpec, data: str | TrainingData) -> TrialResult:
    """Score ``trial`` on the job's folds; never raises for a failing model (state says why).

    The trial's own time limit counts from here, with the data loaded; between folds it stops
    at that limit or at the search's deadline, whichever comes first.
    """
    start, cpu = time.time(), time.process_time()
    try:
        data = load_data(data)
        start, cpu = time.time(), time.process_time()
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = _evaluate(trial, data, start)
    except TrialTimeout as exc:
        result = _failed(trial, TrialState.TIMED_OUT, str(exc))
        result.fit_s = time.time() - start  # a timed-out row shows how long it ran
    except MemoryError:
        result = _failed(trial, TrialState.FAILED, "out of memory")
    except Exception as exc:  # a model may fail in any way; the search goes on
        last = traceback.extract_tb(exc.__traceback__)[-1]
        result = _failed(trial, TrialState.FAILED, f"{type(exc).__name__}: {exc} "
                                                   f"(at {Path(last.filename).name}:{last.lineno})")
    result.run_s = time.time() - start
    result.cpu_s = time.process_time() - cpu
    return result


def _check_time(trial: TrialSpec, start: float) -> None:
    now = time.time()
    if trial.time_limit is not None and now > start + trial.time_limit:
        raise TrialTimeout(over_limit(trial.time_limit))
    if trial.deadline is not None and now > trial.deadline:
        raise TrialTimeout(STOPPED_AT_BUDGET)


def _evaluate(trial: TrialSpec, data: TrainingData, start: float) -> TrialResult:
    metric = get_metric(trial.metric, data.task)
    oof = _empty_predictions(data)
    fold_scores, fit_s, predict_s, n_predicted = [], 0.0, 0.0, 0
    pipeline = None
    for train, valid in data.folds:
        _check_time(trial, start)
        pipeline = build_pipeline(trial.spec, trial.params, data.schema, trial.seed)
        start_fit = time.perf_counter()
        pipeline.fit(data.X.iloc[train], data.y[train])
        fit_s += time.perf_counter() - start_fit
        start_fit = time.perf_counter()
        oof[valid] = predict_matrix(pipeline, data.X.iloc[valid], data.task, data.n_classes)
        predict_s += time.perf_counter() - start_fit
        n_predicted += len(valid)
        fold_scores.append(metric.score(data.y[valid], oof[valid]))
    result = _complete(trial, data, oof, fold_scores, fit_s, predict_s / n_predicted, pipeline)
    result.latency_ms = row_latency_ms(pipeline, data.schema, data.task, data.n_classes,
                                       data.X.iloc[valid],
                                       budget_s=min(BUDGET_S, BUDGET_SHARE * (fit_s + predict_s)))
    return result


def _empty_predictions(data: TrainingData) -> np.ndarray:
    shape = (len(data.y),) if data.task == "regression" else (len(data.y), data.n_classes)
    return np.full(shape, np.nan, dtype=np.float64)


def _complete(trial, data, oof, fold_scores, fit_s, predict_s_per_row, pipeline) -> TrialResult:
    mask = ~np.isnan(oof if oof.ndim == 1 else oof[:, 0])
    return TrialResult(
        candidate_id=trial.candidate_id, number=trial.number, family=trial.spec.family,
        recipe=trial.spec.recipe, params=trial.params, state=TrialState.COMPLETE,
        score=float(np.mean(fold_scores)), score_std=float(np.std(fold_scores)),
        fold_scores=[float(s) for s in fold_scores],
        secondary=secondary_scores(data.task, data.y[mask], oof[mask]),
        fit_s=fit_s / len(data.folds), predict_ms_per_row=predict_s_per_row * 1000,
        size_bytes=len(pickle.dumps(pipeline)), oof=oof,
    )


def _failed(trial: TrialSpec, state: TrialState, reason: str) -> TrialResult:
    return TrialResult.unfinished(trial, state, reason)
