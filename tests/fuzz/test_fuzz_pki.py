"""Fuzzing the PKI parsers with structure-aware edits of valid JWTs, CSRs and certificate bundles."""

from __future__ import annotations

import pytest
from hypothesis import given

from .pki_targets import EXPECTED_WARNINGS, bundle_cases, check_bundle, check_csr, check_jwt, csr_cases, jwt_cases
from .targets import bounded

pytestmark = [pytest.mark.filterwarnings(f"ignore:{warning}:UserWarning") for warning in EXPECTED_WARNINGS]


@bounded(300)
@given(jwt_cases())
def test_edited_enrollment_jwts_are_refused_or_carry_the_signed_claims(token):
    check_jwt(token)


@bounded(300)
@given(csr_cases())
def test_csrs_with_edited_der_elements_are_refused_or_signable(data):
    check_csr(data)


@bounded(300)
@given(bundle_cases())
def test_edited_certificate_bundles_are_refused_or_fully_parsed(case):
    check_bundle(case)
