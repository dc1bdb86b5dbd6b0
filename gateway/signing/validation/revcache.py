"""Verified revocation data by issuer, reused across validations, in memory and on disk.

`RevocationCache` (one per `[trust] cache_dir` and process) holds CRLs and OCSP responses keyed by
their issuer: SHA-1 of the issuer's name and of its public key (RFC 6960 CertID), plus the serial
number for an OCSP response, and for a CRL whether it is a full or delta CRL and its issuing
distribution point (partitions and deltas do not replace each other). Only data whose signature
verified against an issuer on a validated certificate path is kept (`remember`): a CRL an uploaded
file embeds, or one fetched from an attacker's URL, is never cached on its own say-so. A CRL is
reused until its nextUpdate; an OCSP response for `ocsp_fresh_seconds` after it was fetched (never
past its nextUpdate). Files are written atomically, 0600.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import crl, ocsp, x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.fetchers.common_utils import enumerate_delivery_point_urls
from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator
from pyhanko_certvalidator.util import get_ocsp_urls, get_relevant_crl_dps

from gateway.signing import algorithms
from gateway.signing.certificates import name_text
from gateway.signing.report import RevocationSource
from gateway.signing.validation.signerinfo import PARSE_ERRORS

log = logging.getLogger(__name__)

DEFAULT_OCSP_FRESH_SECONDS = 3600.0
MAX_ENTRIES = 4096
SIGNATURE_ERRORS = (InvalidSignature, *PARSE_ERRORS)
#: what a report says about data that came several ways, first wins
SOURCE_ORDER = ("embedded", "fetched", "cached")

@dataclass
class Entry:
    """One verified CRL or OCSP response."""

    kind: str  # "crl" | "ocsp"
    der: bytes
    key: tuple[str, ...]
    issuer: str
    url: str | None
    this_update: datetime | None
    next_update: datetime | None
    produced_at: datetime | None
    fetched_at: float  # time.time() when it was fetched (file mtime after a restart)
    #: the URLs a partitioned CRL's issuing distribution point names (empty: the whole CA)
    scope: tuple[str, ...] = ()

    def usable(self, now: float, ocsp_fresh_seconds: float) -> bool:
        limit = None
        if self.kind == "ocsp" or self.next_update is None:
            limit = self.fetched_at + ocsp_fresh_seconds
        if self.next_update is not None:
            next_ts = self.next_update.timestamp()
            limit = next_ts if limit is None else min(limit, next_ts)
        return limit is not None and now < limit


def _sha1_hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - an identifier, as in an OCSP CertID


def authority_key(name: x509.Name, public_key: Any) -> tuple[str, str]:
    """(SHA-1 of the issuer name, SHA-1 of its key): the RFC 6960 CertID hashes."""
    return _sha1_hex(name.dump()), public_key.sha1.hex()


def _crl_variant(tbs: Any) -> tuple[str, tuple[str, ...]]:
    """("f" or "d" for a full or delta CRL, plus a hash of its issuing distribution point), and
    the URLs that distribution point names."""
    idp, delta = None, False
    for ext in tbs["crl_extensions"] or []:
        name = ext["extn_id"].native
        if name == "issuing_distribution_point":
            idp = ext["extn_value"].parsed
        elif name == "delta_crl_indicator":
            delta = True
    variant = "d" if delta else "f"
    if idp is None:
        return variant, ()
    scope: tuple[str, ...] = ()
    point = idp["distribution_point"]
    if point.name == "full_name":
        scope = tuple(n.native for n in point.chosen if n.name == "uniform_resource_identifier")
    return variant + _sha1_hex(idp.dump())[:16], scope


def _verify(signature: bytes, data: bytes, key: Any, algorithm: Any) -> bool:
    validator = algorithms.chain_signature_validator() or DefaultSignatureValidator()
    try:
        validator.validate_signature(signature, data, key, algorithm)
    except SIGNATURE_ERRORS:
        return False
    except Exception as exc:  # noqa: BLE001 - any other verifier refusal means "not verified"
        log.debug("revocation data signature not verified: %s", exc)
        return False
    return True


def _crl_entry(der: bytes, issuer: x509.Certificate, url: str | None, fetched_at: float) -> Entry | None:
    """The CRL as a cache entry when `issuer` signed it, else None."""
    try:
        parsed = crl.CertificateList.load(der)
        tbs = parsed["tbs_cert_list"]
        if tbs["issuer"] != issuer.subject:
            return None
        usage = issuer.key_usage_value
        if usage is not None and "crl_sign" not in usage.native:
            return None
        if not _verify(parsed["signature"].native, tbs.dump(), issuer.public_key,
                       parsed["signature_algorithm"]):
            return None
        variant, scope = _crl_variant(tbs)
        return Entry("crl", der, (*authority_key(issuer.subject, issuer.public_key), variant),
                     name_text(issuer.subject), url, tbs["this_update"].native, tbs["next_update"].native,
                     None, fetched_at, scope)
    except PARSE_ERRORS:
        return None


def _ocsp_responder_key(basic: ocsp.BasicOCSPResponse, issuer: x509.Certificate) -> Any:
    """The key that signed the response: the issuer's own, or a delegated responder's whose
    certificate the issuer signed for OCSP signing (RFC 6960 4.2.2.2); None when neither."""
    responder = basic["tbs_response_data"]["responder_id"]
    if (responder.name == "by_name" and responder.chosen == issuer.subject) or (
            responder.name == "by_key" and responder.chosen.native == issuer.public_key.sha1):
        return issuer.public_key
    for cert in basic["certs"] or []:
        matches = (cert.subject == responder.chosen if responder.name == "by_name"
                   else cert.public_key.sha1 == responder.chosen.native)
        if not matches or cert.issuer != issuer.subject:
            continue
        extended = cert.extended_key_usage_value
        if extended is None or "ocsp_signing" not in extended.native:
            continue
        tbs = cert["tbs_certificate"].dump()
        if _verify(cert.signature, tbs, issuer.public_key, cert["signature_algorithm"]):
            return cert.public_key
    return None


def _ocsp_entries(der: bytes, issuer: x509.Certificate, serials: set[int], url: str | None,
                  fetched_at: float) -> list[Entry]:
    """Entries for the responses in `der` about `serials` that `issuer` (or its responder) signed."""
    try:
        response = ocsp.OCSPResponse.load(der)
        if response["response_status"].native != "successful":
            return []
        basic = response.basic_ocsp_response
        tbs = basic["tbs_response_data"]
        name_hash, key_hash = authority_key(issuer.subject, issuer.public_key)
        singles = []
        for single in tbs["responses"]:
            cert_id = single["cert_id"]
            algo = cert_id["hash_algorithm"]["algorithm"].native
            if algo not in ("sha1", "sha256") or cert_id["serial_number"].native not in serials:
                continue
            expected_name = hashlib.new(algo, issuer.subject.dump()).digest()
            expected_key = hashlib.new(algo, issuer.public_key["public_key"].contents[1:]).digest()
            if (cert_id["issuer_name_hash"].native, cert_id["issuer_key_hash"].native) == (expected_name,
                                                                                           expected_key):
                singles.append(single)
        if not singles:
            return []
        key = _ocsp_responder_key(basic, issuer)
        signature = basic["signature"].native
        if key is None or not _verify(signature, tbs.dump(), key, basic["signature_algorithm"]):
            return []
        produced = tbs["produced_at"].native
        return [Entry("ocsp", der, (name_hash, key_hash, format(s["cert_id"]["serial_number"].native, "x")),
                      name_text(issuer.subject), url, s["this_update"].native, s["next_update"].native,
                      produced, fetched_at) for s in singles]
    except PARSE_ERRORS:
        return []


class RevocationCache:
    """Verified revocation data by issuer, in memory and (when given) in a folder."""

    def __init__(self, directory: Path | None,
                 ocsp_fresh_seconds: float = DEFAULT_OCSP_FRESH_SECONDS) -> None:
        self.directory = directory
        self.ocsp_fresh_seconds = ocsp_fresh_seconds
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], Entry] = {}
        self._checked: dict[tuple[Any, ...], list[Entry]] = {}
        if directory is not None:
            self._load(directory)

    def _load(self, directory: Path) -> None:
        if not directory.is_dir():
            return
        for path in directory.iterdir():
            parts = path.stem.split("-")
            kind = path.suffix.lstrip(".")
            if parts[0] != kind or kind not in ("crl", "ocsp") or len(parts) != 4:
                continue
            try:
                der, mtime = path.read_bytes(), path.stat().st_mtime
            except OSError:
                continue
            entry = self._parse_stored(kind, der, tuple(parts[1:]), mtime)
            if entry is not None:
                self._entries[(kind, *entry.key)] = entry

    @staticmethod
    def _parse_stored(kind: str, der: bytes, key: tuple[str, ...], mtime: float) -> Entry | None:
        try:
            if kind == "crl":
                tbs = crl.CertificateList.load(der)["tbs_cert_list"]
                return Entry(kind, der, key, name_text(tbs["issuer"]), None, tbs["this_update"].native,
                             tbs["next_update"].native, None, mtime, _crl_variant(tbs)[1])
            tbs = ocsp.OCSPResponse.load(der).basic_ocsp_response["tbs_response_data"]
            for single in tbs["responses"]:
                if format(single["cert_id"]["serial_number"].native, "x") == key[2]:
                    return Entry(kind, der, key, "", None, single["this_update"].native,
                                 single["next_update"].native, tbs["produced_at"].native, mtime)
        except PARSE_ERRORS:
            return None
        return None

    def crls_for(self, cert: x509.Certificate, now: float) -> list[Entry]:
        """Usable cached CRLs of `cert`'s issuer (matched by name, by key where the certificate
        names its issuer's key, and by distribution point for a partitioned CRL). Empty unless a
        full CRL is among them: then the distribution points are asked."""
        try:
            name_hash = _sha1_hex(cert.issuer.dump())
            key_id = cert.authority_key_identifier
        except PARSE_ERRORS:
            return []
        with self._lock:
            found = [e for k, e in self._entries.items()
                     if k[0] == "crl" and k[1] == name_hash and (key_id is None or k[2] == key_id.hex())
                     and _covers(e, cert) and e.usable(now, self.ocsp_fresh_seconds)]
        return found if any(e.key[2].startswith("f") for e in found) else []

    def ocsp_for(self, cert: x509.Certificate, authority: Authority, now: float) -> Entry | None:
        try:
            serial = format(cert.serial_number, "x")
            key = ("ocsp", *authority_key(authority.name, authority.public_key), serial)
        except PARSE_ERRORS:
            return None
        with self._lock:
            entry = self._entries.get(key)
        return entry if entry is not None and entry.usable(now, self.ocsp_fresh_seconds) else None

    def remember(self, path: Sequence[x509.Certificate], candidates: Iterable[Candidate], *,
                 store: bool = True) -> list[Entry]:
        """Verify each candidate against the issuers on `path` (root first) and keep those that
        verified (unless not `store`: offline validation writes nothing); returns them (with the
        candidate's URL) for the report."""
        pairs = list(zip(path, path[1:], strict=False))
        kept: list[Entry] = []
        for candidate in candidates:
            for issuer, subject in pairs:
                url = candidate.url
                if url is None and candidate.source == "cached":
                    url = _declared_url(subject, candidate.kind)
                found = [replace(e, url=url, fetched_at=_received(candidate, e))
                         for e in self._verified(candidate, issuer, subject) if _covers(e, subject)]
                for e in found:
                    if store:
                        self._store(e)
                    kept.append(e)
                if found:
                    break
        return kept

    def _verified(self, candidate: Candidate, issuer: x509.Certificate,
                  subject: x509.Certificate) -> list[Entry]:
        """The entries `candidate` gives when `issuer` signed it, remembered: the same cached CRL
        serves many validations, and checking a large one costs a hash over all of it."""
        key = (candidate.kind, candidate.der, issuer.dump(), subject.serial_number)
        with self._lock:
            known = self._checked.get(key)
        if known is not None:
            return known
        if candidate.kind == "crl":
            entry = _crl_entry(candidate.der, issuer, None, 0.0)
            found = [entry] if entry is not None else []
        else:
            found = _ocsp_entries(candidate.der, issuer, {subject.serial_number}, None, 0.0)
        with self._lock:
            if len(self._checked) >= MAX_ENTRIES:
                self._checked.clear()
            self._checked[key] = found
        return found

    def _store(self, entry: Entry) -> None:
        key = (entry.kind, *entry.key)
        with self._lock:
            old = self._entries.get(key)
            if old is not None and (old.der == entry.der or recency(old) >= recency(entry)):
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry
        if self.directory is not None:
            self._write(entry)

    def _write(self, entry: Entry) -> None:
        """Atomically, 0600; a failure is only logged (the cache is an optimisation)."""
        assert self.directory is not None
        target = self.directory / f"{entry.kind}-{'-'.join(entry.key)}.{entry.kind}"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(entry.der)
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("cannot write the revocation cache %s: %s", self.directory, exc)
            tmp.unlink(missing_ok=True)


def _crl_urls(cert: x509.Certificate) -> set[str]:
    dps = get_relevant_crl_dps(cert, use_deltas=False)
    return {u for dp in dps for u in enumerate_delivery_point_urls(dp)}


def _covers(entry: Entry, cert: x509.Certificate) -> bool:
    """Whether the entry speaks about `cert`: any but a CRL partition for other distribution points."""
    try:
        return not entry.scope or bool(_crl_urls(cert) & set(entry.scope))
    except PARSE_ERRORS:
        return False


def _received(candidate: Candidate, entry: Entry) -> float:
    """When the data was fetched; for data a file embeds (or a file put in the folder by hand),
    when it was produced: its age counts from then, not from when a file brought it."""
    if candidate.fetched_at is not None:
        return candidate.fetched_at
    produced = entry.produced_at or entry.this_update
    return produced.timestamp() if produced is not None else 0.0


def _declared_url(cert: x509.Certificate, kind: str) -> str | None:
    """Where `cert` says its CRL or OCSP status is published (the first such URL)."""
    try:
        if kind == "ocsp":
            return next(iter(get_ocsp_urls(cert)), None)
        return next(iter(sorted(_crl_urls(cert))), None)
    except PARSE_ERRORS:
        return None


def recency(entry: Entry) -> tuple[float, float]:
    """Order of entries with the same key: by producedAt (else thisUpdate), then by fetch time."""
    produced = entry.produced_at or entry.this_update
    return (produced.timestamp() if produced is not None else 0.0, entry.fetched_at)


_CACHES: dict[tuple[str, float], RevocationCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(directory: Path | None,
              ocsp_fresh_seconds: float = DEFAULT_OCSP_FRESH_SECONDS) -> RevocationCache:
    """The process's cache for `directory` (None: memory only)."""
    key = (str(directory.resolve()) if directory is not None else "", ocsp_fresh_seconds)
    with _CACHES_LOCK:
        cache = _CACHES.get(key)
        if cache is None:
            cache = _CACHES[key] = RevocationCache(directory, ocsp_fresh_seconds)
        return cache


@dataclass
class Candidate:
    """Revocation data a validation saw, not yet verified."""

    kind: str
    der: bytes
    source: str  # fetched | cached | embedded
    url: str | None = None
    #: time.time() of the fetch; None for data a file embeds or the folder holds
    fetched_at: float | None = None


def describe(cache: RevocationCache, path: Sequence[x509.Certificate], candidates: Iterable[Candidate], *,
             store: bool) -> list[RevocationSource]:
    """The report's `revocation_sources`: the newest verified CRL/OCSP response per issuer (and
    certificate, for OCSP) among `candidates`, each with how it came (embedded before fetched
    before cached, when the same data came several ways)."""
    merged: dict[bytes, Candidate] = {}
    for c in candidates:
        known = merged.get(c.der)
        if known is None:
            merged[c.der] = Candidate(c.kind, c.der, c.source, c.url, c.fetched_at)
            continue
        known.url = known.url or c.url
        known.fetched_at = known.fetched_at if known.fetched_at is not None else c.fetched_at
        if SOURCE_ORDER.index(c.source) < SOURCE_ORDER.index(known.source):
            known.source = c.source
    newest: dict[tuple[str, ...], Entry] = {}
    for entry in cache.remember(path, merged.values(), store=store):
        key = (entry.kind, *entry.key)
        if key not in newest or recency(entry) > recency(newest[key]):
            newest[key] = entry
    return [RevocationSource(type=e.kind, url=e.url, source=merged[e.der].source, issuer=e.issuer,
                             this_update=e.this_update, produced_at=e.produced_at)
            for e in newest.values()]
