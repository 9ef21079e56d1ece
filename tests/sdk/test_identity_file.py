"""Identity files: raw PEM, ``pem:`` and ``file://`` values, and precise errors for bad ones."""

from __future__ import annotations

import json
import ssl

import pytest

from ziti_aio.common.errors import ConfigError
from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import key_to_pem
from ziti_aio.sdk.identity_file import load_identity, parse_identity


@pytest.fixture(scope="module")
def pems():
    root = CertAuthority.create_root("root")
    cert, key = root.issue_client("alice")
    return {"cert": certs_to_pem([cert]).decode(), "key": key_to_pem(key).decode(),
            "ca": certs_to_pem([root.cert]).decode()}


def _write(path, ids, ztapi="https://127.0.0.1:1280"):
    path.write_text(json.dumps({"ztAPI": ztapi, "id": ids}))
    return path


def test_raw_pem_as_libziti_writes_it(tmp_path, pems):
    identity = load_identity(_write(tmp_path / "id.json", pems))
    assert identity.ztapi == "https://127.0.0.1:1280"
    assert (identity.cert_pem, identity.key_pem, identity.ca_pem) == (pems["cert"], pems["key"], pems["ca"])
    assert isinstance(identity.ssl_context(), ssl.SSLContext)
    assert pems["key"] not in repr(identity)


def test_pem_prefix_and_extra_keys(tmp_path, pems):
    path = tmp_path / "id.json"
    path.write_text(json.dumps({"ztAPI": "https://ctrl:1280/", "ztAPIs": ["https://ctrl:1280"], "configTypes": None,
                                "enableHa": False, "id": {k: "pem:" + v for k, v in pems.items()}}))
    identity = load_identity(path)
    assert identity.ztapi == "https://ctrl:1280"
    assert identity.cert_pem == pems["cert"] and identity.ca_pem == pems["ca"]


def test_file_urls_absolute_and_relative(tmp_path, pems):
    (tmp_path / "certs").mkdir()
    for name, text in pems.items():
        (tmp_path / "certs" / f"{name}.pem").write_text(text)
    ids = {"cert": f"file://{tmp_path}/certs/cert.pem", "key": "file://certs/key.pem", "ca": "file://certs/ca.pem"}
    identity = load_identity(_write(tmp_path / "id.json", ids))
    assert (identity.cert_pem, identity.key_pem, identity.ca_pem) == (pems["cert"], pems["key"], pems["ca"])


@pytest.mark.parametrize(("change", "needle"), [
    ({"cert": None}, "id.cert must be a non-empty string"),
    ({"key": "pkcs11://lib?pin=1"}, "id.key: expected PEM"),
    ({"ca": "file://missing.pem"}, "id.ca: cannot read"),
    ({"cert": "pem:not a certificate"}, "id.cert holds no valid PEM certificate"),
    ({"ca": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "id.ca holds no valid"),
    ({"key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "id.key: not an unencrypted"),
])
def test_bad_values_name_the_field(tmp_path, pems, change, needle):
    with pytest.raises(ConfigError, match=needle):
        load_identity(_write(tmp_path / "id.json", {**pems, **change}))


def test_bad_documents(tmp_path, pems):
    with pytest.raises(ConfigError, match="cannot read identity file"):
        load_identity(tmp_path / "absent.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a JSON identity file"):
        load_identity(tmp_path / "junk.json")
    with pytest.raises(ConfigError, match="ztAPI must be an https:// URL"):
        load_identity(_write(tmp_path / "id.json", pems, ztapi="http://ctrl:1280"))
    with pytest.raises(ConfigError, match="'id' object"):
        parse_identity({"ztAPI": "https://ctrl:1280"})
    with pytest.raises(ConfigError, match="must be a JSON object"):
        parse_identity([])


def test_ztapis_lists_the_clusters_other_controllers(tmp_path, pems):
    path = tmp_path / "id.json"
    path.write_text(json.dumps({"ztAPI": "https://a:1280", "id": pems,
                                "ztAPIs": ["https://a:1280/edge/client/v1", "https://b:1280/", "https://b:1280"]}))
    identity = load_identity(path)
    assert identity.ztapis == ("https://a:1280", "https://b:1280")
    assert identity.controllers == ["https://a:1280", "https://b:1280"]
    assert load_identity(_write(tmp_path / "one.json", pems)).controllers == ["https://127.0.0.1:1280"]


@pytest.mark.parametrize("ztapis", ["https://b:1280", ["http://b:1280"], [7], ["https://b:1280"] * 33])
def test_bad_ztapis_are_one_clear_error(tmp_path, pems, ztapis):
    path = tmp_path / "id.json"
    path.write_text(json.dumps({"ztAPI": "https://a:1280", "id": pems, "ztAPIs": ztapis}))
    with pytest.raises(ConfigError, match="ztAPIs must be a list of at most 32 https:// URLs"):
        load_identity(path)
