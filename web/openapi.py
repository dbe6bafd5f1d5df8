"""The OpenAPI document, generated from the routes as they are registered.

Each API view is registered through :meth:`ApiSpec.route` with its pydantic body and response
models; the same declaration validates the request body and describes it, so the document
cannot drift from the code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.errors import InvalidRequest, UnsupportedMediaType
from web.schemas import ErrorResponse

_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
ERROR_STATUSES = {"400": "invalid request", "401": "missing or wrong API token",
                  "404": "not found", "409": "not available in this state",
                  "413": "upload too large", "415": "unsupported content type"}


# A POST to these collections creates a resource: (its path parameter, the response field).
CREATES = {"/datasets": ("dataset_id", "id"), "/jobs": ("job_id", "id"),
           "/endpoints": ("name", "name")}


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    body: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | str]
    request_content: dict | None = None
    query: dict[str, dict] = field(default_factory=dict)


def parse_json_body(model: type[BaseModel]) -> BaseModel:
    """The JSON request body validated against ``model`` (415 or 400 with a clear message)."""
    if not request.is_json:
        raise UnsupportedMediaType(f"send a JSON body with Content-Type: application/json, "
                                   f"not {request.content_type or 'nothing'!r}")
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidRequest("the request body is not valid JSON")
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return model.model_validate(data)


class ApiSpec:
    """Collects operations as views are registered and renders the OpenAPI 3.1 document."""

    def __init__(self, title: str, version: str, prefix: str):
        self.title, self.version, self.prefix = title, version, prefix
        self.operations: list[Operation] = []

    def route(self, bp: Blueprint, rule: str, method: str, *, summary: str,
              body: type[BaseModel] | None = None,
              responses: dict[int, type[BaseModel] | str],
              request_content: dict | None = None, query: dict[str, dict] | None = None):
        """Register ``view`` on ``bp``; with ``body`` the view receives ``body=<model>``."""
        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapped(**kwargs):
                if body is not None:
                    kwargs["body"] = parse_json_body(body)
                return view(**kwargs)

            bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
            self.operations.append(Operation(rule, method.lower(), summary, body, responses,
                                             request_content, query or {}))
            return view
        return decorator

    def document(self) -> dict:
        """The OpenAPI document as a dict."""
        paths: dict[str, dict] = {}
        for op in self.operations:
            path = self.prefix + _PARAM.sub(r"{\1}", op.rule)
            paths.setdefault(path, {})[op.method] = self._operation(op)
        return {"openapi": "3.1.0",
                "info": {"title": self.title, "version": self.version},
                "paths": paths,
                "components": {"schemas": self._schemas(),
                               "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
                "security": [{}, {"bearer": []}]}

    def _operation(self, op: Operation) -> dict:
        params = [{"name": n, "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"}}
                  for n in _PARAM.findall(op.rule)]
        params += [{"name": n, "in": "query", "required": False, "schema": s}
                   for n, s in op.query.items()]
        out: dict = {"summary": op.summary, "operationId": _operation_id(op),
                     "parameters": params, "responses": self._responses(op)}
        self._add_links(op, out["responses"])
        if op.body is not None:
            out["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _ref(op.body)}}}
        elif op.request_content:
            out["requestBody"] = {"required": True, "content": op.request_content}
        return out

    def _responses(self, op: Operation) -> dict:
        responses: dict = {}
        for status, model in op.responses.items():
            if isinstance(model, str):
                responses[str(status)] = {"description": "file",
                                          "content": {model: {"schema": {"type": "string",
                                                                         "format": "binary"}}}}
            else:
                responses[str(status)] = {"description": model.__doc__ or model.__name__,
                                          "content": {"application/json": {"schema": _ref(model)}}}
        for status, text in ERROR_STATUSES.items():
            responses.setdefault(status, {"description": text, "content": {
                "application/json": {"schema": _ref(ErrorResponse)}}})
        return responses

    def _add_links(self, op: Operation, responses: dict) -> None:
        """OpenAPI links from an operation that creates a resource to those that read, change
        or delete it, so that clients and stateful testers (schemathesis) can chain them."""
        created = CREATES.get(op.rule) if op.method == "post" else None
        if created is None:
            return
        param, field_name = created
        status = next(str(s) for s in op.responses if 200 <= s < 300)
        prefix = f"{op.rule}/<{param}>"
        responses[status]["links"] = {
            _operation_id(other): {"operationId": _operation_id(other),
                                   "parameters": {param: f"$response.body#/{field_name}"}}
            for other in self.operations
            if (other.rule == prefix or other.rule.startswith(prefix + "/"))
            and _PARAM.findall(other.rule) == [param]}

    def _schemas(self) -> dict:
        models = {ErrorResponse}
        for op in self.operations:
            models |= {m for m in op.responses.values() if not isinstance(m, str)}
            if op.body is not None:
                models.add(op.body)
        _, top = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                    ref_template="#/components/schemas/{model}")
        return top.get("$defs", {})


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[^a-zA-Z]+", "_", _PARAM.sub(r"by_\1", op.rule)).strip("_")
    return f"{op.method}_{words or 'root'}"
