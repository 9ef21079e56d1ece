"""``/controller-settings`` on the Management API: read, create, update and delete the settings of all
controllers (id ``global``) or of one (its id), and read a controller's effective settings
(:mod:`ziti_aio.controller.model.controller_settings`). Entities are addressed by the controller id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response, request

from ziti_aio.common.errors import ConflictError, NotFoundError, ValidationError
from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.envelope import created, empty, ok
from ziti_aio.controller.api.listing import Filterable, page
from ziti_aio.controller.api.permissions import METHOD_ACTION, require
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.controller_settings import GLOBAL, effective, setting_of
from ziti_aio.controller.model.views import links

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

COLLECTION = "controller-settings"


def add_controller_settings_routes(bp: Blueprint, ctx: ApiContext) -> None:
    def authorize() -> Caller:
        found = caller(ctx)
        # OpenZiti reserves controller settings to administrators.
        require(found, COLLECTION, METHOD_ACTION[request.method])
        return found

    def known(controller_id: str) -> str:
        if controller_id not in (GLOBAL, ctx.instance_id):
            raise NotFoundError(COLLECTION, controller_id)
        return controller_id

    def detail(controller_id: str, stored: Entity | None) -> dict[str, Any]:
        """Settings as ``controllerSettingDetail``, addressed by controller id (``global`` exists even
        before anything is stored)."""
        when = stored["createdAt"] if stored else ctx.started_at
        return {"id": controller_id, "createdAt": when, "updatedAt": stored["updatedAt"] if stored else when,
                "tags": (stored or {}).get("tags") or {}, "_links": links(COLLECTION, controller_id),
                "oidc": (stored or {}).get("oidc") or {}}

    def stored_ids() -> list[str]:
        ids = [GLOBAL, *(s["controllerId"] for s in ctx.model.all(Kind.CONTROLLER_SETTINGS))]
        return list(dict.fromkeys(ids))

    @bp.get("/controller-settings")
    async def list_settings() -> Response:
        authorize()
        rows = [detail(i, setting_of(ctx.model, i)) for i in stored_ids()]
        items, meta = page(rows, request.args, Filterable.of())
        return ok(items, meta)

    @bp.get("/controller-settings/<ident>")
    async def get_setting(ident: str) -> Response:
        authorize()
        stored = setting_of(ctx.model, known(ident))
        if stored is None and ident != GLOBAL:
            raise NotFoundError(COLLECTION, ident)
        return ok(detail(ident, stored))

    @bp.post("/controller-settings")
    async def create_setting() -> Response:
        found = authorize()
        body = await read_json()
        target = body.get("controllerId") if isinstance(body, dict) else None
        if not isinstance(target, str):
            raise ValidationError("is required", field="controllerId")
        known(target)
        await ctx.crud.create(Kind.CONTROLLER_SETTINGS, body, actor=found.identity["id"])
        return created(target, COLLECTION)

    @bp.get("/controller-settings/<ident>/effective")
    async def get_effective(ident: str) -> Response:
        authorize()
        stored = setting_of(ctx.model, known(ident))
        base = detail(ident, stored)
        instance = {"oidc": (stored or {}).get("oidc") or {}}
        return ok({**{k: base[k] for k in ("id", "createdAt", "updatedAt", "tags", "_links")},
                   "effective": effective(ctx.model, ident), "instance": instance})

    async def change(ident: str, partial: bool) -> Response:
        found = authorize()
        body = await read_json()
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        if "controllerId" in body:
            raise ValidationError("is given by the path", field="controllerId", value=body["controllerId"])
        stored = setting_of(ctx.model, known(ident))
        if stored is None:
            await ctx.crud.create(Kind.CONTROLLER_SETTINGS, {**body, "controllerId": ident}, actor=found.identity["id"])
        else:
            await ctx.crud.update(Kind.CONTROLLER_SETTINGS, stored["id"], {**body, "controllerId": ident},
                                  partial=partial, actor=found.identity["id"])
        return empty()

    @bp.put("/controller-settings/<ident>/effective")
    async def put_setting(ident: str) -> Response:
        return await change(ident, partial=False)

    @bp.patch("/controller-settings/<ident>/effective")
    async def patch_setting(ident: str) -> Response:
        return await change(ident, partial=True)

    @bp.delete("/controller-settings/<ident>/effective")
    async def delete_setting(ident: str) -> Response:
        found = authorize()
        if known(ident) == GLOBAL:
            raise ConflictError("the global settings cannot be deleted")
        stored = setting_of(ctx.model, ident)
        if stored is None:
            raise NotFoundError(COLLECTION, ident)
        await ctx.crud.delete(Kind.CONTROLLER_SETTINGS, stored["id"], actor=found.identity["id"])
        return empty()
