"""A config type's JSON schema as form inputs and back (the console's config forms)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from ziti_aio.controller.console.schema_form import form_data, input_values, schema_inputs


def _schema(name: str) -> dict:
    return json.loads(resources.files("ziti_aio.controller.model.config_types").joinpath(f"{name}.json").read_text())


def test_simple_properties_get_inputs_of_their_own():
    kinds = {i.name: (i.kind, i.options, i.required) for i in schema_inputs(_schema("host.v1"))}
    assert kinds["protocol"] == ("enum", ("tcp", "udp"), False)
    assert kinds["port"][0] == "integer" and kinds["address"][0] == "string"
    assert kinds["forwardPort"][0] == "boolean"
    assert kinds["allowedProtocols"][0] == "list"  # an allOf of a set and items that are a $ref to an enum
    assert kinds["allowedPortRanges"][0] == "json"  # a list of objects
    intercept = {i.name: i for i in schema_inputs(_schema("intercept.v1"))}
    assert intercept["protocols"].required and intercept["protocols"].kind == "list"


def test_a_form_becomes_config_data_and_back():
    schema = _schema("host.v1")
    form = {"data.protocol": "tcp", "data.address": "10.0.0.1", "data.port": "443", "data.forwardPort": "false",
            "data.allowedProtocols": "tcp, udp", "data.allowedPortRanges": '[{"low": 1, "high": 9}]',
            "data.forwardAddress": "", "data.listenOptions": ""}
    data = form_data(schema, form)
    assert data == {"protocol": "tcp", "address": "10.0.0.1", "port": 443, "forwardPort": False,
                    "allowedProtocols": ["tcp", "udp"], "allowedPortRanges": [{"low": 1, "high": 9}]}
    values = input_values(schema, data)
    assert form_data(schema, values) == data


def test_bad_json_names_the_property_and_numbers_that_do_not_parse_go_to_the_api():
    schema = _schema("host.v1")
    with pytest.raises(ValueError, match="allowedPortRanges: not valid JSON"):
        form_data(schema, {"data.allowedPortRanges": "[{"})
    assert form_data(schema, {"data.port": "eighty"}) == {"port": "eighty"}  # the API's schema check refuses it


def test_a_schema_without_properties_is_one_json_input():
    inputs = schema_inputs({"type": "object"})
    assert [(i.name, i.kind) for i in inputs] == [("", "json")]
    assert form_data({"type": "object"}, {"data.": '{"a": 1}'}) == {"a": 1}
