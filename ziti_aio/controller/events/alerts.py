"""``alert`` events for operational problems an operator can fix (docs/events.md): a router whose
certificate expires soon, a service identities dial that has no terminator, a flapping link.

Each alert repeats at most once per :attr:`Alerts.repeat_s` for the same subject, so a problem that
lasts is reported, not flooded.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509

from ziti_aio.controller.events.types import AlertEvent

if TYPE_CHECKING:
    from ziti_aio.controller.events.bus import EventBus

CERT_WARN_DAYS = 30
FLAP_FAULTS = 3
FLAP_WINDOW_S = 300.0
REPEAT_S = 3600.0
NO_TERMINATORS = "NO_TERMINATORS"


class Alerts:
    """Detects the problems above and publishes one ``alert`` per problem and period."""

    def __init__(self, bus: EventBus, *, cert_warn_days: int = CERT_WARN_DAYS, flap_faults: int = FLAP_FAULTS,
                 flap_window_s: float = FLAP_WINDOW_S, repeat_s: float = REPEAT_S) -> None:
        self.bus = bus
        self.cert_warn_days = cert_warn_days
        self.flap_faults = flap_faults
        self.flap_window_s = flap_window_s
        self.repeat_s = repeat_s
        self._last: dict[tuple[str, str], float] = {}
        self._faults: dict[tuple[str, str], deque[float]] = {}

    def _publish(self, key: tuple[str, str], alert: AlertEvent) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.repeat_s:
            return
        self._last[key] = now
        self.bus.publish(alert)

    def router_certificate(self, router_id: str, cert_pem: str) -> None:
        """Alert when router ``router_id``'s certificate (its entity's ``certPem``) expires within
        :attr:`cert_warn_days` days, or has expired."""
        if not cert_pem:
            return
        try:
            not_after = x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_after_utc
        except ValueError:
            return
        days_left = (not_after - datetime.now(UTC)).total_seconds() / 86400
        if days_left >= self.cert_warn_days:
            return
        when = not_after.isoformat().replace("+00:00", "Z")
        message = (f"the certificate of router {router_id} expired at {when}" if days_left < 0 else
                   f"the certificate of router {router_id} expires in {int(days_left)} day(s), at {when}")
        self._publish(("router.certificate", router_id), AlertEvent(
            alert_source_type="router", alert_source_id=router_id, severity="error" if days_left < 7 else "warning",
            message=message, details=[f"notAfter={when}", f"daysLeft={int(days_left)}"],
            related_entities={"router": router_id}))

    def dial_failed(self, service_id: str, code: str, client_id: str) -> None:
        """Alert when identities dial a service that has no terminator (nobody hosts it)."""
        if code != NO_TERMINATORS or not service_id:
            return
        self._publish(("service.noTerminators", service_id), AlertEvent(
            alert_source_type="service", alert_source_id=service_id, severity="error",
            message=f"identities dial service {service_id}, which has no terminators: nothing hosts it",
            details=[f"failure_cause={code}"],
            related_entities={"service": service_id, **({"identity": client_id} if client_id else {})}))

    def link_fault(self, link_id: str, src: str, dst: str) -> None:
        """Alert when the link between two routers went away :attr:`flap_faults` times within
        :attr:`flap_window_s` seconds (it flaps: a network or router problem between them)."""
        pair = (min(src, dst), max(src, dst))
        now = time.monotonic()
        faults = self._faults.setdefault(pair, deque())
        faults.append(now)
        while faults and now - faults[0] > self.flap_window_s:
            faults.popleft()
        if len(faults) < self.flap_faults:
            return
        self._publish(("link.flapping", f"{pair[0]}-{pair[1]}"), AlertEvent(
            alert_source_type="link", alert_source_id=link_id, severity="warning",
            message=f"the link between routers {pair[0]} and {pair[1]} went down {len(faults)} times "
                    f"in {int(self.flap_window_s)} s",
            details=[f"faults={len(faults)}", f"windowSeconds={int(self.flap_window_s)}"],
            related_entities={"link": link_id, "srcRouter": src, "dstRouter": dst}))
