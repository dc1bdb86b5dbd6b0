"""Ukrainian-like trusted lists and qualified certificates made with the development PKI.

`build_list` writes an ETSI TS 119 612 list with the czo.gov.ua URIs of the national lists (type
`UAlist`, services with status history); `sign_list` signs it with an enveloped XAdES through the
project's signer (`gateway.signing.xades.sign_enveloped`); `issue_qc` issues, from the development
CA, a certificate with QC statements (QcCompliance, QcType, QcSSCD) whose revocation the
development PKI's CRL answers.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from gateway.pki.dev import DevPki
from gateway.signing.keys import load_signing_key
from gateway.signing.xades import sign_enveloped
from gateway.signing.xml.builder import XadesOptions

UA = "http://czo.gov.ua/TrstSvc/"
ECC = "http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/#"
QC_STATEMENTS = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3")


@dataclass
class State:
    status: str  # granted | withdrawn | ...
    since: datetime
    qualifiers: list[str] = field(default_factory=list)  # QCWithQSCD, QCForESeal, ...
    additional: list[str] = field(default_factory=list)  # ForeSignatures, ForeSeals


@dataclass
class ServiceSpec:
    name: str
    cert_pem: bytes
    states: list[State]  # newest first
    type: str = "CA/QC"


def _b64_cert(pem_bytes: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem_bytes)
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _info(tag: str, svc: ServiceSpec, state: State, with_identity_cert: bool) -> str:
    exts = "".join(
        f'<Extension Critical="true"><AdditionalServiceInformation><URI xml:lang="en">'
        f"{UA}TrustedList/SvcInfoExt/{a}</URI></AdditionalServiceInformation></Extension>"
        for a in state.additional
    )
    if state.qualifiers:
        quals = "".join(f'<ecc:Qualifier uri="{UA}TrustedList/SvcInfoExt/{q}"/>' for q in state.qualifiers)
        exts += (
            '<Extension Critical="true"><ecc:Qualifications><ecc:QualificationElement>'
            f'<ecc:Qualifiers>{quals}</ecc:Qualifiers><ecc:CriteriaList assert="atLeastOne">'
            '<ecc:KeyUsage><ecc:KeyUsageBit name="nonRepudiation">true</ecc:KeyUsageBit></ecc:KeyUsage>'
            "</ecc:CriteriaList></ecc:QualificationElement></ecc:Qualifications></Extension>"
        )
    identity = (
        f"<DigitalId><X509Certificate>{_b64_cert(svc.cert_pem)}</X509Certificate></DigitalId>"
        if with_identity_cert
        else f"<DigitalId><X509SubjectName>{svc.name}</X509SubjectName></DigitalId>"
    )
    return (
        f"<{tag}><ServiceTypeIdentifier>{UA}Svctype/{svc.type}</ServiceTypeIdentifier>"
        f'<ServiceName><Name xml:lang="uk">{svc.name}</Name></ServiceName>'
        f"<ServiceDigitalIdentity>{identity}</ServiceDigitalIdentity>"
        f"<ServiceStatus>{UA}TrustedList/Svcstatus/{state.status}</ServiceStatus>"
        f"<StatusStartingTime>{_time(state.since)}</StatusStartingTime>"
        + (f"<ServiceInformationExtensions>{exts}</ServiceInformationExtensions>" if exts else "")
        + f"</{tag}>"
    )


def build_list(
    services: list[ServiceSpec],
    *,
    provider: str = "Dev Qualified Provider (ДП «Дія»-like)",
    sequence: int = 1,
    issued: datetime | None = None,
    next_update: datetime | None = None,
) -> bytes:
    issued = issued or datetime.now(UTC) - timedelta(days=1)
    next_update = next_update or issued + timedelta(days=180)
    tsps = ""
    for svc in services:
        current = _info("ServiceInformation", svc, svc.states[0], True)
        history = "".join(_info("ServiceHistoryInstance", svc, s, False) for s in svc.states[1:])
        tsps += f"<TSPService>{current}" + (f"<ServiceHistory>{history}</ServiceHistory>" if history else "")
        tsps += "</TSPService>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#" xmlns:ecc="{ECC}" Id="tsl" '
        'TSLTag="http://uri.etsi.org/19612/TSLTag"><SchemeInformation>'
        f"<TSLVersionIdentifier>5</TSLVersionIdentifier><TSLSequenceNumber>{sequence}</TSLSequenceNumber>"
        f"<TSLType>{UA}TrustedList/TSLType/UAlist</TSLType>"
        '<SchemeOperatorName><Name xml:lang="uk">Центральний засвідчувальний орган</Name>'
        "</SchemeOperatorName>"
        "<SchemeTerritory>UA</SchemeTerritory>"
        f"<ListIssueDateTime>{_time(issued)}</ListIssueDateTime>"
        f"<NextUpdate><dateTime>{_time(next_update)}</dateTime></NextUpdate></SchemeInformation>"
        "<TrustServiceProviderList><TrustServiceProvider><TSPInformation><TSPName>"
        f'<Name xml:lang="uk">{provider}</Name></TSPName></TSPInformation>'
        f"<TSPServices>{tsps}</TSPServices></TrustServiceProvider></TrustServiceProviderList>"
        "</TrustServiceStatusList>"
    ).encode()


def build_lotl(pointers: list[tuple[str, str, bytes]], *, sequence: int = 1) -> bytes:
    """A list of lists pointing to (location, territory, signer certificate PEM) lists."""
    issued = datetime.now(UTC) - timedelta(days=1)
    ptrs = "".join(
        "<OtherTSLPointer><ServiceDigitalIdentities><ServiceDigitalIdentity><DigitalId>"
        f"<X509Certificate>{_b64_cert(cert)}</X509Certificate></DigitalId></ServiceDigitalIdentity>"
        f"</ServiceDigitalIdentities><TSLLocation>{location}</TSLLocation><AdditionalInformation>"
        "<OtherInformation><TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric</TSLType>"
        f"</OtherInformation><OtherInformation><SchemeTerritory>{territory}</SchemeTerritory></OtherInformation>"
        '<OtherInformation><ns3:MimeType xmlns:ns3="http://uri.etsi.org/02231/v2/additionaltypes#">'
        "application/vnd.etsi.tsl+xml</ns3:MimeType></OtherInformation></AdditionalInformation></OtherTSLPointer>"
        for location, territory, cert in pointers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#" Id="lotl"><SchemeInformation>'
        f"<TSLVersionIdentifier>5</TSLVersionIdentifier><TSLSequenceNumber>{sequence}</TSLSequenceNumber>"
        "<TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUlistofthelists</TSLType>"
        '<SchemeOperatorName><Name xml:lang="en">Test LOTL operator</Name></SchemeOperatorName>'
        f"<SchemeTerritory>EU</SchemeTerritory><PointersToOtherTSL>{ptrs}</PointersToOtherTSL>"
        f"<ListIssueDateTime>{_time(issued)}</ListIssueDateTime>"
        f"<NextUpdate><dateTime>{_time(issued + timedelta(days=180))}</dateTime></NextUpdate>"
        "</SchemeInformation></TrustServiceStatusList>"
    ).encode()


def sign_list(xml: bytes, dev_pki: DevPki, p12: Path | None = None) -> bytes:
    """The list with an enveloped XAdES B-B by the development seal (its `seal.pem` is the signer),
    or by the key in `p12` (the development PKI's password)."""
    key = load_signing_key(str(p12 or dev_pki.seal_p12), dev_pki.password())
    return sign_enveloped(key, xml, XadesOptions())


class _Statement(core.Sequence):
    _fields = [("statement_id", core.ObjectIdentifier), ("statement_info", core.Any, {"optional": True})]


class _Statements(core.SequenceOf):
    _child_spec = _Statement


class _Oids(core.SequenceOf):
    _child_spec = core.ObjectIdentifier


def qc_statements(*, compliance: bool = True, qc_type: str | None = "eseal", qscd: bool = True) -> bytes:
    items = []
    if compliance:
        items.append({"statement_id": "0.4.0.1862.1.1"})
    if qscd:
        items.append({"statement_id": "0.4.0.1862.1.4"})
    if qc_type:
        oid = {"esig": "0.4.0.1862.1.6.1", "eseal": "0.4.0.1862.1.6.2", "web": "0.4.0.1862.1.6.3"}[qc_type]
        info = core.Any.load(_Oids([oid]).dump())
        items.append({"statement_id": "0.4.0.1862.1.6", "statement_info": info})
    return _Statements(items).dump()


def issue_qc(dev_pki: DevPki, folder: Path, label: str, **statements: object) -> tuple[Path, Path]:
    """(PKCS#12, PEM) of a new signer certificate issued by the development CA with the given QC
    statements (see qc_statements); the PKCS#12 password is the development PKI's."""
    ca_cert = x509.load_pem_x509_certificate(dev_pki.ca_cert.read_bytes())
    seal = x509.load_pem_x509_certificate(dev_pki.seal_cert.read_bytes())
    ca_key = serialization.load_pem_private_key((dev_pki.dir / "keys" / "ca.key.pem").read_bytes(), None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    crl_dp = seal.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mykolaiv City Council"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"QC test signer {label}"),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(os.urandom(8), "big"))
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(usage, critical=True)
        .add_extension(crl_dp, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.UnrecognizedExtension(QC_STATEMENTS, qc_statements(**statements)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    p12 = folder / f"{label}.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        label.encode(), key, cert, [ca_cert], serialization.BestAvailableEncryption(dev_pki.password())
    ))
    pem_path = folder / f"{label}.pem"
    pem_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p12, pem_path
