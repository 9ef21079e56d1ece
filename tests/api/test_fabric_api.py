"""The Fabric API (``/fabric/v1``) against OpenZiti's ``fabric.yml``, and what its operations do.

The sweep calls every operation of the file on seeded ids with a valid body and checks that exactly the
implemented ones answer, each with a body of its declared schema; a live network covers what only
running routers fill in (links, circuits) and shows that deleting a circuit ends an SDK's connection.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import pytest
import trio

from ziti_aio.common.api_paths import FABRIC, MANAGEMENT
from ziti_aio.sdk.context import open_context
from ziti_aio.testing.controller import create
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until

from .openapi import body_problems, needs_fabric_openapi, operation, schema

FILE = "fabric.yml"
# What a controller alone answers (links and circuits by id need a running network: see the live test).
ANSWERED = frozenset({
    "GET /services", "POST /services", "GET /services/{id}", "PUT /services/{id}", "PATCH /services/{id}",
    "DELETE /services/{id}", "GET /services/{id}/terminators",
    "GET /routers", "POST /routers", "GET /routers/{id}", "PUT /routers/{id}", "PATCH /routers/{id}",
    "DELETE /routers/{id}", "GET /routers/{id}/terminators",
    "GET /terminators", "POST /terminators", "GET /terminators/{id}", "PUT /terminators/{id}",
    "PATCH /terminators/{id}", "DELETE /terminators/{id}",
    "GET /links", "DELETE /links/{id}", "GET /circuits", "POST /inspections",
    "POST /database", "POST /database/snapshot", "POST /database/check-data-integrity",
    "POST /database/fix-data-integrity", "GET /database/data-integrity-results", "GET /cluster/list-members",
})
LIVE = frozenset({"GET /links/{id}", "PATCH /links/{id}", "DELETE /links/{id}", "GET /circuits/{id}",
                  "DELETE /circuits/{id}"})
# Every controller is a cluster of one (docs/ha.md): the bodies name no member it could reach (add-member:
# a 400 naming the address) or has (remove-member, transfer-leadership: 404), changing nothing.
REFUSED = frozenset({"POST /cluster/add-member"})
UNKNOWN_MEMBER = frozenset({"POST /cluster/remove-member", "POST /cluster/transfer-leadership"})


async def _seed(admin: Any) -> dict[str, str]:
    service = await create(admin, "services", {"name": "fab-service"})
    router = await create(admin, "transit-routers", {"name": "fab-router"})
    terminator = await create(admin, "terminators", {"service": service, "router": router, "binding": "transport",
                                                      "address": "tcp:127.0.0.1:1"})
    return {"services": service, "routers": router, "terminators": terminator}


def _bodies(ids: dict[str, str]) -> dict[str, Any]:
    """A valid body per write, keyed ``METHOD /path``."""
    terminator = {"service": ids["services"], "router": ids["routers"], "binding": "transport",
                  "address": "tcp:127.0.0.1:2"}
    return {
        "POST /services": {"name": "fab-created-service", "terminatorStrategy": "weighted"},
        "PUT /services/{id}": {"name": "fab-service", "terminatorStrategy": "smartrouting", "maxIdleTimeMillis": 0},
        "PATCH /services/{id}": {"tags": {"fabric": True}},
        "POST /routers": {"id": "fab-wished-id", "name": "fab-created-router", "cost": 3, "noTraversal": False},
        "PUT /routers/{id}": {"name": "fab-router", "fingerprint": "", "cost": 1, "noTraversal": False},
        "PATCH /routers/{id}": {"cost": 2},
        "POST /terminators": terminator,
        "PUT /terminators/{id}": {**terminator, "address": "tcp:127.0.0.1:3"},
        "PATCH /terminators/{id}": {"cost": 10},
        "POST /inspections": {"appRegex": ".*", "requestedValues": ["stackdump"]},
        "POST /database/snapshot": {"path": "sweep-snapshot"},
        "PATCH /links/{id}": {"staticCost": 5},
        "POST /cluster/add-member": {"address": "tls:127.0.0.1:1", "isVoter": True},
        "POST /cluster/remove-member": {"id": "other-controller"},
        "POST /cluster/transfer-leadership": {"newLeaderId": "other-controller"},
    }


@needs_fabric_openapi
async def test_every_fabric_operation_answers_its_schema(controller, admin):
    ids = await _seed(admin)
    # Deletes act on entities of their own, so the other operations keep theirs.
    doomed = {"services": await create(admin, "services", {"name": "fab-doomed"}),
              "routers": await create(admin, "transit-routers", {"name": "fab-doomed-router"}),
              "terminators": await create(admin, "terminators", {"service": ids["services"], "router": ids["routers"],
                                                                 "binding": "transport", "address": "tcp:127.0.0.1:9"})}
    bodies = _bodies(ids)
    answered, refused, problems = set(), set(), []
    ops = [r.ok() for r in schema(FILE).get_all_operations()]
    for op in sorted(ops, key=lambda op: (op.method.upper() == "DELETE", op.path)):
        label = f"{op.method.upper()} {op.path}"
        collection = op.path.split("/")[1]
        ident = (doomed if op.method.upper() == "DELETE" else ids).get(collection, "unknown-id")
        resp = await admin.request(op.method.upper(), FABRIC + op.path.replace("{id}", ident),
                                   json=bodies.get(label))
        if resp.status_code == 404 and label not in ANSWERED:
            continue
        assert resp.status_code < 500, f"{label}: {resp.status_code} {resp.text}"
        if 200 <= resp.status_code < 300:
            answered.add(label)
            problems += body_problems(op, resp)
        elif label in REFUSED and 400 <= resp.status_code < 500 and resp.json()["error"]["code"]:
            refused.add(label)
        else:
            problems.append(f"{label}: {resp.status_code} {resp.text[:200]}")
    assert answered == ANSWERED, f"answered {sorted(answered - ANSWERED)}, not {sorted(ANSWERED - answered)}"
    assert refused == REFUSED
    assert not problems, "\n".join(problems)
    assert len(ops) == 37 and len(ANSWERED | LIVE | REFUSED | UNKNOWN_MEMBER) == 37, "every operation answers"


async def test_fabric_routers_and_services_are_the_edge_ones(controller, admin):
    ids = await _seed(admin)
    routers = (await admin.get(f"{FABRIC}/routers", params={"filter": 'name="fab-router"'})).json()
    assert [r["id"] for r in routers["data"]] == [ids["routers"]] and routers["meta"]["pagination"]["totalCount"] == 1
    assert routers["data"][0]["connected"] is False
    resp = await admin.patch(f"{FABRIC}/routers/{ids['routers']}", json={"cost": 7, "noTraversal": True})
    assert resp.status_code == 200, resp.text
    edge = (await admin.get(f"{MANAGEMENT}/transit-routers/{ids['routers']}")).json()["data"]
    assert (edge["cost"], edge["noTraversal"]) == (7, True), "a fabric update changes the router itself"
    listed = (await admin.get(f"{FABRIC}/services/{ids['services']}/terminators")).json()["data"]
    assert [t["id"] for t in listed] == [ids["terminators"]]
    assert (await admin.get(f"{FABRIC}/routers/{ids['routers']}/terminators")).json()["data"][0]["address"] == \
        "tcp:127.0.0.1:1"


async def test_a_fabric_put_replaces_only_the_fabric_fields(controller, admin):
    ids = await _seed(admin)
    router = await create(admin, "edge-routers", {"name": "fab-edge", "roleAttributes": ["east"], "cost": 9,
                                                  "isTunnelerEnabled": True})
    service = await create(admin, "services", {"name": "fab-encrypted", "roleAttributes": ["web"],
                                               "encryptionRequired": False, "maxIdleTimeMillis": 5})
    for path, body in ((f"/routers/{router}", {"name": "fab-edge-2", "noTraversal": True}),
                       (f"/routers/{ids['routers']}", {"name": "fab-router-2", "tags": {"k": "v"}}),
                       (f"/services/{service}", {"name": "fab-encrypted-2"})):
        resp = await admin.put(FABRIC + path, json=body)
        assert resp.status_code == 200, resp.text
    edge = (await admin.get(f"{MANAGEMENT}/edge-routers/{router}")).json()["data"]
    assert (edge["name"], edge["noTraversal"], edge["cost"]) == ("fab-edge-2", True, 0)
    assert edge["roleAttributes"] == ["east"] and edge["isTunnelerEnabled"] is True
    transit = (await admin.get(f"{MANAGEMENT}/transit-routers/{ids['routers']}")).json()["data"]
    assert transit["name"] == "fab-router-2" and transit["tags"]["k"] == "v", "still a transit router"
    svc = (await admin.get(f"{MANAGEMENT}/services/{service}")).json()["data"]
    assert (svc["name"], svc["maxIdleTimeMillis"], svc["encryptionRequired"], svc["roleAttributes"]) == \
        ("fab-encrypted-2", 0, False, ["web"])
    resp = await admin.put(f"{FABRIC}/services/{service}", json={"terminatorStrategy": "random"})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "name"


@pytest.mark.parametrize("path, body", [
    ("/routers", {"name": "fab-bad", "cost": 0, "noTraversal": False, "fingerprint": "ab:cd"}),
    ("/routers", {"name": "fab-bad", "cost": 70000, "noTraversal": False}),
    ("/services", {"name": "fab-bad", "encryptionRequired": "yes"}),
    ("/terminators", {"service": "nope", "router": "nope", "binding": "transport", "address": "tcp:x:1"}),
    ("/inspections", {"appRegex": 1}),
    ("/database/snapshot", {"path": "../escape"}),
    ("/database/snapshot", {"path": "/etc/passwd"}),
])
async def test_bad_fabric_bodies_are_refused_and_change_nothing(controller, admin, path, body):
    before = {kind: (await admin.get(f"{FABRIC}/{kind}")).json()["meta"]["pagination"]["totalCount"]
              for kind in ("routers", "services", "terminators")}
    resp = await admin.post(FABRIC + path, json=body)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]["code"]
    after = {kind: (await admin.get(f"{FABRIC}/{kind}")).json()["meta"]["pagination"]["totalCount"]
             for kind in ("routers", "services", "terminators")}
    assert after == before
    assert not (controller.home / "snapshots").exists() or not any((controller.home / "snapshots").iterdir())


async def test_a_snapshot_is_a_sqlite_copy_with_the_same_entities(controller, admin):
    ids = await _seed(admin)
    resp = await admin.post(f"{FABRIC}/database/snapshot", json={"path": "before-upgrade"})
    assert resp.status_code == 200, resp.text
    path = resp.json()["data"]["path"]
    assert path == str(controller.home / "snapshots" / "before-upgrade")
    again = await admin.post(f"{FABRIC}/database/snapshot", json={"path": "before-upgrade"})
    assert again.status_code == 400, "a snapshot is never overwritten"
    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {(kind, ident) for kind, ident in copy.execute("SELECT kind, id FROM entities")}
    finally:
        copy.close()
    assert {("services", ids["services"]), ("edge-routers", ids["routers"]),
            ("terminators", ids["terminators"])} <= stored
    original = sqlite3.connect(controller.home / "ctrl.db")
    try:
        assert stored == set(original.execute("SELECT kind, id FROM entities"))
    finally:
        original.close()
    assert (await admin.post(f"{FABRIC}/database")).status_code == 200
    assert len(list((controller.home / "snapshots").iterdir())) == 2
    assert (await admin.post(f"{FABRIC}/database/check-data-integrity")).status_code == 202
    results = (await admin.get(f"{FABRIC}/database/data-integrity-results")).json()["data"]
    assert results["results"] == [] and results["inProgress"] is False


async def test_only_an_admin_may_snapshot(controller, admin):
    user = await create(admin, "identities", {"name": "fab-user", "type": "User", "isAdmin": False,
                                              "permissions": ["router", "service"]})
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "fab-user",
                                           "password": "fab-user-password"})
    async with controller.client() as anon:
        assert (await anon.post(f"{FABRIC}/database/snapshot", json={"path": "anon"})).status_code == 401
    async with await controller.login("fab-user", "fab-user-password") as operator:
        assert (await operator.get(f"{FABRIC}/routers")).status_code == 200, "a router permission reads routers"
        for path in ("/database/snapshot", "/database", "/inspections"):
            resp = await operator.post(FABRIC + path, json={"path": "mine"} if path.endswith("snapshot") else None)
            assert resp.status_code == 401 and resp.json()["error"]["code"] == "UNAUTHORIZED", f"{path}: {resp.text}"
    assert not (controller.home / "snapshots").exists()


async def test_a_live_network_through_the_fabric_api(tmp_path):
    """Links and circuits by id, and deleting a circuit ends the SDK's connection."""
    async with open_network(tmp_path, routers=2) as net:
        admin = net.admin
        await net.create_identity("host")
        await net.create_identity("dialer")
        service = await net.create_service("svc")
        await net.allow("host", "svc", "Bind")
        await net.allow("dialer", "svc", "Dial")

        async def one_link() -> list[dict] | None:
            found = (await admin.get(f"{FABRIC}/links")).json()["data"]
            return found or None

        [link] = await wait_until(one_link, 20, what="the routers' link")
        answers = [("GET", "/links", await admin.get(f"{FABRIC}/links")),
                   ("GET", "/links/{id}", await admin.get(f"{FABRIC}/links/{link['id']}")),
                   ("PATCH", "/links/{id}", await admin.patch(f"{FABRIC}/links/{link['id']}", json={"staticCost": 4}))]
        async with open_context(net.identities["host"].path) as host, \
                open_context(net.identities["dialer"].path) as dialer:
            listener = await host.bind("svc")
            async with trio.open_nursery() as nursery:
                accepted = []

                async def accept() -> None:
                    accepted.append(await listener.accept())
                nursery.start_soon(accept)
                stream = await dialer.dial("svc")
            await stream.send_all(b"hello")
            assert await accepted[0].receive_some() == b"hello"
            [circuit] = (await admin.get(f"{FABRIC}/circuits")).json()["data"]
            assert circuit["service"]["id"] == service
            answers += [("GET", "/circuits", await admin.get(f"{FABRIC}/circuits")),
                        ("GET", "/circuits/{id}", await admin.get(f"{FABRIC}/circuits/{circuit['id']}")),
                        ("GET", "/routers", await admin.get(f"{FABRIC}/routers")),
                        ("GET", "/services/{id}/terminators",
                         await admin.get(f"{FABRIC}/services/{service}/terminators"))]
            routers = answers[-2][2].json()["data"]
            assert all(r["connected"] for r in routers) and len(routers) == 2
            assert answers[-1][2].json()["data"], "the host's terminator"
            answers.append(("DELETE", "/circuits/{id}", await admin.delete(f"{FABRIC}/circuits/{circuit['id']}")))
            with trio.fail_after(10):
                for end in (stream, accepted[0]):
                    with contextlib.suppress(trio.BrokenResourceError):
                        assert await end.receive_some() == b"", "no more data after the circuit is gone"
            assert (await admin.get(f"{FABRIC}/circuits")).json()["data"] == []
        assert (await admin.get(f"{FABRIC}/links/{link['id']}")).json()["data"]["staticCost"] == 4
        answers.append(("DELETE", "/links/{id}", await admin.delete(f"{FABRIC}/links/{link['id']}")))
        assert (await admin.get(f"{FABRIC}/links/{link['id']}")).status_code == 404

        async def relinked() -> list[dict] | None:
            found = await one_link()
            return found if found and found[0]["id"] != link["id"] else None

        [again] = await wait_until(relinked, 20, what="the routers to link again")
        assert {again["sourceRouter"]["id"], again["destRouter"]["id"]} == \
            {link["sourceRouter"]["id"], link["destRouter"]["id"]}
        for r in net.routers:
            assert link["id"] not in r.router.parts.links.links, "the routers closed the deleted link"
    for method, path, resp in answers:
        assert 200 <= resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
    if needs_fabric_openapi.args[0]:
        return
    problems = [p for method, path, resp in answers for p in body_problems(operation(FILE, method, path), resp)]
    assert not problems, "\n".join(problems)
