"""`gateway trust tl add|refresh|remove`: import a list after its checks, refresh every list from
its source (keeping the last good copy when the new one is refused), remove one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from asn1crypto import x509

from gateway.config import Config
from gateway.pki.tl.parse import TrustedListError, load_tree, parse_tree
from gateway.pki.tl.store import (
    XML_MIME,
    StoredList,
    TrustedListStore,
    check_list,
    read_source,
    tl_folder,
)
from gateway.signing.certificates import load_certificates


@dataclass
class Outcome:
    entry: StoredList | None
    source: str
    error: str = ""
    warnings: list[str] = field(default_factory=list)


def _signers_for(store: TrustedListStore, data: bytes, pinned: list[x509.Certificate]) -> tuple[list, str]:
    if pinned:
        return pinned, ""
    territory = parse_tree(load_tree(data)).territory
    return store.pointer_signers(territory)


def add_list(
    cfg: Config,
    source: str,
    signer_files: list[Path],
    *,
    at: datetime | None = None,
    follow: list[str] | None = None,
) -> list[Outcome]:
    """Import the list at `source` (file or URL). Without signer files, the signer comes from an
    imported list of lists pointing to the list's territory. `follow` (territory codes, or `*`)
    imports the lists a list of lists points to, fetched from their locations. Raises
    TrustedListError when the list itself is refused; lists followed report their own errors."""
    store = TrustedListStore(tl_folder(cfg))
    pinned = [c for f in signer_files for c in load_certificates(f)]
    if not urlsplit(source).scheme:
        source = str(Path(source).resolve())  # refreshed later from another working folder
    data = read_source(source)
    signers, via = _signers_for(store, data, pinned)
    checked = check_list(data, signers, at or datetime.now(UTC), cfg.trust.tl_warning_days)
    entry = store.save(source, checked, signers, via, at)
    outcomes = [Outcome(entry, source, warnings=checked.warnings)]
    if follow:
        wanted = {t.upper() for t in follow}
        for pointer in checked.tl.pointers:
            if pointer.mime_type not in ("", XML_MIME) or not pointer.location:
                continue
            if "*" not in wanted and pointer.territory.upper() not in wanted:
                continue
            if pointer.territory.upper() == checked.tl.territory.upper():
                continue  # the list of lists itself
            outcomes.append(_import_pointed(cfg, store, pointer.location, pointer.certificates, entry.id, at))
    return outcomes


def _import_pointed(cfg: Config, store: TrustedListStore, location: str, signers: list,
                    via: str, at: datetime | None) -> Outcome:
    try:
        data = read_source(location)
        checked = check_list(data, signers, at or datetime.now(UTC), cfg.trust.tl_warning_days)
        return Outcome(store.save(location, checked, signers, via, at), location, warnings=checked.warnings)
    except TrustedListError as exc:
        return Outcome(None, location, error=str(exc))


def refresh_lists(cfg: Config, *, at: datetime | None = None) -> list[Outcome]:
    """Read every imported list again from its source; a refused one keeps its last good copy."""
    store = TrustedListStore(tl_folder(cfg))
    outcomes = []
    # lists of lists first: the lists they point to take their signers from them
    for entry in sorted(store.entries(), key=lambda e: not e.meta.get("lotl")):
        signers = entry.signers()
        if entry.meta.get("via"):
            from_lotl, _ = store.pointer_signers(entry.meta.get("territory", ""))
            signers = from_lotl or signers
        try:
            data = read_source(entry.source)
            checked = check_list(data, signers, at or datetime.now(UTC), cfg.trust.tl_warning_days)
            saved = store.save(entry.source, checked, signers, entry.meta.get("via", ""), at)
            outcomes.append(Outcome(saved, entry.source, warnings=checked.warnings))
        except TrustedListError as exc:
            store.record_failure(entry, str(exc))
            outcomes.append(Outcome(entry, entry.source, error=str(exc)))
    return outcomes


def remove_list(cfg: Config, selector: str) -> list[StoredList]:
    store = TrustedListStore(tl_folder(cfg))
    matches = store.find(selector)
    if not matches:
        raise TrustedListError(f"no trusted list matches {selector!r}")
    for entry in matches:
        store.remove(entry)
    return matches


def list_lists(cfg: Config) -> list[StoredList]:
    return TrustedListStore(tl_folder(cfg)).entries()
