"""Each event type's JSON keys are OpenZiti's (controller/event/*.go in openziti/ziti), so its consumers read
ours; the only keys left out are the session tokens (docs/events.md)."""

from __future__ import annotations

import json
import re

import pytest

from ziti_aio.controller.events.types import (
    ApiSessionEvent,
    CircuitEvent,
    LinkEvent,
    RouterEvent,
    ServiceEvent,
    SessionEvent,
    UsageEvent,
    circuit_body,
    encode,
)

ENVELOPE = {"namespace", "event_src_id", "timestamp"}

CASES = [
    (RouterEvent(router_id="r", online=True), "router",
     {"event_type", "router_id", "router_online"}),
    (LinkEvent(event_type="fault", link_id="l", src_router_id="a", dst_router_id="b", dial_address="tls:h:1"), "link",
     {"event_type", "link_id", "src_router_id", "dst_router_id", "protocol", "dial_address", "cost"}),
    (SessionEvent(event_type="created", id="s", session_type="Dial", api_session_id="a", identity_id="i",
                  service_id="v"), "session",
     {"event_type", "session_type", "id", "api_session_id", "identity_id", "service_id"}),  # no token
    (ApiSessionEvent(event_type="created", id="a", identity_id="i"), "apiSession",
     {"event_type", "id", "type", "identity_id", "ip_address", "cert_generated"}),  # no token
    (UsageEvent(source_id="r", circuit_id="c", usage={"ingress.rx": 1}, interval_start_utc=1, interval_length=60),
     "usage", {"version", "source_id", "circuit_id", "usage", "interval_start_utc", "interval_length", "tags"}),
    (ServiceEvent(event_type="service.dial.success", service_id="v", terminator_id="t", count=1,
                  interval_start_utc=1, interval_length=60), "service",
     {"version", "event_type", "terminator_id", "service_id", "count", "interval_start_utc", "interval_length"}),
    (CircuitEvent("deleted", circuit_body("c", "i", "v", terminator_id="t", session_id="s", host_id="h", nodes=("r",)),
                  duration_ns=5), "circuit",
     {"version", "event_type", "circuit_id", "client_id", "service_id", "terminator_id", "instance_id", "path",
      "link_count", "duration", "tags"}),
]


@pytest.mark.parametrize(("event", "namespace", "keys"), CASES, ids=[c[1] for c in CASES])
def test_keys_are_openzitis(event, namespace, keys):
    body = event.to_json()
    assert body["namespace"] == namespace
    assert set(body) == ENVELOPE | keys
    # what the sinks write is that object, with an RFC 3339 UTC timestamp to the microsecond
    assert json.loads(event.encoded()) == json.loads(json.dumps(body))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["timestamp"])


def test_a_circuit_names_its_session_and_tags_its_identities():
    parts = circuit_body("c", "alice", "svc", terminator_id="t", session_id="sess", host_id="bob", nodes=("r1", "r2"),
                         links=("l1",))
    body = CircuitEvent("created", parts, creation_timespan_ns=7).to_json()
    assert body["client_id"] == "sess"
    assert body["tags"] == {"clientId": "alice", "hostId": "bob", "serviceId": "svc"}
    assert body["path"] == {"nodes": ["r1", "r2"], "links": ["l1"], "ingress_id": "", "egress_id": ""}
    assert (body["link_count"], body["creation_timespan"], body["version"]) == (1, 7, 2)


def test_keys_that_are_not_strings_are_encoded_as_strings():
    assert encode({1: "x", "when": ...}) == b'{"1":"x","when":"Ellipsis"}'


@pytest.mark.parametrize(("host", "extra"), [
    ("bob", {"event_type": "created", "creation_timespan_ns": 7}),
    ("", {"event_type": "deleted", "duration_ns": 5}),
    ("", {"event_type": "failed", "failure_cause": 'NO_TERMINATORS "\u00e9"'}),
    ("", {"event_type": "pathUpdated"}),
    ("", {"event_type": "created", "duration_ns": 5}),  # a type with another's member takes the general path
    ("", {"event_type": "odd\"type", "creation_timespan_ns": 1, "duration_ns": 2, "failure_cause": "x"})],
    ids=["created", "deleted", "failed", "pathUpdated", "mixed", "every-option"])
def test_a_circuit_events_spliced_json_is_the_objects_encoding(host, extra):
    # the circuit event's JSON is spliced from prebuilt parts (docs/events.md, "Cost"): byte for byte it is the
    # encoding of the object with OpenZiti's keys in its order
    body = circuit_body("c", "alice", "svc", terminator_id="t", session_id="sess", host_id=host, nodes=("r1", "r2"),
                        links=("l1",))
    event = CircuitEvent(body=body, event_src_id='ctrl "1" 100%s', **extra)
    tags = {"clientId": "alice", "hostId": "bob", "serviceId": "svc"} if host else {
        "clientId": "alice", "serviceId": "svc"}
    expected = {"namespace": "circuit", "event_src_id": 'ctrl "1" 100%s', "timestamp": event.timestamp,
                "version": 2, "event_type": event.event_type, "circuit_id": "c", "client_id": "sess",
                "service_id": "svc", "terminator_id": "t", "instance_id": "",
                "path": {"nodes": ["r1", "r2"], "links": ["l1"], "ingress_id": "", "egress_id": ""},
                "link_count": 1, "tags": tags}
    for key, value in (("creation_timespan", event.creation_timespan_ns), ("duration", event.duration_ns),
                       ("failure_cause", event.failure_cause)):
        if value is not None:
            expected[key] = value
    assert event.encoded() == json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
    assert event.to_json() == expected


def test_circuits_of_one_session_and_path_share_their_bodies_but_their_ids():
    # what follows circuit_id is encoded once for every circuit made of the same parts (docs/events.md, "Cost")
    first = circuit_body("c1", "alice", "svc", terminator_id="t", session_id="sess", nodes=("r1",))
    second = circuit_body('c"2', "alice", "svc", terminator_id="t", session_id="sess", nodes=("r1",))
    other = circuit_body("c1", "alice", "svc", terminator_id="t", session_id="sess", nodes=("r2",))
    assert json.loads(b"{%s}" % second)["circuit_id"] == 'c"2'
    assert first.split(b",", 1)[1] == second.split(b",", 1)[1] != other.split(b",", 1)[1]


def test_a_timestamp_is_its_time_to_the_microsecond():
    event = RouterEvent(router_id="r", online=True, at_ns=1_764_700_000_123_456_789)
    assert event.timestamp == "2025-12-02T18:26:40.123456Z"
    assert json.loads(event.encoded())["timestamp"] == event.timestamp
