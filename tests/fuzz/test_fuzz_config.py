"""Fuzzing the local configuration readers: node.toml and identity files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given

from ziti_aio.appliance.node_config import load_node_config
from ziti_aio.common.errors import ConfigError

from .config_targets import (
    IdentityCase,
    TomlCase,
    check_identity,
    check_node_document,
    check_node_toml,
    good_identity_fields,
    identity_cases,
    node_documents,
    toml_cases,
)
from .targets import bounded

ROUTER = {"home": "/srv/ziti", "router": [{"name": "r1"}]}


@bounded(400)
@given(node_documents())
@example({**ROUTER, "home": "~nosuchuser-fuzz/x"}).via("RuntimeError from expanduser")
@example({**ROUTER, "home": "~\x00"}).via("ValueError from expanduser")
@example({**ROUTER, "router": [{"name": "r1", "jwt": "~nosuchuser-fuzz/r1.jwt"}]}).via("RuntimeError from expanduser")
@example({**ROUTER, "router": [{"name": "r1", "edge": "h:\u00b2"}]}).via("ValueError from int()")
@example({**ROUTER, "router": [{"name": "r1", "edge": "h:" + "9" * 5000}]}).via("ValueError from int()")
@example({**ROUTER, "router": [{"name": "r1", "edge": "h:\u0661"}]}).via("a non-ASCII port was accepted")
def test_node_config_refuses_wrong_documents_with_config_error(doc):
    check_node_document(doc)


@bounded(300)
@given(toml_cases())
@example(TomlCase(b"home = '\xff'\n", None)).via("UnicodeDecodeError escaped load_node_config")
@example(TomlCase(b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", None)).via("RecursionError from tomllib")
@example(TomlCase(b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n", None)).via("RecursionError from tomllib")
def test_node_toml_loader_refuses_broken_files_with_config_error(case):
    check_node_toml(case)


def test_a_node_config_path_with_a_nul_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot read"):
        load_node_config(Path("node\x00.toml"))


def _identity(**ids: str) -> IdentityCase:
    return IdentityCase({"ztAPI": "https://ctrl:1280", "id": good_identity_fields() | ids}, None, False)


@bounded(300)
@given(identity_cases())
@example(_identity(key="file://[")).via("ValueError from urlsplit")
@example(_identity(cert="file://%00")).via("ValueError: embedded null byte")
@example(_identity(ca="file:///dev/zero")).via("unbounded read of a file:// value")
@example(_identity(key="pem:\ud800")).via("UnicodeEncodeError from the key")
@example(IdentityCase({"ztAPI": "https://", "id": good_identity_fields()}, None, False)).via("ztAPI without a host")
@example(IdentityCase(None, b"[" * 100_000, False)).via("RecursionError from json.loads")
def test_identity_files_load_or_fail_with_config_error(case):
    check_identity(case)
