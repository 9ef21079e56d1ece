"""The router model from the controller (docs/router-model.md): a snapshot after every (re)connect,
then numbered events. A gap in the numbering, or a message that does not parse, is dropped and a
snapshot asked for; whatever a change takes away is closed at once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ziti_aio.wire import ctrl
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlChannel
    from ziti_aio.router.handlers.parts import RouterParts
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)


async def model_snapshot(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    try:
        changed = parts.tokens.model.take_snapshot_part(ctrl.parse(msg))
    except WireProtocolError as exc:
        log.warning("router %s: dropped a router model snapshot part: %s", parts.router_id, exc)
        await _ask_snapshot(parts, channel)
        return
    if changed is not None:
        log.info("router %s: router model at index %d, %d identities", parts.router_id,
                 parts.tokens.model.index, len(parts.tokens.model.identities))
        parts.nursery.start_soon(parts.sdks.enforce_model, changed)


async def model_event(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    model = parts.tokens.model
    try:
        changed = model.take_event(ctrl.parse(msg))
    except WireProtocolError as exc:
        log.warning("router %s: dropped a router model event: %s", parts.router_id, exc)
        changed = None
    if changed is None:
        await _ask_snapshot(parts, channel)
        return
    parts.nursery.start_soon(parts.sdks.enforce_model, changed)


async def _ask_snapshot(parts: RouterParts, channel: CtrlChannel) -> None:
    """Ask once; the snapshot resets the flag (a reconnect brings one anyway)."""
    model = parts.tokens.model
    if model.asked:
        return
    model.asked = True
    log.info("router %s: router model out of step at index %d; asking for a snapshot", parts.router_id,
             model.index)
    await channel.send(ctrl.CtrlType.MODEL_SNAPSHOT_REQUEST, index=model.index)


async def follow(parts: RouterParts, channel: CtrlChannel) -> None:
    """The controller the router model came from is gone: take the whole model from ``channel``'s
    (each controller numbers its events on its own, docs/ha.md)."""
    parts.tokens.model.asked = False
    await _ask_snapshot(parts, channel)
