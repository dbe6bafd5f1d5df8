"""Request and response shapes of the endpoint API (``/api/v1/endpoints``), declared once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelRef(BaseModel):
    """A job's model: its winner, or ``candidate_id`` from its leaderboard."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    candidate_id: str | None = Field(default=None, min_length=1, max_length=128)


ACCEPT_SCHEMA_CHANGE = Field(default=False, description=(
    "switch even if the model reads other input columns than the one served now (otherwise "
    "409 naming them)"))


class EndpointUpdate(ModelRef):
    """Point an endpoint at another model, as a new version."""

    accept_schema_change: bool = ACCEPT_SCHEMA_CHANGE


class EndpointCreate(ModelRef):
    """A new endpoint. ``name``: 1-63 letters, digits and hyphens, as SageMaker endpoint names."""

    name: str = Field(min_length=1, max_length=255)


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


class Endpoint(BaseModel):
    """A deployed model: ``POST links.invocations`` as with SageMaker Runtime's InvokeEndpoint."""

    name: str
    job_id: str
    candidate_id: str
    version: int = Field(description="the version served now (see links.versions)")
    created_at: str
    updated_at: str
    links: EndpointLinks


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
    action: Literal["deploy", "repoint", "rollback", "promote"]
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
