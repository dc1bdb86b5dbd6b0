"""RFC 3161 timestamp tokens: integrity (message imprint + TSA signature) and the TSA's chain.

A token is a proof of existence (POE) for what it covers at its genTime only when it is intact and
its TSA certificate validates to a trust anchor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import cms, tsp

from gateway.signing import algorithms
from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.certificates import name_text
from gateway.signing.report import TimestampInfo
from gateway.signing.validation.chain import ChainAssessment, assess_signer
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.revocation import RevocationData, from_signed_data
from gateway.signing.validation.signerinfo import (
    PARSE_ERRORS,
    SignedContent,
    check_signer_info,
    embedded_certificates,
)

OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"


@dataclass
class TimestampCheck:
    info: TimestampInfo
    chain: ChainAssessment | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def time(self) -> datetime | None:
        return self.info.time

    @property
    def valid(self) -> bool:
        """Usable as a proof of existence: intact, and the TSA chains to a trust anchor."""
        return self.info.intact and self.chain is not None and self.chain.passed


def validate_timestamp_token(
    token: bytes | cms.ContentInfo,
    covered: bytes | SignedContent,
    policy: ValidationPolicy,
    *,
    kind: str = "signature",
    extra_revocation: RevocationData | None = None,
) -> TimestampCheck:
    """Check a timestamp token over `covered` (the bytes it timestamps, e.g. a signature value).

    Never raises for bad input: problems are in `errors` and the token is then not intact/valid.
    """
    result = TimestampCheck(TimestampInfo(type=kind, time=None))
    try:
        if not isinstance(token, cms.ContentInfo):
            # an attribute value asn1crypto left unparsed (type Any) arrives here too: reload its DER
            info = cms.ContentInfo.load(token if isinstance(token, bytes) else token.dump())
        else:
            info = token
        signed_data = info["content"]
        eci = signed_data["encap_content_info"]
        if eci["content_type"].dotted != OID_TST_INFO:
            result.errors.append("timestamp token does not contain TSTInfo")
            return result
        tst_der = eci["content"].contents if eci["content"].contents is not None else b""
        if isinstance(eci["content"].parsed, tsp.TSTInfo):
            tst = eci["content"].parsed
        else:
            tst = tsp.TSTInfo.load(tst_der)
        gen_time = tst["gen_time"].native
        result.info.time = gen_time if gen_time.tzinfo else gen_time.replace(tzinfo=UTC)
        imprint = tst["message_imprint"]
        algo = algorithms.digest_algorithm(imprint["hash_algorithm"]["algorithm"].dotted)
        content = covered if isinstance(covered, SignedContent) else SignedContent([covered])
        imprint_ok = content.digest(algo) == imprint["hashed_message"].native
        if not imprint_ok:
            result.errors.append(f"{kind} timestamp: the message imprint does not match what it covers")
        certs = embedded_certificates(signed_data)
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            result.errors.append(f"{kind} timestamp: expected exactly one signer")
            return result
        check = check_signer_info(signer_infos[0], certs, SignedContent([eci["content"].contents]),
                                  content_type=OID_TST_INFO)
        result.errors.extend(f"{kind} timestamp: {p.reason}" for p in check.problems)
        result.info.intact = imprint_ok and check.intact
        if check.signer_cert is not None:
            result.info.tsa = name_text(check.signer_cert.subject)
            revinfo = from_signed_data(signed_data)
            if extra_revocation is not None:
                revinfo.extend(extra_revocation)
            if result.info.intact:
                others = [c for c in certs if c != check.signer_cert]
                result.chain = assess_signer(check.signer_cert, others, policy, embedded_crls=revinfo.crls,
                                             embedded_ocsps=revinfo.ocsps, purpose="timestamp")
                if not result.chain.passed:
                    result.errors.extend(f"{kind} timestamp: {e}" for e in result.chain.errors)
    except UnsupportedAlgorithm as exc:
        result.errors.append(f"{kind} timestamp: {exc}")
    except PARSE_ERRORS as exc:
        result.errors.append(f"{kind} timestamp: malformed token ({type(exc).__name__})")
    return result
