"""The model of last resort: a fast LightGBM when no trial completed within the budget.

A job whose every trial ran out of time (a loaded machine, a budget too short for the data)
still ends with a model: a LightGBM of ``FALLBACK_TREES`` trees is cross-validated on the
job's folds like any trial, with its own bounded grace past the deadline. Only when that fails
too (or every trial failed with an error, which more time would not fix) does the job end in
an error.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from dataclasses import replace

from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.metrics import Metric
from automl.search.evaluate import TrainingData, evaluate
from automl.search.executor_base import TrialExecutor
from automl.search.records import TrialResult, TrialSpec, TrialState

FALLBACK_TREES = 30
FALLBACK_ID = "fallback_lightgbm"


def needs_fallback(results: list[TrialResult]) -> bool:
    """No trial completed, and not because every one of them failed with an error."""
    if any(r.ok for r in results):
        return False
    return not results or any(r.state is not TrialState.FAILED for r in results)


def grace_s(time_budget: float | None, time_left: float | None = None) -> float:
    """How long the fallback may run: what is left of the budget (``time_left``, default
    nothing) and a twentieth of it, so that the job still ends near its budget; 5 to 60 s."""
    if time_budget is None:
        return 60.0
    return min(60.0, max(5.0, max(0.0, time_left or 0.0) + 0.05 * time_budget))


def fallback_trial(data: TrainingData, data_ref, metric: Metric, executor: TrialExecutor,
                   seed: int, number: int, time_budget: float | None,
                   time_left: float | None = None) -> tuple[TrialSpec, TrialResult]:
    """Cross-validate the fast LightGBM on the executor within :func:`grace_s`, or here when
    the executor is broken or has not delivered it in that time (its workers may not have
    started on a machine this busy): then without a limit, since a job must end with a model
    when one can be fitted, and thirty trees cost little even at a tenth of a core. Its trial
    spec and its result."""
    shape = DataShape(len(data.y), len(data.schema.columns), data.task, data.n_classes)
    spec = generate_candidates(shape, families=["lightgbm"])[0]
    params = {**spec.defaults[0], "n_estimators": FALLBACK_TREES}
    trial = TrialSpec(candidate_id=FALLBACK_ID, number=number, spec=spec, params=params,
                      seed=seed, metric=metric.name,
                      time_limit=grace_s(time_budget, time_left))
    if executor.broken:
        return trial, evaluate(trial, data)
    future = executor.submit(evaluate, trial, data_ref, timeout=trial.time_limit + 1.0)
    try:
        return trial, future.result(timeout=trial.time_limit)
    except TimeoutError:  # on a machine this busy its worker may not even have started
        executor.stop(future, "the fallback model runs in the job's own process instead")
        return trial, evaluate(replace(trial, time_limit=None), data)  # the last resort: whole
    except (Exception, CancelledError) as exc:  # noqa: BLE001 - said in the job's error
        return trial, TrialResult.unfinished(
            trial, TrialState.FAILED, str(exc).splitlines()[0][:300] if str(exc) else repr(exc))
