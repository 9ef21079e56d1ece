"""What the console's entity pages show and edit: one :class:`KindView` per collection, whose fields turn an
HTML form into a management API body. The API validates; the form attributes (``required``, ``maxlength``)
only let the browser refuse obvious mistakes before sending."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ziti_aio.controller.model.records import TERMINATOR_STRATEGIES

MAX_NAME = 1024  # the API's limit on names
MAX_LIST = 4096


@dataclass(frozen=True)
class FormField:
    """One input. ``kind``: ``text``, ``select``, ``checkbox``, ``list`` (comma-separated strings) or
    ``roles`` (a policy role list, ``#attr`` / ``@name``, with a live preview of ``preview``'s matches)."""

    key: str
    label: str
    kind: str = "text"
    options: tuple[str, ...] = ()
    required: bool = False
    preview: str | None = None
    create_only: bool = False
    default: Any = None
    help: str = ""

    @property
    def max_length(self) -> int:
        return MAX_NAME if self.kind == "text" else MAX_LIST


@dataclass(frozen=True)
class KindView:
    """A collection's pages: its title, list columns, and form fields."""

    name: str
    title: str
    singular: str
    columns: tuple[tuple[str, str], ...]
    fields: tuple[FormField, ...]
    create_extra: dict[str, Any] = field(default_factory=dict)


SEMANTIC = FormField("semantic", "Semantic", "select", ("AnyOf", "AllOf"), default="AnyOf",
                     help="AnyOf: an entity with any of the #attributes; AllOf: with all of them")
ROLE_HELP = "comma-separated: #attribute, @name, or #all alone"


def roles(key: str, label: str, preview: str) -> FormField:
    return FormField(key, label, "roles", preview=preview, help=ROLE_HELP)


def name_field() -> FormField:
    return FormField("name", "Name", required=True)


ATTRIBUTES = FormField("roleAttributes", "Role attributes", "list", help="comma-separated, without # or @")

VIEWS: dict[str, KindView] = {v.name: v for v in (
    KindView("identities", "Identities", "identity",
             (("name", "Name"), ("type", "Type"), ("roleAttributes", "Role attributes"), ("isAdmin", "Admin"),
              ("enrollment", "Enrollment")),
             (name_field(), FormField("type", "Type", "select", ("Default", "Device", "User"), create_only=True,
                                      default="Default"),
              FormField("isAdmin", "Admin", "checkbox", default=False), ATTRIBUTES,
              FormField("permissions", "Permissions", "list",
                        help="comma-separated, e.g. admin_readonly, service, identity.read")),
             create_extra={"enrollment": {"ott": True}}),
    KindView("services", "Services", "service",
             (("name", "Name"), ("roleAttributes", "Role attributes"), ("encryptionRequired", "Encryption"),
              ("terminatorStrategy", "Terminator strategy")),
             (name_field(), FormField("encryptionRequired", "Encryption required", "checkbox", default=True),
              ATTRIBUTES,
              FormField("terminatorStrategy", "Terminator strategy", "select",
                        TERMINATOR_STRATEGIES, default="smartrouting"),
              FormField("configs", "Configs", "list", help="comma-separated config names"))),
    KindView("service-policies", "Service policies", "service policy",
             (("name", "Name"), ("type", "Type"), ("semantic", "Semantic"), ("identityRoles", "Identity roles"),
              ("serviceRoles", "Service roles")),
             (name_field(), FormField("type", "Type", "select", ("Dial", "Bind"), default="Dial"), SEMANTIC,
              roles("identityRoles", "Identity roles", "identities"),
              roles("serviceRoles", "Service roles", "services"))),
    KindView("edge-router-policies", "Edge router policies", "edge router policy",
             (("name", "Name"), ("semantic", "Semantic"), ("identityRoles", "Identity roles"),
              ("edgeRouterRoles", "Edge router roles")),
             (name_field(), SEMANTIC, roles("identityRoles", "Identity roles", "identities"),
              roles("edgeRouterRoles", "Edge router roles", "edge-routers"))),
    KindView("service-edge-router-policies", "Service edge router policies", "service edge router policy",
             (("name", "Name"), ("semantic", "Semantic"), ("serviceRoles", "Service roles"),
              ("edgeRouterRoles", "Edge router roles")),
             (name_field(), SEMANTIC, roles("serviceRoles", "Service roles", "services"),
              roles("edgeRouterRoles", "Edge router roles", "edge-routers"))),
)}


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def form_body(view: KindView, form: Any, *, creating: bool) -> dict[str, Any]:
    """The API body of a submitted form (``roles`` still hold ``@name`` entries: see :func:`resolve_roles`)."""
    body: dict[str, Any] = {}
    for f in view.fields:
        if f.create_only and not creating:
            continue
        if f.kind == "checkbox":
            body[f.key] = form.get(f.key) == "on"
        elif f.kind in ("list", "roles"):
            body[f.key] = split_list(form.get(f.key, ""))
        elif f.kind == "select":
            body[f.key] = form.get(f.key) or f.default
        else:
            body[f.key] = form.get(f.key, "").strip()
    if creating:
        body.update(view.create_extra)
    return body


def shown(value: Any) -> str:
    """An entity field as list-cell text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(value)
    return "" if value is None else str(value)


def form_value(f: FormField, entity: dict[str, Any] | None, names: dict[str, str]) -> Any:
    """What the form shows for ``f``: the entity's value (``@id`` shown as ``@name``) or the default."""
    if entity is None:
        return f.default
    value = entity.get(f.key)
    if f.kind == "roles":
        return ", ".join("@" + names.get(r[1:], r[1:]) if r.startswith("@") else r for r in value or ())
    if f.kind == "list":
        if f.key == "configs":
            return ", ".join(names.get(c, c) for c in value or ())
        return ", ".join(value or ())
    if isinstance(value, dict):  # a reference, such as an identity's type
        return value.get("name")
    return value


def form_values(view: KindView, entity: dict[str, Any] | None, typed: Any, names: dict[str, str]) -> dict[str, Any]:
    """What each input shows: what the user typed (after a refused submit), else the entity's values."""
    if typed is not None:
        return {f.key: (typed.get(f.key) == "on") if f.kind == "checkbox" else typed.get(f.key, "")
                for f in view.fields}
    return {f.key: form_value(f, entity, names) for f in view.fields}
