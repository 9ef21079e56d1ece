"""The console's entity pages: list (search, filter), create, edit, delete for identities, services and the
three policy kinds (:data:`~ziti_aio.controller.console.forms.VIEWS`), configs with their type's schema as a
form, and the identity actions (enrollment JWT download, QR code, reset enrollment). Every change is one
management API call as the logged-in user; an API error is shown in place, above the form, with what was
typed kept."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import segno
from quart import Response, request

from ziti_aio.controller.console.api_client import ApiFailure
from ziti_aio.controller.console.forms import VIEWS, KindView, form_body, form_values, shown
from ziti_aio.controller.console.schema_form import form_data, input_values, schema_inputs
from ziti_aio.controller.console.security import go, harden

if TYPE_CHECKING:
    from collections.abc import Callable

    from quart import Blueprint

    from ziti_aio.controller.console.session import Handler, Session

ENROLLMENT_DAYS = 1
MAX_SEARCH = 256
FILTERS = {
    "identities": {"": None, "admins": "isAdmin = true", "enrollment pending": None},
    "services": {"": None, "encrypted": "encryptionRequired = true", "not encrypted": "encryptionRequired = false"},
}


def _search_filter(view: str, text: str, choice: str) -> str | None:
    parts = []
    if text:
        parts.append("name contains " + json.dumps(text[:MAX_SEARCH]))
    extra = FILTERS.get(view, {}).get(choice)
    if extra:
        parts.append(extra)
    return " and ".join(parts) or None


async def _names(s: Session, view: KindView) -> dict[str, str]:
    """Ids -> names of what this kind's forms refer to by name (role targets, configs)."""
    kinds = {f.preview for f in view.fields if f.preview} | ({"configs"} if view.name == "services" else set())
    names: dict[str, str] = {}
    for kind in kinds:
        with contextlib.suppress(ApiFailure):
            names.update({e["id"]: e["name"] for e in await s.api.all(kind or "")})
    return names


async def _resolve(s: Session, view: KindView, body: dict[str, Any]) -> dict[str, Any]:
    """``@name`` in role lists -> ``@id`` (as the CLI does, docs/edge-api.md §5); unknown names stay."""
    for f in view.fields:
        if f.kind == "roles" and f.key in body and f.preview:
            wanted = [r[1:] for r in body[f.key] if r.startswith("@")]
            if wanted:
                found = {e["name"]: e["id"] for e in await s.api.all(f.preview, "name in " + json.dumps(wanted))}
                body[f.key] = ["@" + found.get(r[1:], r[1:]) if r.startswith("@") else r for r in body[f.key]]
    return body


def add_entity_routes(bp: Blueprint, session_view: Callable[[Handler], Handler]) -> None:
    """Register the entity pages on the console blueprint."""

    async def list_page(s: Session, view: KindView, *, error: str = "", status: int = 200,
                        typed: Any = None) -> Response:
        text, choice = request.args.get("q", "").strip(), request.args.get("filter", "")
        try:
            entities = await s.api.all(view.name, _search_filter(view.name, text, choice))
        except ApiFailure as exc:
            entities, error = [], error or exc.message
        if view.name == "identities" and choice == "enrollment pending":
            entities = [e for e in entities if e.get("enrollment")]
        return await s.page("entities.html", status, view=view, entities=entities, q=text, choice=choice,
                            filters=tuple(FILTERS.get(view.name, {})), error=error, shown=shown,
                            values=form_values(view, None, typed, {}))

    async def detail_page(s: Session, view: KindView, ident: str, *, error: str = "", status: int = 200,
                          typed: Any = None) -> Response:
        entity = await s.api.get(f"{view.name}/{ident}")
        return await s.page("entity.html", status, view=view, entity=entity, error=error,
                            values=form_values(view, entity, typed, await _names(s, view)),
                            raw=json.dumps(entity, indent=2, sort_keys=True))

    async def not_found(s: Session, exc: ApiFailure) -> Response:
        return await s.page("error.html", exc.status, message=exc.message)

    for name in VIEWS:
        _register_kind(bp, session_view, VIEWS[name], list_page, detail_page, not_found)

    @bp.get("/identities/<ident>/jwt")
    @session_view
    async def identity_jwt(s: Session, ident: str) -> Response:
        identity = await s.api.get(f"identities/{ident}")
        jwt = ((identity.get("enrollment") or {}).get("ott") or {}).get("jwt")
        if not jwt:
            return await s.page("error.html", 404, message="This identity has no pending enrollment.")
        response = harden(Response(jwt, content_type="application/jwt"))
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in identity["name"])[:64] or "identity"
        response.headers["Content-Disposition"] = f'attachment; filename="{safe}.jwt"'
        return response

    @bp.get("/identities/<ident>/jwt.svg")
    @session_view
    async def identity_qr(s: Session, ident: str) -> Response:
        identity = await s.api.get(f"identities/{ident}")
        jwt = ((identity.get("enrollment") or {}).get("ott") or {}).get("jwt")
        if not jwt:
            return await s.page("error.html", 404, message="This identity has no pending enrollment.")
        out = io.BytesIO()
        segno.make(jwt, error="l").save(out, kind="svg", scale=3, border=2, xmldecl=False)
        return harden(Response(out.getvalue(), content_type="image/svg+xml"))

    @bp.post("/identities/<ident>/reset-enrollment")
    @session_view
    async def reset_enrollment(s: Session, ident: str) -> Response:
        view = VIEWS["identities"]
        try:
            identity = await s.api.get(f"identities/{ident}")
            for method in ("cert",):
                auth = (identity.get("authenticators") or {}).get(method)
                if auth:
                    await s.api.call("DELETE", f"authenticators/{auth['id']}")
            pending = (identity.get("enrollment") or {}).get("ott")
            if pending:
                await s.api.call("DELETE", f"enrollments/{pending['id']}")
            expires = (datetime.now(UTC) + timedelta(days=ENROLLMENT_DAYS)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            await s.api.call("POST", "enrollments", body={"method": "ott", "identityId": ident, "expiresAt": expires})
        except ApiFailure as exc:
            return await detail_page(s, view, ident, error=exc.message, status=exc.status)
        return go(f"/console/identities/{ident}")

    @bp.get("/configs")
    @session_view
    async def configs(s: Session) -> Response:
        return await configs_page(s)

    async def configs_page(s: Session, *, error: str = "", status: int = 200, typed: Any = None) -> Response:
        types = await s.api.all("config-types")
        chosen = request.args.get("type") or (await request.form).get("configTypeId", "")
        config_type = next((t for t in types if t["id"] == chosen), None)
        text = request.args.get("q", "").strip()
        entities = await s.api.all("configs", _search_filter("configs", text, ""))
        type_names = {t["id"]: t["name"] for t in types}
        schema = (config_type or {}).get("schema")
        return await s.page("configs.html", status, entities=entities, types=types, type_names=type_names,
                            config_type=config_type, inputs=schema_inputs(schema) if config_type else [],
                            values=typed or {}, error=error, q=text)

    @bp.post("/configs")
    @session_view
    async def create_config(s: Session) -> Response:
        form = await request.form
        try:
            config_type = await s.api.get(f"config-types/{form.get('configTypeId', '')}")
            body = {"name": form.get("name", "").strip(), "configTypeId": config_type["id"],
                    "data": form_data(config_type.get("schema"), form)}
            created = await s.api.call("POST", "configs", body=body)
        except (ApiFailure, ValueError) as exc:
            status = exc.status if isinstance(exc, ApiFailure) else 400
            return await configs_page(s, error=getattr(exc, "message", str(exc)), status=status, typed=form)
        return go(f"/console/configs/{created['id']}")

    async def config_page(s: Session, ident: str, *, error: str = "", status: int = 200,
                          typed: Any = None) -> Response:
        config = await s.api.get(f"configs/{ident}")
        config_type = await s.api.get(f"config-types/{config['configTypeId']}")
        schema = config_type.get("schema")
        return await s.page("config.html", status, entity=config, config_type=config_type,
                            inputs=schema_inputs(schema), values=typed or input_values(schema, config.get("data")),
                            error=error, raw=json.dumps(config, indent=2, sort_keys=True))

    @bp.get("/configs/<ident>")
    @session_view
    async def config_detail(s: Session, ident: str) -> Response:
        try:
            return await config_page(s, ident)
        except ApiFailure as exc:
            return await not_found(s, exc)

    @bp.post("/configs/<ident>")
    @session_view
    async def update_config(s: Session, ident: str) -> Response:
        form = await request.form
        try:
            config = await s.api.get(f"configs/{ident}")
            config_type = await s.api.get(f"config-types/{config['configTypeId']}")
            body = {"name": form.get("name", "").strip(), "data": form_data(config_type.get("schema"), form)}
            await s.api.call("PATCH", f"configs/{ident}", body=body)
        except (ApiFailure, ValueError) as exc:
            status = exc.status if isinstance(exc, ApiFailure) else 400
            return await config_page(s, ident, error=getattr(exc, "message", str(exc)), status=status, typed=form)
        return go(f"/console/configs/{ident}")

    @bp.post("/configs/<ident>/delete")
    @session_view
    async def delete_config(s: Session, ident: str) -> Response:
        try:
            await s.api.call("DELETE", f"configs/{ident}")
        except ApiFailure as exc:
            return await config_page(s, ident, error=exc.message, status=exc.status)
        return go("/console/configs")


def _register_kind(bp: Blueprint, session_view: Callable[[Handler], Handler], view: KindView,
                   list_page: Handler, detail_page: Handler, not_found: Handler) -> None:
    base = f"/{view.name}"
    endpoint = view.name.replace("-", "_")

    async def listing(s: Session) -> Response:
        return await list_page(s, view)

    async def create(s: Session) -> Response:
        form = await request.form
        try:
            body = await _resolve(s, view, form_body(view, form, creating=True))
            created = await s.api.call("POST", view.name, body=body)
        except ApiFailure as exc:
            return await list_page(s, view, error=exc.message, status=exc.status, typed=form)
        return go(f"/console{base}/{created['id']}")

    async def detail(s: Session, ident: str) -> Response:
        try:
            return await detail_page(s, view, ident)
        except ApiFailure as exc:
            return await not_found(s, exc)

    async def update(s: Session, ident: str) -> Response:
        form = await request.form
        try:
            body = await _resolve(s, view, form_body(view, form, creating=False))
            await s.api.call("PATCH", f"{view.name}/{ident}", body=body)
        except ApiFailure as exc:
            try:
                return await detail_page(s, view, ident, error=exc.message, status=exc.status, typed=form)
            except ApiFailure as missing:
                return await not_found(s, missing)
        return go(f"/console{base}/{ident}")

    async def delete(s: Session, ident: str) -> Response:
        try:
            await s.api.call("DELETE", f"{view.name}/{ident}")
        except ApiFailure as exc:
            try:
                return await detail_page(s, view, ident, error=exc.message, status=exc.status)
            except ApiFailure as missing:
                return await not_found(s, missing)
        return go(f"/console{base}")

    for rule, method, func in ((base, "GET", listing), (base, "POST", create), (base + "/<ident>", "GET", detail),
                               (base + "/<ident>", "POST", update), (base + "/<ident>/delete", "POST", delete)):
        bp.add_url_rule(rule, f"{endpoint}_{func.__name__}", session_view(func), methods=[method])
