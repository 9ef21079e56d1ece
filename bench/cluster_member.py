"""One replicated model (store, model, Raft replica; no HTTP) in a process of its own, for
``cluster_bench.py``'s ``cluster_member_process_writes_per_s``: three of these are a cluster whose
members do not share an interpreter. The one that leads runs the writers for the window, prints
``rate <writes/s>`` and keeps serving until it is terminated; the others only serve.

``python -m bench.cluster_member SPEC.json NODE_ID WARMUP_S WINDOW_S`` (the spec: the PKI directory
made by :func:`ziti_aio.testing.cluster.member_pki`, and every member's id, home and port).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio

from bench.common import CONCURRENCY
from bench.store_bench import _session_write
from ziti_aio.testing.cluster import LocalMember, MemberTls
from ziti_aio.testing.waiting import wait_until
from ziti_aio.transport import alpn
from ziti_aio.transport.tls import client_context, server_context

ELECTION_WAIT_S = 60


def member_tls(pki: Path, node_id: str) -> MemberTls:
    """The TLS contexts of ``node_id`` from the files :func:`member_pki` wrote."""
    bundle, chain, key = pki / "ca-bundle.pem", pki / f"{node_id}.chain.pem", pki / f"{node_id}.key.pem"
    return MemberTls(server_context(cert_chain=str(chain), key=str(key), client_ca=str(bundle), alpn=[alpn.RAFT]),
                     client_context(ca=str(bundle), cert_chain=str(chain), key=str(key), alpn=[alpn.RAFT]))


async def serve(spec: dict, node_id: str, warmup_s: float, window_s: float) -> None:
    everyone = [(m["id"], f"127.0.0.1:{m['port']}") for m in spec["members"]]
    me = next(m for m in spec["members"] if m["id"] == node_id)
    member = LocalMember(node_id, Path(me["home"]), me["port"], member_tls(Path(spec["pki"]), node_id),
                         tuple(p for p in everyone if p[0] != node_id))
    async with trio.open_nursery() as nursery:
        await member.start(nursery)
        assert member.replica is not None and member.model is not None
        replica, model = member.replica, member.model
        await wait_until(lambda: replica.leader_id is not None, ELECTION_WAIT_S, what="a leader")
        if not replica.is_leader:
            await trio.sleep_forever()
        await wait_until(lambda: replica.writable, ELECTION_WAIT_S, what="the leader writable")
        done = 0

        async def writer() -> None:
            nonlocal done
            while True:
                await model.transact(_session_write)
                done += 1

        async with trio.open_nursery() as writers:
            for _ in range(CONCURRENCY):
                writers.start_soon(writer)
            await trio.sleep(warmup_s)
            start, before = trio.current_time(), done
            await trio.sleep(window_s)
            print(f"rate {(done - before) / (trio.current_time() - start)}", flush=True)
            writers.cancel_scope.cancel()
        await trio.sleep_forever()


def main() -> None:
    spec_file, node_id, warmup_s, window_s = sys.argv[1:5]
    trio.run(serve, json.loads(Path(spec_file).read_text()), node_id, float(warmup_s), float(window_s))


if __name__ == "__main__":
    main()
