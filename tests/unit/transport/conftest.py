"""A root CA with a server (localhost, 127.0.0.1), a client and a client from a foreign root, as PEM files."""

import pytest

from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import key_to_pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    root = CertAuthority.create_root("root")
    server, skey = root.issue_server("server", dns=["localhost"], ips=["127.0.0.1"])
    client, ckey = root.issue_client("client")
    rogue, rkey = CertAuthority.create_root("rogue").issue_client("rogue")
    for name, cert, key in (("server", server, skey), ("client", client, ckey), ("rogue", rogue, rkey)):
        (d / f"{name}.pem").write_bytes(certs_to_pem([cert]))
        (d / f"{name}.key").write_bytes(key_to_pem(key))
    (d / "ca.pem").write_bytes(certs_to_pem([root.cert]))
    return d
