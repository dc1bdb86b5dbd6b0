"""The detailed report: the ETSI EN 319 102-1 building blocks of each signature, with their results.

EN 319 102-1 attributes every sub-indication to the building block that raises it (clause 5.1.3
with 5.2-5.6): format checking (FC), identification of the signing certificate (ISC), validation
context initialization (VCI), X.509 certificate validation (XCV), cryptographic verification (CV),
signature acceptance validation (SAV), then time-stamp validation and proof of existence (POE).
The validators record their findings in the signature's report (integrity, chain with revocation
status, time-stamps, best signature time, errors); this module lays those findings out per block,
as DSS's detailed report does, and names the block that decided the verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from gateway.signing.report import Indication, SignatureReport, SubIndication, ValidationReport

FC, ISC, VCI, XCV, CV, SAV, TST, POE = "FC", "ISC", "VCI", "XCV", "CV", "SAV", "TST", "POE"

#: the building blocks in the order EN 319 102-1 runs them, with their names
BLOCKS: tuple[tuple[str, str], ...] = (
    (FC, "format checking"),
    (ISC, "identification of the signing certificate"),
    (VCI, "validation context initialization"),
    (XCV, "X.509 certificate validation"),
    (CV, "cryptographic verification"),
    (SAV, "signature acceptance validation"),
    (TST, "time-stamp validation"),
    (POE, "proof of existence"),
)

#: which block raises each sub-indication (EN 319 102-1, 5.2-5.6)
BLOCK_OF: dict[SubIndication, str] = {
    SubIndication.FORMAT_FAILURE: FC,
    SubIndication.NO_SIGNING_CERTIFICATE_FOUND: ISC,
    SubIndication.SIGNATURE_POLICY_NOT_AVAILABLE: VCI,
    SubIndication.POLICY_PROCESSING_ERROR: VCI,
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: XCV,
    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE: XCV,
    SubIndication.CHAIN_CONSTRAINTS_FAILURE: XCV,
    SubIndication.REVOKED: XCV,
    SubIndication.REVOKED_NO_POE: XCV,
    SubIndication.REVOKED_CA_NO_POE: XCV,
    SubIndication.EXPIRED: XCV,
    SubIndication.NOT_YET_VALID: XCV,
    SubIndication.OUT_OF_BOUNDS_NO_POE: XCV,
    SubIndication.OUT_OF_BOUNDS_NOT_REVOKED: XCV,
    SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE: XCV,
    SubIndication.TRY_LATER: XCV,
    SubIndication.HASH_FAILURE: CV,
    SubIndication.SIG_CRYPTO_FAILURE: CV,
    SubIndication.SIGNED_DATA_NOT_FOUND: CV,
    SubIndication.SIG_CONSTRAINTS_FAILURE: SAV,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: SAV,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: SAV,
    SubIndication.TIMESTAMP_ORDER_FAILURE: POE,
    SubIndication.NO_POE: POE,
}

PASSED, FAILED, NOT_PERFORMED = "PASSED", "FAILED", "NOT_PERFORMED"


@dataclass
class Check:
    block: str
    name: str
    result: str  # PASSED | FAILED | INDETERMINATE | NOT_PERFORMED
    subindication: str | None = None
    details: list[str] = field(default_factory=list)


def deciding_block(sig: SignatureReport) -> str | None:
    """The block whose result gave the verdict; None when the signature passed."""
    if sig.indication == Indication.TOTAL_PASSED:
        return None
    if sig.subindication is not None:
        return BLOCK_OF.get(sig.subindication, SAV)
    return CV if not sig.intact else SAV


def _verdict_check(block: str, name: str, sig: SignatureReport, decided: str | None,
                   passed: list[str]) -> Check:
    if decided == block:
        result = FAILED if sig.indication == Indication.TOTAL_FAILED else str(sig.indication)
        sub = str(sig.subindication) if sig.subindication else None
        return Check(block, name, result, sub, list(sig.errors))
    return Check(block, name, PASSED, details=passed)


def signature_checks(sig: SignatureReport, validation_time: datetime) -> list[Check]:
    """The building blocks of one signature, in order."""
    decided = deciding_block(sig)
    names = dict(BLOCKS)
    checks = [
        _verdict_check(FC, names[FC], sig, decided, [f"format {sig.format}"]),
        _verdict_check(ISC, names[ISC], sig, decided, [sig.signer.subject] if sig.signer.subject else []),
        _verdict_check(VCI, names[VCI], sig, decided, []),
    ]
    chain = [f"{c.subject}: revocation {c.revocation}" for c in sig.chain]
    xcv = _verdict_check(XCV, names[XCV], sig, decided, chain)
    if decided != XCV and not sig.chain:
        xcv.result = NOT_PERFORMED
    checks.append(xcv)
    algorithms = [f"{sig.algorithm.signature} with {sig.algorithm.digest}"] if sig.algorithm.signature else []
    if decided == CV or not sig.intact:
        checks.append(Check(CV, names[CV], FAILED if sig.indication == Indication.TOTAL_FAILED
                            else str(sig.indication),
                            str(sig.subindication) if decided == CV and sig.subindication else None,
                            list(sig.errors) if decided == CV else ["the signature is not intact"]))
    else:
        checks.append(Check(CV, names[CV], PASSED, details=algorithms + ["the signature value and every "
                                                                          "signed object's digest verify"]))
    checks.append(_verdict_check(SAV, names[SAV], sig, decided, list(sig.warnings)))
    if sig.timestamps:
        intact = all(t.intact for t in sig.timestamps)
        checks.append(Check(TST, names[TST], PASSED if intact else FAILED, details=[
            f"{t.type} time-stamp at {t.time.isoformat() if t.time else '?'} by {t.tsa or '?'}: "
            f"{'intact' if t.intact else 'not intact'}" for t in sig.timestamps]))
    else:
        checks.append(Check(TST, names[TST], NOT_PERFORMED, details=["no time-stamp"]))
    proven = sig.best_signature_time is not None and sig.best_signature_time < validation_time
    poe = (f"a time-stamp proves the signature existed at {sig.best_signature_time.isoformat()}" if proven
           else "no proof of existence before the validation time")
    poe_check = _verdict_check(POE, names[POE], sig, decided, [poe])
    checks.append(poe_check)
    return checks


def detailed_dict(report: ValidationReport) -> dict[str, Any]:
    """The report's JSON shape with `checks` and `decided_by` added to each signature."""
    d = report.to_dict()
    for sig, sd in zip(report.signatures, d["signatures"], strict=True):
        sd["checks"] = [asdict(c) for c in signature_checks(sig, report.validation_time)]
        sd["decided_by"] = deciding_block(sig)
    return d
