"""`ziti-aio pki create ...` through typer's CliRunner: a CA, intermediate, server and client that verify."""

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.verification import PolicyBuilder, Store
from typer.testing import CliRunner

from ziti_aio.cli.main import app
from ziti_aio.pki.files import load_ca, load_leaf


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(app, ["pki", "create", *args])
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def pki(tmp_path):
    root = str(tmp_path / "pki")
    run("ca", "--pki-root", root, "--ca-file", "root-ca", "--ca-name", "Test Root", "--trust-domain", "example.test")
    run("intermediate", "--pki-root", root, "--ca-name", "root-ca", "--intermediate-file", "signer")
    return tmp_path / "pki"


def test_full_chain_verifies(pki):
    root = str(pki)
    result = run(
        "server", "--pki-root", root, "--ca-name", "signer", "--server-file", "ctrl", "--server-name", "controller",
        "--dns", "localhost,ctrl.example.test", "--dns", "more.example.test", "--ip", "127.0.0.1,::1",
        "--spiffe-id", "controller/c1",
    )
    assert "signer/keys/ctrl.key" in result.output
    run(
        "client", "--pki-root", root, "--ca-name", "signer", "--client-file", "alice", "--curve", "P384",
        "--spiffe-id", "identity/alice",
    )

    root_ca, signer = load_ca(pki, "root-ca"), load_ca(pki, "signer")
    server_cert, server_key = load_leaf(pki, "signer", "ctrl")
    client_cert, client_key = load_leaf(pki, "signer", "alice")
    signer.cert.verify_directly_issued_by(root_ca.cert)
    server_cert.verify_directly_issued_by(signer.cert)
    client_cert.verify_directly_issued_by(signer.cert)
    assert signer.chain == (root_ca.cert,)

    store = Store([root_ca.cert])
    for name in (x509.DNSName("more.example.test"), x509.IPAddress(ipaddress.ip_address("::1"))):
        PolicyBuilder().store(store).build_server_verifier(name).verify(server_cert, [signer.cert])
    PolicyBuilder().store(store).build_client_verifier().verify(client_cert, [signer.cert])

    san = server_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "localhost", "ctrl.example.test", "more.example.test", "127.0.0.1", "::1"
    ]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.test/controller/c1"]
    assert server_cert.subject.rfc4514_string() == "CN=controller,O=ziti-aio"
    assert isinstance(server_key, rsa.RSAPrivateKey) and server_key.key_size == 2048
    assert isinstance(client_key, ec.EllipticCurvePrivateKey) and client_key.curve.name == "secp384r1"
    assert (pki / "signer/certs/alice.chain.pem").exists()


def test_defaults_follow_ziti_pki_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in ("ca", "intermediate", "server", "client"):
        run(command)
    assert load_leaf(tmp_path / "pki", "intermediate", "server")[0].subject.rfc4514_string() == "CN=server,O=ziti-aio"
    assert load_ca(tmp_path / "pki", "ca").cert.subject.rfc4514_string() == "CN=ca,O=ziti-aio"


def test_refuses_to_overwrite_without_flag(pki):
    root = str(pki)
    run("client", "--pki-root", root, "--ca-name", "signer")
    before = (pki / "signer/certs/client.cert").read_bytes()
    result = run("client", "--pki-root", root, "--ca-name", "signer", code=1)
    assert "--allow-overwrite" in result.output
    assert (pki / "signer/certs/client.cert").read_bytes() == before
    run("client", "--pki-root", root, "--ca-name", "signer", "--allow-overwrite")
    assert (pki / "signer/certs/client.cert").read_bytes() != before
    assert "already exist" in run("ca", "--pki-root", root, "--ca-file", "root-ca", code=1).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["server", "--ca-name", "nope"], "nope/certs/nope.cert"),
        (["client", "--ca-name", "signer", "--private-key-size", "1024"], "--private-key-size"),
        (["client", "--ca-name", "signer", "--curve", "P521"], "--curve"),
        (["client", "--ca-name", "signer", "--curve", "P256", "--private-key-size", "2048"], "either"),
        (["server", "--ca-name", "signer", "--ip", "999.1.1.1"], "not an IP address"),
        (["intermediate", "--ca-name", "signer"], "max path length"),
        (["client", "--ca-name", "signer", "--spiffe-id", "spiffe://BAD/x"], "trust domain"),
    ],
)
def test_errors_exit_1_with_a_message(pki, args, message):
    assert message in run(*args, "--pki-root", str(pki), code=1).output
