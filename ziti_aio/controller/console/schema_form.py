"""A config type's JSON schema as form inputs, and the submitted form back as the config's ``data``.

Properties of a simple type (after following local ``$ref``s and merging ``allOf`` parts) become inputs of their
own: a string (a select when it has an ``enum``), an
integer or number, a boolean, a list of strings or numbers (comma-separated). Anything else (objects,
``oneOf`` choices, lists of objects) is edited as JSON in a text area. Local ``$ref``s are followed. The API
validates the result against the full schema and its message is shown next to the form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ziti_aio.controller.console.forms import split_list

PREFIX = "data."
MAX_REF_DEPTH = 8


@dataclass(frozen=True)
class SchemaInput:
    """One property of the config's ``data``. ``kind``: ``string``, ``enum``, ``integer``, ``number``,
    ``boolean``, ``list`` or ``json``."""

    name: str
    kind: str
    required: bool
    options: tuple[str, ...] = ()
    description: str = ""

    @property
    def input_name(self) -> str:
        return PREFIX + self.name


def _resolve(schema: dict[str, Any], node: Any, depth: int = 0) -> dict[str, Any]:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        if depth >= MAX_REF_DEPTH:
            return {}
        target: Any = schema
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, depth = target, depth + 1
    if not isinstance(node, dict):
        return {}
    if isinstance(node.get("allOf"), list) and depth < MAX_REF_DEPTH:
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for part in node["allOf"]:
            merged = {**_resolve(schema, part, depth + 1), **merged}
        return merged
    return node


def _kind(schema: dict[str, Any], prop: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    if isinstance(prop.get("enum"), list) and all(isinstance(v, str) for v in prop["enum"]):
        return "enum", tuple(prop["enum"])
    kind = prop.get("type")
    if kind in ("string", "integer", "number", "boolean"):
        return str(kind), ()
    if kind == "array":
        items = _resolve(schema, prop.get("items", {}))
        if items.get("type") in ("string", "integer", "number") or isinstance(items.get("enum"), list):
            return "list", ()
    return "json", ()


def schema_inputs(schema: dict[str, Any] | None) -> list[SchemaInput]:
    """The inputs of an object schema's properties (one JSON input for a schema without properties)."""
    schema = schema or {}
    props = schema.get("properties")
    if not isinstance(props, dict):
        return [SchemaInput("", "json", True, description="the whole config as JSON")]
    required = set(schema.get("required") or ())
    out = []
    for name, raw in props.items():
        prop = _resolve(schema, raw)
        kind, options = _kind(schema, prop)
        out.append(SchemaInput(name, kind, name in required, options, str(prop.get("description", ""))))
    return out


def _item(schema: dict[str, Any], raw: Any, text: str) -> Any:
    items = _resolve(schema, _resolve(schema, raw).get("items", {}))
    if items.get("type") in ("integer", "number"):
        return _number(text, integer=items.get("type") == "integer")
    return text


def _number(text: str, *, integer: bool) -> Any:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        return text  # the API's schema check names the property and the expected type


def form_data(schema: dict[str, Any] | None, form: Any) -> Any:
    """The config ``data`` from a submitted form; a JSON input that does not parse raises ``ValueError``
    naming the property."""
    schema = schema or {}
    inputs = schema_inputs(schema)
    if len(inputs) == 1 and inputs[0].name == "":
        return _json(inputs[0], form)
    data: dict[str, Any] = {}
    for spec in inputs:
        text = form.get(spec.input_name, "")
        if spec.kind == "boolean":
            if text in ("true", "false"):
                data[spec.name] = text == "true"
            continue
        if not text.strip():
            continue
        if spec.kind in ("integer", "number"):
            data[spec.name] = _number(text.strip(), integer=spec.kind == "integer")
        elif spec.kind == "list":
            data[spec.name] = [_item(schema, schema["properties"][spec.name], t) for t in split_list(text)]
        elif spec.kind == "json":
            data[spec.name] = _json(spec, form)
        else:
            data[spec.name] = text
    return data


def _json(spec: SchemaInput, form: Any) -> Any:
    try:
        return json.loads(form.get(spec.input_name, ""))
    except ValueError as exc:
        raise ValueError(f"{spec.name or 'data'}: not valid JSON ({exc})") from exc


def input_values(schema: dict[str, Any] | None, data: Any) -> dict[str, str]:
    """A config's ``data`` as the inputs' text (for editing)."""
    values: dict[str, str] = {}
    for spec in schema_inputs(schema):
        if spec.name == "":
            values[spec.input_name] = json.dumps(data, indent=2)
            continue
        if not isinstance(data, dict) or spec.name not in data:
            continue
        value = data[spec.name]
        if spec.kind == "boolean":
            values[spec.input_name] = "true" if value else "false"
        elif spec.kind == "list" and isinstance(value, list):
            values[spec.input_name] = ", ".join(str(v) for v in value)
        elif spec.kind == "json":
            values[spec.input_name] = json.dumps(value, indent=2)
        else:
            values[spec.input_name] = str(value)
    return values
