"""Identities for a Dial/Bind pair on a new service."""

from __future__ import annotations


async def host_and_dialer(net, service: str, *, encrypted: bool):
    """Identities ``host`` (Bind) and ``dialer`` (Dial) for a new ``service``; returns their files."""
    await net.create_service(service, encryption_required=encrypted)
    host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
    await net.allow("host", service, "Bind")
    await net.allow("dialer", service, "Dial")
    return host.path, dialer.path
