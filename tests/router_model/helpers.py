"""What the router model's tests share: the two parties, an echo host, and the models to compare."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ziti_aio.testing.controller import MANAGEMENT

if TYPE_CHECKING:
    from ziti_aio.controller.network.router_model import RouterModelFeed
    from ziti_aio.router.handlers.parts import RouterParts
    from ziti_aio.router.state.access_model import AccessModel
    from ziti_aio.testing.network import RunningNetwork, RunningRouter

PAYLOAD = b"authorized by the router"


async def echo(listener) -> None:  # type: ignore[no-untyped-def]
    while True:
        async with await listener.accept() as stream:
            try:
                while data := await stream.receive_some():
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass


async def pair(net: RunningNetwork) -> dict[str, str]:
    """Service ``svc``, identity ``host`` (Bind) and ``dialer`` (Dial, through attribute ``dialers``)."""
    ids = {"svc": await net.create_service("svc", encryption_required=True)}
    ids["host"] = (await net.create_identity("host")).id
    ids["dialer"] = (await net.create_identity("dialer", attributes=("dialers",))).id
    ids["bind"] = await net.allow("host", "svc", "Bind")
    resp = await net.admin.post(f"{MANAGEMENT}/service-policies", json={
        "name": "dialers-dial-svc", "type": "Dial", "identityRoles": ["#dialers"],
        "serviceRoles": ["@" + ids["svc"]]})
    resp.raise_for_status()
    ids["dial"] = resp.json()["data"]["id"]
    return ids


def feed(net: RunningNetwork) -> RouterModelFeed:
    network = net.controller.controller.network
    assert network is not None
    return network.router_model


def parts(router: RunningRouter) -> RouterParts:
    assert router.router.parts is not None
    return router.router.parts


def model(router: RunningRouter) -> AccessModel:
    return parts(router).tokens.model


def _checks(checks: dict[str, tuple[frozenset[str], ...]]) -> dict[str, list[list[str]]]:
    return {s: [sorted(p) for p in policies] for s, policies in sorted(checks.items())}


def in_step(net: RunningNetwork, router: RunningRouter) -> bool:
    """The router's model is the controller's, at the same index."""
    m, f = model(router), feed(net)
    return m.ready and m.index == f.index and {
        k: {"name": v.name, "disabled": v.disabled, "dial": sorted(v.dial), "bind": sorted(v.bind),
            **({"dialChecks": _checks(v.dial_checks)} if v.dial_checks else {}),
            **({"bindChecks": _checks(v.bind_checks)} if v.bind_checks else {})}
        for k, v in m.identities.items()} == f.view and {
        k: {"identityId": v.identity_id, "passing": sorted(v.passing)} for k, v in m.postures.items()} == f.postures
