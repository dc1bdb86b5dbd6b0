"""Certificates signed with DSTU 4145: chain validation (issuer -> subject signatures, CRLs) in
pyhanko-certvalidator and in the gateway's validation engine, and CMS signatures made with DSTU keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathValidationError

import gateway.crypto.ua  # noqa: F401 - registers the algorithms
from gateway.crypto.ua import dstu4145 as D
from gateway.crypto.ua.certvalidator import UA_SIGNATURE_VALIDATOR
from gateway.crypto.ua.cms import sign_cms
from gateway.crypto.ua.curves import curve_by_m
from gateway.crypto.ua.x509 import issue_certificate, issue_crl
from gateway.signing.certificates import registry_codes
from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

NOW = datetime.now(UTC).replace(microsecond=0)


def name(cn: str) -> x509.Name:
    return x509.Name.build({"country_name": "UA", "organization_name": "Test council", "common_name": cn})


@pytest.fixture(scope="module")
def pki():
    curve = curve_by_m(257)
    root_key = D.generate_private_key(curve)
    root = issue_certificate(name("DSTU test root"), root_key.public_key(), root_key,
                             not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=365),
                             ca=True)
    ee_key = D.generate_private_key(curve)
    ee = issue_certificate(name("Signer"), ee_key.public_key(), root_key, issuer=root,
                           not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=100),
                           edrpou="04055949", drfo="1234567890")
    crl = issue_crl(root, root_key, this_update=NOW - timedelta(hours=1), next_update=NOW + timedelta(days=7))
    return root_key, root, ee_key, ee, crl


def context(root, crl, **kw) -> ValidationContext:
    return ValidationContext(trust_roots=[root], crls=[crl], signature_validator=UA_SIGNATURE_VALIDATOR,
                             revocation_mode="hard-fail", allow_fetching=False, **kw)


def test_certificate_parses_with_ukrainian_attributes(pki) -> None:
    _root_key, root, _ee_key, ee, _crl = pki
    ee = x509.Certificate.load(ee.dump())
    assert ee.public_key.algorithm == "dstu4145le"
    assert ee["signature_algorithm"]["algorithm"].native == "dstu4145le"
    assert ee.public_key.bit_size == 257
    assert registry_codes(ee) == ("04055949", "1234567890")
    assert root.self_signed == "maybe"


def test_certvalidator_checks_dstu_signatures(pki) -> None:
    _root_key, root, _ee_key, ee, crl = pki
    validator = CertificateValidator(ee, validation_context=context(root, crl))
    path = asyncio.run(validator.async_validate_usage({"digital_signature"}))
    assert path.leaf == ee and path.first == root


def test_certificate_signed_by_another_key_is_rejected(pki) -> None:
    _root_key, root, _ee_key, ee, crl = pki
    impostor = D.generate_private_key(curve_by_m(257))
    forged = issue_certificate(name("Signer"), impostor.public_key(), impostor, issuer=root,
                               not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=100))
    with pytest.raises(PathValidationError):
        validator = CertificateValidator(forged, validation_context=context(root, crl))
        asyncio.run(validator.async_validate_usage(set()))


def test_engine_validates_a_dstu_cms_signature(pki) -> None:
    _root_key, root, ee_key, ee, crl = pki
    data = b"document signed with DSTU 4145\n" * 10
    sig = sign_cms(data, ee_key, ee, [root], crls=[crl], detached=False)
    report = validate(sig, ValidationPolicy(trust_roots=[root], offline=True))
    (signature,) = report.signatures
    assert signature.intact is True
    assert signature.algorithm.signature == "dstu4145" and signature.algorithm.digest == "gost34311"
    assert signature.signer.edrpou == "04055949" and signature.signer.drfo == "1234567890"
    assert report.indication is Indication.TOTAL_PASSED, signature.errors


def test_engine_detects_a_changed_dstu_cms_signature(pki) -> None:
    _root_key, root, ee_key, ee, crl = pki
    sig = bytearray(sign_cms(b"payload", ee_key, ee, [root], crls=[crl], detached=False,
                             digest="kupyna256"))
    sig[sig.index(b"payload")] ^= 0x01
    (signature,) = validate(bytes(sig), ValidationPolicy(trust_roots=[root], offline=True)).signatures
    assert signature.intact is False
    assert signature.indication is Indication.TOTAL_FAILED
    assert signature.subindication is SubIndication.HASH_FAILURE
