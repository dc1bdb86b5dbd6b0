"""Qualification of a signature from trusted lists, following DSS (ETSI TS 119 615 / 119 172-4).

1. The certificate chain must reach a CA/QC service of a list (its certificate, or its SKI).
2. That service must be granted (or under supervision/accredited, before eIDAS) both when the
   certificate was issued and at the best signature time: a service withdrawn before then
   downgrades the signature to AdESig/AdESeal.
3. The certificate's QC statements (QcCompliance, QcType esign/eseal/web, QcSSCD) are overridden by
   the service's qualifiers whose criteria the certificate meets (QCStatement, NotQualified,
   QCForESig, QCForESeal, QCForLegalPerson, QCWithQSCD/QCNoQSCD/QCQSCDStatusAsInCert/
   QCQSCDManagedOnBehalf and their SSCD forms), and the service's additional information
   (ForeSignatures/ForeSeals) must allow the certificate's type.
4. QC + QSCD gives QESig/QESeal, QC alone AdESig-QC/AdESeal-QC, neither AdESig/AdESeal; a
   certificate for web sites or no CA/QC service gives NA (and so does a signature that did not
   pass validation: the report settles that once the verdict is final).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import core, x509

from gateway.pki.tl.model import Criteria, Provider, Service, ServiceState, TrustedList
from gateway.signing.qualification import QualificationResult
from gateway.signing.validation.signerinfo import PARSE_ERRORS

OID_QC_STATEMENTS = "1.3.6.1.5.5.7.1.3"
QC_COMPLIANCE = "0.4.0.1862.1.1"
QC_SSCD = "0.4.0.1862.1.4"
QC_TYPE = "0.4.0.1862.1.6"
QC_TYPES = {"0.4.0.1862.1.6.1": "esig", "0.4.0.1862.1.6.2": "eseal", "0.4.0.1862.1.6.3": "web"}
#: pre-eIDAS qualified certificate policies (QCP public, QCP public + SSCD)
QCP, QCP_SSCD = "0.4.0.1456.1.2", "0.4.0.1456.1.1"
#: Ukrainian profile: the national QcCompliance statement, the "qualified" policy mark and the
#: extended key usage of a seal ("stamp") certificate
UA_QC_COMPLIANCE, UA_QUALIFIED_POLICY, UA_STAMP_USAGE = (
    "1.2.804.2.1.1.1.2.1", "1.2.804.2.1.1.1.2.2", "1.2.804.2.1.1.1.3.9"
)
EIDAS_DATE = datetime(2016, 7, 1, tzinfo=UTC)


class _Statement(core.Sequence):
    _fields = [("statement_id", core.ObjectIdentifier), ("statement_info", core.Any, {"optional": True})]


class _Statements(core.SequenceOf):
    _child_spec = _Statement


class _QcTypes(core.SequenceOf):
    _child_spec = core.ObjectIdentifier


@dataclass
class CertFacts:
    """What the certificate itself says about its qualification."""

    qc_compliance: bool = False
    qscd: bool = False
    types: tuple[str, ...] = ()
    policies: frozenset[str] = frozenset()
    key_usage: frozenset[str] = frozenset()


def cert_facts(cert: x509.Certificate) -> CertFacts:
    facts = CertFacts()
    try:
        policies = cert.certificate_policies_value
        facts.policies = frozenset(p["policy_identifier"].dotted for p in policies or ())
        usage = cert.key_usage_value
        facts.key_usage = frozenset(usage.native) if usage is not None else frozenset()
        extended = cert.extended_key_usage_value
        if extended is not None and UA_STAMP_USAGE in {u.dotted for u in extended}:
            facts.types = ("eseal",)
        for ext in cert["tbs_certificate"]["extensions"]:
            if ext["extn_id"].dotted != OID_QC_STATEMENTS:
                continue
            for st in _Statements.load(ext["extn_value"].contents):
                oid = st["statement_id"].dotted
                if oid in (QC_COMPLIANCE, UA_QC_COMPLIANCE):
                    facts.qc_compliance = True
                elif oid == QC_SSCD:
                    facts.qscd = True
                elif oid == QC_TYPE and st["statement_info"].contents:
                    kinds = _QcTypes.load(st["statement_info"].dump())
                    facts.types = tuple(QC_TYPES.get(t.dotted, "other") for t in kinds)
    except PARSE_ERRORS:
        return CertFacts(policies=facts.policies, key_usage=facts.key_usage)
    return facts


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def criteria_match(crit: Criteria, facts: CertFacts) -> bool:
    if crit.unsupported:
        return False
    results = [all(p in facts.policies for p in ps) for ps in crit.policies]
    results += [
        all((_snake(bit) in facts.key_usage) == value for bit, value in ku.items()) for ku in crit.key_usage
    ]
    results += [criteria_match(n, facts) for n in crit.nested]
    if crit.assert_ == "atLeastOne":
        return any(results)
    if crit.assert_ == "none":
        return not any(results)
    return all(results)


@dataclass
class _Verdict:
    qc: bool
    qscd: bool
    type: str  # esig | eseal | web | other


def _judge(state: ServiceState, facts: CertFacts, issued: datetime) -> tuple[_Verdict, list[str]]:
    qualifiers = {
        q for qual in state.qualifications if criteria_match(qual.criteria, facts) for q in qual.qualifiers
    }
    notes = []
    pre_eidas_qc = issued < EIDAS_DATE and bool({QCP, QCP_SSCD} & facts.policies)
    qc = facts.qc_compliance or pre_eidas_qc or UA_QUALIFIED_POLICY in facts.policies
    if "qcstatement" in qualifiers:
        qc = True
    if "notqualified" in qualifiers:
        qc = False
    kind = facts.types[0] if facts.types else "esig"
    if "qcforesig" in qualifiers:
        kind = "esig"
    elif qualifiers & {"qcforeseal", "qcforlegalperson"}:
        kind = "eseal"
    elif "qcforwsa" in qualifiers:
        kind = "web"
    qscd = facts.qscd or (issued < EIDAS_DATE and QCP_SSCD in facts.policies)
    if qualifiers & {"qcwithqscd", "qcwithsscd", "qcqscdmanagedonbehalf"}:
        qscd = True
    if qualifiers & {"qcnoqscd", "qcnosscd"}:
        qscd = False
    scope = {"foresignatures": "esig", "foreseals": "eseal", "forwebsiteauthentication": "web"}
    allowed = {scope[a] for a in state.additional if a in scope}
    if qc and allowed and kind not in allowed:
        notes.append(f"the trusted service is not for certificates of type {kind}")
        qc = False
    return _Verdict(qc, qscd, kind), notes


def _service_matches(service: Service, chain: Sequence[x509.Certificate]) -> bool:
    for c in chain[1:]:
        try:
            key, subject, ski = c.public_key.dump(), c.subject, c.key_identifier
        except PARSE_ERRORS:
            continue
        if any(s.public_key.dump() == key and s.subject == subject for s in service.certificates):
            return True
        if ski is not None and ski in service.skis and not service.certificates:
            return True
    # the signer's issuer is the service (its certificate or SKI) even when the chain has no copy of it
    try:
        aki = chain[0].authority_key_identifier
    except PARSE_ERRORS:
        return False
    if aki is None:
        return False
    return aki in service.skis or any(s.key_identifier == aki for s in service.certificates)


class TrustedListQualifier:
    """A `gateway.signing.qualification.Qualifier` over a set of trusted lists."""

    def __init__(self, lists: Sequence[TrustedList]) -> None:
        self.lists = [tl for tl in lists if not tl.is_lotl]

    def matching(self, chain: Sequence[x509.Certificate]) -> list[tuple[TrustedList, Provider, Service]]:
        return [
            (tl, p, s) for tl in self.lists for p, s in tl.services()
            if any(st.type.startswith("ca/qc") for st in s.states) and _service_matches(s, chain)
        ]

    def __call__(
        self, signer: x509.Certificate, chain: Sequence[x509.Certificate], at: datetime
    ) -> QualificationResult:
        found = self.matching(chain)
        if not found:
            return QualificationResult(
                "NA", None, ["no CA/QC service of the trusted lists issued the signer's certificate"]
            )
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        try:
            issued = signer.not_valid_before
        except PARSE_ERRORS:
            issued = at
        facts = cert_facts(signer)
        _tl, provider, service = found[0]
        warnings: list[str] = []
        verdict = None
        for candidate in found:
            tl, provider, service = candidate
            if tl.next_update is not None and tl.next_update < datetime.now(UTC):
                warnings.append(f"the {tl.territory} trusted list #{tl.sequence} is past its NextUpdate "
                                f"({tl.next_update:%Y-%m-%d}): the last good copy is used")
            at_issue, at_signing = service.state_at(issued), service.state_at(at)
            problem = _not_qualified_state(at_signing, f"at {at:%Y-%m-%d %H:%M}Z") or _not_qualified_state(
                at_issue, f"when the certificate was issued ({issued:%Y-%m-%d})"
            )
            if problem or at_signing is None:
                warnings.append(f"the trusted service '{service.name}' {problem}")
                continue
            verdict, notes = _judge(at_signing, facts, issued)
            warnings.extend(notes)
            break
        if verdict is None:
            verdict, _ = _judge(service.current, facts, issued)
            verdict.qc = verdict.qscd = False
        return QualificationResult(_name(verdict), provider.name or None, warnings)


def _not_qualified_state(state: ServiceState | None, when: str) -> str:
    """Why the service in `state` cannot back a qualified certificate, or ""."""
    if state is None:
        return f"was not listed yet {when}"
    if not state.type.startswith("ca/qc"):
        return f"was not a CA/QC service {when}"
    if not state.granted:
        return f"was {state.status} {when}"
    return ""


def _name(v: _Verdict) -> str:
    if v.type not in ("esig", "eseal"):
        return "NA"
    suffix = "Sig" if v.type == "esig" else "Seal"
    if v.qc and v.qscd:
        return f"QE{suffix}"
    if v.qc:
        return f"AdE{suffix}-QC"
    return f"AdE{suffix}"
