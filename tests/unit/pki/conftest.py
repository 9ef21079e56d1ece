"""Shared CAs for the PKI tests (EC keys, so they are cheap; frozen, so sharing them is safe)."""

import pytest

from ziti_aio.pki.ca import CertAuthority

TRUST_DOMAIN = "example.test"


@pytest.fixture(scope="session")
def root_ca() -> CertAuthority:
    return CertAuthority.create_root("Test Root", trust_domain=TRUST_DOMAIN)


@pytest.fixture(scope="session")
def intermediate(root_ca: CertAuthority) -> CertAuthority:
    return root_ca.create_intermediate("Test Signer")


@pytest.fixture(scope="session")
def server(intermediate: CertAuthority):
    return intermediate.issue_server("ctrl", dns=("localhost", "ctrl.example.test"), ips=("127.0.0.1", "::1"))
