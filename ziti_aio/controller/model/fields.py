"""Field checkers: turn one JSON value from a request into a stored value, or refuse it.

Each checker is ``check(field_name, value) -> normalised value`` and raises
:class:`ValidationError` naming the field; none of them touches stored state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.roles import validate_role_attributes, validate_roles, validate_semantic

Checker = Callable[[str, Any], Any]

MAX_NAME_LENGTH = 1024
MAX_STRING_LENGTH = 64 * 1024
REQUIRED = object()


@dataclass(frozen=True)
class Field:
    """One writable field of an entity: its checker, and a default or ``REQUIRED``."""

    name: str
    check: Checker
    default: Any = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def default_value(self) -> Any:
        if callable(self.default):
            return self.default()
        if isinstance(self.default, (dict, list)):
            return type(self.default)(self.default)
        return self.default


def string(*, max_length: int = MAX_STRING_LENGTH, nonempty: bool = False, nullable: bool = True) -> Checker:
    def check(field: str, value: Any) -> str | None:
        if value is None and nullable and not nonempty:
            return None
        if not isinstance(value, str):
            raise ValidationError("must be a string", field=field, value=value)
        if nonempty and not value.strip():
            raise ValidationError("must not be empty", field=field, value=value)
        if len(value) > max_length:
            raise ValidationError(f"must be at most {max_length} characters", field=field, value=value[:64])
        return value

    return check


def name(field: str, value: Any) -> str:
    """An entity name: a non-empty string of sane length."""
    checked: str = string(max_length=MAX_NAME_LENGTH, nonempty=True)(field, value)
    return checked


def boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("must be a boolean", field=field, value=value)
    return value


def integer(lo: int, hi: int) -> Checker:
    def check(field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be an integer", field=field, value=value)
        if not lo <= value <= hi:
            raise ValidationError(f"must be between {lo} and {hi}", field=field, value=value)
        return value

    return check


def enum(*choices: str) -> Checker:
    def check(field: str, value: Any) -> str:
        if value not in choices:
            raise ValidationError(f"must be one of {', '.join(choices)}", field=field, value=value)
        return str(value)

    return check


def json_object(field: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=field, value=value)
    return value


def string_list(field: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of strings", field=field, value=value)
    return list(dict.fromkeys(value))


def map_of(inner: Checker) -> Checker:
    def check(field: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValidationError("must be a JSON object", field=field, value=value)
        return {str(k): inner(f"{field}.{k}", v) for k, v in value.items()}

    return check


def tags(field: str, value: Any) -> dict[str, Any]:
    """Tags: a flat object of scalar values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=field, value=value)
    for k, v in value.items():
        if not isinstance(v, (str, int, float, bool)) and v is not None:
            raise ValidationError("tag values must be scalars", field=f"{field}.{k}", value=v)
    return value


def timestamp(field: str, value: Any) -> str:
    """An RFC 3339 date-time; stored normalised to UTC with a ``Z``."""
    if not isinstance(value, str):
        raise ValidationError("must be an RFC 3339 date-time string", field=field, value=value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return format_time(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    except (ValueError, OverflowError) as exc:
        raise ValidationError("must be an RFC 3339 date-time string", field=field, value=value) from exc


def attributes(field: str, value: Any) -> list[str]:
    return validate_role_attributes(field, value)


def roles(field: str, value: Any) -> list[str]:
    return validate_roles(field, value)


def semantic(field: str, value: Any) -> str:
    return validate_semantic(value)


def format_time(when: datetime) -> str:
    """UTC with microseconds and a ``Z``, the form libziti's sscanf parses."""
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now_text() -> str:
    return format_time(datetime.now(UTC))
