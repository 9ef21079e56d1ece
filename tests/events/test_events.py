"""Events reach a JSON-lines file sink from a real network: entity changes, sessions, circuits,
routers and links (docs/events.md)."""

from __future__ import annotations

import json

import pytest
from event_flows import dial_once

from ziti_aio.common.errors import ZitiError
from ziti_aio.common.events_config import EVENT_TYPES, EventFileConfig
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network

SECRET_KEYS = {"password", "passwordHash", "hash", "salt", "token", "jwt", "enrollmentJwt", "verificationToken"}


def read_events(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def find(path, namespace: str, **fields) -> list[dict]:
    return [e for e in read_events(path) if e["namespace"] == namespace
            and all(e.get(k) == v for k, v in fields.items())]


def keys_of(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


async def test_every_event_type_reaches_the_file_sink(tmp_path):
    log = tmp_path / "events" / "all.log"
    sink = EventFileConfig(types=EVENT_TYPES, file=log)
    async with open_network(tmp_path / "net", routers=1, events=(sink,)) as net:
        # entityChange: the bootstrap admin and a new identity, without secrets
        ident = await net.create_identity("alice")
        created = await wait_until(
            lambda: [e for e in find(log, "entityChange", entityType="identities", eventType="created")
                     if e["finalState"]["id"] == ident.id], 10, what="alice's entityChange")
        assert created[0]["initialState"] is None and created[0]["finalState"]["name"] == "alice"
        assert created[0]["metadata"]["author"]["id"] and created[0]["eventId"]
        resp = await net.admin.patch(f"/edge/management/v1/identities/{ident.id}", json={"roleAttributes": ["x"]})
        resp.raise_for_status()
        [updated] = await wait_until(
            lambda: [e for e in find(log, "entityChange", entityType="identities", eventType="updated")
                     if e["finalState"]["roleAttributes"] == ["x"]], 10, what="alice's update")
        assert updated["initialState"]["roleAttributes"] == [] and updated["finalState"]["id"] == ident.id
        for event in find(log, "entityChange"):
            assert not keys_of(event) & SECRET_KEYS, event
        assert find(log, "apiSession", event_type="created")
        # router online
        assert find(log, "router", event_type="router-online", router_id=net.routers[0].id, router_online=True)

        # a dial: session created, circuit created then deleted
        async def created() -> None:
            await wait_until(lambda: find(log, "circuit", event_type="created"), 10, what="circuit created")

        await dial_once(net, "alice", "echo", while_open=created)
        await wait_until(lambda: find(log, "circuit", event_type="deleted"), 10, what="circuit deleted")
        [up] = find(log, "circuit", event_type="created")
        [dial_session] = find(log, "session", event_type="created", identity_id=ident.id, session_type="Dial")
        echo_id = (await net.get('services?filter=name="echo"'))[0]["id"]
        # as OpenZiti: client_id is the edge session the circuit was made for, the identities are tags
        assert up["client_id"] == dial_session["id"] and up["path"]["nodes"] == [net.routers[0].id]
        assert up["tags"] == {"clientId": ident.id, "hostId": net.identities["echo-host"].id, "serviceId": echo_id}
        assert list(up["tags"]) == ["clientId", "hostId", "serviceId"]
        assert up["creation_timespan"] > 0 and up["terminator_id"] and up["service_id"] == echo_id
        [down] = find(log, "circuit", event_type="deleted")
        assert down["circuit_id"] == up["circuit_id"] and down["duration"] > 0 and down["tags"] == up["tags"]
        # the host's bind: a terminator, as OpenZiti reports terminators, through entityChange
        [terminator] = [e for e in find(log, "entityChange", entityType="terminators", eventType="created")
                        if e["finalState"]["service"] == echo_id]
        assert terminator["finalState"]["router"] == net.routers[0].id and terminator["finalState"]["id"]
        assert terminator["finalState"]["id"] == up["terminator_id"]

        # a dial of a service nobody hosts: circuit failed, naming the dialer and the service
        dark = await net.create_service("dark")
        await net.allow("alice", "dark", "Dial")
        async with open_context(ident.path) as dialer:
            dialer.use_router_model = False  # a service session, whose id the failed event names
            with pytest.raises(ZitiError):
                await dialer.dial("dark")
        [failed] = await wait_until(lambda: find(log, "circuit", event_type="failed"), 10, what="circuit failed")
        assert failed["failure_cause"] == "NO_TERMINATORS"
        assert failed["service_id"] == dark and failed["tags"] == {"clientId": ident.id, "serviceId": dark}
        dark_session = find(log, "session", event_type="created", identity_id=ident.id, service_id=dark)
        assert failed["client_id"] == dark_session[-1]["id"]
        assert not find(log, "circuit", event_type="deleted", service_id=dark)

        # a second router: a link comes up; stopping it: link fault and router offline
        er2 = await net.add_router("er2")
        await wait_until(lambda: find(log, "link", event_type="routerLinkNew"), 15, what="link up")
        er2.stop()
        await wait_until(lambda: find(log, "router", event_type="router-offline", router_id=er2.id), 15,
                         what="er2 offline")
        await wait_until(lambda: find(log, "link", event_type="fault"), 10, what="link fault")

        # an identity deleted: entityChange deleted with its last state
        resp = await net.admin.delete(f"/edge/management/v1/identities/{ident.id}")
        resp.raise_for_status()
        await wait_until(lambda: [e for e in find(log, "entityChange", eventType="deleted", entityType="identities")
                                  if e["initialState"]["id"] == ident.id], 10, what="alice deleted")
        for event in read_events(log):
            assert event["event_src_id"] and event["timestamp"].endswith("Z")


async def test_a_subscriber_that_never_reads_does_not_slow_the_controller(tmp_path):
    async with open_network(tmp_path, routers=0) as net:
        bus = net.controller.controller.events
        slow = bus.subscribe("never reads", ["entityChange", "alert"], size=2)
        for n in range(5):
            await net.create_identity(f"user{n}", enroll=False)
        assert slow.delivered == 2 and slow.dropped > 0
        lost = slow.dropped
        # the API and the other subscribers carry on; once it reads, it learns what it lost
        first, second = slow.receive_nowait(), slow.receive_nowait()
        assert {first.namespace, second.namespace} == {"entityChange"}
        await net.create_identity("after", enroll=False)
        alert = slow.receive_nowait().to_json()
        assert alert["namespace"] == "alert" and f"dropped={lost}" in alert["details"]
        assert slow.receive_nowait().to_json()["namespace"] == "entityChange"
