"""Posture enforcement: which service policies' checks an API session passes, and ending the
sessions whose posture stopped passing (docs/posture.md §3, §4).

A service policy granting a service passes when every posture check it selects passes; a session
of a type (Dial, Bind) is allowed when at least one policy of that type granting the service
passes. While no posture check exists at all nothing is evaluated, as in OpenZiti. Sessions that no
longer pass (a newer response fails, an MFA check's timeout runs out, a process stops, a check or
policy changed) are deleted with their revocations, so routers cut their live connections.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import InvalidPosture
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.posture_checks import checks_of_policy
from ziti_aio.controller.model.posture_data import (
    STORED,
    SessionPosture,
    apply_response,
    check_room,
    from_stored,
    parse_responses,
    stored_form,
)
from ziti_aio.controller.model.posture_eval import NO_TIMEOUT, PROMPT_GRACE_S, ZERO_TIME, check_failure, query
from ziti_aio.controller.model.revocations import session_revocation
from ziti_aio.controller.store.commands import Change, Command, Put

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.model.model import Entity, Model

log = logging.getLogger(__name__)

# How often sessions are re-evaluated (MFA timeouts run out without any request).
SWEEP_INTERVAL_S = 1.0
# Refused session requests kept per identity (``GET /identities/{id}/failed-service-requests``).
MAX_FAILED_REQUESTS = 50


@dataclass
class Verdict:
    """The posture result of one (API session, service, session type)."""

    passed: bool
    failed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # policy id -> failures

    def error(self) -> InvalidPosture:
        ids = sorted(self.failed)
        return InvalidPosture(cause={"message": f"Failed to pass posture checks for service policies: {ids}",
                                     "data": self.failed})


class Posture:
    """Posture data of every API session, the checks' verdicts, and the sweep that enforces them."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.sessions: dict[str, SessionPosture] = {}
        """API session id → its posture as this member knows it (read through :meth:`data_of`)."""
        self._adopted: dict[str, dict[str, Any]] = {}
        """API session id → the stored posture object :attr:`sessions` holds (is) the facts of."""
        self.failed_requests: dict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=MAX_FAILED_REQUESTS))
        # Told when an API session's posture may have changed (its id; ``None``: time passed for all), before
        # its failing sessions end: the router model's feed (docs/router-model.md §7).
        self.listeners: list[Callable[[str | None], None]] = []

    def data_of(self, api_session: Entity) -> SessionPosture | None:
        """An API session's posture: what its stored facts say (written by whichever member its SDK
        reported to), with this member's report times while its facts are the stored ones."""
        asid = api_session["id"]
        stored = api_session.get(STORED)
        data = self.sessions.get(asid)
        if stored is not None and self._adopted.get(asid) is not stored:
            if data is None or stored_form(data) != stored:
                data = self.sessions[asid] = from_stored(api_session["identityId"], stored, api_session["updatedAt"])
            self._adopted[asid] = stored
        return data

    def any_checks(self) -> bool:
        return bool(self.model.entities[Kind.POSTURE_CHECKS])

    def granting_policies(self, identity_id: str, service_id: str) -> list[Entity]:
        """The service policies giving ``identity_id`` the service, by name."""
        sp = self.model.policy.service_policies
        shared = sp.policies_of(sp.left, identity_id) & sp.policies_of(sp.right, service_id)
        policies = [self.model.get(Kind.SERVICE_POLICIES, p) for p in shared]
        return sorted(policies, key=lambda p: (p["name"], p["id"]))

    # --- evaluation ---------------------------------------------------------------------------

    def verdict(self, api_session: Entity, service_id: str, session_type: str, now: float | None = None) -> Verdict:
        """Whether an API session's posture allows a ``session_type`` session for a service."""
        if not self.any_checks():
            return Verdict(True)
        now = time.time() if now is None else now
        data = self.data_of(api_session)
        failed: dict[str, list[dict[str, Any]]] = {}
        seen: dict[str, dict[str, Any] | None] = {}
        for policy in self.granting_policies(api_session["identityId"], service_id):
            if policy["type"] != session_type:
                continue
            failures = []
            for check in checks_of_policy(self.model, policy):
                if check["id"] not in seen:
                    seen[check["id"]] = check_failure(check, data, api_session, now)
                failure = seen[check["id"]]
                if failure is not None:
                    failures.append(failure)
            if not failures:
                return Verdict(True)
            failed[policy["id"]] = failures
        return Verdict(not failed, failed)

    def refuse(self, api_session: Entity, service: Entity, session_type: str, verdict: Verdict) -> InvalidPosture:
        """Record a refused session request (for the identity's failed-service-requests); the error to raise."""
        names = {p["id"]: p["name"] for p in self.granting_policies(api_session["identityId"], service["id"])}
        self.failed_requests[api_session["identityId"]].append({
            "apiSessionId": api_session["id"], "serviceId": service["id"], "serviceName": service["name"],
            "sessionType": session_type, "when": now_text(),
            "policyFailures": [{"policyId": pid, "policyName": names.get(pid, pid), "checks": checks}
                               for pid, checks in sorted(verdict.failed.items())]})
        return verdict.error()

    def service_queries(self, api_session: Entity, service_id: str) -> list[dict[str, Any]]:
        """A service's ``postureQueries`` for the caller: per granting policy, its checks and whether they pass."""
        if not self.any_checks():
            return []
        now = time.time()
        data = self.data_of(api_session)
        out = []
        for policy in self.granting_policies(api_session["identityId"], service_id):
            queries = [query(c, data, api_session, now) for c in checks_of_policy(self.model, policy)]
            out.append({"policyId": policy["id"], "policyType": policy["type"],
                        "isPassing": all(q["isPassing"] for q in queries), "postureQueries": queries})
        return out

    def advice(self, identity_id: str, service_id: str) -> list[dict[str, Any]]:
        """Policy advice's posture part: per granting policy, its checks and whether any of the
        identity's API sessions passes each (nothing while no posture check exists)."""
        if not self.any_checks():
            return []
        api_sessions = self.model.owned_by(Kind.API_SESSIONS, identity_id)
        now = time.time()
        out = []
        for policy in self.granting_policies(identity_id, service_id):
            checks = []
            for check in checks_of_policy(self.model, policy):
                passing = any(check_failure(check, self.data_of(a), a, now) is None for a in api_sessions)
                checks.append({"id": check["id"], "name": check["name"], "typeId": check["typeId"],
                               "isPassing": passing})
            out.append({"policyId": policy["id"], "policyName": policy["name"], "policyType": policy["type"],
                        "isPassing": all(c["isPassing"] for c in checks), "postureChecks": checks})
        return out

    # --- responses ----------------------------------------------------------------------------

    async def respond(self, api_session: Entity, body: Any, *, bulk: bool) -> list[dict[str, Any]]:
        """Keep an SDK's posture responses for its own API session (stored when its facts changed), then
        end the sessions they no longer allow. Returns the services whose MFA timers a wake or unlock shortened."""
        responses = parse_responses(body, bulk=bulk)
        asid = api_session["id"]
        api_session = self.model.maybe(Kind.API_SESSIONS, asid) or api_session
        data = self.data_of(api_session) or SessionPosture(api_session["identityId"])
        check_room(data, responses)
        before = stored_form(data)
        self.sessions[asid] = data
        for response in responses:
            apply_response(data, response)
        if stored_form(data) != before or api_session.get(STORED) is None:
            await self._store(asid)
        await self.enforce(asid)
        if not any(r["typeId"] == "ENDPOINT_STATE" and (r["woken"] or r["unlocked"]) for r in responses):
            return []
        return self._prompted_services(api_session)

    async def _store(self, api_session_id: str) -> None:
        """Write an API session's posture facts as this member now knows them."""

        def build() -> Command | None:
            current = self.model.maybe(Kind.API_SESSIONS, api_session_id)
            data = self.sessions.get(api_session_id)
            if current is None or data is None or current.get(STORED) == (facts := stored_form(data)):
                return None
            self._adopted[api_session_id] = facts
            put = Put(Kind.API_SESSIONS, {**current, STORED: facts, "updatedAt": now_text()})
            return Command("controller", "posture responses", (put,))

        await self.model.transact(build)

    def _prompted_services(self, api_session: Entity) -> list[dict[str, Any]]:
        out = []
        for service_id in sorted(self.model.policy.service_permissions(api_session["identityId"])):
            service = self.model.get(Kind.SERVICES, service_id)
            for policy in self.granting_policies(api_session["identityId"], service_id):
                mfa = [c for c in checks_of_policy(self.model, policy)
                       if c["typeId"] == "MFA" and (c.get("promptOnWake") or c.get("promptOnUnlock"))]
                if mfa:
                    out.append({"id": service_id, "name": service["name"], "postureQueryType": "MFA",
                                "timeout": mfa[0].get("timeoutSeconds", NO_TIMEOUT),
                                "timeoutRemaining": PROMPT_GRACE_S})
                    break
        return out

    # --- enforcement --------------------------------------------------------------------------

    def _failing_sessions(self, api_session_id: str | None) -> list[Change]:
        if not self.any_checks():
            return []
        sessions = (self.model.where(Kind.SESSIONS, apiSessionId=api_session_id) if api_session_id is not None
                    else list(self.model.all(Kind.SESSIONS)))
        now = time.time()
        verdicts: dict[tuple[str, str, str], bool] = {}
        changes: list[Change] = []
        for session in sessions:
            api_session = self.model.maybe(Kind.API_SESSIONS, session["apiSessionId"])
            if api_session is None:
                continue
            key = (api_session["id"], session["serviceId"], session["type"])
            if key not in verdicts:
                verdicts[key] = self.verdict(api_session, session["serviceId"], session["type"], now).passed
            if not verdicts[key]:
                changes += session_revocation(session)
        return changes

    async def enforce(self, api_session_id: str | None = None) -> int:
        """Delete (and revoke) the sessions whose posture no longer passes; all of them, or one API session's."""
        for listener in self.listeners:
            listener(api_session_id)
        if not self._failing_sessions(api_session_id):
            return 0  # the common case decided without the write lock; a failing one is re-checked under it
        ended: list[int] = []

        def build() -> Command | None:
            changes = self._failing_sessions(api_session_id)
            ended.append(len(changes) // 2)
            return Command("controller", "posture no longer passes", tuple(changes)) if changes else None

        await self.model.transact(build)
        if ended[0]:
            log.info("ended %d session(s) whose posture no longer passes", ended[0])
        return ended[0]

    def forget_ended(self) -> None:
        """Drop the posture data of API sessions that ended."""
        for api_session_id in [i for i in self.sessions if self.model.maybe(Kind.API_SESSIONS, i) is None]:
            del self.sessions[api_session_id]
            self._adopted.pop(api_session_id, None)

    async def run(self, interval_s: float = SWEEP_INTERVAL_S) -> None:
        """Re-evaluate every session periodically (MFA timeouts, changed checks and policies)."""
        while True:
            await trio.sleep(interval_s)
            self.forget_ended()
            await self.enforce()

    # --- management views ---------------------------------------------------------------------

    def posture_data(self, identity_id: str) -> dict[str, Any]:
        """OpenZiti's ``postureData`` of an identity: the device facts of its latest reporting API
        session, and per API session its MFA and endpoint state."""
        api_sessions = self.model.owned_by(Kind.API_SESSIONS, identity_id)
        reported = [d for a in api_sessions if (d := self.data_of(a)) is not None]
        latest = max(reported, key=lambda d: d.updated_at, default=None)
        unset = {"postureCheckId": "", "timedOut": False, "lastUpdatedAt": ZERO_TIME}
        os = latest.os if latest and latest.os else {**unset, "type": "", "version": "", "build": ""}
        domain = latest.domain if latest and latest.domain else {**unset, "domain": ""}
        mac = latest.mac if latest and latest.mac else {**unset, "addresses": []}
        per_session = {}
        for a in api_sessions:
            data = self.data_of(a)
            per_session[a["id"]] = {
                "mfa": {"apiSessionId": a["id"], "passedMfa": bool(a.get("mfaPassedAt")),
                        "passedAt": a.get("mfaPassedAt") or ZERO_TIME, "passedOnWake": True, "passedOnUnlock": True},
                "endpointState": {"wokenAt": (data.woken_at if data else None) or ZERO_TIME,
                                  "unlockedAt": (data.unlocked_at if data else None) or ZERO_TIME}}
        return {"os": {"timedOut": False, **os}, "domain": {"timedOut": False, **domain},
                "mac": {"timedOut": False, **mac},
                "processes": [{"timedOut": False, **p} for p in (latest.processes.values() if latest else ())],
                "apiSessionPostureData": per_session}

    def failed_service_requests(self, identity_id: str) -> list[dict[str, Any]]:
        return list(self.failed_requests.get(identity_id, ()))
