"""The PKI directory: ziti pki layout, permissions, refusal to overwrite, load errors naming the path."""

import os
import stat

import pytest

from ziti_aio.common.errors import ConfigError
from ziti_aio.pki.bundle import load_certs_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.files import KEY_MODE, load_ca, load_leaf, save_ca, save_leaf, write_file
from ziti_aio.pki.keys import key_to_pem


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_ca_round_trip_and_layout(tmp_path, root_ca, intermediate):
    root = tmp_path / "pki"
    written = save_ca(root, "root-ca", root_ca)
    save_ca(root, "signer", intermediate)
    assert [p.relative_to(root).as_posix() for p in written] == [
        "root-ca/certs/root-ca.cert",
        "root-ca/keys/root-ca.key",
        "root-ca/certs/root-ca.chain.pem",
    ]
    loaded = load_ca(root, "signer")
    assert loaded.cert == intermediate.cert and loaded.chain == (root_ca.cert,)
    assert key_to_pem(loaded.key) == key_to_pem(intermediate.key)
    assert load_ca(root, "root-ca").chain == ()
    assert load_certs_pem((root / "signer/certs/signer.chain.pem").read_bytes()) == [intermediate.cert, root_ca.cert]


def test_leaf_files_and_permissions(tmp_path, root_ca, intermediate, server):
    root = tmp_path / "pki"
    cert, key = server
    save_leaf(root, "signer", "server", cert, key, intermediate.certs)
    certs, keys = root / "signer/certs", root / "signer/keys"
    assert sorted(p.name for p in certs.iterdir()) == ["server.cert", "server.chain.pem"]
    assert [p.name for p in keys.iterdir()] == ["server.key"]
    assert load_certs_pem((certs / "server.chain.pem").read_bytes()) == [cert, intermediate.cert, root_ca.cert]
    assert mode(keys / "server.key") == 0o600
    for directory in (root, root / "signer", certs, keys):
        assert mode(directory) == 0o700
    loaded_cert, loaded_key = load_leaf(root, "signer", "server")
    assert loaded_cert == cert and loaded_key.private_numbers() == key.private_numbers()


def test_refuses_to_overwrite_unless_asked(tmp_path, intermediate):
    first, first_key = intermediate.issue_client("c")
    second, second_key = intermediate.issue_client("c")
    save_leaf(tmp_path, "ca", "client", first, first_key, ())
    key_file = tmp_path / "ca/keys/client.key"
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"client\.cert"):
        save_leaf(tmp_path, "ca", "client", second, second_key, ())
    assert load_leaf(tmp_path, "ca", "client")[0] == first
    save_leaf(tmp_path, "ca", "client", second, second_key, (), overwrite=True)
    assert load_leaf(tmp_path, "ca", "client")[0] == second
    assert mode(key_file) == 0o600
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_load_errors_name_the_path(tmp_path, intermediate):
    with pytest.raises(ConfigError, match=r"missing/certs/missing\.cert"):
        load_ca(tmp_path, "missing")
    cert, key = intermediate.issue_client("c")
    save_leaf(tmp_path, "ca", "client", cert, key, ())
    (tmp_path / "ca/keys/client.key").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"keys/client\.key"):
        load_leaf(tmp_path, "ca", "client")
    (tmp_path / "ca/keys/client.key").write_bytes(key_to_pem(intermediate.key))
    with pytest.raises(ConfigError, match=r"keys/client\.key does not hold the key"):
        load_leaf(tmp_path, "ca", "client")
    (tmp_path / "ca/certs/client.cert").write_bytes(b"not pem")
    with pytest.raises(ConfigError, match=r"certs/client\.cert"):
        load_leaf(tmp_path, "ca", "client")


def test_leaf_is_not_a_ca(tmp_path, intermediate):
    cert, key = intermediate.issue_client("c")
    save_leaf(tmp_path, "leaf", "leaf", cert, key, ())
    with pytest.raises(ConfigError, match="not a CA"):
        load_ca(tmp_path, "leaf")


def test_chain_file_must_start_with_the_ca(tmp_path, root_ca, intermediate):
    save_ca(tmp_path, "signer", intermediate)
    (tmp_path / "signer/certs/signer.chain.pem").write_bytes(
        (tmp_path / "signer/certs/signer.chain.pem").read_bytes().split(b"-----END CERTIFICATE-----\n", 1)[1]
    )
    with pytest.raises(ConfigError, match="does not start with"):
        load_ca(tmp_path, "signer")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x"])
def test_path_traversal_names_are_refused(tmp_path, name):
    ca = CertAuthority.create_root("x")
    with pytest.raises(ConfigError):
        save_ca(tmp_path, name, ca)
    with pytest.raises(ConfigError):
        save_leaf(tmp_path, "ca", name, ca.cert, ca.key, ())


def test_write_file_replaces_atomically_with_the_given_mode(tmp_path):
    target = tmp_path / "new" / "session.key"
    write_file(target, b"one", KEY_MODE)
    target.chmod(0o644)
    write_file(target, b"two", KEY_MODE)
    assert target.read_bytes() == b"two"
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["session.key"]
