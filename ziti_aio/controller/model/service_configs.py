"""An identity's per-service config overrides (docs/model.md).

An identity may name, for a service, a config of some type that replaces the service's own
config of that type when that identity reads the service (a tunneler given its own intercept
address, say). Stored on the identity as ``serviceConfigs``: service id -> config type id ->
config id. Overrides whose service or config is gone are skipped when read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.store.commands import Put

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

FIELD = "serviceConfigs"
# Pairs one request may name (an identity has at most one override per service and config type).
MAX_PAIRS = 1000


def overrides(identity: Entity) -> dict[str, dict[str, str]]:
    """service id -> config type id -> config id, as stored."""
    stored = identity.get(FIELD)
    return stored if isinstance(stored, dict) else {}


def _pairs(body: Any, *, allow_empty: bool) -> list[tuple[str, str]]:
    """(serviceId, configId) pairs of a request body: a list of ``{"serviceId", "configId"}``."""
    if body is None and allow_empty:
        return []
    if not isinstance(body, list) or len(body) > MAX_PAIRS:
        raise ValidationError(f"must be a list of at most {MAX_PAIRS} {{serviceId, configId}} objects",
                              field="serviceConfigs", value=None)
    pairs = []
    for item in body:
        if not isinstance(item, Mapping) or not isinstance(item.get("serviceId"), str) \
                or not isinstance(item.get("configId"), str):
            raise ValidationError("each entry needs a serviceId and a configId (strings)", field="serviceConfigs",
                                  value=None)
        pairs.append((item["serviceId"], item["configId"]))
    return pairs


def assigning(model: Model, identity_id: str, body: Any) -> Put:
    """The identity with the overrides of ``body`` set (each replaces its service's config of that type)."""
    identity = model.get(Kind.IDENTITIES, identity_id)
    result = {service: dict(types) for service, types in overrides(identity).items()}
    seen_types: set[str] = set()
    for service_id, config_id in _pairs(body, allow_empty=False):
        if model.maybe(Kind.SERVICES, service_id) is None:
            raise ValidationError("no such service", field="serviceId", value=service_id)
        config = model.maybe(Kind.CONFIGS, config_id)
        if config is None:
            raise ValidationError("no such config", field="configId", value=config_id)
        config_type = model.maybe(Kind.CONFIG_TYPES, config["configTypeId"]) or {}
        if config_type.get("target", "service") != "service":
            raise ValidationError("the config's type does not target services", field="configId", value=config_id)
        if config["configTypeId"] in seen_types:
            raise ValidationError("one request may give one config of each type", field="configId", value=config_id)
        seen_types.add(config["configTypeId"])
        result.setdefault(service_id, {})[config["configTypeId"]] = config_id
    return Put(Kind.IDENTITIES, {**identity, FIELD: result, "updatedAt": now_text()})


def removing(model: Model, identity_id: str, body: Any) -> Put:
    """The identity without the overrides ``body`` names (each a service and config), or without any
    when it names none."""
    identity = model.get(Kind.IDENTITIES, identity_id)
    pairs = set(_pairs(body, allow_empty=True))
    result = {}
    for service_id, types in overrides(identity).items():
        kept = {t: c for t, c in types.items() if pairs and (service_id, c) not in pairs}
        if kept:
            result[service_id] = kept
    return Put(Kind.IDENTITIES, {**identity, FIELD: result, "updatedAt": now_text()})
