"""ETSI TS 119 612 XML -> `model.TrustedList`. Elements are found by local name (lists in the wild
use several prefixes and the v1 and v2 namespaces alike); untrusted XML enters through xmlsafe."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime

from asn1crypto import x509
from lxml import etree

from gateway.errors import GatewayError
from gateway.pki.tl.model import (
    Criteria,
    Pointer,
    Provider,
    Qualification,
    Service,
    ServiceState,
    TrustedList,
    service_type,
    uri_tail,
)
from gateway.xmlsafe import XmlParseError, parse_xml

MAX_TL_BYTES = 32 * 1024 * 1024
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MAX_CRITERIA_DEPTH = 8


class TrustedListError(GatewayError):
    """A trusted list is refused (format, signature, signer, expiry); the message is one line."""


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def kids(el: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if el is None:
        return
    for c in el:
        if _local(c) == name:
            yield c


def kid(el: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        el = next(kids(el, name), None)
        if el is None:
            return None
    return el


def text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def parse_time(value: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TrustedListError(f"{where}: not a date and time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def localized(el: etree._Element | None) -> str:
    """The English Name of a multilingual element, else the first one."""
    names = list(kids(el, "Name"))
    for n in names:
        if (n.get(XML_LANG) or "").lower().startswith("en"):
            return text(n)
    return text(names[0]) if names else ""


def _certificates(digital_ids: list[etree._Element]) -> tuple[list[x509.Certificate], list[str], list[bytes]]:
    certs, names, skis = [], [], []
    for did in digital_ids:
        for el in kids(did, "X509Certificate"):
            try:
                cert = x509.Certificate.load(base64.b64decode("".join(text(el).split()), validate=True))
                # parse now: a damaged certificate is a format error, and a parsed one can be
                # shared by the threads of a running gateway (asn1crypto parses lazily)
                cert.subject.dump(), cert.public_key.dump(), cert.key_identifier, cert.self_signed
            except (binascii.Error, ValueError, TypeError) as exc:
                raise TrustedListError(f"a service certificate cannot be read: {exc}") from None
            certs.append(cert)
        names.extend(text(el) for el in kids(did, "X509SubjectName"))
        for el in kids(did, "X509SKI"):
            try:
                skis.append(base64.b64decode("".join(text(el).split()), validate=True))
            except (binascii.Error, ValueError):
                continue
    return certs, names, skis


def _criteria(el: etree._Element, depth: int = 0) -> Criteria:
    crit = Criteria(assert_=el.get("assert") or "all")
    if depth > MAX_CRITERIA_DEPTH:
        crit.unsupported = True
        return crit
    for c in el:
        name = _local(c)
        if name == "PolicySet":
            crit.policies.append([text(kid(p, "Identifier")) for p in kids(c, "PolicyIdentifier")])
        elif name == "KeyUsage":
            crit.key_usage.append(
                {b.get("name") or "": text(b).lower() == "true" for b in kids(c, "KeyUsageBit")}
            )
        elif name == "CriteriaList":
            crit.nested.append(_criteria(c, depth + 1))
        elif name in ("Description",):
            continue
        else:
            crit.unsupported = True
    return crit


def _state(info: etree._Element) -> ServiceState:
    type_uri = text(kid(info, "ServiceTypeIdentifier"))
    status = text(kid(info, "ServiceStatus"))
    since = text(kid(info, "StatusStartingTime"))
    if not type_uri or not status or not since:
        raise TrustedListError("a service lacks its type, status or status starting time")
    state = ServiceState(
        service_type(type_uri), type_uri, uri_tail(status), parse_time(since, "StatusStartingTime")
    )
    for ext in kids(kid(info, "ServiceInformationExtensions"), "Extension"):
        for c in ext:
            if _local(c) == "AdditionalServiceInformation":
                state.additional.append(uri_tail(text(kid(c, "URI"))))
            elif _local(c) == "Qualifications":
                for q in kids(c, "QualificationElement"):
                    qualifiers = [
                        uri_tail(x.get("uri") or text(x)) for x in kids(kid(q, "Qualifiers"), "Qualifier")
                    ]
                    crit_el = kid(q, "CriteriaList")
                    criteria = _criteria(crit_el) if crit_el is not None else Criteria(unsupported=True)
                    state.qualifications.append(Qualification(qualifiers, criteria))
    return state


def _service(el: etree._Element) -> Service:
    info = kid(el, "ServiceInformation")
    if info is None:
        raise TrustedListError("a TSPService has no ServiceInformation")
    certs, names, skis = _certificates(list(kids(kid(info, "ServiceDigitalIdentity"), "DigitalId")))
    states = [_state(info)]
    for hist in kids(kid(el, "ServiceHistory"), "ServiceHistoryInstance"):
        states.append(_state(hist))
        h_certs, h_names, h_skis = _certificates(list(kids(kid(hist, "ServiceDigitalIdentity"), "DigitalId")))
        certs.extend(c for c in h_certs if c not in certs)
        names.extend(n for n in h_names if n not in names)
        skis.extend(s for s in h_skis if s not in skis)
    states.sort(key=lambda s: s.since, reverse=True)
    return Service(localized(kid(info, "ServiceName")), certs, names, skis, states)


def _pointer(el: etree._Element) -> Pointer:
    certs: list[x509.Certificate] = []
    for sdi in kids(kid(el, "ServiceDigitalIdentities"), "ServiceDigitalIdentity"):
        certs.extend(_certificates(list(kids(sdi, "DigitalId")))[0])
    values: dict[str, str] = {}
    for other in kids(kid(el, "AdditionalInformation"), "OtherInformation"):
        for c in other:
            if _local(c) in ("TSLType", "SchemeTerritory", "MimeType"):
                values[_local(c)] = text(c)
    return Pointer(
        location=text(kid(el, "TSLLocation")),
        territory=values.get("SchemeTerritory", ""),
        list_type=uri_tail(values.get("TSLType", "")),
        mime_type=values.get("MimeType", ""),
        certificates=certs,
    )


def parse_tree(tree: etree._ElementTree) -> TrustedList:
    root = tree.getroot()
    if _local(root) != "TrustServiceStatusList":
        raise TrustedListError(f"not an ETSI TS 119 612 trusted list (root element {_local(root)!r})")
    scheme = kid(root, "SchemeInformation")
    if scheme is None:
        raise TrustedListError("the trusted list has no SchemeInformation")
    issued = text(kid(scheme, "ListIssueDateTime"))
    if not issued:
        raise TrustedListError("the trusted list has no ListIssueDateTime")
    next_update = text(kid(scheme, "NextUpdate", "dateTime"))
    try:
        sequence = int(text(kid(scheme, "TSLSequenceNumber")) or "0")
    except ValueError:
        raise TrustedListError("TSLSequenceNumber is not a number") from None
    providers = []
    for tsp in kids(kid(root, "TrustServiceProviderList"), "TrustServiceProvider"):
        name = localized(kid(tsp, "TSPInformation", "TSPName"))
        services = [_service(s) for s in kids(kid(tsp, "TSPServices"), "TSPService")]
        providers.append(Provider(name, services))
    pointers = [_pointer(p) for p in kids(kid(scheme, "PointersToOtherTSL"), "OtherTSLPointer")]
    return TrustedList(
        territory=text(kid(scheme, "SchemeTerritory")),
        list_type=uri_tail(text(kid(scheme, "TSLType"))),
        sequence=sequence,
        issued=parse_time(issued, "ListIssueDateTime"),
        next_update=parse_time(next_update, "NextUpdate") if next_update else None,
        operator=localized(kid(scheme, "SchemeOperatorName")),
        providers=providers,
        pointers=pointers,
    )


def load_tree(data: bytes) -> etree._ElementTree:
    try:
        return parse_xml(data, max_bytes=MAX_TL_BYTES)
    except XmlParseError as exc:
        raise TrustedListError(str(exc)) from None
