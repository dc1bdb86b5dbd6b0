"""What a trusted list says, as plain data: providers, services with their status history, and (in
a list of lists) the pointers to other lists with their signers' certificates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import x509

ETSI = "http://uri.etsi.org/TrstSvc/"
GRANTED_STATUSES = {"granted", "undersupervision", "supervisionincessation", "accredited", "setbynationallaw"}


def uri_tail(uri: str) -> str:
    """The last path component of a URI, lower case: `.../Svcstatus/granted` -> `granted`. Ukrainian
    lists use URIs of their own (`http://czo.gov.ua/TrstSvc/...`) ending with the ETSI names."""
    return uri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower()


def service_type(uri: str) -> str:
    """The part of a ServiceTypeIdentifier after `/Svctype/`, lower case: `ca/qc`, `certstatus/ocsp/qc`,
    `tsa/qtst`, ... (the ETSI URIs and the Ukrainian ones alike)."""
    low = uri.strip().lower()
    marker = "/svctype/"
    return low.split(marker, 1)[1].strip("/") if marker in low else uri_tail(low)


@dataclass
class Criteria:
    """One ecc:CriteriaList of a Qualifications extension: which certificates a qualifier is for."""

    assert_: str = "all"  # all | atLeastOne | none
    policies: list[list[str]] = field(default_factory=list)  # each PolicySet: OIDs all required
    key_usage: list[dict[str, bool]] = field(default_factory=list)  # each KeyUsage: bit -> value
    nested: list[Criteria] = field(default_factory=list)
    #: criteria this implementation cannot evaluate (otherCriteriaList, ...): never matches
    unsupported: bool = False


@dataclass
class Qualification:
    qualifiers: list[str]  # URI tails: qcwithqscd, qcforesig, notqualified, ...
    criteria: Criteria


@dataclass
class ServiceState:
    """The service as of `since`: from ServiceInformation (current) or a ServiceHistoryInstance."""

    type: str  # service_type(): ca/qc, certstatus/ocsp/qc, tsa/qtst, ...
    type_uri: str
    status: str  # URI tail of ServiceStatus: granted, withdrawn, ...
    since: datetime
    additional: list[str] = field(default_factory=list)  # tails: foresignatures, foreseals, ...
    qualifications: list[Qualification] = field(default_factory=list)

    @property
    def granted(self) -> bool:
        return self.status in GRANTED_STATUSES


@dataclass
class Service:
    name: str
    certificates: list[x509.Certificate]
    subject_names: list[str]
    skis: list[bytes]
    #: newest first: the current state, then the history
    states: list[ServiceState]

    @property
    def current(self) -> ServiceState:
        return self.states[0]

    def state_at(self, moment: datetime) -> ServiceState | None:
        """The state in force at `moment` (None: the service was not listed yet)."""
        for state in self.states:
            if state.since <= moment:
                return state
        return None


@dataclass
class Provider:
    name: str
    services: list[Service]


@dataclass
class Pointer:
    """A PointersToOtherTSL entry: where another list lives and who may sign it."""

    location: str
    territory: str
    list_type: str
    mime_type: str
    certificates: list[x509.Certificate]


@dataclass
class TrustedList:
    territory: str
    list_type: str  # URI tail of TSLType: EUgeneric, EUlistofthelists, UAlist, ...
    sequence: int
    issued: datetime
    next_update: datetime | None
    operator: str
    providers: list[Provider]
    pointers: list[Pointer]

    @property
    def is_lotl(self) -> bool:
        return "listofthelists" in self.list_type.lower() or (bool(self.pointers) and not self.providers)

    def services(self) -> list[tuple[Provider, Service]]:
        return [(p, s) for p in self.providers for s in p.services]
