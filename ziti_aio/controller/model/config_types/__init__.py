"""OpenZiti's built-in config types and JSON-schema validation of config data.

The ``*.json`` files beside this module are the schemas OpenZiti's controller seeds
(``controller/db/migration_initialize.go``), as draft-07 JSON Schema; like OpenZiti's they carry
no ``$schema`` and are always read as draft-07.

Validation follows OpenZiti's validator (gojsonschema): ``format`` is checked only for formats
gojsonschema also checks (not ``idn-hostname``, which intercept addresses use, so wildcards and
CIDRs pass). Guards: ``$ref`` never leaves the schema, schema and data sizes are capped,
``uniqueItems`` runs in linear time, and ``pattern`` refuses strings longer than
``MAX_PATTERN_SUBJECT_CHARS`` (Python's ``re`` backtracks; even OpenZiti's own duration pattern
is quadratic on a long string of digits). A config type's own pattern can still backtrack
exponentially on a short string; only admins create config types.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from jsonschema import Draft7Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError
from jsonschema.exceptions import ValidationError as SchemaViolation
from jsonschema_specifications import REGISTRY as _METASCHEMAS
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT7

from ziti_aio.common.errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "BUILTIN_CONFIG_TYPES",
    "MAX_DATA_BYTES",
    "MAX_PATTERN_SUBJECT_CHARS",
    "MAX_SCHEMA_BYTES",
    "BuiltinConfigType",
    "check_schema",
    "validate_config_data",
]

MAX_DATA_BYTES = 64 * 1024
MAX_SCHEMA_BYTES = 256 * 1024
MAX_PATTERN_SUBJECT_CHARS = 1024
_MAX_REASON_CHARS = 300

_FORMAT_CHECKER = FormatChecker(formats=("date", "email", "idn-email", "ipv4", "ipv6", "uuid"))


@dataclass(frozen=True)
class BuiltinConfigType:
    """A config type the controller seeds; ``schema`` is shared, treat it as read-only."""

    id: str
    name: str
    target: str
    schema: dict[str, Any]


def _load(type_id: str, name: str) -> BuiltinConfigType:
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return BuiltinConfigType(id=type_id, name=name, target="service", schema=json.loads(text))


BUILTIN_CONFIG_TYPES: tuple[BuiltinConfigType, ...] = (
    _load("f2dd2df0-9c04-4b84-a91e-71437ac229f1", "ziti-tunneler-client.v1"),
    _load("cea49285-6c07-42cf-9f52-09a9b115c783", "ziti-tunneler-server.v1"),
    _load("g7cIWbcGg", "intercept.v1"),
    _load("NH5p4FpGR", "host.v1"),
    _load("host.v2", "host.v2"),
    _load("proxy.v1", "proxy.v1"),
)


def _refuse_remote(uri: str) -> Resource[Any]:
    # referencing builds its classes with its own attrs wrapper, whose fields mypy cannot see.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


_REGISTRY: Registry[Any] = Registry(retrieve=_refuse_remote).combine(_METASCHEMAS)  # type: ignore[call-arg]


def _canonical(value: Any) -> Any:
    """A hashable stand-in equal exactly when JSON Schema calls two values equal."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    return ("object", frozenset((key, _canonical(item)) for key, item in value.items()))


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[SchemaViolation]:
    """``uniqueItems`` in linear time (jsonschema's own is quadratic for objects)."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield SchemaViolation(f"{instance!r} has non-unique elements")
            return
        seen.add(key)


class _PatternSubjectTooLong(Exception):
    """Raised, not yielded, so a ``not`` around the ``pattern`` cannot turn the refusal into a pass."""


_draft7_pattern = Draft7Validator.VALIDATORS["pattern"]


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[SchemaViolation]:
    """``pattern``, refusing long subjects: Python's ``re`` backtracks (OpenZiti's RE2 does not)."""
    if validator.is_type(instance, "string") and len(instance) > MAX_PATTERN_SUBJECT_CHARS:
        raise _PatternSubjectTooLong
    yield from _draft7_pattern(validator, pattern, instance, schema)


_Validator = validators.extend(Draft7Validator, {"pattern": _pattern, "uniqueItems": _unique_items})


def _json_size(value: Any, what: str) -> int:
    try:
        return len(json.dumps(value, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not valid JSON: {exc}", field=what, value=None) from None
    except RecursionError:
        raise ValidationError(f"{what} is nested too deeply", field=what, value=None) from None


def _schema_error(reason: str, schema: Any) -> ValidationError:
    return ValidationError(f"invalid schema: {reason}", field="schema", value=schema)


def _unresolvable(exc: Unresolvable, schema: Any) -> ValidationError:
    return _schema_error(f"unresolvable $ref {exc.ref!r} (only references inside the schema are allowed)", schema)


def _check_refs(resource: Resource[Any], resolver: Any) -> None:
    """Resolve every ``$ref`` now, so a broken one is refused when the type is created."""
    contents = resource.contents
    if isinstance(contents, dict) and isinstance(contents.get("$ref"), str):
        resolver.lookup(contents["$ref"])
    for sub in resource.subresources():
        _check_refs(sub, resolver.in_subresource(sub))


def check_schema(schema: Any) -> None:
    """Refuse a config-type schema OpenZiti would refuse: invalid draft-07, or a root type other than object."""
    if not isinstance(schema, dict):
        raise _schema_error("must be a JSON object", schema)
    if _json_size(schema, "schema") > MAX_SCHEMA_BYTES:
        raise _schema_error(f"larger than {MAX_SCHEMA_BYTES} bytes", None)
    if not schema:
        return
    try:
        _Validator.check_schema(schema)
        root = DRAFT7.create_resource(schema)
        _check_refs(root, _REGISTRY.resolver_with_root(root))
    except SchemaError as exc:
        raise _schema_error(_reason(exc), schema) from None
    except Unresolvable as exc:
        raise _unresolvable(exc, schema) from None
    except RecursionError:
        raise _schema_error("nested too deeply", None) from None
    if schema.get("type") != "object":
        raise _schema_error("root type must be object", schema)


def _path(elements: Any) -> str:
    out = "data"
    for element in elements:
        out += f"[{element}]" if isinstance(element, int) else f".{element}"
    return out


def _reason(error: SchemaViolation | SchemaError) -> str:
    text = str(error.message)
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 3] + "..."


def _extra_property(error: SchemaViolation) -> str | None:
    known = error.schema.get("properties", {})
    patterns = error.schema.get("patternProperties", {})
    for key in error.instance:
        if key not in known and not any(re.search(pattern, key) for pattern in patterns):
            return str(key)
    return None


def _to_validation_error(error: SchemaViolation) -> ValidationError:
    """Name the offending field: the missing or unexpected property itself, not its parent."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((name for name in error.validator_value if name not in error.instance), None)
        if missing is not None:
            field = _path([*path, missing])
            return ValidationError(f"{field} is required", field=field, value=None)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _extra_property(error)
        if extra is not None:
            field = _path([*path, extra])
            return ValidationError(f"{field} is not allowed here", field=field, value=error.instance[extra])
    field = _path(path)
    return ValidationError(f"{field} is invalid: {_reason(error)}", field=field, value=error.instance)


def validate_config_data(schema: dict[str, Any], data: dict[str, Any]) -> None:
    """Raise ``ValidationError`` naming the first field of ``data`` that ``schema`` refuses."""
    if not isinstance(data, dict):
        raise ValidationError("data must be a JSON object", field="data", value=data)
    if _json_size(data, "data") > MAX_DATA_BYTES:
        raise ValidationError(f"data is larger than {MAX_DATA_BYTES} bytes", field="data", value=None)
    if not schema:
        return
    validator = _Validator(schema, registry=_REGISTRY, format_checker=_FORMAT_CHECKER)
    try:
        error = next(validator.iter_errors(data), None)
    except Unresolvable as exc:
        raise _unresolvable(exc, schema) from None
    except RecursionError:
        raise ValidationError("data is nested too deeply for its schema", field="data", value=None) from None
    except _PatternSubjectTooLong:
        raise ValidationError(
            f"data has a string longer than {MAX_PATTERN_SUBJECT_CHARS} characters where a pattern applies",
            field="data",
            value=None,
        ) from None
    if error is not None:
        raise _to_validation_error(error)
