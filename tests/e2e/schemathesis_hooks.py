"""Schemathesis hooks for the API test: a raw text/csv upload gets a CSV the service accepts,
so that the stateful phase can follow the links from a created dataset (random strings are
always refused, and then no link is ever followed)."""

from __future__ import annotations

import json

import schemathesis

UPLOAD = "size,colour,price\n1.5,red,10\n2.0,blue,14\n0.5,red,6\n3.0,green,19\n"


@schemathesis.hook
def map_case(ctx, case):
    if (case.operation.method.upper() == "POST" and case.operation.path == "/api/v1/datasets"
            and case.media_type == "text/csv"):
        case.body = UPLOAD
    return case


@schemathesis.serializer("application/jsonlines")
def jsonlines(ctx, value) -> bytes:
    """Ground truth as JSON lines (the service's own media type): a string is sent as it is."""
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode()
