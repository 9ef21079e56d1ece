"""Fuzz targets of the local configuration readers: ``node.toml`` and identity files.

Both read files an operator hands over, so the checks run the real loaders on real files in a
temporary directory: only :class:`ConfigError` may escape, and what loads is what was written.
"""

from __future__ import annotations

import json
import math
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from hypothesis import strategies as st

from ziti_aio.appliance.node_config import (
    LOG_FORMATS,
    TUNNELER_MODES,
    NodeConfig,
    load_node_config,
    parse_node_config,
)
from ziti_aio.common.errors import ConfigError
from ziti_aio.pki.keys import load_key
from ziti_aio.sdk.identity_file import Identity, load_identity, parse_identity

from .pki_targets import materials
from .strategies import deeply_nested_json, json_scalars, json_values, mutated_bytes, mutated_text

# --- node.toml ---------------------------------------------------------------------------------

INT64 = st.integers(-(2**63), 2**63 - 1)
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
TOML_SCALARS = st.one_of(
    st.text(max_size=20), INT64, st.floats(allow_nan=False), st.booleans(), st.dates(),
    st.times(), st.datetimes(), st.datetimes(timezones=OFFSETS),
)  # fmt: skip
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
GOOD_PATHS = st.sampled_from(("/srv/ziti", "home", "~", "~/ziti", "r.jwt")) | st.text("abz/._-~", max_size=12)
BAD_PATHS = st.sampled_from(("~nosuchuser-fuzz/x", "~\x00", "a\x00b", "")) | st.text(max_size=8)
GOOD_ADDRESSES = st.sampled_from(("127.0.0.1:3022", "h:0", "h:65535", "[::1]:80", "router.example:443"))
BAD_ADDRESSES = st.sampled_from((
    "h:65536", "h:-1", "h:\u00b2", "h:\u0661\u0662", ":80", "h:", "80", "h:" + "9" * 5000, "h:+80", "h: 80",
    "h:000080",
)) | st.text(max_size=12)  # fmt: skip
GOOD_PORTS, BAD_PORTS = st.integers(0, 65535), st.integers(-1, 70000) | INT64
GOOD_NAMES, BAD_NAMES = st.sampled_from(("r1", "r2", "r3", "admin")), st.text(max_size=8)
GOOD_LISTS, BAD_LISTS = st.lists(st.text(max_size=12), max_size=3), st.lists(TOML_SCALARS, min_size=1, max_size=3)
KEYS = {
    "": {"home": (GOOD_PATHS, BAD_PATHS),
         "log_format": (st.sampled_from(LOG_FORMATS), st.sampled_from(("", "JSON")))},
    "controller": {"address": (GOOD_NAMES | GOOD_ADDRESSES, BAD_NAMES), "port": (GOOD_PORTS, BAD_PORTS),
                   "ctrl_port": (GOOD_PORTS, BAD_PORTS), "bind": (GOOD_ADDRESSES, BAD_ADDRESSES),
                   "admin_username": (GOOD_NAMES, BAD_NAMES), "admin_password": (GOOD_NAMES, BAD_NAMES)},
    "router": {"name": (GOOD_NAMES, BAD_NAMES), "jwt": (GOOD_PATHS, BAD_PATHS), "edge": (GOOD_ADDRESSES, BAD_ADDRESSES),
               "link": (GOOD_ADDRESSES, BAD_ADDRESSES), "advertise": (GOOD_ADDRESSES, BAD_ADDRESSES)},
    "tunneler": {"identity": (GOOD_PATHS, BAD_PATHS),
                 "mode": (st.sampled_from(TUNNELER_MODES), st.sampled_from(("", "Host"))),
                 "proxy": (GOOD_LISTS, BAD_LISTS), "dns_upstreams": (GOOD_LISTS, BAD_LISTS)},
}  # fmt: skip
REQUIRED = {"": "home", "controller": "address", "router": "name", "tunneler": "identity"}
_KEY_SETS = {section: st.lists(st.sampled_from(sorted(keys)), unique=True) for section, keys in KEYS.items()}


@st.composite
def _table(draw: st.DrawFn, section: str) -> dict[str, Any]:
    """A table of ``section``'s keys, its required one mostly present; values mostly right, sometimes
    wrong or of any TOML type; now and then an unknown key."""
    known = KEYS[section]
    chosen = set(draw(_KEY_SETS[section]))
    if draw(st.integers(0, 7)):
        chosen.add(REQUIRED[section])
    table = {}
    for key in sorted(chosen):
        good, bad = known[key]
        table[key] = draw(good) if draw(st.integers(0, 5)) else draw(bad if draw(st.booleans()) else TOML_VALUES)
    if draw(st.integers(0, 7)) == 0:
        table[draw(st.text(min_size=1, max_size=8))] = draw(TOML_VALUES)
    return table


_TABLES = {section: _table(section) for section in ("", "controller", "tunneler")} | {
    "router": st.lists(_table("router"), max_size=3)
}


@st.composite
def node_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Parsed ``node.toml`` documents: the three role sections, each present, absent or of the wrong type."""
    doc = draw(_TABLES[""])
    for section in ("controller", "router", "tunneler"):
        if draw(st.booleans()):
            doc[section] = draw(_TABLES[section]) if draw(st.integers(0, 7)) else draw(TOML_VALUES)
    return doc


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _toml_string(text: str) -> str:
    chars = (_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in text)
    return '"' + "".join(chars) + '"'


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML value."""
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def toml_document(doc: dict[str, Any]) -> str:
    """``doc`` as a TOML document: top-level keys, then ``[table]`` and ``[[array of tables]]`` sections."""
    lines: list[str] = []
    sections: list[str] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            sections.append(f"[{_toml_string(key)}]")
            sections.extend(f"{_toml_string(k)} = {toml_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                sections.append(f"[[{_toml_string(key)}]]")
                sections.extend(f"{_toml_string(k)} = {toml_value(v)}" for k, v in table.items())
        else:
            lines.append(f"{_toml_string(key)} = {toml_value(value)}")
    return "\n".join(lines + sections) + "\n"


@dataclass(frozen=True)
class TomlCase:
    """The bytes of a node.toml; ``doc``: the document they encode when they were not edited."""

    text: bytes
    doc: dict[str, Any] | None


@st.composite
def toml_cases(draw: st.DrawFn) -> TomlCase:
    doc = draw(node_documents())
    text = toml_document(doc)
    kind = draw(st.sampled_from(("document", "text", "bytes", "nested")))
    if kind == "document":
        return TomlCase(text.encode(), doc)
    if kind == "text":
        return TomlCase(draw(mutated_text(text)).encode("utf-8", "surrogatepass"), None)
    if kind == "bytes":
        return TomlCase(draw(mutated_bytes(text.encode())), None)
    nested = draw(deeply_nested_json()).replace(b'"a":', b"a = ")
    return TomlCase(text.encode() + b"x = " + nested + b"\n", None)


def _outcome(parse: Any, *args: Any, **kwargs: Any) -> NodeConfig | None:
    try:
        return parse(*args, **kwargs)
    except ConfigError:
        return None


def _check_node_config(config: NodeConfig, doc: dict[str, Any]) -> None:
    assert config.home == Path(doc["home"]).expanduser()
    assert config.log_format in LOG_FORMATS and (config.controller or config.routers or config.tunneler)
    if config.controller is not None:
        c = config.controller
        assert c.address == doc["controller"]["address"] and 0 <= c.port <= 65535 \
            and (c.ctrl_port is None or 0 <= c.ctrl_port <= 65535)
    names = [r.name for r in config.routers]
    assert names == [table["name"] for table in doc.get("router", [])] and len(set(names)) == len(names)
    for address in (a for r in config.routers for a in (r.edge, r.link) if a is not None):
        host, _, port = address.rpartition(":")
        assert host and port.isascii() and port.isdigit() and int(port) <= 65535
    if config.tunneler is not None:
        assert config.tunneler.mode in TUNNELER_MODES


def check_node_document(doc: dict[str, Any]) -> None:
    """``parse_node_config`` raises only ConfigError, and what it accepts says what the document says."""
    config = _outcome(parse_node_config, doc, source="fuzz.toml")
    if config is not None:
        _check_node_config(config, doc)


def check_node_toml(case: TomlCase) -> None:
    """``load_node_config`` raises only ConfigError, and agrees with ``parse_node_config`` on what TOML
    reads from the same bytes."""
    with tempfile.TemporaryDirectory(prefix="fuzz-node-") as tmp:
        path = Path(tmp, "node.toml")
        path.write_bytes(case.text)
        loaded = _outcome(load_node_config, path)
    if case.doc is not None:
        assert tomllib.loads(case.text.decode()) == case.doc
    try:
        doc = tomllib.loads(case.text.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        assert loaded is None
        return
    assert loaded == _outcome(parse_node_config, doc, source=str(path))
    if loaded is not None:
        _check_node_config(loaded, doc)


# --- identity files ----------------------------------------------------------------------------

FILES = ("cert.pem", "key.pem", "ca.pem", "bad.pem")


def _file_contents() -> dict[str, bytes]:
    cert, key = materials().client_pem
    return {"cert.pem": cert, "key.pem": key, "ca.pem": materials().ca_pem, "bad.pem": b"\xff\xfe-----BEGIN"}


def _good(field: str) -> str:
    return _file_contents()[f"{field}.pem"].decode()


def good_identity_fields() -> dict[str, str]:
    """``id.cert``, ``id.key`` and ``id.ca`` of a valid identity, as raw PEM."""
    return {field: _good(field) for field in ("cert", "key", "ca")}


@st.composite
def _id_value(draw: st.DrawFn, field: str) -> Any:
    """A value for ``id.<field>``: good PEM raw, ``pem:`` or ``file://``, or the wrong kind, edited, unreadable."""
    good = _good(field)
    choice = draw(st.integers(0, 9))
    if choice < 2:
        return draw(st.sampled_from((good, "pem:" + good, f"file://{field}.pem", f"file://./{field}.pem")))
    if choice < 7:
        return draw(st.sampled_from((
            _good("key" if field != "key" else "cert"), "file://bad.pem", "file://missing.pem", "file://.",
            "file://[", "file://%00", "file:///dev/zero", "file://", "pem:", "", " ", "pem:\ud800", good + "\ud800",
            "data:abc", "-----BEGIN",
        )))  # fmt: skip
    if choice < 9:
        return draw(mutated_text(good))
    return draw(json_scalars(hostile=True))


_ID_VALUES = {field: _id_value(field) for field in ("cert", "key", "ca")}
ZTAPIS = st.sampled_from(("https://ctrl:1280", "https://ctrl:1280/"))
BAD_ZTAPIS = st.sampled_from((
    "https://", "https://:1280", "https://ctrl:99999", "https://ctrl:x", "https://[::1", "http://ctrl:1280", "", "ctrl",
)) | json_scalars(hostile=True)  # fmt: skip


@dataclass(frozen=True)
class IdentityCase:
    """An identity document (``raw`` None: written as JSON) or raw identity-file bytes; ``valid``: all good."""

    doc: Any
    raw: bytes | None
    valid: bool


@st.composite
def identity_cases(draw: st.DrawFn) -> IdentityCase:
    kind = draw(st.sampled_from(("valid", "fields", "shape", "raw")))
    valid_doc = {"ztAPI": "https://ctrl.fuzz.test:1280/", "id": good_identity_fields()}
    if kind == "valid":
        forms = {f: draw(st.sampled_from((_good(f), "pem:" + _good(f), f"file://{f}.pem"))) for f in valid_doc["id"]}
        return IdentityCase({**valid_doc, "id": forms}, None, True)
    if kind == "fields":
        ztapi = draw(ZTAPIS) if draw(st.integers(0, 3)) else draw(BAD_ZTAPIS)
        ids: dict[str, Any] = good_identity_fields()
        for field in draw(st.sets(st.sampled_from(sorted(ids)), min_size=1)):
            ids[field] = draw(_ID_VALUES[field])
        if draw(st.integers(0, 7)) == 0:
            del ids[draw(st.sampled_from(sorted(ids)))]
        return IdentityCase({"ztAPI": ztapi, "id": ids}, None, False)
    if kind == "shape":
        return IdentityCase(draw(json_values(hostile=True)), None, False)
    raw = draw(mutated_bytes(json.dumps(valid_doc).encode()) | deeply_nested_json() | st.binary(max_size=64))
    return IdentityCase(None, raw, False)


def _check_identity(identity: Identity) -> None:
    url = urlsplit(identity.ztapi)
    assert identity.ztapi.startswith("https://") and url.hostname and url.port != 0 and not url.path.endswith("/")
    for text in (identity.cert_pem, identity.key_pem, identity.ca_pem):
        text.encode()
    assert x509.load_pem_x509_certificates(identity.cert_pem.encode())
    assert x509.load_pem_x509_certificates(identity.ca_pem.encode())
    load_key(identity.key_pem.encode())


def check_identity(case: IdentityCase) -> None:
    """``load_identity`` and ``parse_identity`` raise only ConfigError; an identity that loads holds
    usable PEM; a valid identity loads, with the certificates and key it names."""
    with tempfile.TemporaryDirectory(prefix="fuzz-identity-") as tmp:
        base = Path(tmp)
        for name, content in _file_contents().items():
            (base / name).write_bytes(content)
        path = base / "identity.json"
        path.write_bytes(case.raw if case.raw is not None else json.dumps(case.doc).encode())
        loaders = [lambda: load_identity(path)]
        if case.raw is None:
            loaders.append(lambda: parse_identity(case.doc, base=base))
        for load in loaders:
            try:
                identity = load()
            except ConfigError:
                assert not case.valid, "a valid identity was refused"
                continue
            _check_identity(identity)
            if case.valid:
                pems = {"cert": identity.cert_pem, "key": identity.key_pem, "ca": identity.ca_pem}
                assert pems == good_identity_fields()
