"""Trust anchors of a gateway: the certificates listed in `[trust] anchors` (files or folders).

`gateway trust add` keeps a copy of each new anchor in the configuration's managed folder (the
first folder among the anchors, `trust/` by default), one PEM file per certificate named by its
fingerprint, so `remove` never has to edit a bundle somebody else wrote.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w
from asn1crypto import pem, x509

from gateway.config import Config
from gateway.errors import GatewayError
from gateway.pki.tl.loaded import TrustedLists, anchor_certificates, read_lists
from gateway.pki.tl.qualification import TrustedListQualifier
from gateway.signing.certificates import CERT_SUFFIXES, fingerprint, load_certificates, name_text


@dataclass
class Anchor:
    certificate: x509.Certificate
    source: Path

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


def is_ca(cert: x509.Certificate) -> bool:
    """A CA certificate: basicConstraints cA, or a self-signed one without extensions (X.509 v1)."""
    try:
        constraints = cert.basic_constraints_value
        if constraints is not None:
            return bool(constraints["ca"].native)
        return cert.self_signed != "no" and not cert["tbs_certificate"]["extensions"]
    except (ValueError, TypeError, KeyError):
        return False


def bundle_anchors(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of a file that may become anchors: all of a single-certificate file (the
    operator chose it), only the CA certificates of a bundle (IIT's CACertificates.p7b mixes roots
    and CAs with OCSP and TSA certificates)."""
    return certs if len(certs) <= 1 else [c for c in certs if is_ca(c)]


def list_anchors(cfg: Config) -> list[Anchor]:
    found: list[Anchor] = []
    seen: set[str] = set()
    for entry in cfg.trust.anchors:
        path = cfg.resolve(entry)
        if not path.exists():
            raise GatewayError(f"[trust] anchors: {path} does not exist")
        files = sorted(p for p in path.iterdir() if _is_cert_file(p)) if path.is_dir() else [path]
        for file in files:
            for cert in bundle_anchors(load_certificates(file)):
                if fingerprint(cert) not in seen:
                    seen.add(fingerprint(cert))
                    found.append(Anchor(cert, file))
    return found


def trust_roots(cfg: Config) -> list[x509.Certificate]:
    """The configured anchors and the CA/TSA services of the imported trusted lists."""
    return _merge([a.certificate for a in list_anchors(cfg)], anchor_certificates(read_lists(cfg)))


def tl_qualifier(cfg: Config) -> TrustedListQualifier | None:
    """Qualification by the imported trusted lists; None when there is none."""
    lists = read_lists(cfg)
    return TrustedListQualifier(lists) if lists else None


def _merge(configured: list[x509.Certificate], listed: list[x509.Certificate]) -> list[x509.Certificate]:
    """The configured anchors and those of the trusted lists that are not issued by a root among
    them: such a CA is trusted through its root anyway, and pyhanko-certvalidator cannot check a
    CRL signed by an anchor that is not self-signed (the usual case of a provider's issuing CA)."""
    roots = configured + [c for c in listed if c.self_signed != "no"]
    known = {fingerprint(c) for c in configured}
    out = list(configured)
    for cert in listed:
        if fingerprint(cert) in known or (cert.self_signed == "no" and _issued_by(cert, roots)):
            continue
        known.add(fingerprint(cert))
        out.append(cert)
    return out


def _issued_by(cert: x509.Certificate, issuers: list[x509.Certificate]) -> bool:
    aki = cert.authority_key_identifier
    return any(
        i.subject == cert.issuer and (aki is None or i.key_identifier is None or i.key_identifier == aki)
        for i in issuers
    )


class TrustAnchors:
    """The configured anchors of a running gateway, read again whenever one of their files or
    folders changes, so `gateway trust add|remove` takes effect without a restart."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._roots: list[x509.Certificate] = []
        self.trusted_lists = TrustedLists(cfg)

    def _current_stamp(self) -> tuple:
        parts = []
        for entry in self._cfg.trust.anchors:
            path = self._cfg.resolve(entry)
            children = sorted(path.iterdir()) if path.is_dir() else []
            for p in (path, *children):
                try:
                    st = p.stat()
                except FileNotFoundError:
                    parts.append((str(p), None))
                else:
                    parts.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(parts)

    def roots(self) -> list[x509.Certificate]:
        stamp = self._current_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._roots = [a.certificate for a in list_anchors(self._cfg)]
                self._stamp = stamp
            roots = list(self._roots)
        return _merge(roots, self.trusted_lists.anchors())

    def qualifier(self) -> TrustedListQualifier | None:
        return self.trusted_lists.qualifier()


def _is_cert_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in CERT_SUFFIXES


def _managed_dir(cfg: Config) -> Path:
    for entry in cfg.trust.anchors:
        if cfg.resolve(entry).is_dir():
            return cfg.resolve(entry)
    folder = cfg.resolve("trust")
    folder.mkdir(parents=True, exist_ok=True)
    _save_anchor_list(cfg, [*cfg.trust.anchors, "trust"])
    return folder


def _save_anchor_list(cfg: Config, anchors: list[str]) -> None:
    if cfg.path is None:
        raise GatewayError("no configuration file to update (pass --config FILE)")
    text = cfg.path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data.setdefault("trust", {})["anchors"] = anchors
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    tmp = cfg.path.with_suffix(".tmp")
    tmp.write_text(header + tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(cfg.path)
    cfg.trust.anchors = anchors


def add_anchors(cfg: Config, source: Path) -> list[Anchor]:
    """Copy every certificate of `source` (of a bundle: every CA certificate) into the managed
    folder; returns the ones added."""
    certs = load_certificates(source)
    if not certs:
        raise GatewayError(f"{source}: no certificate found")
    certs = bundle_anchors(certs)
    known = {a.fingerprint for a in list_anchors(cfg)}
    folder = _managed_dir(cfg)
    added = []
    for cert in certs:
        fp = fingerprint(cert)
        if fp in known:
            continue
        target = folder / f"{fp[:16]}.pem"
        target.write_bytes(pem.armor("CERTIFICATE", cert.dump()))
        added.append(Anchor(cert, target))
        known.add(fp)
    return added


def remove_anchors(cfg: Config, selector: str, *, all_matching: bool = False,
                   allow_last: bool = False) -> list[Anchor]:
    """Remove anchors whose fingerprint starts with `selector` (hex, colons ignored) or whose
    subject contains it. Only certificates in the managed folder can be removed this way.

    A selector that matches several anchors removes them only with `all_matching` (a subject text
    like "Council" can name a root and its issuing CA at once), and removing every anchor is refused
    unless `allow_last`: without an anchor no signature can pass, and every validation would turn
    INDETERMINATE."""
    wanted = re.sub(r"[:\s]", "", selector).upper()
    anchors = list_anchors(cfg)
    matches = [
        a for a in anchors
        if (len(wanted) >= 8 and a.fingerprint.startswith(wanted))
        or selector.lower() in name_text(a.certificate.subject).lower()
    ]
    if not matches:
        raise GatewayError(f"no trust anchor matches {selector!r}")
    if len(matches) > 1 and not all_matching:
        names = "; ".join(f"{a.fingerprint[:16]} {name_text(a.certificate.subject)}" for a in matches)
        raise GatewayError(f"{selector!r} matches {len(matches)} anchors ({names}): give a fingerprint "
                           "prefix, or --all to remove every one")
    if len(matches) == len(anchors) and not allow_last:
        raise GatewayError("refused: that would remove the last trust anchor (no signature could be "
                           "validated); --force to remove it anyway")
    folder = _managed_dir(cfg)
    for anchor in matches:
        if anchor.source.parent != folder or len(load_certificates(anchor.source)) != 1:
            raise GatewayError(
                f"{name_text(anchor.certificate.subject)} comes from {anchor.source}: "
                "edit [trust] anchors to remove it"
            )
    for anchor in matches:
        anchor.source.unlink()
    return matches
