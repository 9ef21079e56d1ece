"""Fuzzing the wire layer: frames, channel handshake, edge and control messages, e2e streams."""

from __future__ import annotations

from hypothesis import example, given

from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.frame import Message

from .targets import bounded
from .wire_targets import (
    channel_cases,
    check_channel,
    check_ctrl,
    check_e2e,
    check_edge,
    check_frames,
    ctrl_cases,
    e2e_cases,
    edge_cases,
    frame_cases,
)


@bounded(400)
@given(frame_cases())
def test_frame_decoder_survives_edited_frames_within_its_limits(case):
    check_frames(case)


@bounded(300)
@given(channel_cases())
def test_channel_handshake_survives_edited_peers(case):
    check_channel(case)


@bounded(400)
@given(edge_cases())
def test_edge_parsers_round_trip_and_refuse_wrong_messages(case):
    check_edge(case)


@bounded(400)
@given(ctrl_cases())
@example((Message(CtrlType.REVOCATIONS, body=b"[" * 100_000), None)).via("RecursionError escaped ctrl.parse")
def test_ctrl_messages_round_trip_and_refuse_hostile_bodies(case):
    check_ctrl(case)


@bounded(300)
@given(e2e_cases())
def test_e2e_receiver_opens_exactly_the_unchanged_ciphertexts(case):
    check_e2e(case)
