"""The validation report of INTERFACE.md, with ETSI EN 319 102-1 indications.

Every validator (CMS, PDF, XML, ASiC) fills these structures; `to_dict()` gives the JSON shape that
`gateway verify --json` prints and the REST API returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Indication(StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"
    NO_SIGNATURE_FOUND = "NO_SIGNATURE_FOUND"


class SubIndication(StrEnum):
    """ETSI EN 319 102-1 sub-indications (clause 5.1.3)."""

    # with TOTAL_FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    # with INDETERMINATE (SIG_/CHAIN_CONSTRAINTS_FAILURE occur with both)
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"


_RANK: dict[str, int] = {
    Indication.TOTAL_FAILED: 0,
    Indication.NO_SIGNATURE_FOUND: 1,
    Indication.INDETERMINATE: 2,
    Indication.TOTAL_PASSED: 3,
}


#: ETSI EN 319 102-1 building blocks in the order their results decide a signature's verdict, as
#: DSS concludes the basic validation: format checking, identification of the signing certificate,
#: validation context, cryptographic verification, X.509 certificate validation, signature acceptance,
#: then the later phases (time stamps, proof of existence)
_BLOCK: dict[str, int] = {
    SubIndication.FORMAT_FAILURE: 0,
    SubIndication.NO_SIGNING_CERTIFICATE_FOUND: 1,
    SubIndication.SIGNATURE_POLICY_NOT_AVAILABLE: 2,
    SubIndication.POLICY_PROCESSING_ERROR: 2,
    # cryptographic verification (5.2.7): data not found, then a digest mismatch, then the value
    SubIndication.SIGNED_DATA_NOT_FOUND: 3,
    SubIndication.HASH_FAILURE: 4,
    SubIndication.SIG_CRYPTO_FAILURE: 5,
    SubIndication.SIG_CONSTRAINTS_FAILURE: 7,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: 7,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: 7,
    SubIndication.TIMESTAMP_ORDER_FAILURE: 8,
    SubIndication.NO_POE: 8,
}
#: every other sub-indication belongs to X.509 certificate validation
_CERTIFICATE_VALIDATION = 6


def block(sub: str | None) -> int:
    """Where a sub-indication's building block comes in the order that decides a verdict."""
    return _BLOCK.get(sub, _CERTIFICATE_VALIDATION) if sub else 99


def decides(new: tuple[str, str | None], current: tuple[str, str | None]) -> bool:
    """Whether the failure `new` (indication, sub-indication) replaces `current` as a signature's
    verdict: the worse indication wins; for the same one, the earlier building block; within a
    block, the first found. The one rule every validator follows (SignatureReport.fail)."""
    if rank(new[0]) != rank(current[0]):
        return rank(new[0]) < rank(current[0])
    return block(new[1]) < block(current[1])


def crypto_order(findings: list[tuple[Indication, SubIndication, str]]) -> tuple[
    list[tuple[Indication, SubIndication, str]], list[str]
]:
    """Of the cryptographic verification's findings, those that decide (the earliest kind found:
    signed data not found before a digest mismatch before a bad signature value, whatever their
    indications) and the reasons of the others, which are reported without deciding."""
    first = min((block(f[1]) for f in findings), default=None)
    deciding = [f for f in findings if block(f[1]) == first]
    return deciding, [f[2] for f in findings if block(f[1]) != first]


def rank(indication: str) -> int:
    """Order of verdicts, worst first (TOTAL_FAILED < NO_SIGNATURE_FOUND < INDETERMINATE <
    TOTAL_PASSED); anything unknown counts as worse than all of them."""
    return _RANK.get(indication, -1)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SignerIdentity:
    subject: str = ""
    issuer: str = ""
    serial: str = ""
    edrpou: str | None = None
    drfo: str | None = None


@dataclass
class AlgorithmInfo:
    digest: str = ""
    signature: str = ""


@dataclass
class TimestampInfo:
    type: str  # "signature" | "content" | "archive"
    time: datetime | None
    tsa: str = ""
    intact: bool = False


@dataclass
class ChainEntry:
    subject: str
    issuer: str
    not_after: datetime | None
    revocation: str = "not-checked"  # good | revoked | unknown | not-checked


@dataclass
class RevocationSource:
    """Revocation data a signature's validation used (INTERFACE.md additions)."""

    type: str  # "crl" | "ocsp"
    url: str | None
    source: str  # "fetched" | "cached" | "embedded"
    issuer: str = ""
    this_update: datetime | None = None
    produced_at: datetime | None = None  # OCSP only


@dataclass
class PdfModification:
    """One kind of change made to a PDF after a signature's revision."""

    #: pages-added | pages-removed | signature-dictionary-changed | validation-data-added |
    #: form-fields-filled | annotations-changed | content-changed | not-analysed
    kind: str
    #: whether the signature's DocMDP/FieldMDP permissions (and EN 319 142-1) allow it
    allowed: bool


#: report keys left out of the JSON while unset (INTERFACE.md: "else absent", "PDF only")
_ABSENT_WHEN_NONE = ("counter_signature_of", "pdf_modifications")


@dataclass
class SignatureReport:
    id: str = ""
    format: str = "CMS"
    #: CAdES only: the ETSI TS 101 733 name of the level (CAdES-BES/EPES/T/C/X-Long/A), as Ukrainian
    #: requirements name it, next to the baseline name in `format`
    profile: str | None = None
    indication: Indication = Indication.INDETERMINATE
    subindication: SubIndication | None = None
    intact: bool = False
    signer: SignerIdentity = field(default_factory=SignerIdentity)
    algorithm: AlgorithmInfo = field(default_factory=AlgorithmInfo)
    claimed_signing_time: datetime | None = None
    best_signature_time: datetime | None = None
    timestamps: list[TimestampInfo] = field(default_factory=list)
    chain: list[ChainEntry] = field(default_factory=list)
    signed_objects: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    revocation_sources: list[RevocationSource] = field(default_factory=list)
    #: QESig | QESeal | AdESig-QC | AdESeal-QC | AdESig | AdESeal | NA; None without trusted lists
    qualification: str | None = None
    #: the trust service provider's name from the trusted list the qualification comes from
    qualification_provider: str | None = None
    #: the id of the signature this one counter-signs
    counter_signature_of: str | None = None
    #: PDF only: what changed after the signature's revision
    pdf_modifications: list[PdfModification] | None = None

    def fail(self, indication: Indication, sub: SubIndication | None, reason: str) -> None:
        """Record a failure and its reason; it becomes the verdict if it `decides`."""
        if reason and reason not in self.errors:
            self.errors.append(reason)
        if decides((indication, sub), (self.indication, self.subindication)):
            self.indication = indication
            self.subindication = sub

    def settle_qualification(self, lists_configured: bool) -> None:
        """Once the verdict is final: with trusted lists, a signature that did not pass (or whose
        signer was never found) has no qualification (NA); without lists it stays null."""
        if lists_configured and self.qualification is None:
            self.qualification = "NA"
        if self.qualification not in (None, "NA") and self.indication != Indication.TOTAL_PASSED:
            self.warnings.append(
                f"the signature did not pass validation: qualification NA (it would be {self.qualification})"
            )
            self.qualification = "NA"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["indication"] = str(self.indication)
        d["subindication"] = str(self.subindication) if self.subindication else None
        d["claimed_signing_time"] = _iso(self.claimed_signing_time)
        d["best_signature_time"] = _iso(self.best_signature_time)
        d["timestamps"] = [{**asdict(t), "time": _iso(t.time)} for t in self.timestamps]
        d["chain"] = [{**asdict(c), "not_after": _iso(c.not_after)} for c in self.chain]
        d["revocation_sources"] = [{**asdict(r), "this_update": _iso(r.this_update),
                                    "produced_at": _iso(r.produced_at)} for r in self.revocation_sources]
        if self.profile is None:  # an extension of the INTERFACE.md shape, for CAdES only
            del d["profile"]
        for key in _ABSENT_WHEN_NONE:
            if d[key] is None:
                del d[key]
        return d


@dataclass
class ValidationReport:
    container: str = "CMS"
    validation_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    signatures: list[SignatureReport] = field(default_factory=list)
    #: set for a report about the file as a whole (e.g. malformed input, no signature)
    indication_override: Indication | None = None
    subindication_override: SubIndication | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def indication(self) -> Indication:
        if self.indication_override is not None:
            return self.indication_override
        if not self.signatures:
            return Indication.NO_SIGNATURE_FOUND
        return min((s.indication for s in self.signatures), key=rank)

    @property
    def subindication(self) -> SubIndication | None:
        if self.indication_override is not None:
            return self.subindication_override
        worst = [s for s in self.signatures if s.indication == self.indication]
        return worst[0].subindication if worst else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "indication": str(self.indication),
            "subindication": str(self.subindication) if self.subindication else None,
            "container": self.container,
            "validation_time": _iso(self.validation_time),
            "signatures": [s.to_dict() for s in self.signatures],
        }
        if self.errors:
            d["errors"] = list(self.errors)
        return d

    @property
    def exit_code(self) -> int:
        """`gateway verify` exit status: 0 passed, 1 failed, 3 indeterminate (or no signature)."""
        return {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1}.get(self.indication, 3)


def format_failure(container: str, reason: str) -> ValidationReport:
    """The report for input that cannot be parsed at all: TOTAL_FAILED / FORMAT_FAILURE."""
    return ValidationReport(
        container=container,
        indication_override=Indication.TOTAL_FAILED,
        subindication_override=SubIndication.FORMAT_FAILURE,
        errors=[reason],
    )
