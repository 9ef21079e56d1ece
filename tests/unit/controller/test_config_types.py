import json
import time

import pytest

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.model.config_types import (
    BUILTIN_CONFIG_TYPES,
    MAX_DATA_BYTES,
    MAX_PATTERN_SUBJECT_CHARS,
    BuiltinConfigType,
    check_schema,
    validate_config_data,
)

SCHEMAS = {t.name: t.schema for t in BUILTIN_CONFIG_TYPES}
INTERCEPT = {"protocols": ["tcp"], "addresses": ["echo.ziti"], "portRanges": [{"low": 80, "high": 80}]}
HOST = {"protocol": "tcp", "address": "localhost", "port": 8080}


def refused(type_name: str, data: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_config_data(SCHEMAS[type_name], data)
    assert info.value.cause["field"] == info.value.field
    return info.value


def test_builtin_types_carry_openziti_ids_and_valid_schemas():
    assert [(t.id, t.name, t.target) for t in BUILTIN_CONFIG_TYPES] == [
        ("f2dd2df0-9c04-4b84-a91e-71437ac229f1", "ziti-tunneler-client.v1", "service"),
        ("cea49285-6c07-42cf-9f52-09a9b115c783", "ziti-tunneler-server.v1", "service"),
        ("g7cIWbcGg", "intercept.v1", "service"),
        ("NH5p4FpGR", "host.v1", "service"),
        ("host.v2", "host.v2", "service"),
        ("proxy.v1", "proxy.v1", "service"),
    ]
    for config_type in BUILTIN_CONFIG_TYPES:
        check_schema(config_type.schema)
        assert config_type.schema["additionalProperties"] is False
    with pytest.raises(AttributeError):
        BUILTIN_CONFIG_TYPES[0].name = "x"  # type: ignore[misc]
    assert isinstance(BUILTIN_CONFIG_TYPES[0], BuiltinConfigType)


def test_host_v2_terminator_is_host_v1_without_root_keys():
    v1, v2 = SCHEMAS["host.v1"], SCHEMAS["host.v2"]
    assert v2["definitions"]["terminator"] == {k: v for k, v in v1.items() if k not in ("$id", "definitions")}
    assert v1["definitions"].items() <= v2["definitions"].items()


@pytest.mark.parametrize(
    ("type_name", "data"),
    [
        ("intercept.v1", INTERCEPT),
        (
            "intercept.v1",
            {
                "protocols": ["tcp", "udp"],
                "addresses": ["*.ziti", "10.0.0.0/8", "192.168.1.7", "fd00::/8", "echo.ziti"],
                "portRanges": [{"low": 1, "high": 1024}, {"low": 8443, "high": 8443}],
                "dialOptions": {"identity": "$dst_ip", "connectTimeoutSeconds": 15},
                "sourceIp": "$src_ip:$src_port",
                "allowedSourceAddresses": ["100.64.0.0/10"],
            },
        ),
        ("host.v1", HOST),
        (
            "host.v1",
            {
                "forwardProtocol": True,
                "allowedProtocols": ["tcp", "udp"],
                "forwardAddress": True,
                "allowedAddresses": ["*.ziti", "10.0.0.0/8"],
                "forwardPort": True,
                "allowedPortRanges": [{"low": 1, "high": 65535}],
                "forwardAddressTranslations": [{"from": "10.0.0.0", "to": "192.168.0.0", "prefixLength": 16}],
                "listenOptions": {
                    "bindUsingEdgeIdentity": True,
                    "connectTimeout": "5s",
                    "cost": 10,
                    "precedence": "required",
                },
                "portChecks": [{"interval": "5s", "timeout": "1s", "address": "localhost:8080"}],
                "httpChecks": [
                    {
                        "url": "http://localhost:8080/health",
                        "method": "GET",
                        "interval": "5s",
                        "timeout": "1s",
                        "expectStatus": 200,
                        "actions": [{"trigger": "fail", "consecutiveEvents": 3, "action": "mark unhealthy"}],
                    }
                ],
                "proxy": {"type": "http", "address": "proxy.local:3128"},
            },
        ),
        ("host.v2", {"terminators": [HOST, {"protocol": "udp", "address": "10.0.0.5", "port": 53}]}),
        ("ziti-tunneler-client.v1", {"hostname": "echo.ziti", "port": 80}),
        ("ziti-tunneler-server.v1", {"hostname": "localhost", "port": 8080, "protocol": "tcp"}),
        ("proxy.v1", {"port": 8080, "protocols": ["tcp"], "binding": "edge"}),
    ],
)
def test_documented_shapes_validate(type_name, data):
    validate_config_data(SCHEMAS[type_name], data)


@pytest.mark.parametrize(
    ("type_name", "data", "field"),
    [
        ("intercept.v1", {k: v for k, v in INTERCEPT.items() if k != "protocols"}, "data.protocols"),
        ("intercept.v1", {**INTERCEPT, "portRanges": [{"low": 80, "high": 65536}]}, "data.portRanges[0].high"),
        ("intercept.v1", {**INTERCEPT, "portRanges": [{"low": 80}]}, "data.portRanges[0].high"),
        ("intercept.v1", {**INTERCEPT, "protocols": ["sctp"]}, "data.protocols[0]"),
        ("intercept.v1", {**INTERCEPT, "protocols": ["tcp", "tcp"]}, "data.protocols"),
        ("intercept.v1", {**INTERCEPT, "addresses": []}, "data.addresses"),
        ("intercept.v1", {**INTERCEPT, "addresses": [""]}, "data.addresses[0]"),
        ("intercept.v1", {**INTERCEPT, "port": 80}, "data.port"),
        ("intercept.v1", {**INTERCEPT, "dialOptions": {"timeout": 5}}, "data.dialOptions.timeout"),
        ("host.v1", {**HOST, "port": -1}, "data.port"),
        ("host.v1", {**HOST, "port": "8080"}, "data.port"),
        ("host.v1", {**HOST, "protocol": "icmp"}, "data.protocol"),
        ("host.v1", {**HOST, "hostname": "x"}, "data.hostname"),
        ("host.v1", {"protocol": "tcp", "address": "localhost", "forwardPort": True}, "data.allowedPortRanges"),
        ("host.v1", {"protocol": "tcp", "port": 80, "forwardAddress": False}, "data.forwardAddress"),
        ("host.v1", {"protocol": "tcp", "port": 80}, "data.address"),
        (
            "host.v1",
            {**HOST, "forwardAddressTranslations": [{"from": "10.0.0.0", "to": "nope"}]},
            "data.forwardAddressTranslations[0]",
        ),
        ("host.v1", {**HOST, "listenOptions": {"precedence": "high"}}, "data.listenOptions.precedence"),
        (
            "host.v1",
            {**HOST, "portChecks": [{"interval": "soon", "timeout": "1s", "address": "x"}]},
            "data.portChecks[0].interval",
        ),
        ("host.v2", {"terminators": []}, "data.terminators"),
        ("host.v2", {"terminators": [HOST, {**HOST, "port": 70000}]}, "data.terminators[1].port"),
        ("host.v2", HOST, "data.protocol"),
        ("ziti-tunneler-client.v1", {"hostname": "echo.ziti"}, "data.port"),
        ("ziti-tunneler-server.v1", {"hostname": "localhost", "port": 80, "protocol": None}, "data.protocol"),
        ("proxy.v1", {"port": 0, "protocols": ["tcp"]}, "data.port"),
    ],
)
def test_mistakes_are_refused_with_the_field_named(type_name, data, field):
    error = refused(type_name, data)
    assert error.field == field
    assert field in error.message


def test_refusal_carries_the_offending_value():
    assert refused("intercept.v1", {**INTERCEPT, "portRanges": [{"low": 80, "high": 65536}]}).value == 65536
    assert refused("host.v1", {**HOST, "extra": [1]}).value == [1]
    assert refused("intercept.v1", {"addresses": ["a"], "portRanges": [{"low": 1, "high": 1}]}).value is None


def test_data_must_be_a_bounded_json_object():
    assert refused("host.v1", ["tcp"]).field == "data"
    assert refused("host.v1", {**HOST, "x": float("nan")}).field == "data"
    assert refused("host.v1", {**HOST, "x": object()}).field == "data"
    big = {"protocols": ["tcp"], "addresses": ["a" * MAX_DATA_BYTES], "portRanges": [{"low": 1, "high": 1}]}
    assert "larger than" in refused("intercept.v1", big).message
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert refused("host.v1", {**HOST, "x": deep}).field == "data"


def test_pathological_data_stays_fast():
    ranges = [{"low": port, "high": port} for port in range(2500)]
    data = {"protocols": ["tcp"], "addresses": ["a"], "portRanges": ranges}
    assert len(json.dumps(data, separators=(",", ":"))) < MAX_DATA_BYTES
    started = time.monotonic()
    validate_config_data(SCHEMAS["intercept.v1"], data)
    digits = {**HOST, "portChecks": [{"interval": "1" * 60_000, "timeout": "1s", "address": "x"}]}
    error = refused("host.v1", digits)
    assert time.monotonic() - started < 2
    assert str(MAX_PATTERN_SUBJECT_CHARS) in error.message


def test_unique_items_uses_json_equality():
    schema = {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}
    validate_config_data(schema, {"a": [1, True, "1", [1], {"x": 1}, {"x": True}, None, 0, False]})
    for duplicated in ([1, 1.0], [{"x": 1, "y": [2]}, {"y": [2.0], "x": 1}], [None, None], [[True], [True]]):
        with pytest.raises(ValidationError) as info:
            validate_config_data(schema, {"a": duplicated})
        assert info.value.field == "data.a"


def test_empty_schema_accepts_any_object():
    check_schema({})
    validate_config_data({}, {"anything": [1, {"goes": True}]})


@pytest.mark.parametrize(
    "schema",
    [
        ["not", "an", "object"],
        {"type": "string"},
        {"properties": {}},
        {"type": "object", "properties": {"a": {"type": "strung"}}},
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
        {"type": "object", "properties": {"a": {"$ref": "#/definitions/missing"}}},
        {"type": "object", "properties": {"a": {"$ref": "https://example.com/remote.json"}}},
        {"type": "object", "description": "x" * (256 * 1024)},
    ],
)
def test_invalid_schemas_are_refused(schema):
    with pytest.raises(ValidationError) as info:
        check_schema(schema)
    assert info.value.field == "schema"
    assert info.value.message.startswith("invalid schema")


def test_custom_schema_with_local_refs_and_format_rules():
    schema = {
        "type": "object",
        "$id": "https://example.com/custom.json",
        "definitions": {
            "ip": {"type": "string", "format": "ipv4"},
            "host": {"type": "string", "format": "idn-hostname"},
        },
        "properties": {"ip": {"$ref": "#/definitions/ip"}, "host": {"$ref": "#/definitions/host"}},
    }
    check_schema(schema)
    validate_config_data(schema, {"ip": "10.1.2.3", "host": "*.wild/card"})
    with pytest.raises(ValidationError) as info:
        validate_config_data(schema, {"ip": "10.1.2"})
    assert info.value.field == "data.ip"


def test_remote_ref_is_never_fetched_while_validating():
    schema = {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/remote.json"}}}
    with pytest.raises(ValidationError) as info:
        validate_config_data(schema, {"a": 1})
    assert info.value.field == "schema"
