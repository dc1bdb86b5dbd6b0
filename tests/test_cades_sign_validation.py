"""What the gateway signs, its own validator accepts at the level asked for; B-LT/B-LTA also offline,
from the validation data embedded at signing time only."""

from __future__ import annotations

import pytest
from conftest import dev_pki_fetch
from test_cades_sign_support import asn1_cert, minimal_pdf

from gateway.signing.formats import SignRequest, sign_files
from gateway.signing.keys import load_signing_key
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

CASES = [
    ("cades", "B-B", "CAdES-BASELINE-B"),
    ("cades", "B-T", "CAdES-BASELINE-T"),
    ("cades", "B-LT", "CAdES-BASELINE-LT"),
    ("cades", "B-LTA", "CAdES-BASELINE-LTA"),
    ("cades-attached", "B-LTA", "CAdES-BASELINE-LTA"),
    ("pades", "B-B", "PAdES-BASELINE-B"),
    ("pades", "B-T", "PAdES-BASELINE-T"),
    ("pades", "B-LT", "PAdES-BASELINE-LT"),
    ("pades", "B-LTA", "PAdES-BASELINE-LTA"),
]


@pytest.fixture(scope="module")
def seal(dev_pki):
    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    yield key
    key.close()


@pytest.mark.parametrize(("fmt", "level", "expected"), CASES)
def test_own_validator_accepts_level(seal, dev_pki, tmp_path, fmt, level, expected):
    src = tmp_path / ("order.pdf" if fmt == "pades" else "letter.txt")
    src.write_bytes(minimal_pdf() if fmt == "pades" else b"letter body\n")
    roots = [asn1_cert(dev_pki.root_cert)]
    req = SignRequest(level=level, tsa_url=dev_pki.tsa_url if level != "B-B" else None, trust_roots=roots)
    (out,) = sign_files(fmt, seal, [src], req)
    detached = {src.name: src} if fmt == "cades" else {}
    policy = ValidationPolicy(trust_roots=roots, detached=detached, cache_dir=tmp_path / "cache",
                              fetch=dev_pki_fetch(dev_pki))
    online = validate(out, policy)
    sig = online.signatures[0]
    assert online.indication.name == "TOTAL_PASSED", online.to_dict()
    assert sig.format == expected and sig.intact
    if level in ("B-LT", "B-LTA"):
        offline = validate(out, ValidationPolicy(trust_roots=roots, detached=detached, offline=True))
        assert offline.indication.name == "TOTAL_PASSED", offline.to_dict()
