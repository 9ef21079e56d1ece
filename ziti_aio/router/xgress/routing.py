"""The controller's ``ROUTE`` requests: forwarding entries, path changes, and the egress dial.

A route with links on both sides makes this router a transit hop. A route with "" toward the
terminator and a ``dial`` makes this router the circuit's egress: it Dials the hosting SDK of
the terminator and becomes the terminator's end, answering with the host's key. A route for a
circuit whose end is on this router (a path change) replaces the entry and resends whatever
the end has unacknowledged. A route naming a local end this router does not have is ignored,
logged and refused.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ChannelError
from ziti_aio.router.forwarder import Route
from ziti_aio.router.xgress.dial import DialFailed, b64, dial_host
from ziti_aio.router.xgress.remote import RemoteEnd
from ziti_aio.wire import ctrl, edge
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.link import TERMINATOR

if TYPE_CHECKING:
    from ziti_aio.router.dataplane import Dataplane
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

MAX_ID_CHARS = 64


def _bytes(data: dict[str, Any], key: str) -> bytes | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return base64.b64decode(ctrl.string(data, key, max_length=16384), validate=True)
    except ValueError as exc:
        raise WireProtocolError(f"route field {key!r} is not base64") from exc


async def handle_route(dataplane: Dataplane, msg: Message) -> None:
    """Apply a ROUTE (inline in the control channel's reader; the egress dial runs as a task)."""
    data = ctrl.parse(msg)
    circuit_id = ctrl.string(data, "circuitId", max_length=MAX_ID_CHARS)
    route = Route(ctrl.string(data, "initiatorLink", max_length=MAX_ID_CHARS),
                  ctrl.string(data, "terminatorLink", max_length=MAX_ID_CHARS))
    dial = data.get("dial")
    if isinstance(dial, dict) and not route.terminator_link and route.initiator_link:
        dataplane.nursery.start_soon(_egress, dataplane, msg, circuit_id, route, dial)
        return
    end = dataplane.forwarder.ends.get(circuit_id)
    local_end_expected = not route.initiator_link or not route.terminator_link
    if local_end_expected and end is None:
        log.warning("router %s: route update for unknown circuit %s ignored", dataplane.router_id, circuit_id)
        await _answer(dataplane, ctrl.error_reply(msg, "UNKNOWN_CIRCUIT", f"no circuit {circuit_id} here"))
        return
    if not dataplane.forwarder.set_route(circuit_id, route):
        await _answer(dataplane, ctrl.error_reply(msg, "TOO_MANY_ROUTES", "the forwarding table is full"))
        return
    if end is not None:
        end.rerouted()
    await _answer(dataplane, ctrl.reply(msg))


async def _egress(dataplane: Dataplane, msg: Message, circuit_id: str, route: Route, dial: dict[str, Any]) -> None:
    try:
        terminator_id = ctrl.string(dial, "terminatorId", max_length=MAX_ID_CHARS)
        caller_id = ctrl.string(dial, "callerId", max_length=1024, default="")
        public_key, app_data = _bytes(dial, "publicKey"), _bytes(dial, "appData")
        bind = dataplane.binds.get(terminator_id)
        if bind is None:
            raise DialFailed(f"terminator {terminator_id} is not on this router")
        if circuit_id in dataplane.circuits:
            raise DialFailed(f"circuit {circuit_id} exists already")
        if public_key is not None and bind.public_key is None:
            raise DialFailed("the service requires end-to-end encryption and its host sent no key")
        answer, new_conn_id = await dial_host(bind, caller_id, public_key, app_data, circuit_id)
        host = bind.sdk.adopt(new_conn_id, bind)
        if host is None:
            raise DialFailed("the hosting application reused a connection id")
        dataplane.forwarder.set_route(circuit_id, route)
        end = RemoteEnd(circuit_id, host, TERMINATOR, dataplane, peer_ready=False)
        end.start()
        await bind.sdk.send_quietly(edge.state_connected(bind.conn_id, reply_for=answer.sequence))
        key = bind.public_key if public_key is not None else None
        await _answer(dataplane, ctrl.reply(msg, hostKey=b64(key)))
    except DialFailed as exc:
        log.info("router %s: egress dial for circuit %s failed: %s", dataplane.router_id, circuit_id, exc.reason)
        await _answer(dataplane, ctrl.error_reply(msg, "DIAL_FAILED", exc.reason))
    except WireProtocolError as exc:
        await _answer(dataplane, ctrl.error_reply(msg, "INVALID_ROUTE", exc.message))


async def _answer(dataplane: Dataplane, reply: Message) -> None:
    channel = dataplane.ctrl.channel if dataplane.ctrl is not None else None
    if channel is not None:
        with contextlib.suppress(ChannelError):
            await channel.send(reply)
