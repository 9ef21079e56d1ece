"""The controller's recent alerts: the last :data:`DEFAULT_KEPT` ``alert`` events, in memory, for
``GET /edge/management/v1/alerts``, ``ziti-aio status`` and the console's overview (docs/operations.md).

Alerts are rare (each repeats at most hourly per subject, docs/events.md), so a short bounded list shows
what an operator missed while no stream was open; it starts empty when the controller starts.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ziti_aio.controller.events.types import AlertEvent

DEFAULT_KEPT = 100


class AlertHistory:
    """The newest ``kept`` alerts; older ones fall off."""

    def __init__(self, kept: int = DEFAULT_KEPT) -> None:
        self._alerts: deque[AlertEvent] = deque(maxlen=kept)

    @property
    def kept(self) -> int:
        return self._alerts.maxlen or 0

    def __len__(self) -> int:
        return len(self._alerts)

    def add(self, alert: AlertEvent) -> None:
        self._alerts.append(alert)

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The alerts' JSON (as the sinks write them), newest first; at most ``limit``."""
        newest = list(reversed(self._alerts))
        return [alert.to_json() for alert in newest[:limit]]
