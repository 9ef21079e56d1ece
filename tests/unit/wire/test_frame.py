"""Channel v2 framing: exact bytes, incremental decoding, limits checked before buffering."""

from __future__ import annotations

import itertools
import random
import struct
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ziti_aio.common.errors import ProtocolError
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import (
    MAGIC,
    MAX_BODY_BYTES,
    MAX_HEADERS_BYTES,
    VIEW_MIN_BODY_BYTES,
    FrameDecoder,
    Message,
    decode_headers,
    encode,
)

# Built by hand from docs/wire.md §1: content type 2, seq 5, headers {1: 07 00 00 00}, body "ok".
RESULT_FRAME = bytes.fromhex(
    "03 06 09 0c 02 00 00 00 05 00 00 00 0c 00 00 00 02 00 00 00"
    "01 00 00 00 04 00 00 00 07 00 00 00"
    "6f 6b"
)


def prefix(content_type: int = 0, seq: int = 0, headers_len: int = 0, body_len: int = 0) -> bytes:
    return MAGIC + struct.pack("<iiII", content_type, seq, headers_len, body_len)


def entry(header_id: int, value: bytes, length: int | None = None) -> bytes:
    return struct.pack("<ii", header_id, len(value) if length is None else length) + value


def decode_all(data: bytes, cuts: list[int] | None = None, **limits: int) -> list[Message]:
    decoder = FrameDecoder(**limits)
    out: list[Message] = []
    edges = [0, *(cuts or []), len(data)]
    for start, end in itertools.pairwise(edges):
        decoder.receive_data(data[start:end])
        while (msg := decoder.next_message()) is not None:
            out.append(msg)
    assert decoder.buffered_bytes == 0
    return out


def test_encode_writes_the_v2_layout_byte_for_byte():
    msg = Message(content_type=2, sequence=5, headers={1: b"\x07\x00\x00\x00"}, body=b"ok")
    assert encode(msg) == RESULT_FRAME


def test_negative_sequence_and_large_content_type_are_little_endian_int32():
    frame = encode(Message(content_type=108002, sequence=-1))
    assert frame == MAGIC + bytes.fromhex("e2 a5 01 00 ff ff ff ff 00 00 00 00 00 00 00 00")


def test_decoding_the_hand_built_frame_gives_the_message():
    assert decode_all(RESULT_FRAME) == [Message(2, 5, {1: b"\x07\x00\x00\x00"}, b"ok")]


def test_header_order_on_the_wire_does_not_matter():
    forward = prefix(60786, 1, 24, 1) + entry(1000, b"\x03\x00\x00\x00") + entry(1001, b"\x02\x00\x00\x00") + b"x"
    backward = prefix(60786, 1, 24, 1) + entry(1001, b"\x02\x00\x00\x00") + entry(1000, b"\x03\x00\x00\x00") + b"x"
    assert forward != backward
    assert decode_all(forward) == decode_all(backward)


def test_decoder_fed_one_byte_at_a_time_yields_every_message():
    msgs = [Message(60786, i, {1000: bytes([i, 0, 0, 0]), 128: b"u" * i}, bytes(range(i))) for i in range(6)]
    stream = b"".join(encode(m) for m in msgs)
    assert decode_all(stream, cuts=list(range(1, len(stream)))) == msgs


@pytest.mark.parametrize("seed", range(20))
def test_decoder_gives_the_same_messages_for_any_chunking(seed):
    rng = random.Random(seed)
    msgs = [
        Message(
            rng.randrange(70000),
            rng.randrange(-5, 5),
            {rng.randrange(2000): rng.randbytes(rng.randrange(9))},
            rng.randbytes(rng.randrange(300)),
        )
        for _ in range(10)
    ]
    stream = b"".join(encode(m) for m in msgs)
    cuts = sorted(rng.sample(range(1, len(stream)), 15))
    assert decode_all(stream, cuts=cuts) == msgs


@given(
    content_type=st.integers(-(2**31), 2**31 - 1),
    sequence=st.integers(-(2**31), 2**31 - 1),
    headers=st.dictionaries(st.integers(-(2**31), 2**31 - 1), st.binary(max_size=40), max_size=6),
    body=st.binary(max_size=500),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_any_message_round_trips_through_any_split(content_type, sequence, headers, body, data):
    msg = Message(content_type, sequence, headers, body)
    frame = encode(msg)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(frame) - 1), max_size=8)))
    assert decode_all(frame, cuts=cuts) == [msg]


def test_bad_magic_fails_on_the_first_wrong_byte():
    decoder = FrameDecoder()
    decoder.receive_data(b"\x03\x06\x08")
    with pytest.raises(WireProtocolError, match="magic"):
        decoder.next_message()


def test_go_unknown_version_answer_is_named():
    decoder = FrameDecoder()
    decoder.receive_data(b"\x03\x06\x09\x0a" + struct.pack("<III", 2, 1, 2))
    with pytest.raises(WireProtocolError, match="v2"):
        decoder.next_message()


def test_a_4_gib_body_claim_fails_as_soon_as_the_prefix_is_in():
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        decoder.receive_data(prefix(60786, 1, 0, 0xFFFFFFFF))
        with pytest.raises(WireProtocolError, match="body"):
            decoder.next_message()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


def test_body_limit_is_per_decoder():
    frame = encode(Message(60786, 0, {}, b"x" * 101))
    assert decode_all(frame, max_body_bytes=101)[0].body == b"x" * 101
    with pytest.raises(WireProtocolError):
        decode_all(frame[:20], max_body_bytes=100)


def test_header_block_over_the_limit_fails_on_the_prefix():
    decoder = FrameDecoder()
    decoder.receive_data(prefix(0, 0, MAX_HEADERS_BYTES + 1, 0))
    with pytest.raises(WireProtocolError, match="header block"):
        decoder.next_message()


def test_limits_default_to_64_kib_headers_and_16_mib_body():
    assert (MAX_HEADERS_BYTES, MAX_BODY_BYTES) == (64 * 1024, 16 * 1024 * 1024)
    decoder = FrameDecoder()
    decoder.receive_data(prefix(0, 0, MAX_HEADERS_BYTES, MAX_BODY_BYTES))
    assert decoder.next_message() is None


@pytest.mark.parametrize(
    ("block", "match"),
    [
        (entry(1, b"ab", length=-1), "claims"),
        (entry(1, b"ab", length=3), "claims"),
        (entry(1, b"ab") + entry(1, b"cd"), "duplicate"),
        (entry(1, b"ab") + b"\x00\x00\x00", "trailing"),
        (b"\x01\x00\x00\x00\x02", "trailing"),
    ],
    ids=["negative length", "overlong value", "duplicate id", "trailing garbage", "short entry"],
)
def test_malformed_header_blocks_are_rejected(block, match):
    with pytest.raises(WireProtocolError, match=match):
        decode_headers(block)


def test_bad_header_block_fails_before_the_body_arrives():
    block = entry(1000, b"\x01\x00\x00\x00") + entry(1000, b"\x02\x00\x00\x00")
    decoder = FrameDecoder()
    decoder.receive_data(prefix(60786, 0, len(block), 8 * 1024 * 1024) + block)
    with pytest.raises(WireProtocolError, match="duplicate"):
        decoder.next_message()


def test_a_broken_decoder_stays_broken():
    decoder = FrameDecoder()
    decoder.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ProtocolError):
        decoder.next_message()
    with pytest.raises(WireProtocolError):
        decoder.receive_data(RESULT_FRAME)
    with pytest.raises(WireProtocolError):
        decoder.next_message()


def test_a_cut_frame_shows_as_buffered_bytes():
    decoder = FrameDecoder()
    decoder.receive_data(RESULT_FRAME + RESULT_FRAME[:7])
    assert decoder.next_message() is not None
    assert decoder.next_message() is None
    assert decoder.buffered_bytes == 7


def test_encode_rejects_values_the_frame_cannot_carry():
    with pytest.raises(WireProtocolError):
        encode(Message(content_type=2**31))
    with pytest.raises(WireProtocolError):
        encode(Message(content_type=0, sequence=-(2**31) - 1))
    with pytest.raises(WireProtocolError):
        encode(Message(content_type=0, headers={2**31: b""}))


def test_a_16_mib_body_in_64_kib_chunks_is_never_copied_while_incomplete():
    body = random.Random(1).randbytes(MAX_BODY_BYTES)
    frame = encode(Message(60786, 3, {1000: b"\x01\x00\x00\x00"}, body))
    chunk = 64 * 1024
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        worst_incomplete_call = 0
        for start in range(0, len(frame) - chunk, chunk):
            decoder.receive_data(frame[start : start + chunk])
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            assert decoder.next_message() is None
            worst_incomplete_call = max(worst_incomplete_call, tracemalloc.get_traced_memory()[1] - before)
        decoder.receive_data(frame[start + chunk :])
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        msg = decoder.next_message()
        final_call = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert msg is not None and msg.body == body
    assert worst_incomplete_call < 4096
    # one copy of the body, plus a view per received chunk (256 here) while they are joined
    assert final_call < len(body) + 256 * 1024


@st.composite
def hostile_streams(draw):
    """Random bytes, bytes after a valid magic, prefixes claiming lengths within the limits,
    and valid frames with random corruption."""
    kind = draw(st.sampled_from(["random", "magic", "claims", "mutated"]))
    if kind == "random":
        return draw(st.binary(max_size=400))
    if kind == "magic":
        return MAGIC + draw(st.binary(max_size=400))
    if kind == "claims":
        lengths = prefix(0, 0, draw(st.integers(0, MAX_HEADERS_BYTES)), draw(st.integers(0, MAX_BODY_BYTES)))
        return lengths + draw(st.binary(max_size=400))
    headers = {1000: b"\x01\x00\x00\x00", 1011: draw(st.binary(max_size=30))}
    frame = bytearray(encode(Message(60786, 1, headers, draw(st.binary(max_size=60)))))
    for _ in range(draw(st.integers(1, 4))):
        frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    return bytes(frame) + draw(st.binary(max_size=40))


@given(stream=hostile_streams(), data=st.data())
@settings(max_examples=300, deadline=None)
def test_hostile_bytes_only_ever_raise_wire_protocol_error_and_allocate_nothing_by_claim(stream, data):
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=6))) if len(stream) > 1 else []
    decoder = FrameDecoder()
    edges = [0, *cuts, len(stream)]
    tracemalloc.start()
    try:
        for start, end in itertools.pairwise(edges):
            decoder.receive_data(stream[start:end])
            while (msg := decoder.next_message()) is not None:
                assert len(msg.body) <= MAX_BODY_BYTES
        assert decoder.buffered_bytes <= len(stream)
    except WireProtocolError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 256 * 1024


def test_a_frame_trickled_a_few_bytes_at_a_time_is_held_compactly():
    body = random.Random(2).randbytes(256 * 1024)
    frame = encode(Message(60786, 4, {1000: b"\x01\x00\x00\x00"}, body))
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for start in range(0, len(frame) - 7, 7):
            decoder.receive_data(frame[start : start + 7])
            assert decoder.next_message() is None
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 2 * len(body)  # not an object per read
    decoder.receive_data(frame[start + 7 :])
    msg = decoder.next_message()
    assert msg is not None and msg.body == body and decoder.buffered_bytes == 0


def test_viewed_bodies_equal_copied_ones_and_only_for_the_types_asked():
    """``view_bodies_of``: large bodies of those content types come as views of the read, byte-identical to
    the copies; small ones, other types and bodies cut across reads stay bytes."""
    frames = [Message(7, i, {1000: b"\x03\x00\x00\x00"}, random.randbytes(size))
              for i, size in enumerate([VIEW_MIN_BODY_BYTES, 10, 70_000, VIEW_MIN_BODY_BYTES - 1])]
    frames.append(Message(8, 9, {}, random.randbytes(70_000)))
    data = b"".join(encode(m) for m in frames)
    for cuts in ([], [len(data) // 2]):
        got = decode_all(data, cuts, view_bodies_of=frozenset({7}))  # type: ignore[arg-type]
        assert [(m.content_type, m.sequence, m.headers, bytes(m.body)) for m in got] == \
            [(m.content_type, m.sequence, m.headers, m.body) for m in frames]
        kinds = [type(m.body) for m in got]
        assert kinds[1] is kinds[3] is kinds[4] is bytes
        if not cuts:
            assert kinds[0] is kinds[2] is memoryview


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (prefix(7, 1, len(entry(1, b"ab") * 2), 0) + entry(1, b"ab") * 2, "duplicate"),
        (prefix(7, 1, 8, 0) + entry(1, b"ab", length=-1), "claims"),
        (prefix(7, 1, 0, MAX_BODY_BYTES + 1), "exceeds"),
        (b"\x03\x06\x09\x0d" + bytes(16), "bad frame magic"),
    ],
    ids=["duplicate header", "negative length", "body too long", "bad magic"],
)
def test_a_bad_frame_inside_one_large_read_is_refused_after_the_good_ones(bad, match):
    """Frames parsed in place in a large read (the usual case) are held to the same checks."""
    good = Message(7, 0, {1000: b"\x01\x00\x00\x00"}, random.randbytes(20_000))
    decoder = FrameDecoder()
    decoder.receive_data(encode(good) + bad + bytes(100))
    assert decoder.next_message() == good
    with pytest.raises(WireProtocolError, match=match):
        decoder.next_message()
    with pytest.raises(WireProtocolError):
        decoder.next_message()
