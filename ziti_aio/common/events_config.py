"""The controller's event types and the settings of an event file sink (docs/events.md); shared by
``node.toml`` parsing and the controller without either importing the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

EVENT_TYPES = ("entityChange", "circuit", "router", "link", "session", "apiSession", "usage", "service", "alert",
               "cluster", "metrics")
DEFAULT_MAX_MIB = 10
DEFAULT_KEEP = 5


@dataclass(frozen=True)
class EventFileConfig:
    """``[[controller.events]]``: events of ``types`` appended as JSON lines to ``file``, rotated at
    ``max_mib`` MiB, keeping ``keep`` rotated files."""

    types: tuple[str, ...]
    file: Path
    max_mib: int = DEFAULT_MAX_MIB
    keep: int = DEFAULT_KEEP
