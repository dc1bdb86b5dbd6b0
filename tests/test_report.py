"""The report model: worst-of aggregation, ETSI names, JSON shape of INTERFACE.md."""

import json
from datetime import UTC, datetime

from gateway.signing.report import (
    Indication,
    SignatureReport,
    SubIndication,
    ValidationReport,
    format_failure,
)


def test_top_level_is_the_worst_signature():
    good = SignatureReport(id="a", indication=Indication.TOTAL_PASSED, intact=True)
    unsure = SignatureReport(id="b")
    unsure.fail(Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no chain")
    report = ValidationReport(signatures=[good, unsure])
    assert report.indication == Indication.INDETERMINATE
    assert report.subindication == SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert report.exit_code == 3

    bad = SignatureReport(id="c")
    bad.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "digest mismatch")
    report.signatures.append(bad)
    assert report.indication == Indication.TOTAL_FAILED
    assert report.subindication == SubIndication.HASH_FAILURE
    assert report.exit_code == 1


def test_fail_never_raises_a_verdict():
    sig = SignatureReport()
    sig.fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "bad value")
    sig.fail(Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no chain")
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert sig.errors == ["bad value", "no chain"]


def test_json_shape_matches_interface():
    sig = SignatureReport(id="S1", format="CAdES-BASELINE-B", intact=True,
                          claimed_signing_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    data = json.loads(json.dumps(ValidationReport(signatures=[sig]).to_dict()))
    assert set(data) >= {"indication", "subindication", "container", "validation_time", "signatures"}
    s = data["signatures"][0]
    assert set(s) == {"id", "format", "indication", "subindication", "intact", "signer", "algorithm",
                      "claimed_signing_time", "best_signature_time", "timestamps", "chain",
                      "signed_objects", "errors", "warnings", "revocation_sources", "qualification",
                      "qualification_provider"}
    assert s["qualification"] is None  # no trusted list configured
    assert set(s["signer"]) == {"subject", "issuer", "serial", "edrpou", "drfo"}
    assert s["claimed_signing_time"] == "2026-01-02T03:04:05Z"


def test_no_signature_and_format_failure():
    assert ValidationReport().indication == Indication.NO_SIGNATURE_FOUND
    broken = format_failure("CMS", "not DER")
    assert broken.to_dict()["indication"] == "TOTAL_FAILED"
    assert broken.to_dict()["subindication"] == "FORMAT_FAILURE"
    assert broken.exit_code == 1
