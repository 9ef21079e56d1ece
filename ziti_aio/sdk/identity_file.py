"""Identity files as OpenZiti SDKs read them (docs/edge-api.md §4).

``{"ztAPI": "https://host:port", "id": {"cert": ..., "key": ..., "ca": ...}}``, where each of
``cert``, ``key`` and ``ca`` is raw PEM, ``pem:``-prefixed PEM or ``file://<path>`` (a relative
path is taken from the identity file's directory). ``ztAPIs``, if present, lists the client API URLs
of every controller of a cluster, as OpenZiti's SDKs write it (docs/ha.md, "SDKs and the cluster").
Other keys are ignored.

Error handling: anything missing, unreadable or not PEM of the right kind raises
:class:`ConfigError` naming the file and the field; nothing is half-loaded.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from cryptography import x509

from ziti_aio.common import api_paths
from ziti_aio.common.errors import ConfigError, ValidationError
from ziti_aio.pki.keys import load_key
from ziti_aio.transport.tls import client_context

if TYPE_CHECKING:
    import ssl

MAX_IDENTITY_FILE_BYTES = 1024 * 1024
MAX_CONTROLLERS = 32
PEM_PREFIX = "pem:"
FILE_PREFIX = "file://"


@dataclass(frozen=True)
class Identity:
    """A loaded identity: controller URL and PEM texts (``cert`` may be a chain)."""

    ztapi: str
    cert_pem: str
    key_pem: str = field(repr=False)
    ca_pem: str
    ztapis: tuple[str, ...] = ()
    """The cluster's other controllers (``ztAPIs``, base URLs), tried when ``ztapi`` does not answer."""

    @property
    def controllers(self) -> list[str]:
        """``ztapi`` and then every other listed controller, once each."""
        return list(dict.fromkeys((self.ztapi, *self.ztapis)))

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS client context trusting ``ca`` and presenting the identity's certificate (none for an
        identity that logs in with an external JWT: ``cert_pem`` empty)."""
        if not self.cert_pem:
            return client_context(ca_data=self.ca_pem)
        # ssl loads certificate chains only from files: write them to a private directory for the call.
        with tempfile.TemporaryDirectory(prefix="ziti-aio-id-") as tmp:
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_text(self.cert_pem)
            key.touch(mode=0o600)
            key.write_text(self.key_pem)
            return client_context(ca_data=self.ca_pem, cert_chain=str(cert), key=str(key))


def _resolve(value: Any, what: str, base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty string")
    if value.startswith(PEM_PREFIX):
        return value[len(PEM_PREFIX):]
    if value.startswith(FILE_PREFIX):
        try:
            parts = urlsplit(value)
            with (base / unquote(parts.netloc + parts.path)).open(encoding="utf-8") as file:
                text = file.read(MAX_IDENTITY_FILE_BYTES + 1)
        except (OSError, ValueError) as exc:  # ValueError: a bad URL, a NUL in the path, not UTF-8
            raise ConfigError(f"{what}: cannot read {value}: {exc}") from exc
        if len(text) > MAX_IDENTITY_FILE_BYTES:
            raise ConfigError(f"{what}: {value} is larger than {MAX_IDENTITY_FILE_BYTES} bytes")
        return text
    if value.lstrip().startswith("-----BEGIN"):
        return value
    scheme = value.split(":", 1)[0] if ":" in value else "raw text"
    raise ConfigError(f"{what}: expected PEM, pem:<PEM> or file://<path>, got {scheme}")


def _check_certs(pem: str, what: str) -> None:
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise ConfigError(f"{what} holds no valid PEM certificate: {exc}") from exc


def _is_https_url(value: str) -> bool:
    """``https://host[:port][/path]``: a host, and a port (if any) that parses and is not 0."""
    try:
        url = urlsplit(value)
        return value.startswith("https://") and bool(url.hostname) and url.port != 0
    except ValueError:  # a port out of range or not a number, a broken IPv6 literal
        return False


def parse_identity(doc: Any, *, base: Path = Path("."), source: str = "identity") -> Identity:
    """Build an :class:`Identity` from a decoded identity document; ``base`` resolves relative ``file://``."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: the identity must be a JSON object")
    ztapi = doc.get("ztAPI")
    if not isinstance(ztapi, str) or not _is_https_url(ztapi):
        raise ConfigError(f"{source}: ztAPI must be an https:// URL, got {ztapi!r}")
    ids = doc.get("id")
    if not isinstance(ids, dict):
        raise ConfigError(f"{source}: the 'id' object with cert, key and ca is missing")
    cert, key, ca = (_resolve(ids.get(k), f"{source}: id.{k}", base) for k in ("cert", "key", "ca"))
    _check_certs(cert, f"{source}: id.cert")
    _check_certs(ca, f"{source}: id.ca")
    try:
        load_key(key.encode())
    except ValidationError as exc:
        raise ConfigError(f"{source}: id.key: {exc.message}") from exc
    except UnicodeEncodeError as exc:
        raise ConfigError(f"{source}: id.key is not PEM text: {exc}") from exc
    return Identity(ztapi=ztapi.rstrip("/"), cert_pem=cert, key_pem=key, ca_pem=ca,
                    ztapis=_controllers(doc.get("ztAPIs"), source))


def _controllers(listed: Any, source: str) -> tuple[str, ...]:
    """``ztAPIs`` as base URLs (OpenZiti writes client API URLs, ``…/edge/client/v1``, or base URLs)."""
    if listed is None:
        return ()
    if not isinstance(listed, list) or len(listed) > MAX_CONTROLLERS \
            or not all(isinstance(u, str) and _is_https_url(u) for u in listed):
        raise ConfigError(f"{source}: ztAPIs must be a list of at most {MAX_CONTROLLERS} https:// URLs")
    return tuple(dict.fromkeys(u.rstrip("/").removesuffix(api_paths.CLIENT) for u in listed))


def load_identity(path: str | Path) -> Identity:
    """Read and parse the identity file at ``path``."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_IDENTITY_FILE_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_IDENTITY_FILE_BYTES} bytes")
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read identity file {path}: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a JSON identity file: {exc}") from exc
    return parse_identity(doc, base=path.parent, source=str(path))
