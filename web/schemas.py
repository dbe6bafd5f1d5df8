"""Request and response shapes of the JSON API, declared once; the OpenAPI document is made
from these models (see :mod:`web.openapi`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from automl.config import MAX_TIME_BUDGET

Status = Literal["queued", "running", "completed", "failed", "cancelled"]
LATENCY = ("one row alone, median milliseconds through the compiled row path an endpoint uses: "
           "the winner's of its final model, another trial's of its last fold model, an "
           "ensemble's not fitted the sum of its members'; null: not measured")
EXCLUDED = "why this row may not win (over the job's max_latency_ms); empty: it may"


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody
    code: str = Field(description="error.code again, where AWS SDK clients read it")
    message: str = Field(description="error.message again, where AWS SDK clients read it")


class ColumnInfo(BaseModel):
    name: str
    dtype: str
    role: str
    missing_share: float
    n_unique: int
    as_target: Literal["binary", "multiclass", "regression"] | None = Field(
        default=None, description="the task this column makes as the target (null: fewer than "
                                  "two distinct values)")
    example: str | None = None


class Dataset(BaseModel):
    id: str
    name: str
    size_bytes: int
    n_rows: int
    n_columns: int
    columns: list[ColumnInfo]
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str


class DatasetList(BaseModel):
    datasets: list[Dataset]
    next_offset: int | None = None


class JobCreate(BaseModel):
    """A job to queue. ``time_budget`` is wall-clock seconds for the whole job (default 60);
    ``null`` with ``max_candidates`` runs a reproducible trial-count-bounded job."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=255)
    task: Literal["auto", "binary", "multiclass", "regression"] | None = None
    metric: str | None = Field(default=None, max_length=32)
    time_budget: float | None = Field(default=60.0, ge=1, le=MAX_TIME_BUDGET)
    max_candidates: int | None = Field(default=None, ge=1, le=100_000)
    trial_timeout: float | None = Field(
        default=None, gt=0, le=MAX_TIME_BUDGET,
        description="seconds one trial may run, counted once its worker holds the data; "
                    "the first trial has none; default adapts to the time left and to what "
                    "similar trials took")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    max_latency_ms: float | None = Field(
        default=None, gt=0, allow_inf_nan=False,
        description="single-row latency limit in milliseconds (median of one row alone "
                    "through the model's compiled path, as an endpoint answers it): "
                    "candidates and ensembles slower than it cannot win and the leaderboard "
                    "says so in `excluded`; when none is within it, the fastest wins with a "
                    "latency_over_limit warning; default: no limit")
    families: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=64,
        description="model families to search, by name (`automl families` lists those "
                    "installed), e.g. [\"lightgbm\", \"xgboost\"]; a "
                    "first name with a leading '+' adds the names to the default set, e.g. "
                    "[\"+xgboost\", \"catboost\"]; default: the default set")


class RunningTrial(BaseModel):
    candidate_id: str
    family: str
    started_s: float = Field(description="when it started, in seconds since the job started")


class Progress(BaseModel):
    trials_completed: int = 0
    trials_failed: int = 0
    best_score: float | None = Field(default=None, description="the best trial's score while the "
                                     "job runs; the winner's (which may be an ensemble) once done")
    best_trial_score: float | None = Field(default=None, description="a finished job's best "
                                           "single trial")
    winner: str | None = Field(default=None, description="a finished job's winning candidate")
    elapsed_s: float = 0.0
    remaining_s: float | None = None
    running: list[RunningTrial] = Field(default_factory=list,
                                        description="the trials on the workers now")
    resumed: int = Field(default=0, description="times the job went on after a restart "
                         "interrupted it (from its recorded trials, with the rest of its budget)")


class JobWarning(BaseModel):
    """A finished job's result is weaker than it should be: why, and what to do about it."""

    code: str = Field(description="trials_timed_out, trials_failed, fallback_model, "
                                  "degenerate_probabilities, no_gradient_boosting, "
                                  "winner_below_best_single, latency_over_limit; and, when "
                                  "the budget ran out "
                                  "for them, explanations_skipped, exploration_not_run, "
                                  "exploration_unfinished; exploration_failed")
    message: str


class Job(BaseModel):
    id: str
    dataset_id: str
    target: str
    status: Status
    stage: str | None = None
    settings: dict[str, Any]
    progress: Progress
    metric: str | None = None
    greater_is_better: bool | None = None
    error: ErrorBody | None = None
    cancel_requested: bool = False
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    warnings: list[JobWarning] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)


class JobList(BaseModel):
    jobs: list[Job]


class LeaderboardRow(BaseModel):
    """A candidate's record (``automl.search.records``: a trial or the ensemble) as ranked; the
    record's other fields (``ROW_FIELDS``) come along. tests/web/test_schemas.py keeps the two
    in step."""

    rank: int | None = None
    candidate_id: str
    family: str
    recipe: str
    params: dict[str, Any] = Field(default_factory=dict)
    score: float | None = None
    score_std: float | None = None
    fit_s: float = 0.0
    predict_ms_per_row: float = Field(0.0, description="a batch's milliseconds per row (the "
                                      "out-of-fold predictions): throughput, not one request")
    latency_ms: float | None = Field(None, description=LATENCY)
    size_bytes: int = 0
    state: str
    reason: str = ""
    excluded: str = Field("", description=EXCLUDED)


class Leaderboard(BaseModel):
    metric: str | None
    greater_is_better: bool | None
    final: bool
    rows: list[LeaderboardRow]
    note: str | None = Field(None, description="set when the top two differ by less than "
                                              "the spread of their fold scores")


class TrialPoint(BaseModel):
    candidate_id: str
    number: int
    state: str
    score: float | None = None
    elapsed_s: float


class TrialList(BaseModel):
    trials: list[TrialPoint]


class Candidate(BaseModel):
    """A candidate's record (as :class:`LeaderboardRow`), its spec and what was made of it."""

    job_id: str
    candidate_id: str
    family: str
    recipe: str
    params: dict[str, Any]
    state: str
    reason: str = ""
    score: float | None = None
    score_std: float | None = None
    fold_scores: list[float | None] = Field(default_factory=list)
    secondary: dict[str, Any] = Field(default_factory=dict)
    fit_s: float = 0.0
    predict_ms_per_row: float = 0.0
    latency_ms: float | None = Field(None, description=LATENCY)
    excluded: str = Field("", description=EXCLUDED)
    size_bytes: int = 0
    members: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any] | None = None
    links: dict[str, str] = Field(default_factory=dict)
    explanation: dict[str, Any] | None = Field(
        None, description="SHAP importance per original column (the winner's is computed with "
                          "the job; POST .../explanation computes any other candidate's)")
    quality: dict[str, Any] | None = Field(
        None, description="model-quality report on out-of-fold predictions")
    figures: dict[str, str] = Field(default_factory=dict, description="figure name: URL (SVG)")


class Explanation(BaseModel):
    candidate_id: str
    output: str
    measure: str
    importance: dict[str, float]


class ExplainRowsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] | None = Field(
        None, description="rows to explain, each {column: value} as an endpoint takes them")
    row_numbers: list[int] | None = Field(
        None, description="rows of the training file to explain (0 is its first data row)")


class RowExplanation(BaseModel):
    base_value: float
    contributions: dict[str, float] = Field(
        description="SHAP value per original column: base_value + their sum == prediction")
    prediction: float
    output: str = Field(description="the scale: log-odds, probability or value")
    values: dict[str, Any] = Field(description="the row's own value of each column")
    class_: str | int | float | bool | None = Field(None, alias="class",
                                                     description="the class explained")


class RowExplanations(BaseModel):
    candidate_id: str
    rows: list[RowExplanation]


class DependenceColumn(BaseModel):
    column: str
    kind: Literal["numeric", "categorical"]
    values: list[Any]
    contributions: list[float]
    figure: str = Field(description="URL of the dependence plot (SVG)")


class Dependence(BaseModel):
    candidate_id: str
    output: str
    rows: int = Field(description="training rows sampled for the plots")
    columns: list[DependenceColumn]


class ComparedJob(BaseModel):
    id: str
    dataset_id: str
    target: str
    metric: str | None
    greater_is_better: bool | None
    status: Status
    time_budget: float | None
    elapsed_s: float | None
    winner: str | None
    score: float | None = Field(description="the winner's cross-validated score")
    trials_completed: int
    trials_other: int = Field(description="trials that failed, timed out or were pruned")


class FamilyScores(BaseModel):
    family: str
    scores: dict[str, float | None] = Field(
        description="job id: the family's best completed score in that job (null: none completed)")


class Comparison(BaseModel):
    jobs: list[ComparedJob]
    same_metric: bool = Field(description="scores compare across jobs only when this is true")
    same_dataset: bool
    families: list[FamilyScores]
    leaderboards: dict[str, list[LeaderboardRow]] = Field(
        description="job id: the top of its leaderboard")
