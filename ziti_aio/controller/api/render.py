"""Stored entities rendered as OpenZiti's REST detail shapes.

What a kind shows is its record's allow-list (:mod:`ziti_aio.controller.model.records`); the
fields computed for it are in :mod:`ziti_aio.controller.model.views`. A stored field no record
lists never leaves: password hashes, session tokens in listings and keys stay inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ziti_aio.controller.model.records import RECORDS
from ziti_aio.controller.model.views import ViewContext

if TYPE_CHECKING:
    from ziti_aio.controller.kinds import Kind
    from ziti_aio.controller.model.model import Entity


class Renderer(ViewContext):
    """Renders entities for one request."""

    def render(self, kind: Kind, e: Entity) -> dict[str, Any]:
        """``e`` as the API shows an entity of ``kind``."""
        return RECORDS[kind].render(self, e)
