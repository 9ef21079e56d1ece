"""``node.toml``: which roles run on this host, validated with precise errors.

Every problem names the file, the key and what was expected; unknown keys are refused so a
typo never silently turns a role off.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ziti_aio.common.api_paths import MANAGEMENT_SERVICE
from ziti_aio.common.errors import ConfigError
from ziti_aio.common.events_config import DEFAULT_KEEP, DEFAULT_MAX_MIB, EVENT_TYPES, EventFileConfig
from ziti_aio.common.spa_config import SpaSite, spa_path_problem
from ziti_aio.controller.cluster.member import ClusterSettings
from ziti_aio.controller.cluster.replica import LOCAL_READS, READS

DEFAULT_CTRL_PORT = 1280
TUNNELER_MODES = ("proxy", "host", "tproxy")
LOG_FORMATS = ("text", "json")
MANAGEMENT_MODES = ("tcp", "overlay")
DEFAULT_DNS_RANGE = "100.64.0.1/10"
DEFAULT_RESOLVER = "udp://127.0.0.1:53"


@dataclass(frozen=True)
class ControllerSection:
    """``[controller]``: the API on ``port``; the router control channel shares it unless ``ctrl_port``
    gives it a port of its own (docs/ports.md)."""

    address: str
    port: int = DEFAULT_CTRL_PORT
    ctrl_port: int | None = None
    bind: str = "0.0.0.0"
    admin_username: str = "admin"
    admin_password: str | None = None
    management: str = "tcp"
    """``overlay``: the management API only as the ziti service ``management_service`` (docs/operations.md)."""
    management_service: str = MANAGEMENT_SERVICE
    events: tuple[EventFileConfig, ...] = ()
    console: bool = True
    spa: tuple[SpaSite, ...] = ()
    cluster: ClusterSettings | None = None
    """``cluster = { id = "ctrl-1", members = ["ctrl-2@host:port", …] }``: a Raft cluster member (docs/ha.md)."""


@dataclass(frozen=True)
class RouterSection:
    """``[[router]]``: SDKs and links share the ``edge`` address unless ``link`` gives links their own;
    without ``edge`` the router is transit-only."""

    name: str
    jwt: Path | None = None
    edge: str | None = None
    link: str | None = None
    advertise: str | None = None


@dataclass(frozen=True)
class TunnelerSection:
    identity: Path
    mode: str = "host"
    proxy: tuple[str, ...] = ()
    dns_upstreams: tuple[str, ...] = ()
    dns_range: str = DEFAULT_DNS_RANGE
    resolver: str = DEFAULT_RESOLVER


@dataclass(frozen=True)
class NodeConfig:
    """One host's roles."""

    home: Path
    controller: ControllerSection | None = None
    routers: tuple[RouterSection, ...] = field(default_factory=tuple)
    tunneler: TunnelerSection | None = None
    log_format: str = "text"


class _Reader:
    """Pulls typed values out of one TOML table, recording what was used."""

    def __init__(self, source: str, where: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {where or 'the file'} must be a table")
        self.source, self.where, self.table = source, where, table
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.table:
            if required:
                raise ConfigError(f"{self.source}: {self._key(key)} is required")
            return default
        value = self.table[key]
        if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise ConfigError(f"{self.source}: {self._key(key)} must be a {expected}, not {value!r}")
        return value

    def port(self, key: str, default: int) -> int:
        value = self.optional_port(key)
        return default if value is None else value

    def optional_port(self, key: str) -> int | None:
        value: int | None = self.get(key, int)
        if value is not None and not 0 <= value <= 65535:
            raise ConfigError(f"{self.source}: {self._key(key)} must be a port number (0-65535), not {value}")
        return value

    def address(self, key: str) -> str | None:
        value: str | None = self.get(key, str)
        if value is not None:
            host, sep, port = value.rpartition(":")
            if not sep or not host or not (port.isascii() and port.isdigit() and len(port) <= 5) or int(port) > 65535:
                raise ConfigError(f"{self.source}: {self._key(key)} must be host:port, not {value!r}")
        return value

    def path(self, key: str, base: Path | None, *, required: bool = False) -> Path | None:
        """A path with ``~`` expanded; a relative one is joined to ``base`` (if given)."""
        value = self.get(key, str, required=required)
        if value is None:
            return None
        try:
            if "\x00" in value:
                raise ValueError("it contains a NUL character")
            path = Path(value).expanduser()
        except (RuntimeError, ValueError) as exc:  # RuntimeError: ~user names no known user
            raise ConfigError(f"{self.source}: {self._key(key)} {value!r} is not a usable path: {exc}") from exc
        return path if base is None or path.is_absolute() else base / path

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.source}: {self._key(key)} must be a list of strings")
        return tuple(value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise ConfigError(f"{self.source}: unknown key {self._key(unknown[0])!r}"
                              + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))


def parse_node_config(data: dict[str, Any], *, source: str = "node.toml", base: Path | None = None) -> NodeConfig:
    """Validate a parsed TOML document; relative paths resolve against ``base`` (the home)."""
    top = _Reader(source, "", data)
    home = top.path("home", None, required=True)
    assert home is not None
    base = base or home
    controller = None
    if "controller" in data:
        c = _Reader(source, "controller", top.get("controller", dict))
        controller = ControllerSection(
            address=c.get("address", str, required=True), port=c.port("port", DEFAULT_CTRL_PORT),
            ctrl_port=c.optional_port("ctrl_port"), bind=c.get("bind", str, "0.0.0.0"),
            admin_username=c.get("admin_username", str, "admin"), admin_password=c.get("admin_password", str),
            management=c.get("management", str, "tcp"),
            management_service=c.get("management_service", str, MANAGEMENT_SERVICE),
            events=tuple(_event_file(source, n, table, base) for n, table in enumerate(c.get("events", list, []))),
            console=c.get("console", bool, True),
            spa=tuple(_spa_site(source, n, table, base) for n, table in enumerate(c.get("spa", list, []))),
            cluster=_cluster(source, c.get("cluster", dict)),
        )
        c.done()
        if controller.management not in MANAGEMENT_MODES:
            raise ConfigError(f"{source}: controller.management must be one of {', '.join(MANAGEMENT_MODES)}, "
                              f"not {controller.management!r}")
        if not controller.management_service.strip():
            raise ConfigError(f"{source}: controller.management_service must not be empty")
    routers = []
    names: set[str] = set()
    for n, table in enumerate(top.get("router", list, [])):
        r = _Reader(source, f"router[{n}]", table)
        section = RouterSection(name=r.get("name", str, required=True), jwt=r.path("jwt", base),
                                edge=r.address("edge"), link=r.address("link"), advertise=r.get("advertise", str))
        r.done()
        if section.name in names:
            raise ConfigError(f"{source}: router[{n}].name {section.name!r} is used twice")
        names.add(section.name)
        routers.append(section)
    tunneler = None
    if "tunneler" in data:
        t = _Reader(source, "tunneler", top.get("tunneler", dict))
        mode = t.get("mode", str, "host")
        if mode not in TUNNELER_MODES:
            raise ConfigError(f"{source}: tunneler.mode must be one of {', '.join(TUNNELER_MODES)}, not {mode!r}")
        identity = t.path("identity", base, required=True)
        assert identity is not None
        tunneler = TunnelerSection(identity=identity, mode=mode, proxy=t.strings("proxy"),
                                   dns_upstreams=t.strings("dns_upstreams"),
                                   dns_range=t.get("dns_range", str, DEFAULT_DNS_RANGE),
                                   resolver=t.get("resolver", str, DEFAULT_RESOLVER))
        t.done()
    log_format = top.get("log_format", str, "text")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"{source}: log_format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    top.done()
    if controller is None and not routers and tunneler is None:
        raise ConfigError(f"{source}: no role is configured ([controller], [[router]] or [tunneler])")
    return NodeConfig(home=home, controller=controller, routers=tuple(routers), tunneler=tunneler,
                      log_format=log_format)


def _cluster(source: str, table: dict[str, Any] | None) -> ClusterSettings | None:
    """``[controller] cluster``: this member's id and the others as ``id@host:port`` (their API ports)."""
    if table is None:
        return None
    c = _Reader(source, "controller.cluster", table)
    member_id = c.get("id", str, required=True)
    members = []
    for entry in c.strings("members"):
        ident, sep, address = entry.partition("@")
        host, colon, port = address.rpartition(":")
        if not sep or not ident or not colon or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ConfigError(f"{source}: controller.cluster.members entry {entry!r} must be id@host:port")
        members.append((ident, address))
    reads = c.get("reads", str, LOCAL_READS)
    c.done()
    if not member_id or "/" in member_id or member_id in {i for i, _ in members}:
        raise ConfigError(f"{source}: controller.cluster.id {member_id!r} must be a name of its own, not a member's")
    if reads not in READS:
        raise ConfigError(f"{source}: controller.cluster.reads {reads!r} must be one of {', '.join(READS)}")
    return ClusterSettings(member_id, tuple(members), reads=reads)


def _event_file(source: str, n: int, table: Any, base: Path) -> EventFileConfig:
    """One ``[[controller.events]]`` table (docs/events.md)."""
    e = _Reader(source, f"controller.events[{n}]", table)
    types = e.strings("types")
    for t in types:
        if t not in EVENT_TYPES:
            raise ConfigError(f"{source}: controller.events[{n}].types names an unknown event type {t!r} "
                              f"(known: {', '.join(EVENT_TYPES)})")
    if not types:
        raise ConfigError(f"{source}: controller.events[{n}].types must name at least one event type")
    file = e.path("file", base, required=True)
    assert file is not None
    max_mib, keep = e.get("max_mib", int, DEFAULT_MAX_MIB), e.get("keep", int, DEFAULT_KEEP)
    if max_mib < 1 or keep < 0:
        raise ConfigError(f"{source}: controller.events[{n}]: max_mib must be >= 1 and keep >= 0")
    e.done()
    return EventFileConfig(types=types, file=file, max_mib=max_mib, keep=keep)


def _spa_site(source: str, n: int, table: Any, base: Path) -> SpaSite:
    """One ``[[controller.spa]]`` table (docs/console.md); its directory is checked before start (validate.py)."""
    s = _Reader(source, f"controller.spa[{n}]", table)
    path = s.get("path", str, required=True)
    problem = spa_path_problem(path)
    if problem:
        raise ConfigError(f"{source}: controller.spa[{n}].path {path!r} {problem}")
    directory = s.path("dir", base, required=True)
    assert directory is not None
    s.done()
    return SpaSite(path=path, dir=directory)


def load_node_config(path: Path) -> NodeConfig:
    """Read and validate a node.toml file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # not UTF-8, or a NUL in the path
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return parse_node_config(data, source=str(path))


def _toml_value(value: object) -> str:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # JSON strings and integers are valid TOML


def _table(header: str, section: object) -> list[str]:
    lines = [header]
    for key, value in vars(section).items():
        if key in ("events", "spa"):
            continue  # their own [[controller.events]] / [[controller.spa]] tables, after this one
        if isinstance(value, ClusterSettings):
            members = tuple(f"{i}@{a}" for i, a in value.members)
            reads = "" if value.reads == LOCAL_READS else f", reads = {_toml_value(value.reads)}"
            lines.append(f"cluster = {{ id = {_toml_value(value.member_id)}, members = {_toml_value(members)}"
                         f"{reads} }}")
            continue
        if value is not None and value != ():
            lines.append(f"{key} = {_toml_value(value)}")
    return lines


def render_node_config(cfg: NodeConfig, *, comment: str = "") -> str:
    """``cfg`` as node.toml text that :func:`parse_node_config` reads back to ``cfg``."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"home = {_toml_value(cfg.home)}", f"log_format = {_toml_value(cfg.log_format)}"]
    if cfg.controller is not None:
        lines += ["", *_table("[controller]", cfg.controller)]
        for sink in cfg.controller.events:
            lines += ["", *_table("[[controller.events]]", sink)]
        for site in cfg.controller.spa:
            lines += ["", *_table("[[controller.spa]]", site)]
    for router in cfg.routers:
        lines += ["", *_table("[[router]]", router)]
    if cfg.tunneler is not None:
        lines += ["", *_table("[tunneler]", cfg.tunneler)]
    return "\n".join(lines) + "\n"
