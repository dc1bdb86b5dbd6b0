"""What a validation is asked to do: trust anchors, time, revocation mode, detached contents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asn1crypto import x509

from gateway.signing.qualification import Qualifier
from gateway.signing.validation.fetchpolicy import FetchPolicy


@dataclass
class ValidationPolicy:
    #: trust anchors; with none, no chain can reach a trust anchor (INDETERMINATE at best)
    trust_roots: list[x509.Certificate] = field(default_factory=list)
    #: fetch nothing over the network (OCSP, CRL, AIA); use what the file embeds and the cache
    offline: bool = False
    #: validate as of this time instead of now (`verify --at`)
    at: datetime | None = None
    #: folder of cached CRLs/OCSP responses (read when offline, written when online)
    cache_dir: Path | None = None
    #: what online validation may fetch (`[trust] fetch_allow`); the default refuses non-public addresses
    fetch: FetchPolicy = field(default_factory=FetchPolicy)
    #: how long a fetched OCSP response is reused (never past its nextUpdate)
    ocsp_fresh_seconds: float = 3600.0
    #: first back-off after a revocation responder failed (doubles per failure)
    fetch_backoff_seconds: float = 30.0
    #: detached signed contents, by file name (a signature may name the file it covers)
    detached: dict[str, Path] = field(default_factory=dict)
    #: the validated file's name, to pair it with one of several detached files (x.txt.p7s -> x.txt)
    source_name: str = ""
    #: bound on the size of any one input read into memory
    max_input_bytes: int = 512 * 1024 * 1024
    #: judges each signature's qualification (trusted lists); None: the report says null
    qualifier: Qualifier | None = None
    #: certificates given besides the signed file (`verify --certs`): candidates for the signer's
    #: certificate and its chain, never trust anchors
    extra_certificates: list[x509.Certificate] = field(default_factory=list)
    #: folder of signature policy documents, named by policy identifier (`[trust] signature_policies`)
    signature_policy_dir: Path | None = None
