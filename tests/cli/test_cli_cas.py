"""``create ca`` / ``verify ca`` (third-party CAs, as ziti's v2 ``create ca``) next to ``pki create ca``."""

from cli_helpers import created_id, find
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.ca import CertAuthority


def _write_ca(tmp_path, name="third-party"):
    ca = CertAuthority.create_root(name)
    cert, key = tmp_path / f"{name}.cert", tmp_path / f"{name}.key"
    cert.write_bytes(certs_to_pem([ca.cert]))
    key.write_bytes(ca.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return ca, cert, key


async def test_create_and_verify_with_the_ca_key(logged_in, admin, tmp_path):
    _, cert, key = _write_ca(tmp_path)

    result = await logged_in("create", "ca", "third-party", str(cert), "--auth", "--ottca", "-a", "from-ca,b")
    ca = await find(admin, "cas", "third-party")
    assert created_id(result, "ca", "third-party") == ca["id"]
    assert (ca["isVerified"], ca["isAuthEnabled"], ca["isOttCaEnrollmentEnabled"], ca["isAutoCaEnrollmentEnabled"],
            ca["identityRoles"]) == (False, True, True, False, ["from-ca", "b"])
    assert "third-party" in (await logged_in("list", "cas")).output

    result = await logged_in("verify", "ca", "third-party", "--cacert", str(cert), "--cakey", str(key))
    assert result.output == "verified ca third-party\n"
    assert (await find(admin, "cas", "third-party"))["isVerified"] is True


async def test_verify_with_a_signed_cert_and_refusals(logged_in, admin, tmp_path):
    ca, cert, _ = _write_ca(tmp_path)
    _, other_cert, other_key = _write_ca(tmp_path, "other")
    await logged_in("edge", "create", "ca", "third-party", str(cert))
    token = (await find(admin, "cas", "third-party"))["verificationToken"]

    result = await logged_in("verify", "ca", "third-party", "--cacert", str(other_cert), "--cakey", str(other_key),
                             code=1)
    assert result.stderr.startswith("error: COULD_NOT_VALIDATE: ") and "not signed by the CA" in result.stderr
    wrong_name = tmp_path / "wrong.cert"
    wrong_name.write_bytes(certs_to_pem([ca.issue_client("not-the-token")[0]]))
    result = await logged_in("verify", "ca", "third-party", "--cert", str(wrong_name), code=1)
    assert "verification token" in result.stderr
    result = await logged_in("verify", "ca", "third-party", "--cacert", str(cert), "--cakey", str(other_key), code=1)
    assert result.stderr == f"error: {other_key} does not hold the key of {cert}\n"
    result = await logged_in("verify", "ca", "third-party", code=1)
    assert "--cert FILE, or --cacert FILE and --cakey FILE" in result.stderr
    assert (await find(admin, "cas", "third-party"))["isVerified"] is False

    signed = tmp_path / "proof.cert"
    signed.write_bytes(certs_to_pem([ca.issue_client(token)[0]]))
    await logged_in("edge", "verify", "ca", "third-party", "--cert", str(signed))
    assert (await find(admin, "cas", "third-party"))["isVerified"] is True

    await logged_in("delete", "ca", "third-party")
    assert await find(admin, "cas", "third-party") is None
