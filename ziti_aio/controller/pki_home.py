"""The controller's PKI under its home: created on first start, reused afterwards.

Layout (as ``ziti pki``): ``pki/root-ca`` (root), ``pki/intermediate-ca`` (signs identity,
router and server certificates), ``pki/intermediate-ca/{certs,keys}/server.*`` (the API's TLS
certificate, RSA so it signs RS256 enrollment JWTs) and ``pki/intermediate-ca/keys/
session-signing.key`` (EC key for API-session and session JWTs).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ziti_aio.pki import files
from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import PrivateKey, generate_key, key_to_pem, load_key
from ziti_aio.pki.names import is_ip, spiffe_uris

ROOT_CA = "root-ca"
SIGNER_CA = "intermediate-ca"
SERVER_FILE = "server"
SESSION_KEY_FILE = "session-signing"
CA_BUNDLE_FILE = "ca-bundle.pem"
DEFAULT_MEMBER_ID = "instance-1"


@dataclass(frozen=True)
class ControllerPki:
    """The controller's CAs, server certificate and token-signing key, with their file paths."""

    root: CertAuthority
    signer: CertAuthority
    server_cert: x509.Certificate
    server_key: PrivateKey
    session_key: ec.EllipticCurvePrivateKey
    server_chain_path: Path
    server_key_path: Path
    ca_bundle_path: Path

    @property
    def ca_bundle(self) -> list[x509.Certificate]:
        """Every CA certificate an enrolled party must trust (root first)."""
        return [self.root.cert, self.signer.cert]


def share_cluster_pki(source: Path, target: Path) -> None:
    """Give a new cluster member at ``target`` the CAs and the token-signing key of the member whose PKI
    is at ``source`` (both ``<home>/pki``), not its server certificate: the new member issues its own,
    with its own SPIFFE id, on first start (docs/ha.md)."""
    for ca in (ROOT_CA, SIGNER_CA):
        shutil.copytree(Path(source) / ca, Path(target) / ca, dirs_exist_ok=True)
    for path in files.leaf_paths(Path(target), SIGNER_CA, SERVER_FILE):
        path.unlink(missing_ok=True)


def _covers(cert: x509.Certificate, names: list[str]) -> bool:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = set(sans.get_values_for_type(x509.DNSName))
    return all(n in have for n in names)


def ensure_controller_pki(pki_root: Path, *, names: list[str], trust_domain: str,
                          member_id: str = DEFAULT_MEMBER_ID) -> ControllerPki:
    """Load the PKI under ``pki_root``, creating what is missing.

    The server certificate is re-issued when it does not cover every name in ``names``
    (hostnames and IP literals the controller is reached at) or does not carry the SPIFFE id
    ``spiffe://<trust domain>/controller/<member_id>`` (a cluster member's name, docs/ha.md).
    """
    spiffe_id = f"spiffe://{trust_domain}/controller/{member_id}"
    pki_root = Path(pki_root)
    try:
        root = files.load_ca(pki_root, ROOT_CA)
    except Exception:
        if files.cert_path(pki_root, ROOT_CA, ROOT_CA).exists():
            raise
        root = CertAuthority.create_root(f"{trust_domain} root CA", trust_domain=trust_domain)
        files.save_ca(pki_root, ROOT_CA, root)
    if files.cert_path(pki_root, SIGNER_CA, SIGNER_CA).exists():
        signer = files.load_ca(pki_root, SIGNER_CA)
    else:
        signer = root.create_intermediate(f"{trust_domain} intermediate CA", max_path_len=0)
        files.save_ca(pki_root, SIGNER_CA, signer)
    wanted = list(dict.fromkeys(["localhost", "127.0.0.1", *names]))
    server_path = files.cert_path(pki_root, SIGNER_CA, SERVER_FILE)
    server_cert = server_key = None
    if server_path.exists():
        server_cert, server_key = files.load_leaf(pki_root, SIGNER_CA, SERVER_FILE)
        if not _covers(server_cert, wanted) or spiffe_id not in spiffe_uris(server_cert):
            server_cert = None
    if server_cert is None:
        server_cert, server_key = signer.issue_server(
            "controller", dns=[n for n in wanted if not is_ip(n)], ips=[n for n in wanted if is_ip(n)],
            key=server_key, spiffe_id=spiffe_id,
        )
        files.save_leaf(pki_root, SIGNER_CA, SERVER_FILE, server_cert, server_key, signer.certs, overwrite=True)
    session_path = files.key_path(pki_root, SIGNER_CA, SESSION_KEY_FILE)
    if session_path.exists():
        session_key = load_key(session_path.read_bytes())
    else:
        session_key = generate_key("ec256")
        files.write_file(session_path, key_to_pem(session_key), files.KEY_MODE)
    bundle_path = pki_root / CA_BUNDLE_FILE
    files.write_file(bundle_path, certs_to_pem([root.cert, signer.cert]), files.CERT_MODE)
    assert isinstance(session_key, ec.EllipticCurvePrivateKey)
    assert server_key is not None  # loaded with a covering certificate, or issued with a new one
    return ControllerPki(root, signer, server_cert, server_key, session_key,
                         files.chain_path(pki_root, SIGNER_CA, SERVER_FILE),
                         files.key_path(pki_root, SIGNER_CA, SERVER_FILE), bundle_path)
