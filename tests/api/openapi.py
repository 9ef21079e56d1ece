"""OpenZiti's own OpenAPI files as schemathesis schemas, and the check of an answer's body against them.

The files are not part of the repository: ``ZITI_AIO_OPENAPI_DIR`` names a folder holding OpenZiti's
``management.yml`` and ``client.yml`` (the flattened edge-api bundles) and ``fabric.yml``. Tests that need
them skip, saying why, when the variable is unset or the folder lacks the files.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
import yaml
from schemathesis.core.failures import Failure, FailureGroup

if TYPE_CHECKING:
    from schemathesis.schemas import APIOperation, BaseSchema

OPENAPI_ENV = "ZITI_AIO_OPENAPI_DIR"
OPENAPI_FILES = ("management.yml", "client.yml")


def _unusable(files: tuple[str, ...] = OPENAPI_FILES) -> str | None:
    """Why ``ZITI_AIO_OPENAPI_DIR`` cannot be used for ``files``, or None when it can."""
    raw = os.environ.get(OPENAPI_ENV)
    if not raw:
        return f"{OPENAPI_ENV} is not set (it names the folder holding OpenZiti's {' and '.join(files)})"
    missing = [name for name in files if not (Path(raw) / name).is_file()]
    if missing:
        return f"{OPENAPI_ENV}={raw} has no {', '.join(missing)}"
    return None


# Marks a test (or module) that needs OpenZiti's OpenAPI files; it skips, saying why, without them.
needs_openapi = pytest.mark.skipif(_unusable() is not None, reason=_unusable() or "")
# The same for OpenZiti's ``fabric.yml``.
needs_fabric_openapi = pytest.mark.skipif(_unusable(("fabric.yml",)) is not None,
                                          reason=_unusable(("fabric.yml",)) or "")


def openapi_dir() -> Path:
    """The folder named by ``ZITI_AIO_OPENAPI_DIR``; skips the calling test when it is unusable."""
    reason = _unusable()
    if reason is not None:
        pytest.skip(reason)
    return Path(os.environ[OPENAPI_ENV])


# Keywords that give a ``type: object`` schema a shape; without any, go-swagger reads it as "any value".
_SHAPING = frozenset({"properties", "additionalProperties", "allOf", "$ref"})


def _as_go_reads(node: Any) -> Any:
    """The bundle as OpenZiti's Go code (go-swagger, go-openapi) reads it.

    - The bundles tag some lengths ``!!float`` where JSON Schema wants integers.
    - Links are relative (``./identities/<id>``, as OpenZiti's controller writes them), which go-openapi's
      ``uri`` format accepts and JSON Schema's absolute ``uri`` does not: ``uri`` is read as ``uri-reference``.
    - A bare ``type: object`` is Go's ``interface{}``: tag values (strings, booleans) and config data
      (lists, numbers) under one are any JSON value, as the schemas' own descriptions say.
    """
    if isinstance(node, dict):
        if node.get("type") == "object" and not _SHAPING & node.keys():
            node = {k: v for k, v in node.items() if k != "type"}
        return {k: "uri-reference" if k == "format" and v == "uri" else _as_go_reads(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_go_reads(v) for v in node]
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return node


@functools.cache
def schema(file: str) -> BaseSchema:
    """One of OpenZiti's bundles (``management.yml``, ``client.yml``, ``fabric.yml``), loaded once per run."""
    raw = yaml.load((openapi_dir() / file).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return schemathesis.openapi.from_dict(_as_go_reads(raw))


def operations(file: str, paths: list[str]) -> list[APIOperation]:
    """The schema's operations on ``paths``, deletes last so seeded entities live longest."""
    ops = [result.ok() for result in schema(file).include(path=paths).get_all_operations()]
    return sorted(ops, key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))


def operation(file: str, method: str, path: str) -> APIOperation:
    """One operation of a bundle, by method and templated path (``/edge-routers/{id}``)."""
    return schema(file)[path][method.upper()]


# Operations whose declared answer is a mistake in OpenZiti's files, and the operation whose answer
# they really give: edge-routers/{id}/service-edge-router-policies declares the service-policy list.
ANSWERS_AS = {("GET", "/edge-routers/{id}/service-edge-router-policies"): ("GET", "/service-edge-router-policies")}


def body_problems(op: APIOperation, response: Any) -> list[str]:
    """Why a 2xx answer does not match the response schema OpenZiti declares for ``op`` (empty when it does).

    ``response`` is a ``requests`` or ``httpx`` response. Fields may be null only where the schema says
    ``x-nullable`` (schemathesis reads Swagger 2.0's ``x-nullable``); other statuses are not judged here.
    """
    status = response.status_code
    if not 200 <= status < 300:
        return []
    if op.responses.find_by_status_code(status) is None:
        return [f"{op.label} answered {status}, which its schema does not declare"]
    raw = response.headers.get("content-type", "")
    # httpx answers a header as text, schemathesis's responses as a list of texts
    media = (raw[0] if isinstance(raw, list) and raw else str(raw or "")).split(";")[0]
    if media != "application/json":
        # A declared non-JSON answer (a CA's JWT is application/jwt) has no schema to check.
        declared = op.definition.raw.get("produces", ())
        return [] if media in declared else [f"{op.label} answered {media}, which it does not declare"]
    if (op.method.upper(), op.path) in ANSWERS_AS:
        method, path = ANSWERS_AS[op.method.upper(), op.path]
        op = op.schema[path][method]
    try:
        op.validate_response(response)
    except FailureGroup as group:
        return [_describe(op, failure) for failure in group.exceptions]
    except Failure as failure:
        return [_describe(op, failure)]
    return []


def _describe(op: APIOperation, failure: BaseException) -> str:
    title = getattr(failure, "title", type(failure).__name__)
    message = getattr(failure, "message", str(failure))
    return f"{op.label}: {title}: {message}"
