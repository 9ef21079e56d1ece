"""Controller settings (``/controller-settings``): the OIDC redirect and post-logout URIs a controller
allows, set for all controllers (``global``) or one (its id); a controller's effective settings are the
global ones with its own on top (docs/edge-api.md, "Controller settings")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.hooks import NoHooks

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

GLOBAL = "global"
URI_LISTS = ("redirectUris", "postLogoutUris")
MAX_URIS = 100


def check_oidc(field: str, value: Any) -> dict[str, list[str]]:
    """``oidc``: an object of absolute http(s) URI lists (``redirectUris``, ``postLogoutUris``)."""
    if not isinstance(value, dict) or set(value) - set(URI_LISTS):
        raise ValidationError(f"must be an object with {' and/or '.join(URI_LISTS)}", field=field)
    out: dict[str, list[str]] = {}
    for name, uris in value.items():
        if uris is None:
            continue
        if not isinstance(uris, list) or len(uris) > MAX_URIS or not all(isinstance(u, str) for u in uris):
            raise ValidationError(f"must be a list of at most {MAX_URIS} URIs", field=f"{field}.{name}")
        for uri in uris:
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc or len(uri) > 2048:
                raise ValidationError("must be an absolute http(s) URI", field=f"{field}.{name}", value=uri)
        out[name] = list(uris)
    return out


def setting_of(model: Model, controller_id: str) -> Entity | None:
    """The stored settings of ``controller_id`` (or ``global``)."""
    found = model.where(Kind.CONTROLLER_SETTINGS, controllerId=controller_id)
    return found[0] if found else None


def effective(model: Model, controller_id: str) -> dict[str, Any]:
    """The global settings with ``controller_id``'s own on top, list by list."""
    oidc: dict[str, list[str]] = {name: [] for name in URI_LISTS}
    for scope in (GLOBAL, controller_id):
        stored = setting_of(model, scope)
        oidc.update((stored or {}).get("oidc") or {})
    return {"oidc": oidc}


class ControllerSettingRules(NoHooks):
    """One settings entity per controller id (or ``global``); the global one cannot be deleted."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        if old is not None and old["controllerId"] != data["controllerId"]:
            raise ValidationError("cannot change", field="controllerId", value=data["controllerId"])
        other = setting_of(model, data["controllerId"])
        if old is None and other is not None:
            raise ValidationError("the controller already has settings", field="controllerId",
                                  value=data["controllerId"])
