"""Rendering is an allow-list per kind: a stored field the kind's record does not show never leaves."""

from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.records import RECORDS
from ziti_aio.controller.model.views import OMITTED
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

M = MANAGEMENT
CANARY = "undeclared-canary-d41d8cd9"
SHOWN_CANARY = "declared-canary-8f00b204"


async def _populate(admin):
    """At least one entity of every kind the management API lists (the admin may dial every service)."""
    svc = await create(admin, "services", {"name": "web"})
    router = await create(admin, "edge-routers", {"name": "er1"})
    ct = (await admin.get(f"{M}/config-types", params={"filter": 'name="host.v1"'})).json()["data"][0]["id"]
    await create(admin, "configs", {"name": "web-host", "configTypeId": ct,
                                    "data": {"protocol": "tcp", "address": "127.0.0.1", "port": 80}})
    await create(admin, "identities", {"name": "alice", "type": "User", "isAdmin": False,
                                       "enrollment": {"updb": "alice"}})
    await create(admin, "service-policies", {"name": "sp", "type": "Dial", "identityRoles": ["#all"],
                                             "serviceRoles": ["#all"]})
    await create(admin, "edge-router-policies", {"name": "erp", "identityRoles": ["#all"],
                                                 "edgeRouterRoles": ["#all"]})
    await create(admin, "service-edge-router-policies", {"name": "serp", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#all"]})
    await create(admin, "terminators", {"service": svc, "router": router, "binding": "transport",
                                        "address": "tcp:127.0.0.1:80"})
    ca = CertAuthority.create_root("third-party")
    await create(admin, "cas", {"name": "third-party", "certPem": ca.cert.public_bytes(Encoding.PEM).decode(),
                                "isAuthEnabled": True, "isAutoCaEnrollmentEnabled": False,
                                "isOttCaEnrollmentEnabled": True, "identityRoles": []})
    await create(admin, "external-jwt-signers", {
        "name": "idp", "issuer": "https://idp.example.com", "audience": "z", "enabled": True,
        "certPem": ca.cert.public_bytes(Encoding.PEM).decode()})
    session = await admin.post(f"{CLIENT}/sessions", json={"serviceId": svc, "type": "Dial"})
    assert session.status_code == 201, session.text
    await create(admin, "posture-checks", {"name": "pc", "typeId": "MFA"})


async def test_an_undeclared_stored_field_is_never_rendered(controller, admin):
    await _populate(admin)
    model = controller.controller.model
    # Also a revocation: log a second admin session out.
    second = await controller.login()
    async with second:
        await second.delete(f"{M}/current-api-session")
    listed = [k for k, r in RECORDS.items() if "read" in r.operations]
    assert all(model.entities[k] for k in listed), [k for k in listed if not model.entities[k]]

    def poison() -> Command:
        changes = []
        for kind in Kind:
            for e in model.all(kind):
                data = {**e, "secretThing": CANARY}
                if kind == Kind.IDENTITIES:
                    data["externalId"] = SHOWN_CANARY
                changes.append(Put(kind, data))
        return Command("test", "store a field no record declares", tuple(changes))

    await model.transact(poison)
    for kind in listed:
        listing = await admin.get(f"{M}/{kind}", params={"limit": "500"})
        assert listing.status_code == 200, listing.text
        assert CANARY not in listing.text, kind
        for e in listing.json()["data"]:
            detail = await admin.get(f"{M}/{kind}/{e['id']}")
            assert detail.status_code == 200, detail.text
            assert CANARY not in detail.text, kind
    for path in (f"{M}/current-identity", f"{M}/current-api-session", f"{CLIENT}/current-identity"):
        resp = await admin.get(path)
        assert resp.status_code == 200 and CANARY not in resp.text, path
    # The same requests do carry a stored field the identity record shows.
    assert SHOWN_CANARY in (await admin.get(f"{M}/identities")).text


def test_a_view_cannot_add_a_field_its_record_does_not_show():
    record = RECORDS[Kind.REVOCATIONS]
    leaky = type(record)(record.kind, record.singular, shown=record.shown,
                         view=lambda ctx, e: {"type": "SESSION", "token": "secret"})
    entity = {"id": "r1", "createdAt": "t", "updatedAt": "t", "type": "API_SESSION", "expiresAt": "t2",
              "token": "secret"}
    out = leaky.render(None, entity)
    assert out == {"id": "r1", "createdAt": "t", "updatedAt": "t", "tags": {},
                   "_links": {"self": {"href": "./revocations/r1"}}, "type": "SESSION", "expiresAt": "t2"}


def test_a_view_can_leave_a_shown_field_out():
    record = RECORDS[Kind.REVOCATIONS]
    sparse = type(record)(record.kind, record.singular, shown=record.shown,
                          view=lambda ctx, e: {"expiresAt": OMITTED})
    entity = {"id": "r1", "createdAt": "t", "updatedAt": "t", "type": "SESSION", "expiresAt": "t2"}
    out = sparse.render(None, entity)
    assert "expiresAt" not in out and out["type"] == "SESSION"
