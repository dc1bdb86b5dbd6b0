"""The imported trusted lists as a validation uses them: their CA and TSA services' certificates as
trust anchors, and a qualifier for the reports. Read again whenever the store changes (so `gateway
trust tl add|refresh|remove` takes effect in a running gateway); each kept copy is checked against
its pinned signers again when read, so an edited file in the store is ignored, never trusted."""

from __future__ import annotations

import logging
import threading

from asn1crypto import x509

from gateway.config import Config
from gateway.pki.tl.model import TrustedList
from gateway.pki.tl.parse import TrustedListError, load_tree, parse_tree
from gateway.pki.tl.qualification import TrustedListQualifier
from gateway.pki.tl.signature import verify_list_signature
from gateway.pki.tl.store import TrustedListStore, tl_folder
from gateway.signing.certificates import fingerprint

log = logging.getLogger(__name__)

#: service types whose certificates become trust anchors (CA/QC, CA/PKC and time-stamping)
ANCHOR_TYPES = ("ca/", "tsa")


def read_lists(cfg: Config) -> list[TrustedList]:
    if cfg.path is None and not cfg.trust.tl_dir:
        return []
    lists = []
    for entry in TrustedListStore(tl_folder(cfg)).entries():
        if entry.meta.get("lotl"):
            continue  # a list of lists names no service: nothing to trust or qualify by
        try:
            tree = load_tree(entry.data())
            verify_list_signature(tree, entry.signers())
            lists.append(parse_tree(tree))
        except (TrustedListError, OSError) as exc:
            log.warning("trusted list %s ignored: %s", entry.id, exc)
    return lists


def anchor_certificates(lists: list[TrustedList]) -> list[x509.Certificate]:
    seen: set[str] = set()
    out = []
    for tl in lists:
        if tl.is_lotl:
            continue
        for _provider, service in tl.services():
            if not service.current.type.startswith(ANCHOR_TYPES):
                continue
            for cert in service.certificates:
                if fingerprint(cert) not in seen:
                    seen.add(fingerprint(cert))
                    out.append(cert)
    return out


class TrustedLists:
    """The lists of a running gateway, cached until a file of the store changes."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._lists: list[TrustedList] = []
        self._anchors: list[x509.Certificate] = []

    def _current_stamp(self) -> tuple:
        if self._cfg.path is None and not self._cfg.trust.tl_dir:
            return ()
        parts = []
        for entry in TrustedListStore(tl_folder(self._cfg)).entries():
            for name in ("list.xml", "signers.pem"):
                try:
                    st = (entry.folder / name).stat()
                    parts.append((str(entry.folder / name), st.st_mtime_ns, st.st_size))
                except FileNotFoundError:
                    parts.append((str(entry.folder / name), None))
        return tuple(parts)

    def _refresh(self) -> None:
        stamp = self._current_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._lists = read_lists(self._cfg)
                self._anchors = anchor_certificates(self._lists)
                self._stamp = stamp

    def anchors(self) -> list[x509.Certificate]:
        self._refresh()
        return list(self._anchors)

    def qualifier(self) -> TrustedListQualifier | None:
        """None when no list is imported: reports then carry `qualification: null`."""
        self._refresh()
        return TrustedListQualifier(self._lists) if self._lists else None
