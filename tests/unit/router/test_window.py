"""End-to-end flow-control windows of multi-hop circuits (router/fabric/window.py)."""

from __future__ import annotations

from ziti_aio.router.fabric.window import SLACK_BYTES, ReceiveWindow, SendWindow
from ziti_aio.wire.link import Payload


def payload(seq: int, size: int) -> Payload:
    return Payload("c1", 0, seq, bytes(size))


def test_receiver_takes_payloads_in_order_only():
    window = ReceiveWindow(window_bytes=1000)
    assert window.receive(payload(0, 10))
    assert not window.receive(payload(0, 10)), "a duplicate"
    assert not window.receive(payload(2, 10)), "a gap"
    assert window.receive(payload(1, 10))
    assert (window.next_seq, window.buffered) == (2, 20)


def test_a_payload_larger_than_the_slack_is_taken_while_the_buffer_has_room():
    window = ReceiveWindow(window_bytes=1000)
    big = 4 * SLACK_BYTES  # an SDK's Data may be as long as a frame
    assert window.receive(payload(0, big))
    assert not window.receive(payload(1, 1)), "the buffer is past window + slack"
    taken = window.take()
    assert taken is not None
    window.delivered(taken)
    assert window.receive(payload(1, big))


def test_sender_stops_at_the_window_and_resumes_on_acks():
    window = SendWindow(window_bytes=100)
    for size in (60, 60):
        assert window.can_send()
        window.sent(payload(window.take_seq(), size))
    assert not window.can_send()
    assert window.on_ack(1, buffered=0)
    assert window.can_send()
    assert not window.on_ack(0, buffered=0), "a stale ack"
    assert window.unacked_bytes == 60
