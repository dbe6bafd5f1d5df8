"""Request and response shapes of the endpoint API (``/api/v1/endpoints``), declared once."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from automl.config import MAX_TIME_BUDGET


class ModelRef(BaseModel):
    """A job's model: its winner, or ``candidate_id`` from its leaderboard."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    candidate_id: str | None = Field(default=None, min_length=1, max_length=128)
    capture_percent: float | None = Field(
        default=None, ge=0, le=100, description="share of requests captured, 0-100 (default: "
        "the service's AUTOML_CAPTURE_PERCENT, 100); on PUT, left as it is when absent")


ACCEPT_SCHEMA_CHANGE = Field(default=False, description=(
    "switch even if the model reads other input columns than the one served now (otherwise "
    "409 naming them)"))


class EndpointUpdate(ModelRef):
    """Point an endpoint at another model, as a new version."""

    accept_schema_change: bool = ACCEPT_SCHEMA_CHANGE


class EndpointCreate(ModelRef):
    """A new endpoint. ``name``: 1-63 letters, digits and hyphens, as SageMaker endpoint names."""

    name: str = Field(min_length=1, max_length=255)
    monitoring_interval_s: int | None = Field(
        default=None, ge=10, le=7 * 86400, description="seconds between scheduled monitoring "
        "runs (default: the service's AUTOML_MONITOR_INTERVAL_S, hourly)")
    webhook_url: str | None = Field(default=None, max_length=2000,
                                    description="receives each run's violations as JSON")


class MonitoringUpdate(BaseModel):
    """Change an endpoint's monitoring; absent fields stay as they are (``webhook_url``: ""
    removes it; ``retrain``: null stops automatic retraining)."""

    model_config = ConfigDict(extra="forbid")

    capture_percent: float | None = Field(default=None, ge=0, le=100)
    interval_s: int | None = Field(default=None, ge=10, le=7 * 86400)
    webhook_url: str | None = Field(default=None, max_length=2000)
    retrain: AutoRetrain | None = Field(default=None, description=(
        "retrain automatically when a monitoring run of the primary finds drift or a quality "
        "drop (see AutoRetrain)"))


class CaptureCounts(BaseModel):
    """Records since the service started, all workers: written, sampled out, and dropped (a
    full queue or a failing disk; the request was answered all the same)."""

    captured: float = 0
    sampled_out: float = 0
    dropped: float = 0
    dropped_queue_full: float = 0
    dropped_write_error: float = 0


class Monitoring(BaseModel):
    """An endpoint's monitoring: capture, schedule (``stopped_reason`` once it stopped), webhook."""

    endpoint: str
    capture_percent: float
    capture_directory: str
    interval_s: int
    next_run_at: str | None
    stopped_reason: str | None
    webhook_url: str | None
    capture: CaptureCounts
    retrain: dict[str, Any] | None = Field(None, description="the automatic retraining asked "
                                           "for (PATCH .../monitoring), if any")


class EndpointRollback(BaseModel):
    """Serve an earlier version's model again (recorded as a new version)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1)
    accept_schema_change: bool = ACCEPT_SCHEMA_CHANGE


class EndpointLinks(BaseModel):
    self: str
    invocations: str
    batch: str
    page: str
    versions: str
    job: str
    monitoring: str
    monitoring_runs: str
    ground_truth: str


class Endpoint(BaseModel):
    """A deployed model: ``POST links.invocations`` as with SageMaker Runtime's InvokeEndpoint."""

    name: str
    job_id: str
    candidate_id: str
    version: int = Field(description="the version served now (see links.versions)")
    created_at: str
    updated_at: str
    links: EndpointLinks
    monitoring: Monitoring


class EndpointList(BaseModel):
    endpoints: list[Endpoint]


class InputColumn(BaseModel):
    name: str
    role: str


class InputSchema(BaseModel):
    target: str
    columns: list[InputColumn]


class ColumnChange(BaseModel):
    name: str
    to: str
    from_: str = Field(alias="from")


class SchemaChanges(BaseModel):
    """Columns the version reads that the served one does not, the reverse, and role changes."""

    added: list[str]
    removed: list[str]
    changed: list[ColumnChange]


class VersionLinks(BaseModel):
    rollback: str
    job: str


class EndpointVersion(BaseModel):
    """One model an endpoint served: by a deploy, a repoint (PUT) or a rollback (of
    ``source_version``). ``schema_changes``: how its input differs from the served version's."""

    version: int
    action: Literal["deploy", "repoint", "rollback", "promote", "retrain"]
    source_version: int | None
    current: bool
    job_id: str
    candidate_id: str
    metric: str | None
    score: float | None
    input_schema: InputSchema | None
    schema_changes: SchemaChanges | None
    created_at: str
    links: VersionLinks


class EndpointVersionList(BaseModel):
    versions: list[EndpointVersion] = Field(description="newest (the one served) first")


class GroundTruthAccepted(BaseModel):
    endpoint: str
    labels: int
    total_labels: int


class MonitoringRunCreate(BaseModel):
    """An on-demand run over the last ``hours`` of one variant's captured requests (whole UTC
    hours)."""

    model_config = ConfigDict(extra="forbid")

    hours: float = Field(default=24, gt=0, le=24 * 366)
    variant: str = Field(default="AllTraffic", min_length=1, max_length=63, description=
                         "the variant whose capture is checked against its model's training "
                         "baseline (default: the primary)")


class RunQuality(BaseModel):
    metric: str | None = None
    value: float | None = None
    rows: int | None = None
    estimated: bool | None = None


class RunSummary(BaseModel):
    verdict: str
    violations: int
    item_count: int
    drifted_columns: list[str]
    drift_scores: dict[str, float]
    max_drift_score: float | None = None
    malformed_lines: int = 0
    quality: RunQuality | None = None
    estimated_quality: RunQuality | None = None
    violated_checks: list[str] = []
    retrain: dict[str, Any] | None = Field(None, description="the automatic retraining this "
                                           "run started ({started, id, message}), or why not")


class MonitoringRun(BaseModel):
    """One monitoring run; ``report`` and ``violations`` (Model Monitor's
    ``constraint_violations.json``) once it completed, ``error`` if it failed."""

    id: str
    endpoint: str
    variant: str
    trigger: str
    status: str
    since: str | None
    until: str | None
    started_at: str | None
    finished_at: str | None
    summary: RunSummary | None = None
    error: dict | None = None
    webhook: dict | None = None
    report: dict | None = None
    violations: list[dict] | None = None


class MonitoringRunList(BaseModel):
    runs: list[MonitoringRun]


class TrafficBin(BaseModel):
    start: str
    requests: float
    errors: float
    p50_ms: float | None
    p99_ms: float | None


class Traffic(BaseModel):
    """Requests, errors and latency quantiles (from the histogram's buckets) per time bin."""

    endpoint: str
    bin_s: int
    bins: list[TrafficBin]


class ColumnDistribution(BaseModel):
    column: str
    method: str
    score: float
    threshold: float | None
    bins: list[str]
    baseline: list[float]
    window: list[float]


class Drift(BaseModel):
    """The drift heat map (``scores[column][window]``, null where a run did not score the
    column) over a variant's completed runs, oldest first, and the newest run's worst
    columns."""

    endpoint: str
    variant: str
    windows: list[dict]
    columns: list[str]
    scores: list[list[float | None]]
    worst: list[ColumnDistribution]


class QualityPoint(BaseModel):
    run_id: str
    at: str
    measured: RunQuality | None
    estimated: RunQuality | None


class QualityHistory(BaseModel):
    """A variant's quality per completed run; ``cross_validated``: its model's CV score."""

    endpoint: str
    variant: str
    cross_validated: float | None
    points: list[QualityPoint]


class RetrainRequest(BaseModel):
    """Retrain from the endpoint's labelled captures (all fields optional). ``then``: what
    becomes of the challenger once its job completed and it was compared with the champion:
    ``shadow`` (the endpoint's shadow variant, copied ``share`` of the requests), ``variant`` (a
    production variant with ``weight``), ``replace`` (serve it instead of the champion, as a
    new version, only if its improvement on the held-out requests is above
    ``min_improvement``); none: only the comparison."""

    model_config = ConfigDict(extra="forbid")

    holdout_share: float = Field(default=0.3, gt=0, lt=1, description="the newest share of "
                                 "the labelled requests held out to compare the two models")
    time_budget: float | None = Field(default=None, gt=0, le=MAX_TIME_BUDGET, description=
                                      "seconds for the challenger's job (default: the "
                                      "champion job's settings)")
    then: Literal["shadow", "variant", "replace"] | None = None
    variant_name: str | None = Field(default=None, min_length=1, max_length=63, description=
                                     "the challenger's variant (shadow or variant; default "
                                     "rt-<the retraining's id>)")
    share: float | None = Field(default=None, gt=0, le=1, description="shadow: the share of "
                                "requests copied to it (default 1)")
    weight: float | None = Field(default=None, ge=0, le=1e6, description="variant: its weight "
                                 "relative to the others' (default 1)")
    min_improvement: float | None = Field(default=None, ge=0, description="replace: how much "
                                          "better, in the metric's units, the challenger must "
                                          "score on the held-out requests (default 0)")
    accept_schema_change: bool = ACCEPT_SCHEMA_CHANGE

    @model_validator(mode="after")
    def _fits_then(self) -> RetrainRequest:
        goes_with = {"variant_name": ("shadow", "variant"), "share": ("shadow",),
                     "weight": ("variant",), "min_improvement": ("replace",)}
        misplaced = [f"{f} goes with then={' or '.join(w)}" for f, w in goes_with.items()
                     if getattr(self, f) is not None and self.then not in w]
        if misplaced:
            raise ValueError("; ".join(misplaced))
        return self


class AutoRetrain(RetrainRequest):
    """A retrain request the runner sends itself after a monitoring run of the primary that
    found what ``on`` names (drift: a column's, the predictions' or the attributions'; quality:
    the metric below its threshold), when no retraining is under way and the last automatic
    one is at least ``min_interval_s`` old. Nothing is promoted unless ``then`` says so
    (``replace`` only above ``min_improvement``)."""

    on: list[Literal["drift", "quality"]] = Field(default=["drift", "quality"], min_length=1)
    min_interval_s: int = Field(default=86400, ge=600, le=366 * 86400)


class RetrainThen(BaseModel):
    action: Literal["shadow", "variant", "replace"]
    accept_schema_change: bool
    variant: str | None
    share: float | None
    weight: float | None
    min_improvement: float | None


class RetrainOutcome(BaseModel):
    """What became of the challenger (``done``: false with the reason when nothing did)."""

    action: str
    done: bool
    message: str
    variant: str | None = None
    version: int | None = None


class Retraining(BaseModel):
    """``state``: training (the challenger's job runs), finishing (it ended; the runner
    compares within seconds), completed (``comparison`` and ``outcome``), failed (``error``)."""

    id: str
    endpoint: str
    state: Literal["training", "finishing", "completed", "failed"]
    job_id: str
    job_status: str
    champion: dict[str, str | None]
    challenger: dict[str, str] | None = None
    metric: str | None
    training_rows: int
    added_from_captures: int
    held_out: int
    captures_since: str | None
    holdout_since: str | None
    created_at: str | None = None
    finished_at: str | None = None
    then: RetrainThen | None = None
    trigger: dict[str, Any] | None = Field(None, description="an automatic retraining's "
                                           "monitoring run and reasons (drift, quality)")
    comparison: dict[str, Any] | None = Field(
        None, description="once completed: metric, rows, champion and challenger "
        "{score, interval}, improvement {value, interval, share_of_resamples_better} "
        "(positive: the challenger is better)")
    outcome: RetrainOutcome | None = None
    error: dict[str, Any] | None = None
    links: dict[str, str]


class RetrainingList(BaseModel):
    retrainings: list[Retraining] = Field(description="newest first")


class VariantCreate(BaseModel):
    """A variant serving a job's model (its winner, or ``candidate_id``): ``production`` gets
    requests in proportion to ``weight`` (relative to the others' weights; 0: only requests
    naming it), ``shadow`` gets a copy of ``share`` of the requests (0 to 1), answered off the
    request path and never returned."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    candidate_id: str | None = Field(default=None, min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=63, description="1-63 letters, digits, hyphens")
    role: Literal["production", "shadow"] = "production"
    weight: float = Field(default=1.0, ge=0, le=1e6)
    share: float = Field(default=1.0, gt=0, le=1)
    accept_schema_change: bool = ACCEPT_SCHEMA_CHANGE


class VariantWeights(BaseModel):
    """New weights of production variants, by name (those not named keep theirs)."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float] = Field(min_length=1)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in weights.items() if not 0 <= v <= 1e6}
        if bad:
            raise ValueError(f"weights must be between 0 and 1e6, not {bad}")
        return weights


class VariantView(BaseModel):
    """A variant and what it answered so far (this service's workers, since they started)."""

    name: str
    role: Literal["production", "shadow"]
    primary: bool = Field(description="the endpoint's own model (PUT, rollback and versions "
                          "change it; promote replaces it)")
    weight: float | None
    share: float | None
    job_id: str
    candidate_id: str
    requests: int
    errors: int
    dropped: int = Field(description="shadow copies dropped because its queue was full")
    mean_latency_ms: float | None
    agreement: float | None = Field(description="shadow only: share of compared rows whose "
                                    "label (or score, within 5%) matches production's")
    compared_rows: int


class VariantList(BaseModel):
    endpoint: str
    variants: list[VariantView]


MonitoringUpdate.model_rebuild()
