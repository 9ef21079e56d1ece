"""The controller's ``ROUTE`` requests (forwarding entries, path changes, the egress dial) and its
``CLOSE_CIRCUIT`` orders.

A route with links on both sides makes this router a transit hop. A route with "" toward the
terminator and a ``dial`` makes this router the circuit's egress: it Dials the hosting SDK of
the terminator and becomes the terminator's end, answering with the host's key. A route for a
circuit whose end is on this router (a path change) replaces the entry and resends whatever
the end has unacknowledged. A route naming a local end this router does not have is ignored,
logged and refused.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from ziti_aio.router.edge.dial import DialRefused, b64
from ziti_aio.router.fabric.forwarder import Route
from ziti_aio.wire import ctrl
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlChannel
    from ziti_aio.router.handlers.parts import RouterParts
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


async def route(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    """Apply a ROUTE (inline in the control channel's reader; the egress dial runs as a task)."""
    data = ctrl.parse(msg)
    circuit_id = ctrl.string(data, "circuitId", max_length=MAX_ID_CHARS)
    entry = Route(ctrl.string(data, "initiatorLink", max_length=MAX_ID_CHARS),
                  ctrl.string(data, "terminatorLink", max_length=MAX_ID_CHARS))
    dial = data.get("dial")
    if isinstance(dial, dict) and not entry.terminator_link and entry.initiator_link:
        parts.nursery.start_soon(_egress, parts, channel, msg, circuit_id, entry, dial)
        return
    end = parts.circuits.linked(circuit_id)
    local_end_expected = not entry.initiator_link or not entry.terminator_link
    if local_end_expected and end is None:
        log.warning("router %s: route update for unknown circuit %s ignored", parts.router_id, circuit_id)
        await channel.answer(ctrl.error_reply(msg, "UNKNOWN_CIRCUIT", f"no circuit {circuit_id} here"))
        return
    if not parts.forwarder.set_route(circuit_id, entry):
        await channel.answer(ctrl.error_reply(msg, "TOO_MANY_ROUTES", "the forwarding table is full"))
        return
    if end is not None:
        end.rerouted()
    await channel.answer(ctrl.reply(msg))


async def _egress(parts: RouterParts, channel: CtrlChannel, msg: Message, circuit_id: str, entry: Route,
                  dial: dict[str, Any]) -> None:
    try:
        terminator_id = ctrl.string(dial, "terminatorId", max_length=MAX_ID_CHARS)
        caller_id = ctrl.string(dial, "callerId", max_length=1024, default="")
        public_key, app_data = _bytes(dial, "publicKey"), _bytes(dial, "appData")
        host_key = await parts.dialer.egress(circuit_id, entry, terminator_id, caller_id, public_key, app_data)
        await channel.answer(ctrl.reply(msg, hostKey=b64(host_key)))
    except DialRefused as exc:
        log.info("router %s: egress dial for circuit %s failed: %s", parts.router_id, circuit_id, exc.reason)
        await channel.answer(ctrl.error_reply(msg, "DIAL_FAILED", exc.reason))
    except WireProtocolError as exc:
        await channel.answer(ctrl.error_reply(msg, "INVALID_ROUTE", exc.message))


async def close_circuit(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    """The controller closed a circuit: drop its route (a linked end drops its own as it finishes)
    and close the end here, without telling the controller back."""
    data = ctrl.parse(msg)
    circuit_id = ctrl.string(data, "id", max_length=MAX_ID_CHARS)
    circuit = parts.circuits.get(circuit_id)
    if parts.circuits.linked(circuit_id) is None:
        parts.forwarder.remove_route(circuit_id)
    if circuit is not None:
        reason = ctrl.string(data, "reason", max_length=1024, default="closed by the controller")
        parts.nursery.start_soon(lambda: circuit.close(reason, notify_ctrl=False))
