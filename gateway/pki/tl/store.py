"""The imported trusted lists of a gateway: the last good copy of each, with its pinned signers.

One folder per list under `[trust] tl_dir` (`trusted-lists/` by default): `list.xml` (the last copy
that passed every check), `signers.pem` (the pinned certificates) and `meta.json` (where it comes
from, when it was last checked and why a refresh was refused). A list that fails its checks never
replaces the copy kept; files are written atomically, mode 0600.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests
from asn1crypto import pem, x509
from lxml import etree

from gateway.config import Config
from gateway.pki.tl.model import TrustedList
from gateway.pki.tl.parse import MAX_TL_BYTES, TrustedListError, load_tree, parse_tree
from gateway.pki.tl.signature import verify_list_signature
from gateway.signing.certificates import fingerprint, load_certificates

FETCH_TIMEOUT = 30
XML_MIME = "application/vnd.etsi.tsl+xml"


@dataclass
class Checked:
    """A list that passed its checks as of `at`."""

    data: bytes
    tree: etree._ElementTree
    tl: TrustedList
    signer: x509.Certificate
    warnings: list[str] = field(default_factory=list)


@dataclass
class StoredList:
    id: str
    folder: Path
    meta: dict

    @property
    def source(self) -> str:
        return self.meta.get("source", "")

    def signers(self) -> list[x509.Certificate]:
        path = self.folder / "signers.pem"
        return load_certificates(path) if path.exists() else []

    def data(self) -> bytes:
        return (self.folder / "list.xml").read_bytes()


def tl_folder(cfg: Config) -> Path:
    return cfg.resolve(cfg.trust.tl_dir or "trusted-lists")


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


def read_source(source: str) -> bytes:
    """The bytes of a list from a file or an http(s) URL (a plain bounded GET: redirects followed
    by requests, at most MAX_TL_BYTES, FETCH_TIMEOUT seconds)."""
    scheme = urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        try:
            with requests.get(source, stream=True, timeout=FETCH_TIMEOUT) as resp:
                if resp.status_code != 200:
                    raise TrustedListError(f"{source}: HTTP {resp.status_code}")
                chunks, size = [], 0
                for chunk in resp.iter_content(65536):
                    size += len(chunk)
                    if size > MAX_TL_BYTES:
                        raise TrustedListError(f"{source}: larger than {MAX_TL_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as exc:
            raise TrustedListError(f"{source}: cannot fetch: {type(exc).__name__}") from None
    if scheme and len(scheme) > 1:
        raise TrustedListError(f"{source}: only files and http(s) URLs are read")
    path = Path(source)
    try:
        if path.stat().st_size > MAX_TL_BYTES:
            raise TrustedListError(f"{source}: larger than {MAX_TL_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise TrustedListError(f"{source}: cannot read: {exc.strerror or exc}") from None


def check_list(
    data: bytes, signers: list[x509.Certificate], at: datetime, warning_days: float = 7.0
) -> Checked:
    """Parse `data`, verify its signature against `signers` and judge its freshness as of `at`."""
    tree = load_tree(data)
    tl = parse_tree(tree)
    if not signers:
        raise TrustedListError(
            f"no signer certificate for the {tl.territory or '?'} list: pass --signer CERT "
            "(or import a list of lists pointing to it first)"
        )
    signer = verify_list_signature(tree, signers)
    label = f"the {tl.territory} list #{tl.sequence}"
    if at < tl.issued:
        raise TrustedListError(f"{label} is issued {_day(tl.issued)}, after {_day(at)}")
    if tl.next_update is None:
        raise TrustedListError(f"{label} has no NextUpdate: the scheme is closed")
    if at > tl.next_update:
        raise TrustedListError(f"{label} expired: its NextUpdate {_day(tl.next_update)} is before {_day(at)}")
    warnings = []
    if tl.next_update - at < timedelta(days=warning_days):
        warnings.append(f"{label} must be replaced by {_day(tl.next_update)} (its NextUpdate)")
    return Checked(data, tree, tl, signer, warnings)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _slug(source: str, tl: TrustedList) -> str:
    stem = Path(urlsplit(source).path).stem or tl.territory
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")[:40]
    return slug or tl.territory or "list"


class TrustedListStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def entries(self) -> list[StoredList]:
        if not self.folder.is_dir():
            return []
        found = []
        for sub in sorted(self.folder.iterdir()):
            meta_path = sub / "meta.json"
            if sub.is_dir() and meta_path.exists() and (sub / "list.xml").exists():
                try:
                    meta = json.loads(meta_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                found.append(StoredList(sub.name, sub, meta))
        return found

    def find(self, selector: str) -> list[StoredList]:
        """Lists by id, source (a file also by its absolute path) or territory code."""
        path = selector if is_url(selector) else str(Path(selector).resolve())
        return [
            e for e in self.entries()
            if e.source in (selector, path) or selector == e.id
            or selector.upper() == e.meta.get("territory", "").upper()
        ]

    def pointer_signers(self, territory: str) -> tuple[list[x509.Certificate], str]:
        """Certificates the imported lists of lists give for `territory`'s XML list, and which list."""
        for entry in self.entries():
            if not entry.meta.get("lotl"):
                continue
            try:
                tl = parse_tree(load_tree(entry.data()))
            except (TrustedListError, OSError):
                continue
            for p in tl.pointers:
                same = p.territory.upper() == territory.upper()
                if same and p.mime_type in ("", XML_MIME) and p.certificates:
                    return p.certificates, entry.id
        return [], ""

    def save(self, source: str, checked: Checked, signers: list[x509.Certificate], via: str,
             at: datetime | None) -> StoredList:
        """Keep `checked` as the last good copy of the list from `source`."""
        existing = [e for e in self.entries() if e.source == source]
        if existing:
            entry_id = existing[0].id
            previous = existing[0].meta.get("sequence", 0)
            if checked.tl.sequence < previous:
                raise TrustedListError(
                    f"the {checked.tl.territory} list #{checked.tl.sequence} is older than the one kept "
                    f"(#{previous})"
                )
        else:
            base = entry_id = _slug(source, checked.tl)
            n = 2
            while (self.folder / entry_id).exists():
                entry_id, n = f"{base}-{n}", n + 1
        folder = self.folder / entry_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tl = checked.tl
        now = datetime.now(UTC)
        meta = {
            "source": source,
            "via": via,
            "territory": tl.territory,
            "type": tl.list_type,
            "lotl": tl.is_lotl,
            "sequence": tl.sequence,
            "issued": tl.issued.isoformat(),
            "next_update": tl.next_update.isoformat() if tl.next_update else None,
            "operator": tl.operator,
            "signer": fingerprint(checked.signer),
            "checked": now.isoformat(),
            "judged_at": at.isoformat() if at else None,
            "last_error": None,
        }
        _write(folder / "signers.pem", b"".join(pem.armor("CERTIFICATE", c.dump()) for c in signers))
        _write(folder / "list.xml", checked.data)
        _write(folder / "meta.json", json.dumps(meta, indent=2).encode())
        return StoredList(entry_id, folder, meta)

    def record_failure(self, entry: StoredList, reason: str) -> None:
        entry.meta["last_error"] = reason
        entry.meta["last_failure"] = datetime.now(UTC).isoformat()
        _write(entry.folder / "meta.json", json.dumps(entry.meta, indent=2).encode())

    def remove(self, entry: StoredList) -> None:
        for name in ("list.xml", "signers.pem", "meta.json"):
            (entry.folder / name).unlink(missing_ok=True)
        for leftover in entry.folder.iterdir():
            leftover.unlink()
        entry.folder.rmdir()


def parse_signers(paths: list[Path]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in paths:
        certs.extend(load_certificates(path))
    return certs

