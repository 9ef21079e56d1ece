"""Posture checks: their types, the fields each type holds, and how a request's fields are checked.

A posture check is one requirement on the device an SDK runs on (docs/posture.md §1): its operating
system (``OS``), Windows domain (``DOMAIN``), a network interface's MAC address (``MAC``), one running
program (``PROCESS``) or several (``PROCESS_MULTI``), or a TOTP code given recently in the API session
(``MFA``). Service policies select checks with ``postureCheckRoles``; a check's type never changes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.roles import parse_roles, validate_semantic
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.hooks import NoHooks
from ziti_aio.controller.model.views import OMITTED

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.controller.model.views import ViewContext

CHECK_TYPES = ("OS", "PROCESS", "DOMAIN", "MAC", "MFA", "PROCESS_MULTI")
OS_TYPES = ("Windows", "WindowsServer", "Android", "iOS", "Linux", "macOS")
# The OSes a process can be checked on (OpenZiti's posture-check-types list the same).
PROCESS_OS_TYPES = ("Windows", "WindowsServer", "Linux", "macOS")
# type -> (fields it holds, of those the ones a create or a PUT must give)
TYPE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "OS": (("operatingSystems",), ("operatingSystems",)),
    "DOMAIN": (("domains",), ("domains",)),
    "MAC": (("macAddresses",), ("macAddresses",)),
    "PROCESS": (("process",), ("process",)),
    "PROCESS_MULTI": (("semantic", "processes"), ("semantic", "processes")),
    "MFA": (("timeoutSeconds", "promptOnWake", "promptOnUnlock", "ignoreLegacyEndpoints"), ()),
}
TYPE_SPECIFIC = tuple(dict.fromkeys(f for fields, _ in TYPE_FIELDS.values() for f in fields))
MFA_DEFAULTS = {"timeoutSeconds": -1, "promptOnWake": False, "promptOnUnlock": False, "ignoreLegacyEndpoints": False}
# Display names of the types (``GET /posture-check-types``), as OpenZiti names them.
TYPE_NAMES = {"OS": "Operating System Check", "PROCESS": "Process Check", "DOMAIN": "Domain Check",
              "MAC": "MAC Address Check", "MFA": "MFA Check", "PROCESS_MULTI": "Multi Process Check"}

MAX_ITEMS = 256
MAX_TEXT = 1024
MAX_PATH = 4096
MAX_TIMEOUT_S = 2**31 - 1
_HEX = re.compile(r"[^a-f0-9]+")


def clean_hex(text: str) -> str:
    """A MAC address, hash or fingerprint reduced to lower-case hex digits (how they are compared)."""
    return _HEX.sub("", text.lower())


def _list(field: str, value: Any, *, min_items: int = 1) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError("must be a list", field=field, value=value)
    if not min_items <= len(value) <= MAX_ITEMS:
        raise ValidationError(f"must have between {min_items} and {MAX_ITEMS} items", field=field, value=len(value))
    return value


def _text(field: str, value: Any, *, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("must be a non-empty string", field=field, value=value)
    if len(value) > max_length:
        raise ValidationError(f"must be at most {max_length} characters", field=field, value=value[:64])
    return value


def _object(field: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=field, value=value)
    extra = sorted(set(value) - allowed)
    if extra:
        raise ValidationError(f"unknown field {extra[0]!r}", field=f"{field}.{extra[0]}", value=value[extra[0]])
    return value


def _os_type(field: str, value: Any, choices: tuple[str, ...] = OS_TYPES) -> str:
    if value not in choices:
        raise ValidationError(f"must be one of {', '.join(choices)}", field=field, value=value)
    return str(value)


def _hex_list(field: str, value: Any) -> list[str]:
    if value is None:
        return []
    out = []
    for i, item in enumerate(_list(field, value, min_items=0)):
        text = _text(f"{field}[{i}]", item, max_length=256)
        if not clean_hex(text):
            raise ValidationError("must be hex digits", field=f"{field}[{i}]", value=text)
        out.append(text)
    return list(dict.fromkeys(out))


def operating_systems(field: str, value: Any) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(_list(field, value)):
        where = f"{field}[{i}]"
        item = _object(where, item, {"type", "versions"})
        versions = item.get("versions") or []
        for j, version in enumerate(_list(f"{where}.versions", versions, min_items=0)):
            _text(f"{where}.versions[{j}]", version, max_length=256)
        out.append({"type": _os_type(f"{where}.type", item.get("type")), "versions": list(versions)})
    return out


def domains(field: str, value: Any) -> list[str]:
    return list(dict.fromkeys(_text(f"{field}[{i}]", d) for i, d in enumerate(_list(field, value))))


def mac_addresses(field: str, value: Any) -> list[str]:
    out = []
    for i, item in enumerate(_list(field, value)):
        text = _text(f"{field}[{i}]", item, max_length=64)
        if len(clean_hex(text)) not in (12, 16):
            raise ValidationError("must be a MAC address (6 or 8 bytes in hex)", field=f"{field}[{i}]", value=text)
        out.append(text)
    return list(dict.fromkeys(out))


def process(field: str, value: Any) -> dict[str, Any]:
    item = _object(field, value, {"osType", "path", "hashes", "signerFingerprint"})
    out: dict[str, Any] = {"osType": _os_type(f"{field}.osType", item.get("osType"), PROCESS_OS_TYPES),
                           "path": _text(f"{field}.path", item.get("path"), max_length=MAX_PATH),
                           "hashes": _hex_list(f"{field}.hashes", item.get("hashes"))}
    if item.get("signerFingerprint"):
        out["signerFingerprint"] = _hex_list(f"{field}.signerFingerprint", [item["signerFingerprint"]])[0]
    return out


def processes(field: str, value: Any) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(_list(field, value)):
        where = f"{field}[{i}]"
        item = _object(where, item, {"osType", "path", "hashes", "signerFingerprints"})
        out.append({"osType": _os_type(f"{where}.osType", item.get("osType"), PROCESS_OS_TYPES),
                    "path": _text(f"{where}.path", item.get("path"), max_length=MAX_PATH),
                    "hashes": _hex_list(f"{where}.hashes", item.get("hashes")),
                    "signerFingerprints": _hex_list(f"{where}.signerFingerprints", item.get("signerFingerprints"))})
    return out


def timeout_seconds(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= MAX_TIMEOUT_S:
        raise ValidationError(f"must be an integer from -1 (no expiry) to {MAX_TIMEOUT_S}", field=field, value=value)
    return value


def semantic(field: str, value: Any) -> str:
    return validate_semantic(value)


class PostureCheckRules(NoHooks):
    """A check's type is given at creation and kept; only its type's fields are stored, and a
    create or PUT must give the required ones. ``version`` counts the changes (OpenZiti's)."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        given = data.get("typeId")
        if old is not None:
            if given is not None and given != old["typeId"]:
                raise ValidationError("the type of a posture check cannot change", field="typeId", value=given)
            data["typeId"] = old["typeId"]
            data["version"] = int(old.get("version", 1)) + 1
        elif given is None:
            raise ValidationError("is required", field="typeId", value=None)
        else:
            data["version"] = 1
        held, required = TYPE_FIELDS[data["typeId"]]
        for name in TYPE_SPECIFIC:
            if name not in held:
                data.pop(name, None)
        for name in required:
            if data.get(name) is None:
                raise ValidationError(f"is required for {data['typeId']} checks", field=name, value=None)
        for name, default in MFA_DEFAULTS.items():
            if name in held and data.get(name) is None:
                data[name] = default


def posture_check_view(ctx: ViewContext, e: Entity) -> dict[str, Any]:
    held = TYPE_FIELDS[e["typeId"]][0]
    return {name: OMITTED for name in TYPE_SPECIFIC if name not in held} | {"version": e.get("version", 1)}


def checks_of_policy(model: Model, policy: Entity) -> list[Entity]:
    """The posture checks a service policy's ``postureCheckRoles`` select."""
    roles = policy.get("postureCheckRoles") or []
    if not roles:
        return []
    roleset = parse_roles(roles, policy.get("semantic", "AllOf"))
    return [c for c in model.all(Kind.POSTURE_CHECKS) if roleset.matches(c["id"], c.get("roleAttributes", ()))]


def posture_check_types() -> list[dict[str, Any]]:
    """The six types as ``GET /posture-check-types`` lists them (``postureCheckTypeDetail``)."""
    epoch = "2020-01-01T00:00:00.000000Z"
    out = []
    for t in CHECK_TYPES:
        oses = OS_TYPES if t == "OS" else PROCESS_OS_TYPES if t.startswith("PROCESS") else ()
        out.append({"id": t, "name": TYPE_NAMES[t], "version": "1", "createdAt": epoch, "updatedAt": epoch,
                    "tags": {}, "_links": {"self": {"href": f"./posture-check-types/{t}"}},
                    "operatingSystems": [{"type": os, "versions": []} for os in oses]})
    return out
