"""Posture responses from SDKs: checked, then kept per API session (docs/posture.md §2).

An SDK reports what it found on its device (``POST /posture-response`` and ``-bulk``). A response
always belongs to the caller's own API session: its token names the session, so one identity cannot
speak for another. What the checks decide on is stored on the API session itself (:data:`STORED`), written
only when it changes (an SDK repeats the same facts often), so every cluster member, and its router-model
feed, decides from the same facts (docs/router-model.md §7); the report times are kept in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.posture_checks import MAX_ITEMS, MAX_PATH, MAX_TEXT, clean_hex

RESPONSE_TYPES = ("OS", "DOMAIN", "MAC", "PROCESS", "ENDPOINT_STATE")
MAX_RESPONSES = 256
MAX_PROCESSES = 1024
STORED = "postureData"
"""The API session's field holding its posture facts (:func:`stored_form`); never shown."""


@dataclass
class SessionPosture:
    """What one API session's SDK last reported; each part carries the check id it answered and when."""

    identity_id: str
    os: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    mac: dict[str, Any] | None = None
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> report
    woken_at: str | None = None
    unlocked_at: str | None = None
    updated_at: str = field(default_factory=now_text)


def _text(where: str, value: Any, *, required: bool = True, max_length: int = MAX_TEXT,
          empty_ok: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (not empty_ok and not value):
        raise ValidationError("must be a non-empty string" if not empty_ok else "must be a string",
                              field=where, value=value)
    if len(value) > max_length:
        raise ValidationError(f"must be at most {max_length} characters", field=where, value=value[:64])
    return value


def _bool(where: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError("must be a boolean", field=where, value=value)
    return value


def _strings(where: str, value: Any, *, max_length: int = 256) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ValidationError(f"must be a list of at most {MAX_ITEMS} strings", field=where, value=None)
    return [_text(f"{where}[{i}]", v, max_length=max_length) for i, v in enumerate(value)]


def parse_response(where: str, item: Any) -> dict[str, Any]:
    """One posture response checked and normalised (hex values cleaned); raises on anything wrong."""
    if not isinstance(item, dict):
        raise ValidationError("must be a JSON object", field=where, value=None)
    type_id = item.get("typeId")
    if type_id not in RESPONSE_TYPES:
        raise ValidationError(f"must be one of {', '.join(RESPONSE_TYPES)}", field=f"{where}.typeId", value=type_id)
    out: dict[str, Any] = {"id": _text(f"{where}.id", item.get("id")), "typeId": type_id}
    if type_id == "OS":
        out.update(type=_text(f"{where}.type", item.get("type")),
                   version=_text(f"{where}.version", item.get("version")),
                   build=_text(f"{where}.build", item.get("build"), required=False, empty_ok=True))
    elif type_id == "DOMAIN":
        out["domain"] = _text(f"{where}.domain", item.get("domain"), empty_ok=True)
    elif type_id == "MAC":
        if "macAddresses" not in item:
            raise ValidationError("is required", field=f"{where}.macAddresses", value=None)
        out["macAddresses"] = sorted({clean_hex(m) for m in _strings(f"{where}.macAddresses", item["macAddresses"],
                                                                      max_length=64)} - {""})
    elif type_id == "PROCESS":
        out.update(path=_text(f"{where}.path", item.get("path"), max_length=MAX_PATH),
                   isRunning=_bool(f"{where}.isRunning", item.get("isRunning")),
                   hash=clean_hex(_text(f"{where}.hash", item.get("hash"), required=False, empty_ok=True)),
                   signerFingerprints=[clean_hex(s) for s in _strings(f"{where}.signerFingerprints",
                                                                       item.get("signerFingerprints"))])
    else:
        out.update(woken=_bool(f"{where}.woken", item.get("woken")),
                   unlocked=_bool(f"{where}.unlocked", item.get("unlocked")))
    return out


def parse_responses(body: Any, *, bulk: bool) -> list[dict[str, Any]]:
    """Every response of a request body (one object, or for ``-bulk`` a list of them), all checked
    before any is kept: one bad response refuses the whole request."""
    if not bulk:
        return [parse_response("body", body)]
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_RESPONSES:
        raise ValidationError(f"must be a list of 1 to {MAX_RESPONSES} posture responses", field="body", value=None)
    return [parse_response(f"[{i}]", item) for i, item in enumerate(body)]


def check_room(data: SessionPosture, responses: list[dict[str, Any]]) -> None:
    """Refuse responses that would make an API session's process list longer than it may grow."""
    paths = set(data.processes) | {r["path"] for r in responses if r["typeId"] == "PROCESS"}
    if len(paths) > MAX_PROCESSES:
        raise ValidationError(f"at most {MAX_PROCESSES} processes are kept per API session", field="path",
                              value=len(paths))


def apply_response(data: SessionPosture, response: dict[str, Any]) -> None:
    """Keep one checked response in an API session's posture."""
    now = now_text()
    data.updated_at = now
    check_id, type_id = response["id"], response["typeId"]
    if type_id == "OS":
        data.os = {"postureCheckId": check_id, "type": response["type"], "version": response["version"],
                   "build": response["build"], "lastUpdatedAt": now}
    elif type_id == "DOMAIN":
        data.domain = {"postureCheckId": check_id, "domain": response["domain"], "lastUpdatedAt": now}
    elif type_id == "MAC":
        data.mac = {"postureCheckId": check_id, "addresses": response["macAddresses"], "lastUpdatedAt": now}
    elif type_id == "PROCESS":
        data.processes[response["path"]] = {
            "postureCheckId": check_id, "path": response["path"], "isRunning": response["isRunning"],
            "binaryHash": response["hash"], "signerFingerprints": response["signerFingerprints"],
            "lastUpdatedAt": now}
    else:
        if response["woken"]:
            data.woken_at = now
        if response["unlocked"]:
            data.unlocked_at = now


def _facts(part: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if part is None else {k: v for k, v in part.items() if k != "lastUpdatedAt"}


def stored_form(data: SessionPosture) -> dict[str, Any]:
    """What of an API session's posture is replicated: the facts the checks read, without report times."""
    return {"os": _facts(data.os), "domain": _facts(data.domain), "mac": _facts(data.mac),
            "processes": {path: _facts(p) for path, p in sorted(data.processes.items())},
            "wokenAt": data.woken_at, "unlockedAt": data.unlocked_at}


def from_stored(identity_id: str, stored: dict[str, Any], updated_at: str) -> SessionPosture:
    """An API session's posture rebuilt from its :func:`stored_form` (reported at ``updated_at``)."""

    def part(facts: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if facts is None else {**facts, "lastUpdatedAt": updated_at}

    return SessionPosture(identity_id, os=part(stored.get("os")), domain=part(stored.get("domain")),
                          mac=part(stored.get("mac")),
                          processes={k: {**v, "lastUpdatedAt": updated_at} for k, v in stored["processes"].items()},
                          woken_at=stored.get("wokenAt"), unlocked_at=stored.get("unlockedAt"), updated_at=updated_at)
