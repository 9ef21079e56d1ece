"""A PKI directory laid out like ``ziti pki``: ``<root>/<ca-name>/{certs,keys}/<file>.{cert,key,chain.pem}``.

A CA lives in its own directory under the name of its file: ``<root>/<ca>/certs/<ca>.cert``, its key in
``keys/<ca>.key`` and ``certs/<ca>.chain.pem`` holding the CA followed by the issuers above it. Leaves go
into the directory of the CA that issued them. Keys are created 0600, directories 0700; every file is
written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.errors import ConfigError, ValidationError
from ziti_aio.pki.bundle import certs_to_pem, load_certs_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import PrivateKey, key_to_pem, load_key

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700


def cert_path(root: Path, ca_name: str, file: str) -> Path:
    """``<root>/<ca_name>/certs/<file>.cert``."""
    return Path(root) / _part(ca_name) / "certs" / f"{_part(file)}.cert"


def chain_path(root: Path, ca_name: str, file: str) -> Path:
    """``<root>/<ca_name>/certs/<file>.chain.pem``: the certificate followed by its issuers."""
    return Path(root) / _part(ca_name) / "certs" / f"{_part(file)}.chain.pem"


def key_path(root: Path, ca_name: str, file: str) -> Path:
    """``<root>/<ca_name>/keys/<file>.key``."""
    return Path(root) / _part(ca_name) / "keys" / f"{_part(file)}.key"


def leaf_paths(root: Path, ca_name: str, file: str) -> list[Path]:
    """The certificate, key and chain paths :func:`save_leaf` writes, in that order."""
    return [cert_path(root, ca_name, file), key_path(root, ca_name, file), chain_path(root, ca_name, file)]


def _part(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ConfigError(f"invalid PKI file or CA name {name!r}")
    return name


def _make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700 (``mkdir -p`` would give parents the default mode)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Atomically write ``data`` to ``path``: created with ``mode`` under a temporary name, then renamed over it.

    Missing parent directories are created 0700.
    """
    path = Path(path)
    _make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def save_leaf(
    root: Path,
    ca_name: str,
    file: str,
    cert: x509.Certificate,
    key: PrivateKey,
    chain: tuple[x509.Certificate, ...] | list[x509.Certificate],
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``<file>.cert``, ``<file>.key`` and ``<file>.chain.pem`` (cert + ``chain``) under ``ca_name``.

    Without ``overwrite`` an existing file raises :class:`ConfigError` before anything is written.
    Returns the paths written.
    """
    paths = leaf_paths(root, ca_name, file)
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise ConfigError(f"refusing to overwrite {', '.join(existing)}")
    contents = [_cert_pem(cert), key_to_pem(key), certs_to_pem([cert, *chain])]
    for path, data, mode in zip(paths, contents, (CERT_MODE, KEY_MODE, CERT_MODE), strict=True):
        write_file(path, data, mode)
    return paths


def save_ca(root: Path, ca_name: str, ca: CertAuthority, *, overwrite: bool = False) -> list[Path]:
    """Write a CA into its own directory ``<root>/<ca_name>/`` (see the module docstring)."""
    return save_leaf(root, ca_name, ca_name, ca.cert, ca.key, ca.chain, overwrite=overwrite)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc


def load_leaf(root: Path, ca_name: str, file: str) -> tuple[x509.Certificate, PrivateKey]:
    """The certificate and key saved as ``file`` under ``ca_name``; :class:`ConfigError` naming the bad path."""
    path = cert_path(root, ca_name, file)
    try:
        cert = load_certs_pem(_read(path))[0]
        path = key_path(root, ca_name, file)
        key = load_key(_read(path))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc.message}") from exc
    if key.public_key() != cert.public_key():
        raise ConfigError(f"{path} does not hold the key of {cert_path(root, ca_name, file)}")
    return cert, key


def load_ca(root: Path, ca_name: str) -> CertAuthority:
    """The CA saved under ``<root>/<ca_name>/``, with its chain from ``<ca_name>.chain.pem`` when present."""
    cert, key = load_leaf(root, ca_name, ca_name)
    path = chain_path(root, ca_name, ca_name)
    chain: list[x509.Certificate] = []
    if path.exists():
        try:
            chain = load_certs_pem(_read(path))
        except ValidationError as exc:
            raise ConfigError(f"{path}: {exc.message}") from exc
        if chain[0] != cert:
            raise ConfigError(f"{path} does not start with {cert_path(root, ca_name, ca_name)}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise ConfigError(f"{cert_path(root, ca_name, ca_name)} is not a CA certificate")
    return CertAuthority(cert, key, tuple(chain[1:]))
