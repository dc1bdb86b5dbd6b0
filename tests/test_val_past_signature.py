"""Past-signature validation (ETSI EN 319 102-1 5.6.2.4): a CA certificate revoked or expired after a
proof of existence (a signature timestamp) does not invalidate the signature; without the proof it
does. A PKI of its own: root -> CA -> signer, the TSA directly under the root."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyhanko.sign import signers
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from test_validation import NOW, Identity, _crl, _issue, _key

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

DOC = b"Council decision No. 7: archive the 2019 contracts.\n"


@dataclass
class CaseKeys:
    root: Identity
    ca: Identity
    signer: Identity
    tsa: Identity
    cache: Path


def pki_with_ca(tmp_path: Path, *, ca_not_after: datetime, ca_revoked_at: datetime | None) -> CaseKeys:
    long_ago, far = NOW - timedelta(days=3650), NOW + timedelta(days=3650)
    root = _issue("Past Root", _key("Past Root"), None, ca=True, crl_url=None, not_before=long_ago,
                  not_after=far)
    ca = _issue("Past CA", _key("Past CA"), root, ca=True, crl_url="http://127.0.0.1:9/root.crl",
                not_before=long_ago, not_after=ca_not_after)
    signer = _issue("Past seal", _key("Past seal"), ca, ca=False, crl_url="http://127.0.0.1:9/ca.crl",
                    not_before=NOW - timedelta(days=60), not_after=ca_not_after)
    tsa = _issue("Past TSA", _key("Past TSA"), root, ca=False, crl_url="http://127.0.0.1:9/root.crl",
                 not_before=long_ago, not_after=far, tsa=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    revoked = [(ca.cert.serial_number, ca_revoked_at)] if ca_revoked_at else []
    (cache / "root.crl").write_bytes(_crl(root, revoked))
    # the CA's last CRL, issued while it was still valid
    (cache / "ca.crl").write_bytes(_crl(ca, [], issued=min(ca_not_after, NOW) - timedelta(days=1)))
    return CaseKeys(root, ca, signer, tsa, cache)


def sign(keys: CaseKeys, timestamp_at: datetime | None) -> bytes:
    store = SimpleCertificateStore.from_certs([keys.ca.cert])
    signer = signers.SimpleSigner(keys.signer.cert, keys.signer.key_info, store)
    timestamper = None
    if timestamp_at is not None:
        no_extra = SimpleCertificateStore.from_certs([])
        timestamper = DummyTimeStamper(keys.tsa.cert, keys.tsa.key_info, no_extra, fixed_dt=timestamp_at)
    info = asyncio.run(signer.async_sign_general_data(DOC, "sha256", detached=False, use_cades=True,
                                                      timestamper=timestamper))
    return info.dump()


def check(keys: CaseKeys, data: bytes):
    policy = ValidationPolicy(trust_roots=[keys.root.cert], offline=True, cache_dir=keys.cache)
    return validate(data, policy).signatures[0]


@pytest.fixture
def revoked_ca(tmp_path) -> CaseKeys:
    in_a_year, two_days_ago = NOW + timedelta(days=365), NOW - timedelta(days=2)
    return pki_with_ca(tmp_path, ca_not_after=in_a_year, ca_revoked_at=two_days_ago)


def test_ca_revoked_after_the_timestamp_passes(revoked_ca):
    s = check(revoked_ca, sign(revoked_ca, NOW - timedelta(days=5)))
    assert s.indication == Indication.TOTAL_PASSED, s.errors
    assert s.best_signature_time == NOW - timedelta(days=5)


def test_ca_revoked_without_proof_of_existence_is_not_passed(revoked_ca):
    s = check(revoked_ca, sign(revoked_ca, None))
    assert s.intact is True
    assert (s.indication, s.subindication) == (Indication.INDETERMINATE, SubIndication.REVOKED_CA_NO_POE)


def test_ca_revoked_before_the_timestamp_is_not_passed(revoked_ca):
    s = check(revoked_ca, sign(revoked_ca, NOW - timedelta(days=1)))
    assert (s.indication, s.subindication) == (Indication.INDETERMINATE, SubIndication.REVOKED_CA_NO_POE)


def test_ca_expired_after_the_timestamp_passes(tmp_path):
    keys = pki_with_ca(tmp_path, ca_not_after=NOW - timedelta(days=2), ca_revoked_at=None)
    s = check(keys, sign(keys, NOW - timedelta(days=5)))
    assert s.indication == Indication.TOTAL_PASSED, s.errors


def test_ca_expired_without_proof_of_existence_is_out_of_bounds(tmp_path):
    keys = pki_with_ca(tmp_path, ca_not_after=NOW - timedelta(days=2), ca_revoked_at=None)
    s = check(keys, sign(keys, None))
    assert (s.indication, s.subindication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
