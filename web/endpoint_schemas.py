"""Request and response shapes of the endpoint API (``/api/v1/endpoints``), declared once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EndpointUpdate(BaseModel):
    """Point an endpoint at a job's model: its winner, or ``candidate_id`` from its leaderboard."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    candidate_id: str | None = Field(default=None, min_length=1, max_length=128)


class EndpointCreate(EndpointUpdate):
    """A new endpoint. ``name``: 1-63 letters, digits and hyphens, as SageMaker endpoint names."""

    name: str = Field(min_length=1, max_length=255)


class EndpointLinks(BaseModel):
    self: str
    invocations: str
    batch: str
    page: str
    job: str


class Endpoint(BaseModel):
    """A deployed model: ``POST links.invocations`` as with SageMaker Runtime's InvokeEndpoint."""

    name: str
    job_id: str
    candidate_id: str
    created_at: str
    updated_at: str
    links: EndpointLinks


class EndpointList(BaseModel):
    endpoints: list[Endpoint]
