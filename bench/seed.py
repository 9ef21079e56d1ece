"""Bench networks written straight into a controller's store as one big command.

Every network has one edge router reachable by every identity for every service, and a set of
"bench users": identities with a certificate and a password, each allowed to dial the same
:data:`GROUP_SIZE` services. The other identities and services are spread over teams of the same
shape, one Dial policy per team, so a bigger network also has more policies. As in a network in
use, every identity that may dial something is logged in (an API session) with one Dial session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.ids import new_id
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.passwords import hash_password
from ziti_aio.controller.store.commands import Change, Command, Put
from ziti_aio.pki.bundle import fingerprint_sha1
from ziti_aio.pki.keys import generate_key, key_to_pem
from ziti_aio.testing.controller import open_controller

if TYPE_CHECKING:
    from pathlib import Path

    from ziti_aio.controller.controller import Controller

BENCH_PASSWORD = "bench-password"
BENCH_ROLE = "bench"
GROUP_SIZE = 10
MAX_TEAMS = 100


@dataclass(frozen=True)
class NetworkSpec:
    """How big a bench network is."""

    name: str
    identities: int
    services: int
    users: int


@dataclass(frozen=True)
class User:
    """A bench user's logins: a password and a client certificate (files)."""

    username: str
    cert: Path
    key: Path


@dataclass(frozen=True)
class Network:
    """A seeded controller home and what the load client needs to use it."""

    spec: NetworkSpec
    home: Path
    users: tuple[User, ...]
    dial_service_ids: tuple[str, ...]
    ca_bundle: Path
    server_chain: Path
    server_key: Path


def _created(controller: Controller, kind: str, body: dict[str, Any]) -> list[Change]:
    assert controller.api is not None
    command, _ = controller.api.crud.build_create(kind, body, actor="bench")
    return list(command.changes)


def _authenticator(identity_id: str, **fields: Any) -> Put:
    now = now_text()
    return Put("authenticators", {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {},
                                  "identityId": identity_id, **fields})


def _logged_in(controller: Controller, identity_id: str, authenticator_id: str, service_id: str) -> list[Change]:
    """An API session of ``identity_id`` holding a Dial session for ``service_id``."""
    assert controller.api is not None
    now = now_text()
    api_session = {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "identityId": identity_id,
                   "authenticatorId": authenticator_id, "authMethod": "cert", "ipAddress": "127.0.0.1",
                   "configTypes": [], "lastActivityAt": now}
    session = {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "type": "Dial",
               "apiSessionId": api_session["id"], "identityId": identity_id, "serviceId": service_id}
    session["token"] = controller.api.access.signer.session_token(session)
    return [Put("api-sessions", api_session), Put("sessions", session)]


def build_changes(controller: Controller, spec: NetworkSpec, user_dir: Path) -> tuple[list[Change], list[User]]:
    """Every entity of ``spec`` as puts, with the bench users' certificate files written."""
    assert controller.pki is not None
    signer, trust_domain = controller.pki.signer, controller.config.trust_domain
    extra = spec.services - GROUP_SIZE
    teams = min(MAX_TEAMS, max(1, extra // GROUP_SIZE)) if extra > 0 else 0
    user_dir.mkdir(parents=True, exist_ok=True)
    shared_key = generate_key("ec256")
    key_path = user_dir / "users.key.pem"
    key_path.write_bytes(key_to_pem(shared_key))
    password_hash = hash_password(BENCH_PASSWORD)

    changes: list[Change] = []
    changes += _created(controller, "edge-routers", {"name": "bench-router", "roleAttributes": ["public"]})
    changes += _created(controller, "edge-router-policies",
                        {"name": "all-routers", "identityRoles": ["#all"], "edgeRouterRoles": ["#all"]})
    changes += _created(controller, "service-edge-router-policies",
                        {"name": "all-services", "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]})
    for role in [BENCH_ROLE, *(f"team-{t}" for t in range(teams))]:
        changes += _created(controller, "service-policies", {"name": f"{role}-dial", "type": "Dial",
                                                             "semantic": "AnyOf", "identityRoles": [f"#{role}"],
                                                             "serviceRoles": [f"#{role}"]})
    services_of: dict[str, list[str]] = {}
    for k in range(spec.services):
        role = BENCH_ROLE if k < GROUP_SIZE else f"team-{(k - GROUP_SIZE) % teams}"
        put = _created(controller, "services", {"name": f"svc-{k}", "roleAttributes": [role]})
        changes += put
        services_of.setdefault(role, []).append(put[0].id)  # type: ignore[union-attr]
    users: list[User] = []
    for j in range(spec.identities):
        role = BENCH_ROLE if j < spec.users else (f"team-{j % teams}" if teams else "idle")
        put = _created(controller, "identities", {"name": f"id-{j}", "type": "User", "roleAttributes": [role]})
        identity_id = put[0].id  # type: ignore[union-attr]
        cert, _ = signer.issue_client(f"id-{j}", key=shared_key,
                                      spiffe_id=f"spiffe://{trust_domain}/identity/{identity_id}")
        cert_pem = cert.public_bytes(Encoding.PEM)
        cert_auth = _authenticator(identity_id, method="cert", fingerprint=fingerprint_sha1(cert),
                                   certPem=cert_pem.decode())
        changes += [*put, cert_auth,
                    _authenticator(identity_id, method="updb", username=f"user-{j}", passwordHash=password_hash)]
        if role in services_of:
            dial = services_of[role]
            changes += _logged_in(controller, identity_id, cert_auth.id, dial[j % len(dial)])
        if j < spec.users:
            cert_path = user_dir / f"user-{j}.cert.pem"
            cert_path.write_bytes(cert_pem)
            users.append(User(f"user-{j}", cert_path, key_path))
    return changes, users


async def seed(spec: NetworkSpec, home: Path) -> Network:
    """Create a controller home holding the network of ``spec`` (controller stopped afterwards)."""
    async with open_controller(home) as running:
        controller = running.controller
        assert controller.model is not None and controller.pki is not None
        changes, users = build_changes(controller, spec, home / "bench-users")
        await controller.model.transact(lambda: Command("bench", f"seed network {spec.name}", tuple(changes)))
        pki = controller.pki
    return Network(spec, home, tuple(users), tuple(dial_ids_of(changes)), pki.ca_bundle_path,
                   pki.server_chain_path, pki.server_key_path)


def dial_ids_of(changes: list[Change]) -> list[str]:
    """Ids of the services the bench users may dial."""
    return [c.id for c in changes
            if isinstance(c, Put) and c.kind == "services" and c.data["roleAttributes"] == [BENCH_ROLE]]
