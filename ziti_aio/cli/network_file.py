"""A network described in one JSON file: what ``ziti-aio export`` writes and ``ziti-aio import`` reads
(docs/operations.md, "Export and import").

The file holds, per collection, the entities an operator creates, each with only the fields that
describe it (an allow-list per collection: no ids, timestamps, enrollment tokens, JWTs, passwords,
fingerprints or runtime state) and every reference to another entity by its name. This module is
pure data handling (no I/O): :func:`exported` turns listings into the document, :func:`problems`
checks a document, :func:`plan` compares it with a network's listings and :func:`request_body`
turns one entry back into an API body with ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FORMAT = "ziti-aio/network"
VERSION = 1
DEFAULT_AUTH_POLICY = "default"
"""The id of the auth policy every network has (OpenZiti's too): referenced as is, never exported."""
TRANSIT_TAG = "transitRouter"

# Field types for checking an imported file: s string, b bool, i integer, o object, l list of strings,
# r role list, a anything JSON.
_NAME = {"name": "s", "tags": "o"}


@dataclass(frozen=True)
class Collection:
    """How one collection is exported: its fields (name -> type), its references and what to skip."""

    name: str
    fields: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)  # field (dotted: nested) -> collection its values name
    roles: dict[str, str] = field(default_factory=dict)  # role-list field -> collection its @refs name
    keyed_by: dict[str, str] = field(default_factory=dict)  # map field whose keys name another collection
    create_extra: dict[str, Any] = field(default_factory=dict)  # added to a create's body


# In dependency order: an entry may only name entities of collections before it (auth policies and
# external JWT signers name each other; the signers' enrollAuthPolicyId is therefore not exported).
COLLECTIONS: tuple[Collection, ...] = (
    Collection("config-types", {**_NAME, "schema": "o", "target": "s"}),
    Collection("external-jwt-signers", {
        **_NAME, "issuer": "s", "audience": "s", "certPem": "s", "jwksEndpoint": "s", "kid": "s", "enabled": "b",
        "claimsProperty": "s", "useExternalId": "b", "externalAuthUrl": "s", "scopes": "l", "clientId": "s",
        "targetToken": "s", "enrollToCertEnabled": "b", "enrollToTokenEnabled": "b", "enrollNameClaimsSelector": "s",
        "enrollAttributeClaimsSelector": "s"}),
    Collection("auth-policies", {**_NAME, "primary": "o", "secondary": "o"},
               refs={"primary.extJwt.allowedSigners": "external-jwt-signers",
                     "secondary.requireExtJwtSigner": "external-jwt-signers"}),
    Collection("posture-checks", {
        **_NAME, "typeId": "s", "roleAttributes": "l", "operatingSystems": "a", "process": "a", "processes": "a",
        "semantic": "s", "macAddresses": "l", "timeoutSeconds": "i", "promptOnWake": "b", "promptOnUnlock": "b",
        "ignoreLegacyEndpoints": "b", "domains": "l"}),
    Collection("cas", {
        **_NAME, "certPem": "s", "isAuthEnabled": "b", "isAutoCaEnrollmentEnabled": "b",
        "isOttCaEnrollmentEnabled": "b", "identityRoles": "l", "identityNameFormat": "s"}),
    Collection("configs", {**_NAME, "configTypeId": "s", "data": "o"}, refs={"configTypeId": "config-types"}),
    Collection("services", {
        **_NAME, "roleAttributes": "l", "configs": "l", "encryptionRequired": "b", "terminatorStrategy": "s",
        "maxIdleTimeMillis": "i"}, refs={"configs": "configs"}),
    Collection("identities", {
        **_NAME, "type": "s", "isAdmin": "b", "roleAttributes": "l", "authPolicyId": "s", "externalId": "s",
        "defaultHostingPrecedence": "s", "defaultHostingCost": "i", "serviceHostingPrecedences": "o",
        "serviceHostingCosts": "o", "appData": "o"},
        refs={"authPolicyId": "auth-policies"},
        keyed_by={"serviceHostingPrecedences": "services", "serviceHostingCosts": "services"},
        create_extra={"enrollment": {"ott": True}}),
    Collection("edge-routers", {
        **_NAME, "roleAttributes": "l", "isTunnelerEnabled": "b", "cost": "i", "noTraversal": "b", "disabled": "b",
        "appData": "o"}),
    Collection("transit-routers", {**_NAME, "cost": "i", "noTraversal": "b", "disabled": "b", "appData": "o"}),
    Collection("service-policies", {
        **_NAME, "type": "s", "semantic": "s", "identityRoles": "r", "serviceRoles": "r", "postureCheckRoles": "r"},
        roles={"identityRoles": "identities", "serviceRoles": "services", "postureCheckRoles": "posture-checks"}),
    Collection("edge-router-policies", {**_NAME, "semantic": "s", "identityRoles": "r", "edgeRouterRoles": "r"},
               roles={"identityRoles": "identities", "edgeRouterRoles": "routers"}),
    Collection("service-edge-router-policies", {
        **_NAME, "semantic": "s", "serviceRoles": "r", "edgeRouterRoles": "r"},
        roles={"serviceRoles": "services", "edgeRouterRoles": "routers"}),
)
BY_NAME = {c.name: c for c in COLLECTIONS}
ROUTERS = ("edge-routers", "transit-routers")
"""``routers`` in a role reference means either kind of router (edge router roles name both)."""

Listings = dict[str, list[dict[str, Any]]]
"""Collection name -> its entities as the management API lists them (a missing collection: not served)."""


def _skipped(collection: str, entity: dict[str, Any]) -> bool:
    """Entities every network makes for itself: the default admin, routers' own identities and system
    policies, the default auth policy; and transit routers among the edge routers."""
    tags = entity.get("tags") or {}
    return ((collection == "identities" and (entity.get("isDefaultAdmin") or entity.get("typeId") == "Router"))
            or (collection == "edge-router-policies" and bool(entity.get("isSystem")))
            or (collection == "auth-policies" and entity.get("id") == DEFAULT_AUTH_POLICY)
            or (collection == "edge-routers" and tags.get(TRANSIT_TAG) is True))


def _names(listings: Listings, collection: str) -> dict[str, str]:
    """id -> name for ``collection`` (both router collections for ``routers``)."""
    wanted = ROUTERS if collection == "routers" else (collection,)
    return {str(e["id"]): str(e.get("name", "")) for c in wanted for e in listings.get(c) or []}


Convert = Callable[[str, str], str]
"""``(collection, reference) -> reference``: an id to a name (export) or a name to an id (import)."""


def _at(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _with(entry: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``entry`` with the (nested) ``path`` set to ``value`` (copies only the dicts on the way)."""
    head, _, rest = path.partition(".")
    inner = entry.get(head)
    return {**entry, head: _with(inner, rest, value) if rest and isinstance(inner, dict) else value}


def _is_default_policy(path: str, value: Any) -> bool:
    return path == "authPolicyId" and value == DEFAULT_AUTH_POLICY


def mapped(spec: Collection, entry: dict[str, Any], convert: Convert) -> dict[str, Any]:
    """``entry`` with every reference passed through ``convert``: the ``refs`` (a string or a list of them),
    ``@`` roles of the ``roles`` and the keys of the ``keyed_by`` maps."""
    out = dict(entry)
    for path, target in spec.refs.items():
        value = _at(out, path)
        if isinstance(value, str) and value and not _is_default_policy(path, value):
            out = _with(out, path, convert(target, value))
        elif isinstance(value, list):
            out = _with(out, path, [convert(target, v) if isinstance(v, str) else v for v in value])
    for name, target in spec.roles.items():
        if isinstance(out.get(name), list):
            out[name] = ["@" + convert(target, r[1:]) if isinstance(r, str) and r.startswith("@") else r
                         for r in out[name]]
    for name, target in spec.keyed_by.items():
        if isinstance(out.get(name), dict):
            out[name] = {convert(target, k): v for k, v in out[name].items()}
    return out


def _export_entity(spec: Collection, entity: dict[str, Any], to_name: Convert) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in spec.fields:
        value = entity.get("typeId" if (spec.name, name) == ("identities", "type") else name)
        if value is None or (value == {} and name != "data") or (value == [] and name not in spec.roles):
            continue
        if name == "tags":
            value = {k: v for k, v in value.items() if k != TRANSIT_TAG}
            if not value:
                continue
        out[name] = value
    return mapped(spec, out, to_name)


def exported(listings: Listings) -> dict[str, Any]:
    """The document for a network's listings: every collection it serves, entries sorted by name."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    names: dict[str, dict[str, str]] = {}

    def to_name(target: str, ref: str) -> str:
        if target not in names:
            names[target] = _names(listings, target)
        return names[target].get(ref, ref)

    for spec in COLLECTIONS:
        if spec.name in listings:
            entries = [_export_entity(spec, e, to_name) for e in listings[spec.name] if not _skipped(spec.name, e)]
            doc[spec.name] = sorted(entries, key=lambda e: str(e.get("name")))
    return doc


_TYPES = {"s": (str, "a string"), "b": (bool, "true or false"), "i": (int, "an integer"), "o": (dict, "an object"),
          "l": (list, "a list of strings"), "r": (list, "a list of roles")}


def _type_problem(kind: str, value: Any) -> str | None:
    if kind == "a":
        return None
    py, text = _TYPES[kind]
    ok = isinstance(value, py) and not (py is int and isinstance(value, bool))
    if ok and kind in "lr":
        ok = all(isinstance(v, str) for v in value)
    return None if ok else f"must be {text}"


def _references(spec: Collection, entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(collection, name) for every entity ``entry`` names."""
    found: list[tuple[str, str]] = []

    def note(target: str, ref: str) -> str:
        found.append((target, ref))
        return ref

    mapped(spec, entry, note)
    return found


def problems(doc: Any, listings: Listings) -> list[str]:
    """Everything wrong with ``doc`` for a network with ``listings``: shape, types, unknown fields, duplicate or
    missing names, references to names neither the file nor the network has, collections the network lacks."""
    if not isinstance(doc, dict):
        return ["the file must hold a JSON object"]
    found: list[str] = []
    if doc.get("format") != FORMAT:
        found.append(f"format: must be {FORMAT!r}")
    if doc.get("version") != VERSION:
        found.append(f"version: must be {VERSION}")
    for key in sorted(set(doc) - {"format", "version"} - set(BY_NAME)):
        found.append(f"{key}: not a collection that can be imported (known: {', '.join(BY_NAME)})")
    known = {c: {str(e.get("name")) for e in listings.get(c) or []} for c in BY_NAME}
    for spec in COLLECTIONS:
        entries = doc.get(spec.name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            found.append(f"{spec.name}: must be a list")
            continue
        if spec.name not in listings:
            found.append(f"{spec.name}: the controller does not serve this collection")
        seen: set[str] = set()
        for n, entry in enumerate(entries):
            where = f"{spec.name}[{n}]"
            if not isinstance(entry, dict):
                found.append(f"{where}: must be an object")
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                found.append(f"{where}: name is required (a non-empty string)")
                continue
            where = f"{spec.name} {name!r}"
            if name in seen:
                found.append(f"{where}: duplicate name")
            seen.add(name)
            for key, value in entry.items():
                if key not in spec.fields:
                    found.append(f"{where}: unknown field {key!r}")
                elif (why := _type_problem(spec.fields[key], value)) is not None:
                    found.append(f"{where}: {key} {why}")
        names = {c: known[c] | {str(e.get("name")) for e in doc.get(c) or [] if isinstance(e, dict)}
                 for c in BY_NAME if isinstance(doc.get(c, []), list)}
        names["routers"] = names.get("edge-routers", set()) | names.get("transit-routers", set())
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            for target, ref in _references(spec, entry):
                if ref not in names.get(target, set()):
                    found.append(f"{spec.name} {entry['name']!r} names {ref!r}, which is not among the "
                                 f"{target} of the file or the network")
    return found


@dataclass
class Plan:
    """What importing a document does: entries to create, conflicting ones (exist with other values) and
    unchanged ones, each as ``(collection, entry)``."""

    create: list[tuple[Collection, dict[str, Any]]] = field(default_factory=list)
    conflicts: list[tuple[Collection, dict[str, Any], list[str]]] = field(default_factory=list)
    unchanged: list[tuple[Collection, dict[str, Any]]] = field(default_factory=list)


def plan(doc: dict[str, Any], listings: Listings) -> Plan:
    """Compare a checked document with the network: an entry whose name is new is created; one whose fields
    (those the file gives) all equal the network's is unchanged; otherwise it is a conflict (fields listed)."""
    current = exported(listings)
    result = Plan()
    for spec in COLLECTIONS:
        existing = {e["name"]: e for e in current.get(spec.name) or []}
        taken = {str(e.get("name")) for e in listings.get(spec.name) or []}
        for entry in doc.get(spec.name) or []:
            have = existing.get(entry["name"])
            if have is None and entry["name"] not in taken:
                result.create.append((spec, entry))
                continue
            differ = sorted(k for k, v in entry.items() if (have or {}).get(k, _default(k, v)) != v)
            if have is None:
                differ = ["(an entity the network made for itself has this name)"]
            (result.conflicts.append((spec, entry, differ)) if differ else result.unchanged.append((spec, entry)))
    return result


def _default(key: str, value: Any) -> Any:
    """What an exported entity omits for ``key``: an empty list/object (so a file giving one matches)."""
    return type(value)() if isinstance(value, (list, dict)) else None


def request_body(spec: Collection, entry: dict[str, Any], ids: Listings, *, create: bool) -> dict[str, Any]:
    """The API body for ``entry``: names turned into ids of the network's ``ids`` listings."""

    def id_of(target: str, name: str) -> str:
        wanted = ROUTERS if target == "routers" else (target,)
        found = [e for c in wanted for e in ids.get(c) or [] if e.get("name") == name]
        return str(found[0]["id"]) if found else name

    body = mapped(spec, entry, id_of)
    if create:
        body.update(spec.create_extra)
        for name, kind in spec.fields.items():
            if kind == "r":
                body.setdefault(name, [])
    return body
