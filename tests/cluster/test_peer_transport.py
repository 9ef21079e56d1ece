"""The Raft port refuses strangers and closes a member that breaks the protocol, changing nothing."""

from __future__ import annotations

import struct

import pytest
import trio

from ziti_aio.common.errors import ZitiError
from ziti_aio.controller.cluster.codec import MAX_FRAME_BYTES
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.testing.cluster import local_members, member_pki, writable_leader
from ziti_aio.testing.waiting import wait_until
from ziti_aio.transport import alpn
from ziti_aio.transport.tls import client_context, open_tls


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


BAD_FRAMES = {
    "not json": frame(b"\x80\x03cos\nsystem\n"),
    "unknown type": frame(b'{"type":"exec","term":1}'),
    "term not an int": frame(b'{"type":"response_vote","term":"1"}'),
    "split entry": frame(b'{"type":"append_entries","term":99,"commit_index":0,"transmission":"start","data":"x"}'),
    "regular pickled entry": frame(b'{"type":"append_entries","term":99,"commit_index":0,"prevLogIdx":1,'
                                   b'"prevLogTerm":0,"entries":[[[0,"gASVAAAAAAAAAAA="],2,99]]}'),
    "a command handed to a follower": frame(b'{"type":"apply_command","command":[10,"{}"],"request_id":1}'),
    "oversized": struct.pack(">I", MAX_FRAME_BYTES + 1),
    "read index without its request": frame(b'{"type":"read_index"}'),
    "read index reply of a string index": frame(b'{"type":"read_index_reply","request":1,"index":"9"}'),
    "read round of a boolean term": frame(b'{"type":"read_round","term":true,"round":1}'),
    "read round ack without its round": frame(b'{"type":"read_round_ack","term":1}'),
}


@pytest.mark.parametrize("bad", sorted(BAD_FRAMES))
async def test_a_malformed_frame_closes_that_peer_and_changes_nothing(tmp_path, bad):
    members = local_members(tmp_path, 3)
    async with trio.open_nursery() as nursery:
        for m in members:
            await m.start(nursery)
        leader = await wait_until(lambda: writable_leader(members), 20, what="a leader")
        await leader.model.transact(lambda: Command("t", "t", (Put(Kind.CONFIG_TYPES, {"id": "a", "name": "a"}),)))
        target = next(m for m in members if m is not leader)
        await wait_until(lambda: "a" in target.model.entities[Kind.CONFIG_TYPES], 10)
        term, applied = target.replica.term, target.replica.applied_index
        # the third member's own certificate: a member, so only the protocol can get it closed
        sender = next(m for m in members if m is not leader and m is not target)
        stream = await open_tls("127.0.0.1", target.port, sender.tls.client)
        await stream.send_all(BAD_FRAMES[bad])
        with trio.fail_after(10):
            while await stream.receive_some():
                pass
        assert target.replica.term == term and target.replica.applied_index >= applied
        assert set(target.model.entities[Kind.CONFIG_TYPES]) == {"a"}
        nursery.cancel_scope.cancel()


async def test_a_certificate_from_another_ca_is_refused_in_the_handshake(tmp_path):
    members = local_members(tmp_path, 1)
    member_pki(tmp_path / "other", ["ctrl-1"])  # same id, another CA
    stranger = client_context(ca=str(tmp_path / "pki" / "ca-bundle.pem"), alpn=[alpn.RAFT],
                              cert_chain=str(tmp_path / "other" / "ctrl-1.chain.pem"),
                              key=str(tmp_path / "other" / "ctrl-1.key.pem"))
    async with trio.open_nursery() as nursery:
        await members[0].start(nursery)
        # TLS 1.3: the server's refusal arrives with the first read
        with pytest.raises((ZitiError, trio.BrokenResourceError), match=r"(?i)unknown ca"):
            stream = await open_tls("127.0.0.1", members[0].port, stranger)
            await stream.send_all(b"x")
            await stream.receive_some()
        nursery.cancel_scope.cancel()


async def test_a_certificate_of_a_non_member_is_closed_before_any_message(tmp_path):
    members = local_members(tmp_path, 3)
    members[0].peers = members[0].peers[:1]  # ctrl-3 has a certificate of this CA but is no member
    async with trio.open_nursery() as nursery:
        await members[0].start(nursery)
        stream = await open_tls("127.0.0.1", members[0].port, members[2].tls.client)
        await stream.send_all(frame(b'{"type":"request_vote","term":50,"last_log_index":9,"last_log_term":9}'))
        with trio.fail_after(10):
            while await stream.receive_some():
                pass
        assert members[0].replica.term < 50
        nursery.cancel_scope.cancel()
