"""Address patterns of intercept.v1 and host.v1 configs: hostnames, ``*.wildcards``, IPs, CIDRs; port ranges.

Pure functions, no I/O. Hostnames compare case-insensitively without a trailing dot; a
wildcard ``*.example.com`` matches any name below ``example.com`` (not the bare domain),
as OpenZiti tunnelers do.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from ziti_aio.common.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalize_hostname(name: str) -> str:
    return name.strip().rstrip(".").lower()


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPattern:
    """One entry of ``addresses`` / ``allowedAddresses``."""

    text: str
    network: IPNetwork | None = None
    hostname: str | None = None
    wildcard: str | None = None  # the suffix after ``*.``

    @classmethod
    def parse(cls, text: str) -> AddressPattern:
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"an address must be a non-empty string, not {text!r}")
        value = text.strip()
        if "/" in value or parse_ip(value) is not None:
            try:
                return cls(text, network=ipaddress.ip_network(value, strict=False))
            except ValueError as exc:
                raise ConfigError(f"address {text!r} is not a valid IP or CIDR: {exc}") from exc
        name = normalize_hostname(value)
        if name.startswith("*."):
            return cls(text, wildcard=name[2:])
        if "*" in name:
            raise ConfigError(f"address {text!r}: a wildcard must be a leading '*.'")
        return cls(text, hostname=name)

    @property
    def is_name(self) -> bool:
        return self.network is None

    def matches_ip(self, ip: IPAddress) -> bool:
        return self.network is not None and ip.version == self.network.version and ip in self.network

    def matches_name(self, name: str) -> bool:
        name = normalize_hostname(name)
        if self.hostname is not None:
            return name == self.hostname
        if self.wildcard is not None:
            return name.endswith("." + self.wildcard)
        return False

    def matches(self, address: str) -> bool:
        """``address`` (an IP or a hostname) falls under this pattern."""
        ip = parse_ip(address)
        return self.matches_ip(ip) if ip is not None else self.matches_name(address)


def parse_patterns(values: Iterable[Any]) -> tuple[AddressPattern, ...]:
    return tuple(AddressPattern.parse(v) for v in values)


@dataclass(frozen=True)
class PortRange:
    low: int
    high: int

    @classmethod
    def parse(cls, value: Any) -> PortRange:
        if not isinstance(value, dict):
            raise ConfigError(f"a port range must be {{low, high}}, not {value!r}")
        low, high = value.get("low"), value.get("high", value.get("low"))
        if not (_is_port(low) and _is_port(high)):
            raise ConfigError(f"port range {value!r} needs integer low/high within 0-65535")
        if low > high:
            raise ConfigError(f"port range {value!r} has low above high")
        return cls(low, high)

    def __contains__(self, port: int) -> bool:
        return self.low <= port <= self.high


def parse_port_ranges(values: Iterable[Any]) -> tuple[PortRange, ...]:
    return tuple(PortRange.parse(v) for v in values)


def _is_port(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535
