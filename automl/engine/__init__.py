"""One job from a table and a target to a ranked leaderboard and a model bundle.

:func:`run_job` reads as the data flow of DESIGN section 1: intake and profile
(:func:`prepare_data`), candidates and search (:func:`_search`), ensemble and finalize
(:mod:`automl.engine.finish`), then the artifacts (:mod:`automl.engine.artifacts`). The job's
context is one frozen record (:mod:`automl.engine.context`); the budget's arithmetic is in
:mod:`automl.search.budget`; work beside the search in :mod:`automl.engine.background`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from automl.candidates.base import DataShape
from automl.candidates.generator import generate_candidates
from automl.candidates.recipes import HIGH_CARDINALITY
from automl.candidates.registry import check_families
from automl.candidates.transformers import bag_of_words_columns
from automl.config import Settings
from automl.data.intake import file_hash, frame_hash, read_table
from automl.data.profile import DatasetProfile, profile_dataset
from automl.data.schema import InputSchema
from automl.data.splits import default_n_folds, make_folds
from automl.data.target import class_labels, encode_target, skewed_positive
from automl.engine.artifacts import write_artifacts, write_leaderboard
from automl.engine.background import Background
from automl.engine.context import Callbacks, JobContext, JobResult
from automl.engine.finish import finish
from automl.layout import JobLayout
from automl.metrics import Metric, get_metric
from automl.search.budget import Budget, fallback_s
from automl.search.evaluate import TrainingData
from automl.search.executor_base import TrialExecutor
from automl.search.executors import make_executor
from automl.search.records import TrialResult, TrialSpec
from automl.search.study import Search

__all__ = ["Callbacks", "JobContext", "JobResult", "prepare_data", "run_job", "write_artifacts"]


def run_job(source, target: str, settings: Settings, output: str | Path | None = None,
            callbacks: Callbacks | None = None, data_path: str | Path | None = None,
            started_at: float | None = None, data_name: str | None = None,
            executor: TrialExecutor | None = None,
            prior: list[TrialResult] | tuple = ()) -> JobResult:
    """Run a whole job on ``source`` (a path or DataFrame); write artifacts to ``output``.

    ``data_path`` names the file the notebooks read (default: ``source`` when it is a path; a
    DataFrame is saved as ``output/data.csv``); ``data_name`` is the name the notebooks show
    and read for it (the user's file name when ``data_path`` is a stored copy). ``started_at``
    (epoch seconds, default now) is when the job started for its time budget: the service's
    jobs count from the moment they left the queue, their process's start included.
    ``executor`` is a pool started before the job (the service's warm pool,
    :mod:`automl.jobs.launch`); the job shuts it down. ``prior`` are the trials a resumed job
    recorded before a restart: the search goes on from them, and they rank, ensemble and may
    win like the trials run now.
    """
    if settings.families is not None:
        check_families(settings.families)  # before the data is read
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
        background = Background(data, profile, output, data_path, data_name, deadline)
        with tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=_work_parent(output)) as workdir:
            ctx = JobContext(data, metric, settings, profile, executor,
                             executor.prepare_data(data.save(Path(workdir) / "data.pkl")), cb,
                             None if output is None else Path(output), start, deadline)
            result = _search_and_finish(ctx, background, _usable(prior, data))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    result.data_path, result.data_name = data_path, data_name
    if output is not None:
        write_artifacts(result, Path(output), exploration=False, until=deadline)
        late = background.join(deadline)  # the exploration ran beside all of the above
        if late:
            result.warnings.extend(late)
            write_leaderboard(result, Path(output))
    result.timings["total_s"] = time.time() - start
    return result


def _search_and_finish(ctx: JobContext, background: Background,
                       prior: list[TrialResult]) -> JobResult:
    ctx.callbacks.on_stage("searching")
    search = _search(ctx, background, prior)
    results = search.run()
    background.search_done()
    timings = {"search_s": time.time() - ctx.start}
    ctx.callbacks.on_stage("finalizing")
    return finish(ctx, results, search.trials, timings)


WORK_PREFIX = ".work-"
"""The job's working directory (the training data as its workers load it), inside its output."""


def _work_parent(output) -> Path | None:
    """Where the job's working directory goes: inside its output, so that the copy of the
    training data a killed job leaves behind stays with the job (and goes when it is deleted)
    rather than in the system's temporary directory; earlier runs' leftovers there are removed.
    None (the system's) without an output."""
    if output is None:
        return None
    parent = Path(output)
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(WORK_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    return parent


def _data_path(source, data_path, output) -> Path | None:
    if data_path is not None:
        return Path(data_path)
    if not isinstance(source, pd.DataFrame):
        return Path(source)
    if output is None:
        return None
    path = JobLayout(output).data_csv
    path.parent.mkdir(parents=True, exist_ok=True)
    source.to_csv(path, index=False)
    return path


def prepare_data(source, target: str, settings: Settings,
                 frame: pd.DataFrame | None = None) -> tuple[TrainingData, DatasetProfile, Metric]:
    """Intake and profile: the clean training data, its profile and the job's metric.

    ``frame`` is ``source`` already read by :func:`read_table`, when the caller has it.
    """
    frame = read_table(source) if frame is None else frame
    data_hash = frame_hash(frame) if isinstance(source, pd.DataFrame) else file_hash(source)
    labelled = int(frame[target].notna().sum()) if target in frame else len(frame)
    n_folds = settings.n_folds or default_n_folds(labelled, settings.holdout_rows)
    profile, kept = profile_dataset(frame, target, settings.task, data_hash, max(n_folds, 2))
    metric = get_metric(settings.metric, profile.task)
    schema = InputSchema.from_profile(profile)
    X = schema.coerce(kept, strict=False)
    classes = None if profile.task == "regression" else class_labels(kept[target])
    y = encode_target(kept[target], profile.task, classes)
    folds = make_folds(y, profile.task, n_folds, settings.seed)
    data = TrainingData(X, y, profile.task, len(classes or ()), schema, folds, classes)
    return data, profile, metric


def _usable(prior, data: TrainingData) -> list[TrialResult]:
    """Recorded trials, without out-of-fold predictions that do not fit the data's rows."""
    for result in prior:
        if result.oof is not None and len(result.oof) != len(data.y):
            result.oof = None
    return list(prior)


def _search(ctx: JobContext, background: Background, prior: list[TrialResult]) -> Search:
    """Candidates for the data's shape, and the search over them within the budget, going on
    from the ``prior`` trials of a resumed job."""
    data, profile, settings = ctx.data, ctx.profile, ctx.settings
    skewed = profile.task == "regression" and skewed_positive(data.y)
    shape = DataShape(profile.n_rows, len(data.schema.columns), profile.task, data.n_classes,
                      skewed_target=skewed)
    specs = generate_candidates(shape, settings.families, counts=bag_of_words_columns(data.X),
                                encoded=high_cardinality(profile))
    budget = Budget(ctx.deadline, settings.max_candidates, settings.trial_timeout,
                    grace=fallback_s(settings.time_budget))
    progress = ctx.progress
    for result in prior:
        progress.update(result)

    def on_result(result: TrialResult) -> None:
        background.on_result(result)
        ctx.callbacks.on_trial(result, progress.update(result))

    def on_submit(spec: TrialSpec) -> None:
        ctx.callbacks.on_started(progress.started(spec))

    search = Search(specs, ctx.data_ref, ctx.metric, ctx.executor, budget, settings.seed,
                    _parallelism(settings, ctx.executor), on_result=on_result,
                    should_stop=ctx.callbacks.should_stop, on_submit=on_submit, prior=prior)
    budget.reserve = lambda: ctx.costs.reserve(search.results, ctx.metric)  # grows with trials
    return search


def high_cardinality(profile: DatasetProfile) -> list[str]:
    """The categorical columns with at least ``HIGH_CARDINALITY`` levels (target-encoded)."""
    return [c.name for c in profile.columns
            if c.role == "categorical" and c.n_unique >= HIGH_CARDINALITY]


def _parallelism(settings: Settings, executor: TrialExecutor) -> int:
    """Trials in flight: a cluster's worker threads under a time budget; else ``n_jobs``, so a
    reproducible run's batches (and answers) do not depend on the cluster's size."""
    if settings.cluster and not settings.reproducible:
        return executor.n_workers
    return settings.n_jobs
