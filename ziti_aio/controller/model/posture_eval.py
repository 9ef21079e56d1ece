"""Does an API session's posture pass a check? Each check type's rule, and the failure it reports.

A check passes or yields a failure in OpenZiti's ``postureCheckFailure<Type>`` shape (what was
expected, what the SDK reported). The rules are in docs/posture.md §3.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ziti_aio.controller.model.fields import format_time, parse_time
from ziti_aio.controller.model.posture_checks import clean_hex

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity
    from ziti_aio.controller.model.posture_data import SessionPosture

NO_TIMEOUT = -1
# After a wake or unlock, a check that prompts for it still passes this long (OpenZiti's grace).
PROMPT_GRACE_S = 5 * 60
# What OpenZiti's Go code writes for a time never set.
ZERO_TIME = "0001-01-01T00:00:00.000Z"
_CLAUSE = re.compile(r"(>=|<=|!=|==|>|<|=|~|\^)?\s*v?(\d+(?:\.\d+)*)")
_LEADING = re.compile(r"\s*v?(\d+(?:\.\d+)*)")


def _numbers(text: str) -> tuple[int, ...]:
    match = _LEADING.match(text)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def _clause(op: str, wanted: tuple[int, ...], have: tuple[int, ...]) -> bool:
    width = max(len(wanted), len(have), 3)
    a, b = have + (0,) * (width - len(have)), wanted + (0,) * (width - len(wanted))
    if op in ("", "=", "=="):
        return have[:len(wanted)] == wanted  # "10" matches every 10.x.y
    if op == "!=":
        return have[:len(wanted)] != wanted
    if op == "~":
        return a >= b and have[:2] == wanted[:2]
    if op == "^":
        return a >= b and have[:1] == wanted[:1]
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def version_matches(constraint: str, version: str) -> bool:
    """A semver-style constraint (``>=10.0.19041``, ``>=5.4 <6``, ``1.2 || 1.4``) against a reported
    version; only the leading numeric parts of either count (``5.15.0-91-generic`` is 5.15.0)."""
    have = _numbers(version)
    if not have:
        return False
    for alternative in constraint.split("||"):
        clauses = _CLAUSE.findall(alternative)
        if clauses and all(_clause(op, tuple(int(p) for p in v.split(".")), have) for op, v in clauses):
            return True
    return False


def _failure(check: Entity, actual: Any, expected: Any, **extra: Any) -> dict[str, Any]:
    return {"postureCheckId": check["id"], "postureCheckName": check["name"], "postureCheckType": check["typeId"],
            "actualValue": actual, "expectedValue": expected, **extra}


def _os(check: Entity, data: SessionPosture | None) -> dict[str, Any] | None:
    os = data.os if data is not None else None
    actual = {"type": os["type"] if os else "", "version": os["version"] if os else ""}
    if os is not None:
        for wanted in check["operatingSystems"]:
            if wanted["type"].lower() == os["type"].lower() and (
                    not wanted["versions"] or any(version_matches(v, os["version"]) for v in wanted["versions"])):
                return None
    return _failure(check, actual, check["operatingSystems"])


def _domain(check: Entity, data: SessionPosture | None) -> dict[str, Any] | None:
    domain = data.domain["domain"] if data is not None and data.domain else ""
    if domain and domain.lower() in {d.lower() for d in check["domains"]}:
        return None
    return _failure(check, domain, check["domains"])


def _mac(check: Entity, data: SessionPosture | None) -> dict[str, Any] | None:
    have = data.mac["addresses"] if data is not None and data.mac else []
    if set(have) & {clean_hex(m) for m in check["macAddresses"]}:
        return None
    return _failure(check, have, check["macAddresses"])


def _process_actual(data: SessionPosture | None, wanted: dict[str, Any]) -> dict[str, Any]:
    found = data.processes.get(wanted["path"]) if data is not None else None
    return {"osType": wanted["osType"], "path": wanted["path"],
            "isRunning": bool(found and found["isRunning"]), "hash": found["binaryHash"] if found else "",
            "signerFingerprints": found["signerFingerprints"] if found else []}


def _process_passes(actual: dict[str, Any], hashes: list[str], signers: list[str]) -> bool:
    if not actual["isRunning"]:
        return False
    if hashes and actual["hash"] not in {clean_hex(h) for h in hashes}:
        return False
    return not signers or bool(set(actual["signerFingerprints"]) & {clean_hex(s) for s in signers})


def _process(check: Entity, data: SessionPosture | None) -> dict[str, Any] | None:
    wanted = check["process"]
    actual = _process_actual(data, wanted)
    signer = wanted.get("signerFingerprint")
    if _process_passes(actual, wanted["hashes"], [signer] if signer else []):
        return None
    return _failure(check, actual, wanted)


def _process_multi(check: Entity, data: SessionPosture | None) -> dict[str, Any] | None:
    actuals = [_process_actual(data, w) for w in check["processes"]]
    passes = [_process_passes(a, w["hashes"], w["signerFingerprints"]) for a, w in zip(actuals, check["processes"],
                                                                                       strict=True)]
    if (all(passes) if check["semantic"] == "AllOf" else any(passes)):
        return None
    return _failure(check, actuals, check["processes"], semantic=check["semantic"])


def mfa_deadline(check: Entity, data: SessionPosture | None, api_session: Entity) -> float | None:
    """When an MFA check stops passing for this API session (epoch seconds), ``None`` for never;
    only meaningful while TOTP was passed (``mfaPassedAt``)."""
    passed_at = api_session.get("mfaPassedAt")
    if not passed_at:
        return None
    passed = parse_time(passed_at).timestamp()
    deadlines = []
    if check.get("timeoutSeconds", NO_TIMEOUT) != NO_TIMEOUT:
        deadlines.append(passed + check["timeoutSeconds"])
    for prompt, seen in (("promptOnWake", data.woken_at if data else None),
                         ("promptOnUnlock", data.unlocked_at if data else None)):
        if check.get(prompt) and seen and parse_time(seen).timestamp() > passed:
            deadlines.append(parse_time(seen).timestamp() + PROMPT_GRACE_S)
    return min(deadlines) if deadlines else None


def _mfa(check: Entity, data: SessionPosture | None, api_session: Entity, now: float) -> dict[str, Any] | None:
    passed_at = api_session.get("mfaPassedAt")
    deadline = mfa_deadline(check, data, api_session)
    if passed_at and (deadline is None or now <= deadline):
        return None
    woken = data.woken_at if data else None
    unlocked = data.unlocked_at if data else None
    timeout = check.get("timeoutSeconds", NO_TIMEOUT)
    timed_out = passed_at is not None and timeout != NO_TIMEOUT and now > parse_time(passed_at).timestamp() + timeout
    actual = {"passedMfa": bool(passed_at), "timedOut": timed_out,
              "passedOnWake": not (check.get("promptOnWake") and woken and (not passed_at or woken > passed_at)),
              "passedOnUnlock": not (check.get("promptOnUnlock") and unlocked
                                     and (not passed_at or unlocked > passed_at))}
    expected = {"passedMfa": True, "timedOut": False, "passedOnWake": True, "passedOnUnlock": True}
    remaining = max(0, int(deadline - now)) if deadline is not None else NO_TIMEOUT
    criteria = {"passedMfaAt": passed_at or ZERO_TIME, "wokenAt": woken or ZERO_TIME,
                "unlockedAt": unlocked or ZERO_TIME, "timeoutSeconds": timeout, "timeoutRemainingSeconds": remaining}
    return _failure(check, actual, expected, criteria=criteria)


def check_failure(check: Entity, data: SessionPosture | None, api_session: Entity, now: float) -> dict[str, Any] | None:
    """``None`` when the API session's posture passes ``check``; otherwise why not."""
    kind = check["typeId"]
    if kind == "MFA":
        return _mfa(check, data, api_session, now)
    rule = {"OS": _os, "DOMAIN": _domain, "MAC": _mac, "PROCESS": _process, "PROCESS_MULTI": _process_multi}[kind]
    return rule(check, data)


def query(check: Entity, data: SessionPosture | None, api_session: Entity, now: float) -> dict[str, Any]:
    """A check as the client API's service listing shows it to an SDK (``postureQuery``)."""
    out: dict[str, Any] = {
        "id": check["id"], "createdAt": check["createdAt"], "updatedAt": check["updatedAt"],
        "tags": check.get("tags") or {}, "_links": {"self": {"href": f"./posture-checks/{check['id']}"}},
        "queryType": check["typeId"], "isPassing": check_failure(check, data, api_session, now) is None,
        "timeout": NO_TIMEOUT, "timeoutRemaining": NO_TIMEOUT,
    }
    if check["typeId"] == "PROCESS":
        out["process"] = {"osType": check["process"]["osType"], "path": check["process"]["path"]}
    elif check["typeId"] == "PROCESS_MULTI":
        out["processes"] = [{"osType": p["osType"], "path": p["path"]} for p in check["processes"]]
    elif check["typeId"] == "MFA":
        deadline = mfa_deadline(check, data, api_session)
        out.update(timeout=check.get("timeoutSeconds", NO_TIMEOUT), promptOnWake=bool(check.get("promptOnWake")),
                   promptOnUnlock=bool(check.get("promptOnUnlock")), promptGracePeriodSeconds=PROMPT_GRACE_S)
        if not api_session.get("mfaPassedAt"):
            out["timeoutRemaining"] = 0
        elif deadline is not None:
            out["timeoutRemaining"] = max(0, int(deadline - now))
            out["timeoutAt"] = format_time(datetime.fromtimestamp(deadline, UTC))
    return out
