"""A link's round trips summarised as a histogram by the router and checked by the controller
(docs/events.md, ``link.latency``)."""

from __future__ import annotations

import pytest

from ziti_aio.common.errors import ProtocolError
from ziti_aio.controller.events.link_latency import HISTOGRAM_FIELDS, parse_link_latency
from ziti_aio.router.metrics import UsageMeter, summarise


def test_summary_of_round_trips():
    values = summarise([4000, 1000, 3000, 2000])
    assert set(values) == set(HISTOGRAM_FIELDS)
    assert (values["count"], values["min"], values["max"], values["mean"]) == (4, 1000, 4000, 2500)
    assert (values["p50"], values["p75"], values["p99"], values["p9999"]) == (2000, 3000, 4000, 4000)
    assert values["variance"] == 1_250_000 and values["std_dev"] == pytest.approx(1118.03, abs=0.01)
    assert summarise([7])["std_dev"] == 0 and summarise([7])["p50"] == 7


def test_a_report_carries_latency_even_when_no_bytes_moved():
    meter = UsageMeter()
    assert meter.take({"l1": []}) is None
    body = meter.take({"l1": [1000, 3000]})
    assert body is not None and body["circuits"] == [] and body["links"] == []
    [entry] = body["linkLatency"]  # type: ignore[misc]
    assert entry["id"] == "l1" and entry["count"] == 2
    assert parse_link_latency(body) == {"l1": {k: v for k, v in entry.items() if k != "id"}}


@pytest.mark.parametrize("latency", [
    {"l1": 1}, [1], [{"id": "l1"}], [{"id": "l1", **dict.fromkeys(HISTOGRAM_FIELDS, -1)}],
    [{"id": "l1", **dict.fromkeys(HISTOGRAM_FIELDS, True)}], [{"id": "l1", **dict.fromkeys(HISTOGRAM_FIELDS, "1")}],
    [{"id": "x" * 65, **dict.fromkeys(HISTOGRAM_FIELDS, 1)}],
])
def test_a_malformed_report_is_a_protocol_error(latency):
    with pytest.raises(ProtocolError):
        parse_link_latency({"linkLatency": latency})


def test_no_latency_is_nothing():
    assert parse_link_latency({}) == {}
