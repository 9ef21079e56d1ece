"""Identity tracing (``PUT /identities/{id}/trace``): for a while, the controller logs how each circuit of an
identity is set up (its path, terminator and outcome) under a trace id an operator can grep for."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

# The channels OpenZiti's trace spec names; "all" (or none) means both.
CHANNELS = frozenset({"select.path", "establish.path"})


class IdentityTraces:
    """The identities being traced: identity id -> (trace id, until, channels)."""

    def __init__(self) -> None:
        self._traces: dict[str, tuple[str, datetime, frozenset[str]]] = {}

    def start(self, identity_id: str, duration: timedelta, trace_id: str, channels: list[str]) -> tuple[str, datetime]:
        """Trace ``identity_id`` for ``duration``; returns the trace id (a new one when empty) and the end."""
        chosen = CHANNELS if not channels or "all" in channels else frozenset(channels) & CHANNELS
        trace_id = trace_id or str(uuid.uuid4())
        until = datetime.now(UTC) + duration
        self._traces[identity_id] = (trace_id, until, chosen)
        return trace_id, until

    def stop(self, identity_id: str) -> None:
        self._traces.pop(identity_id, None)

    def note(self, identity_id: str, channel: str, what: str, *args: object) -> None:
        """Log ``what`` for a traced identity's circuit, if ``channel`` is traced and the trace has not run out."""
        trace = self._traces.get(identity_id)
        if trace is None:
            return
        trace_id, until, channels = trace
        if datetime.now(UTC) > until:
            del self._traces[identity_id]
        elif channel in channels:
            log.info("trace %s identity %s: " + what, trace_id, identity_id, *args)
