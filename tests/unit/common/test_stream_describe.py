"""``ziti-aio stream events`` prints a link latency metrics event with its link, router and figures."""

from __future__ import annotations

from ziti_aio.cli.stream import describe


def test_a_link_latency_event_in_one_line():
    line = describe({"namespace": "metrics", "timestamp": "2026-01-01T00:00:00.000000Z", "metric": "link.latency",
                     "metric_type": "histogram", "source_id": "r1", "source_entity_id": "l1",
                     "metrics": {"count": 4, "p50": 2000, "max": 4000, "mean": 2500.0}})
    assert line == "2026-01-01T00:00:00.000000Z metrics link.latency l1 by r1 count=4 p50=2000 max=4000"
