"""Header ids and value codecs, checked against docs/wire.md §1 and §4."""

from __future__ import annotations

import pytest

from ziti_aio.wire.content import LIBZITI_EDGE_TYPES, ChannelContentType, EdgeContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.headers import (
    ChannelHeader,
    EdgeFlag,
    EdgeHeader,
    Precedence,
    get_bool,
    get_int32,
    get_low_uint,
    get_str,
    get_uint16,
    get_uint32,
    get_uint64,
    put_bool,
    put_int32,
    put_str,
    put_uint16,
    put_uint32,
    put_uint64,
    reflected_headers,
    required,
)


def test_ids_and_types_match_the_reference_tables():
    assert [ChannelHeader.CONNECTION_ID, ChannelHeader.REPLY_FOR, ChannelHeader.RESULT_SUCCESS] == [0, 1, 2]
    assert (ChannelHeader.HELLO_VERSION, ChannelHeader.ID, ChannelHeader.LATENCY_PROBE_TIME) == (4, 8, 128)
    ids = [EdgeHeader.CONN_ID, EdgeHeader.SEQ, EdgeHeader.SESSION_TOKEN, EdgeHeader.PUBLIC_KEY, EdgeHeader.CALLER_ID]
    assert ids == [1000, 1001, 1002, 1003, 1008]
    assert [EdgeHeader.FLAGS, EdgeHeader.APP_DATA, EdgeHeader.CIRCUIT_ID] == [1010, 1011, 1026]
    assert EdgeHeader.DIALER_IDENTITY_NAME == 1035
    assert (ChannelContentType.HELLO, ChannelContentType.RESULT, ChannelContentType.LATENCY) == (0, 2, 3)
    assert (EdgeContentType.CONNECT, EdgeContentType.DATA, EdgeContentType.UNBIND) == (60783, 60786, 60791)
    assert EdgeContentType.BIND_SUCCESS == 60800
    assert (EdgeContentType.XG_PAYLOAD, EdgeContentType.POSTURE_RESPONSE) == (1100, 10800)
    assert sorted(LIBZITI_EDGE_TYPES) == list(range(60783, 60792))
    assert (EdgeFlag.FIN, EdgeFlag.STREAM, EdgeFlag.MULTIPART_MSG) == (1, 8, 16)


def test_integers_are_written_full_width_little_endian():
    assert put_int32(-1) == b"\xff\xff\xff\xff"
    assert put_uint32(3) == b"\x03\x00\x00\x00"
    assert put_uint16(0x1234) == b"\x34\x12"
    assert put_uint64(0x123456) == b"\x56\x34\x12\x00\x00\x00\x00\x00"
    assert (put_bool(True), put_bool(False)) == (b"\x01", b"\x00")
    assert put_str("é") == b"\xc3\xa9"


@pytest.mark.parametrize(
    ("put", "value"),
    [(put_int32, 2**31), (put_int32, -(2**31) - 1), (put_uint32, -1), (put_uint16, 65536), (put_uint64, -1)],
)
def test_out_of_range_values_are_refused(put, value):
    with pytest.raises(WireProtocolError):
        put(value)


def test_readers_demand_exact_widths():
    headers = {1: b"\xfe\xff\xff\xff", 2: b"\x01\x00", 3: b"\x01\x00\x00\x00\x00\x00\x00\x00", 4: b"\x07"}
    assert get_int32(headers, 1) == -2
    assert get_uint32(headers, 1) == 0xFFFFFFFE
    assert get_uint16(headers, 2) == 1
    assert get_uint64(headers, 3) == 1
    assert get_int32(headers, 99) is None
    for getter, key in [(get_int32, 2), (get_uint32, 4), (get_uint16, 1), (get_uint64, 1)]:
        with pytest.raises(WireProtocolError):
            getter(headers, key)


def test_low_uint_reads_libziti_int32_and_go_narrow_values_alike():
    libziti = {EdgeHeader.COST: put_int32(300), EdgeHeader.PRECEDENCE: put_int32(Precedence.REQUIRED)}
    go_sdk = {EdgeHeader.COST: put_uint16(300), EdgeHeader.PRECEDENCE: b"\x01"}
    for headers in (libziti, go_sdk):
        assert get_low_uint(headers, EdgeHeader.COST, 2) == 300
        assert get_low_uint(headers, EdgeHeader.PRECEDENCE, 1) == 1
    with pytest.raises(WireProtocolError):
        get_low_uint({EdgeHeader.COST: b"\x01"}, EdgeHeader.COST, 2)


def test_bools_must_be_00_or_01():
    assert get_bool({2: b"\x01"}, 2) is True
    assert get_bool({2: b"\x00"}, 2) is False
    assert get_bool({}, 2) is None
    for bad in (b"", b"\x02", b"\x01\x00"):
        with pytest.raises(WireProtocolError):
            get_bool({2: bad}, 2)


def test_strings_must_be_utf8():
    assert get_str({1008: b"alice"}, 1008) == "alice"
    with pytest.raises(WireProtocolError, match="1008"):
        get_str({1008: b"\xff"}, 1008)


def test_reflected_headers_are_ids_128_to_255():
    headers = {1: b"a", 127: b"b", 128: b"c", 255: b"d", 256: b"e", 1000: b"f"}
    assert reflected_headers(headers) == {128: b"c", 255: b"d"}


def test_required_names_the_missing_header():
    assert required(0, 1000) == 0
    with pytest.raises(WireProtocolError, match="1000"):
        required(None, 1000)
