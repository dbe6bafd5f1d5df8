"""One job from a table and a target to a ranked leaderboard and a model bundle.

The data flow of DESIGN section 1: intake, profile, candidates, search, ensemble, finalize.
:func:`run_job` orchestrates; each stage lives in its own module.
"""

from __future__ import annotations

import json
import logging
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.candidates.transformers import bag_of_words_columns
from automl.config import Settings
from automl.data.intake import file_hash, frame_hash, read_table
from automl.data.profile import DatasetProfile, profile_dataset
from automl.data.schema import InputSchema
from automl.data.splits import default_n_folds, make_folds
from automl.diagnose import diagnose
from automl.ensemble import greedy_ensemble
from automl.exceptions import AutoMLError
from automl.finalize import baggable, bagged_score, fit_bag, refit
from automl.leaderboard import leaderboard_json, make_leaderboard, rank_results
from automl.metrics import Metric, get_metric
from automl.model.bundle import ModelBundle, library_versions
from automl.monitoring.baseline import Baseline, build_baseline
from automl.search.evaluate import TrainingData
from automl.search.executor_base import TrialExecutor
from automl.search.executors import make_executor
from automl.search.fallback import fallback_trial, needs_fallback
from automl.search.records import TrialResult, TrialSpec
from automl.search.study import Budget, Search

log = logging.getLogger(__name__)
BAG_SHARE = 0.10


@dataclass
class Callbacks:
    """Hooks for callers that watch a job: the CLI's progress bar, the service's job store."""

    on_trial: Callable[[TrialResult, dict], None] = lambda result, progress: None
    on_started: Callable[[dict], None] = lambda progress: None  # a trial went to a worker
    on_stage: Callable[[str], None] = lambda stage: None
    on_profile: Callable[[DatasetProfile, Metric], None] = lambda profile, metric: None
    should_stop: Callable[[], bool] = lambda: False


@dataclass
class JobResult:
    """Everything a job produced."""

    profile: DatasetProfile
    settings: Settings
    metric: Metric
    results: list[TrialResult]
    trials: dict[str, TrialSpec]
    leaderboard: pd.DataFrame
    bundle: ModelBundle
    winner: TrialResult
    timings: dict = field(default_factory=dict)
    data_path: Path | None = None
    baseline: Baseline | None = None  # what monitoring compares a deployed winner with
    data_name: str | None = None
    warnings: list[dict] = field(default_factory=list)


def run_job(source, target: str, settings: Settings, output: str | Path | None = None,
            callbacks: Callbacks | None = None, data_path: str | Path | None = None,
            started_at: float | None = None, data_name: str | None = None,
            executor: TrialExecutor | None = None) -> JobResult:
    """Run a whole job on ``source`` (a path or DataFrame); write artifacts to ``output``.

    ``data_path`` names the file the notebooks read (default: ``source`` when it is a path; a
    DataFrame is saved as ``output/data.csv``); ``data_name`` is the name the notebooks show
    and read for it (the user's file name when ``data_path`` is a stored copy). ``started_at`` (epoch seconds, default now) is
    when the job started for its time budget: the service's jobs count from the moment they
    left the queue, their process's start included. ``executor`` is a pool started before the
    job (the service's warm pool, :mod:`automl.jobs.launch`); the job shuts it down.
    """
    cb = callbacks or Callbacks()
    start = time.time() if started_at is None else min(float(started_at), time.time())
    deadline = None if settings.time_budget is None else start + settings.time_budget
    cb.on_stage("profiling")
    frame = read_table(source)
    if executor is None:  # workers start while profiling
        executor = make_executor(settings.n_jobs, settings.cluster)
    try:
        data, profile, metric = prepare_data(source, target, settings, frame=frame)
        del frame
        cb.on_profile(profile, metric)
        data_path = _data_path(source, data_path, output)
        explorer = Exploration(profile, output, data_path, data_name)
        with tempfile.TemporaryDirectory(prefix="automl-") as workdir:
            data_ref = executor.prepare_data(data.save(Path(workdir) / "data.pkl"))
            cb.on_stage("searching")
            reports = QualityReports(data, output)
            search = _search(data, data_ref, profile, metric, settings, executor, deadline, start,
                             cb, artifacts=output is not None, reports=reports,
                             explorer=explorer)
            results = search.run()
            explorer.start()  # if no trial reported
            reports.close()
            timings = {"search_s": time.time() - start}
            cb.on_stage("finalizing")
            result = _finalize(data, profile, metric, settings, results, search.trials, timings,
                               executor, data_ref, artifacts=output is not None)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    result.data_path, result.data_name = data_path, data_name
    if output is not None:
        write_artifacts(result, Path(output), exploration=False)  # while the exploration runs
        explorer.join()
        reports.join(timeout=max(2.0, (deadline or time.time()) - time.time()))
    result.timings["total_s"] = time.time() - start
    return result


def _data_path(source, data_path, output) -> Path | None:
    if data_path is not None:
        return Path(data_path)
    if not isinstance(source, pd.DataFrame):
        return Path(source)
    if output is None:
        return None
    Path(output).mkdir(parents=True, exist_ok=True)
    source.to_csv(Path(output) / "data.csv", index=False)
    return Path(output) / "data.csv"


class QualityReports:
    """Model-quality reports of trials written as they complete, off the search's thread.

    The orchestrating process mostly waits on workers during the search, so the figures cost
    the job's budget almost nothing there.
    """

    def __init__(self, data: TrainingData, output):
        self.data, self.output = data, output
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="automl-quality", daemon=True)
        if output is not None:
            self.thread.start()

    def add(self, result: TrialResult) -> None:
        if self.output is not None and result.ok:
            self.queue.put(result)

    def close(self) -> None:
        if self.output is not None:
            self.queue.put(None)

    def join(self, timeout: float) -> None:
        """Wait for the reports still queued, at most ``timeout`` seconds."""
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _run(self) -> None:
        from automl.explain.quality import write_quality

        while (result := self.queue.get()) is not None:
            try:
                write_quality(result, self.data.y, self.data.folds, self.data.task,
                              self.data.classes, self.output)
            except Exception:  # noqa: BLE001 - a report must never fail the job
                log.exception("quality report of %s failed", result.candidate_id)


class Exploration:
    """The data-exploration notebook, written and executed off the search's thread.

    It needs a kernel (seconds of CPU), so it starts at the first trial result rather than
    with the search: the first trial is the first sign of progress a user sees.
    """

    def __init__(self, profile: DatasetProfile, output, data_path, data_name: str | None = None):
        self.enabled = output is not None and data_path is not None
        self.thread = threading.Thread(target=self._run,
                                       args=(profile, output, data_path, data_name),
                                       name="automl-exploration", daemon=True)

    def start(self) -> None:
        """Start the notebook, once; later calls do nothing."""
        if self.enabled and self.thread.ident is None:
            self.thread.start()

    def join(self) -> None:
        if self.thread.ident is not None:
            self.thread.join()

    @staticmethod
    def _run(profile: DatasetProfile, output, data_path, data_name) -> None:
        from automl.notebooks import write_exploration

        try:
            write_exploration(profile, output, data_path, data_name=data_name)
        except Exception:  # noqa: BLE001 - a notebook must never fail the job
            log.exception("the data-exploration notebook could not be executed")


def prepare_data(source, target: str, settings: Settings,
                 frame: pd.DataFrame | None = None) -> tuple[TrainingData, DatasetProfile, Metric]:
    """Intake and profile: the clean training data, its profile and the job's metric.

    ``frame`` is ``source`` already read by :func:`read_table`, when the caller has it.
    """
    frame = read_table(source) if frame is None else frame
    data_hash = frame_hash(frame) if isinstance(source, pd.DataFrame) else file_hash(source)
    n_folds = settings.n_folds or default_n_folds(int(frame[target].notna().sum()) if target in frame else len(frame), settings.holdout_rows)
    profile, kept = profile_dataset(frame, target, settings.task, data_hash, max(n_folds, 2))
    metric = get_metric(settings.metric, profile.task)
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    y, classes = _encode_target(kept[target], profile)
    folds = make_folds(y, profile.task, n_folds, settings.seed)
    data = TrainingData(X, y, profile.task, len(classes or ()), schema, folds, classes)
    return data, profile, metric


def _encode_target(y: pd.Series, profile: DatasetProfile) -> tuple[np.ndarray, list | None]:
    if profile.task == "regression":
        return y.to_numpy(dtype=float), None
    classes = class_labels(y)
    codes = pd.Categorical(_label_text(y), categories=[str(c) for c in classes]).codes
    return codes.astype(int), classes


def _label_text(y: pd.Series) -> pd.Series:
    """Labels as strings, integer-valued numbers without a decimal point (1.0 -> "1")."""
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        values = y.to_numpy(dtype=float)
        if np.all(np.mod(values, 1) == 0):
            return pd.Series(values.astype(np.int64)).astype(str)
    return y.astype(str)


def class_labels(y: pd.Series) -> list:
    """The sorted distinct labels of a target, as plain Python values."""
    values = [_plain(v) for v in pd.unique(y.dropna())]
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _search(data, data_ref, profile, metric, settings, executor, deadline, start, cb,
            artifacts: bool, reports: QualityReports, explorer: Exploration) -> Search:
    shape = DataShape(profile.n_rows, len(data.schema.columns), profile.task, data.n_classes)
    specs = generate_candidates(shape, counts=bag_of_words_columns(data.X))
    holder: list[Search] = []
    budget = Budget(deadline, settings.max_candidates, settings.trial_timeout,
                    reserve=lambda: _reserve(holder, data, metric, settings, artifacts))
    progress = _Progress(start, deadline, metric)

    def on_result(result: TrialResult) -> None:
        explorer.start()
        reports.add(result)
        cb.on_trial(result, progress.update(result))

    search = Search(specs, data_ref, metric, executor, budget, settings.seed,
                    _parallelism(settings, executor), on_result=on_result,
                    should_stop=cb.should_stop,
                    on_submit=lambda spec: cb.on_started(progress.started(spec)))
    holder.append(search)
    return search


def _parallelism(settings: Settings, executor) -> int:
    """Trials in flight: a cluster's worker threads under a time budget; else ``n_jobs``, so a
    reproducible run's batches (and answers) do not depend on the cluster's size."""
    if settings.cluster and not settings.reproducible:
        return executor.n_workers
    return settings.n_jobs


def _reserve(holder: list[Search], data: TrainingData, metric: Metric, settings: Settings,
             artifacts: bool) -> float:
    """Seconds to keep for ensembling, bagging (when it costs at most ``BAG_SHARE`` of the
    budget), refit and writing artifacts (notebooks, explanations)."""
    ok = [r for r in holder[0].results if r.ok] if holder else []
    top = sorted(ok, key=lambda r: metric.loss(r.score))[:3]
    n_train = np.mean([len(tr) for tr, _ in data.folds])
    parallel = _parallel(settings)
    refit_s = sum(r.fit_s for r in top) * len(data.y) / n_train / parallel
    budget = settings.time_budget or 0
    bag_s = _bagging_cost(sum(r.fit_s for r in top) / parallel, len(data.folds)) \
        if baggable(data) else 0.0
    if bag_s > BAG_SHARE * budget:
        bag_s = 0.0  # bagging would starve the search: keep nothing for it
    return 1.0 + 0.03 * budget + 1.5 * refit_s + bag_s + _artifacts_s(settings, artifacts)


class _Progress:
    """The job's progress as callers see it: counts, best score so far, time, and the trials
    on the workers now (``running``: candidate, family and when it started, in job seconds)."""

    def __init__(self, start: float, deadline: float | None, metric: Metric):
        self.start, self.deadline, self.metric = start, deadline, metric
        self.completed = self.failed = 0
        self.best: float | None = None
        self.running: dict[str, dict] = {}

    def started(self, spec: TrialSpec) -> dict:
        self.running[spec.candidate_id] = {"candidate_id": spec.candidate_id,
                                           "family": spec.spec.family,
                                           "started_s": round(time.time() - self.start, 2)}
        return self.snapshot()

    def update(self, result: TrialResult) -> dict:
        self.running.pop(result.candidate_id, None)
        if result.ok:
            self.completed += 1
            if self.best is None or self.metric.is_better(result.score, self.best):
                self.best = result.score
        else:
            self.failed += 1
        return self.snapshot()

    def snapshot(self) -> dict:
        now = time.time()
        return {"trials_completed": self.completed, "trials_failed": self.failed,
                "best_score": self.best, "elapsed_s": now - self.start,
                "remaining_s": None if self.deadline is None else max(0.0, self.deadline - now),
                "running": list(self.running.values())}


def _finalize(data, profile, metric, settings, results, trials, timings, executor,
              data_ref, artifacts: bool) -> JobResult:
    results = _with_fallback(results, trials, data, data_ref, metric, settings, executor)
    ensemble = _affordable_ensemble(results, data, metric, settings, timings)
    everything = results + ([ensemble] if ensemble is not None else [])
    winner = _affordable_winner(rank_results(everything, metric), data, settings, timings)
    t0 = time.time()
    model, finalized = _final_model(winner, everything, trials, data, metric, settings, timings,
                                    executor, data_ref, artifacts)
    timings["refit_s"] = time.time() - t0
    notes = diagnose(everything, winner, metric, data.task, settings.time_budget)
    bundle = ModelBundle(model, data.schema, data.task, data.classes, _metadata(
        profile, metric, settings, winner, finalized, notes),
        ModelBundle.background_of(data.X, settings.seed))
    return JobResult(profile, settings, metric, everything, trials,
                     make_leaderboard(everything, metric), bundle, winner, timings,
                     baseline=_baseline(data, winner), warnings=notes)


def _baseline(data: TrainingData, winner: TrialResult) -> Baseline | None:
    """The monitoring baseline of the training data and the winner's out-of-fold predictions."""
    try:
        return build_baseline(data.X, data.schema.to_dict(), data.task, data.classes, winner.oof)
    except Exception:  # noqa: BLE001 - monitoring must never lose a finished job
        log.exception("the monitoring baseline could not be computed")
        return None


def _with_fallback(results, trials, data, data_ref, metric, settings, executor) -> list:
    """``results``, plus the fast model of :mod:`automl.search.fallback` when none completed;
    an error when no model can be fitted at all."""
    if needs_fallback(results):
        spec, fast = fallback_trial(data, data_ref, metric, executor, settings.seed,
                                    len(results), settings.time_budget)
        trials[spec.candidate_id] = spec
        results = results + [fast]
    if not any(r.ok for r in results):
        reasons = sorted({r.reason for r in results if r.reason})[:3]
        raise AutoMLError("no candidate completed" + (f" ({'; '.join(reasons)})" if reasons else "")
                          + "; give a larger time budget or check the data")
    return results


def _affordable_ensemble(results: list[TrialResult], data: TrainingData, metric: Metric,
                         settings: Settings, timings: dict) -> TrialResult | None:
    """The greedy ensemble, or, when refitting its members would overrun the budget, the best
    ensemble of cheaper trials: the dearest member is left out until the refit fits."""
    pool = [r for r in results if r.ok]
    while True:
        ensemble = greedy_ensemble(pool, data.y, data.folds, metric, data.task,
                                   settings.ensemble_size)
        if ensemble is None or settings.time_budget is None:
            return ensemble
        by_id = {r.candidate_id: r for r in pool}
        members = [by_id[m] for m in ensemble.members]
        if _refit_cost(members, data, settings) <= _time_left(settings, timings):
            return ensemble
        dearest = max(members, key=lambda m: m.fit_s)
        pool = [r for r in pool if r is not dearest]


def _final_model(winner: TrialResult, results: list[TrialResult], trials: dict[str, TrialSpec],
                 data: TrainingData, metric: Metric, settings: Settings, timings: dict,
                 executor, data_ref, artifacts: bool) -> tuple[object, dict]:
    """The winner bagged over the folds when the check of :mod:`automl.finalize` says that
    scores better and the time left allows both; else refit on all rows. Also says which."""
    weights = dict(winner.members) or {winner.candidate_id: 1.0}
    by_id = {r.candidate_id: r for r in results}
    members = [by_id[cid] for cid in weights]
    how: dict = {"method": "refit on all rows"}
    check_end = _bag_check_deadline(members, data, settings, timings, artifacts)
    if check_end is not False:
        t0 = time.time()
        score = bagged_score(weights, trials, data, metric, executor, data_ref, check_end)
        timings["bag_check_s"] = time.time() - t0
        how["bagged_score"] = score
        if score is not None and metric.is_better(score, winner.score):
            model = fit_bag(weights, trials, data, executor, data_ref)
            if model is not None:
                return model, {**how, "method": f"bagged over {len(data.folds)} folds"}
    return refit(winner, trials, data, executor, data_ref), how


def _bag_check_deadline(members: list[TrialResult], data: TrainingData, settings: Settings,
                        timings: dict, artifacts: bool) -> float | None | bool:
    """When the bagging check must end (``None``: no time budget), or ``False`` to skip it: a
    holdout has no folds to bag (:func:`automl.finalize.baggable`), and the check, the bag and
    a refit must fit in the time left."""
    if not baggable(data):
        return False
    if settings.time_budget is None:
        return None
    fold_fits = sum(m.fit_s for m in members) / _parallel(settings)
    spare = _time_left(settings, timings) - _artifacts_s(settings, artifacts) \
        - _refit_cost(members, data, settings)
    if _bagging_cost(fold_fits, len(data.folds)) > spare:
        return False
    return time.time() + spare - len(data.folds) * fold_fits


def _parallel(settings: Settings) -> int:
    """Fits side by side at the end of a job (the estimates assume at most two workers)."""
    return max(1, min(settings.n_jobs, 2))


def _bagging_cost(fold_fit_s: float, n_folds: int) -> float:
    """Seconds to check bagging and fit the bag, from the seconds of one fold's fit: the
    check's n(n-1)/2 fits on (n-2)/(n-1) of a fold's rows, then n fold fits."""
    return fold_fit_s * (n_folds * (n_folds - 2) / 2 + n_folds)


def _artifacts_s(settings: Settings, artifacts: bool) -> float:
    """Seconds kept for notebooks, explanations and reports after the model is final."""
    return (2.0 + 0.03 * (settings.time_budget or 0)) if artifacts else 0.0


def _refit_cost(members: list[TrialResult], data: TrainingData, settings: Settings) -> float:
    """Seconds to refit ``members`` on all rows, side by side on the workers."""
    scale = len(data.y) / np.mean([len(tr) for tr, _ in data.folds])
    return sum(m.fit_s for m in members) * scale / max(1, min(settings.n_jobs, len(members)))


def _time_left(settings: Settings, timings: dict) -> float:
    return settings.time_budget - timings["search_s"]


def _affordable_winner(ranked: list[TrialResult], data: TrainingData, settings: Settings,
                       timings: dict) -> TrialResult:
    """The best row whose refit fits in the time left (an ensemble refits all its members)."""
    if settings.time_budget is None:
        return ranked[0]
    by_id = {r.candidate_id: r for r in ranked}
    for row in ranked:
        members = [by_id[m] for m in row.members] if row.members else [row]
        if _refit_cost(members, data, settings) <= _time_left(settings, timings):
            return row
    return next(r for r in ranked if not r.members)


def _metadata(profile: DatasetProfile, metric: Metric, settings: Settings, winner: TrialResult,
              finalized: dict, notes: list[dict]) -> dict:
    return {"target": profile.target, "metric": metric.name,
            "input_columns": [c.name for c in profile.columns if c.name != profile.target],
            "greater_is_better": metric.greater_is_better, "score": winner.score,
            "score_std": winner.score_std, "candidate_id": winner.candidate_id,
            "family": winner.family, "params": winner.params, "finalized": finalized,
            "seed": settings.seed,
            "data_hash": profile.data_hash, "n_rows": profile.n_rows,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": library_versions(), "warnings": notes}


def write_artifacts(result: JobResult, output: Path, exploration: bool = True) -> None:
    """The output directory: model/, leaderboard.csv/.json, profile.json, settings.json, trials/,
    and (when the data is a file) notebooks/, explanations/ and quality/."""
    output.mkdir(parents=True, exist_ok=True)
    result.bundle.save(output / "model")
    board = result.leaderboard.copy()
    board["params"] = board["params"].map(lambda p: json.dumps(p, default=str))
    board.to_csv(output / "leaderboard.csv", index=False)
    _dump(output / "leaderboard.json",
          {**leaderboard_json(result.results, result.metric), "warnings": result.warnings})
    _dump(output / "profile.json", result.profile.to_dict())
    _dump(output / "settings.json", result.settings.to_dict())
    trials_dir = output / "trials"
    trials_dir.mkdir(exist_ok=True)
    for r in result.results:
        spec = result.trials.get(r.candidate_id)
        manifest = {**r.to_dict(), "spec": spec.spec.to_dict() if spec else None}
        _dump(trials_dir / f"{r.candidate_id}.json", manifest)
    if result.data_path is not None:
        _write_transparency(result, output, exploration)
    if result.baseline is not None:
        result.baseline.with_importance_file(
            output / "explanations" / result.winner.candidate_id / "importance.json",
        ).save(output / "monitoring")


def _write_transparency(result: JobResult, output: Path, exploration: bool) -> None:
    from automl.explain.transparency import write_transparency

    try:
        quality_for = [r.candidate_id for r in result.results if r.members]
        timings = write_transparency(result, output, result.data_path, exploration=exploration,
                                     quality_for=None if exploration else quality_for,
                                     data_name=result.data_name)
        result.timings["transparency_s"] = timings.get("total_s")
    except Exception:  # noqa: BLE001 - reports must never lose a finished job
        log.exception("notebooks or explanations could not be written")


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
