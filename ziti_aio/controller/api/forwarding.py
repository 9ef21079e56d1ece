"""Any member serves the APIs: a follower passes each write request to the leader (docs/ha.md).

Reads are answered from the member's own memory (after Raft's read-index on a member set to
``reads = "linearizable"``: :mod:`ziti_aio.controller.api.linearizable_reads`). A request that may change
something (any method but GET/HEAD/OPTIONS) reaching a member that is not the leader is sent on to the
leader over mTLS with this member's certificate, and the leader's answer is returned as it came — after
this member has applied the log as far as the leader had when it answered, so the client reads its own
write on the member it talks to. A client certificate presented to the follower travels in a header the
leader believes only from a cluster member. A forwarded request is never forwarded again: a member that
is not the leader either answers 503 ``CLUSTER_HAS_NO_LEADER``. The OIDC flow keeps its authorization
requests and refresh tokens in the memory of the member that runs it, so a follower hands on every
``/oidc/`` request, reads included, but the discovery document and the keys.

Without a leader it can reach (an election under way) a follower holds the write for up to two
election timeouts until one is elected, then forwards it (or handles it, if it leads now), instead
of answering 503 at once: a client retrying on every 503 would keep the members too busy to elect
(docs/ha.md, "Failover"). A leader that refuses the connection never saw the request: it is sent
again to the next leader; one that fails after it was sent answers 503 (the write may have committed).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

import httpx
import trio
from cryptography import x509
from quart import Response, request

from ziti_aio.common.errors import ClusterUnavailable
from ziti_aio.controller.api.server import PEER_CERT_DER
from ziti_aio.pki.names import spiffe_uris

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ziti_aio.controller.api.app import ApiContext
    from ziti_aio.controller.cluster.replica import Replica

FORWARDED = "ziti-forwarded-by"
CLIENT_CERT = "ziti-forwarded-client-cert"
APPLIED_INDEX = "ziti-raft-applied-index"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORWARDED_PREFIXES = ("/edge/", "/fabric/", "/oidc/")
OIDC_AT_ANY_MEMBER = ("/oidc/.well-known/", "/oidc/keys")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host", "server",
                        "content-encoding"})
# The leader answers within its commit timeout (5 s); a leader that went silent must not hold the
# client much longer: 503 then, and the next request finds the new leader.
FORWARD_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
LEADER_POLL_S = 0.01


def _member_of(ctx: ApiContext, der: bytes | None) -> str | None:
    """The member id of a verified peer certificate, if it names a current member of ``ctx``'s cluster."""
    if der is None or ctx.cluster is None:
        return None
    prefix = f"spiffe://{ctx.cluster.config.trust_domain}/controller/"
    ids = {m["id"] for m in ctx.cluster.members()}
    for uri in spiffe_uris(x509.load_der_x509_certificate(der)):
        if uri.startswith(prefix) and uri[len(prefix):] in ids:
            return uri[len(prefix):]
    return None


def forwarder(ctx: ApiContext) -> Callable[[], Awaitable[Response | None]]:
    """A ``before_request`` hook: the leader's answer for a follower's write, ``None`` to handle it here."""
    clients: list[httpx.AsyncClient] = []

    async def forward() -> Response | None:
        replica = ctx.cluster
        if replica is None or not request.path.startswith(FORWARDED_PREFIXES):
            return None
        if request.headers.get(FORWARDED) is not None:
            _accept_forwarded(ctx)
            return None
        oidc_flow = request.path.startswith("/oidc/") and not request.path.startswith(OIDC_AT_ANY_MEMBER)
        if (request.method in SAFE_METHODS and not oidc_flow) or replica.writable:
            return None
        if ctx.cluster_ssl is None:
            raise ClusterUnavailable("the cluster has no leader")
        if not clients:
            clients.append(httpx.AsyncClient(verify=ctx.cluster_ssl, timeout=FORWARD_TIMEOUT))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers[FORWARDED] = replica.node_id
        der = PEER_CERT_DER.get()
        if der is not None:
            headers[CLIENT_CERT] = base64.b64encode(der).decode()
        body = await request.get_data()
        deadline = trio.current_time() + 2 * replica.config.timing.election_max
        while True:
            found = await _leader(replica, deadline)
            if found is None:
                return None  # this member leads now
            leader, address = found
            try:
                answer = await clients[0].request(request.method,
                                                  f"https://{address}{request.full_path.rstrip('?')}",
                                                  headers=headers, content=body)
                break
            except httpx.ConnectError:
                await trio.sleep(LEADER_POLL_S)  # it never saw the request: to the next leader
            except httpx.HTTPError as exc:
                raise ClusterUnavailable(f"the leader {leader} did not answer: {exc}") from None
        await _caught_up(ctx, answer.headers.get(APPLIED_INDEX))
        response = Response(answer.content, status=answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in HOP_BY_HOP:
                response.headers[key] = value
        return response

    return forward


async def _leader(replica: Replica, deadline: float) -> tuple[str, str] | None:
    """``None`` once this member may write, or the id and address of a leader it is connected to;
    :class:`ClusterUnavailable` if neither happens by ``deadline``."""
    with trio.move_on_at(deadline):
        while True:
            if replica.writable:
                return None
            leader = replica.leader_id
            row = next((m for m in replica.members() if m["id"] == leader), None)
            if leader is not None and leader != replica.node_id and row is not None and row["connected"]:
                return leader, row["address"]
            await trio.sleep(LEADER_POLL_S)
    raise ClusterUnavailable("the cluster has no leader")


def _accept_forwarded(ctx: ApiContext) -> None:
    """A request a member forwarded: its client certificate (if any) becomes the request's, when the
    connection is a member's (anyone else's header is ignored and the request goes on as its own)."""
    if _member_of(ctx, PEER_CERT_DER.get()) is None:
        return
    encoded = request.headers.get(CLIENT_CERT)
    try:
        PEER_CERT_DER.set(base64.b64decode(encoded, validate=True) if encoded else None)
    except (binascii.Error, ValueError):
        PEER_CERT_DER.set(None)


async def _caught_up(ctx: ApiContext, index: str | None) -> None:
    """Wait (bounded) until this member applied the log as far as the leader had when it answered."""
    if ctx.cluster is None or index is None or not index.isdigit():
        return
    with trio.move_on_after(ctx.model.commit_timeout_s):
        while True:
            if ctx.cluster.applied_index >= int(index):
                return
            await trio.sleep(0.005)


def applied_index_header(ctx: ApiContext, response: Response) -> None:
    """On every member's answer: how far its log was applied (followers wait for it, see above)."""
    if ctx.cluster is not None:
        response.headers[APPLIED_INDEX] = str(ctx.cluster.applied_index)

