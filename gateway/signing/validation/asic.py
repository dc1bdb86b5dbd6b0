"""ASiC-S and ASiC-E validation (ETSI EN 319 162-1), with CAdES and with XAdES signatures.

The ZIP is read by `gateway.signing.asic.container` (names checked, sizes bounded, nothing written to
disk). CAdES signatures go through the CMS validator, XAdES signatures through the XML validator,
with the container's files as their only detached contents. Deviations from the container rules
that the EU DSS tolerates (mimetype not first or compressed) leave the signatures intact but lower
the verdict to INDETERMINATE / SIG_CONSTRAINTS_FAILURE; an ASiC-S without exactly one signed file at
its root, or a container with no signed file at all, is TOTAL_FAILED / FORMAT_FAILURE.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.asic.container import MIMETYPE_S, Container, ContainerError, read_container
from gateway.signing.report import (
    Indication,
    SignatureReport,
    SubIndication,
    ValidationReport,
    crypto_order,
    format_failure,
)
from gateway.signing.validation.chain import validation_time
from gateway.signing.validation.cms import validate_cms
from gateway.signing.validation.engine import register
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.signerinfo import SignedContent
from gateway.signing.validation.timestamps import validate_timestamp_token
from gateway.signing.validation.xml import validate_signatures
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.xmldsig import DEFAULT_BUDGET, DS, StructureError, b64decode
from gateway.xmlsafe import XmlParseError, parse_xml

ASIC_NS = "http://uri.etsi.org/02918/v1.2.1#"
_CADES_SIG = re.compile(r"META-INF/[^/]*signature[^/]*\.p7s", re.IGNORECASE)
_XADES_SIG = re.compile(r"META-INF/[^/]*signatures[^/]*\.xml", re.IGNORECASE)
_TIMESTAMP = re.compile(r"META-INF/[^/]*timestamp[^/]*\.tst", re.IGNORECASE)
MAX_CONTAINER_BYTES = 1024 * 1024 * 1024


def validate_asic(data: bytes | Path, policy: ValidationPolicy) -> ValidationReport:
    """An ASiC container in memory or in a file (read entry by entry, never loaded whole)."""
    try:
        container = read_container(data, min(policy.max_input_bytes, MAX_CONTAINER_BYTES))
    except ContainerError as exc:
        return format_failure("ASiC-E", str(exc))
    cades = sorted(n for n in container.files if _CADES_SIG.fullmatch(n))
    xades = sorted(n for n in container.files if _XADES_SIG.fullmatch(n))
    kind = _kind(container, cades, xades)
    report = ValidationReport(container=kind, validation_time=validation_time(policy))
    for name in cades:
        report.signatures.extend(_cades(container, name, kind, policy))
    for name in xades:
        report.signatures.extend(_xades(container, name, policy))
    if not report.signatures:
        if any(_TIMESTAMP.fullmatch(n) for n in container.files):
            report.errors.append("timestamp-only ASiC containers are not validated yet")
        return report
    _archive_manifests(report, container, policy)
    _container_rules(report, container, kind)
    return report


def _kind(container: Container, cades: list[str], xades: list[str]) -> str:
    if container.mimetype == MIMETYPE_S:
        return "ASiC-S"
    if (
        container.mimetype is None
        and not any("manifest" in n.lower() for n in container.meta_files)
        and ("META-INF/signature.p7s" in cades or "META-INF/signatures.xml" in xades)
    ):
        return "ASiC-S"
    return "ASiC-E"


def _container_rules(report: ValidationReport, container: Container, kind: str) -> None:
    data_files = container.data_files
    fatal = ""
    if not data_files:
        fatal = "the container holds no signed file"
    elif kind == "ASiC-S":
        root = [n for n in data_files if "/" not in n]
        if len(data_files) != 1 or len(root) != 1:
            fatal = "an ASiC-S container must hold exactly one file at its root besides META-INF"
    for sig in report.signatures:
        uncovered = sorted(set(data_files) - set(sig.signed_objects))
        if uncovered and not fatal:
            sig.warnings.append(
                f"files in the container this signature does not cover: {', '.join(uncovered)}"
            )
        if fatal:
            sig.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, fatal)
        for deviation in container.deviations:
            sig.fail(
                Indication.INDETERMINATE,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"{deviation} (ETSI EN 319 162-1 A.1)",
            )


# --- CAdES ------------------------------------------------------------------------------------


def _cades(container: Container, name: str, kind: str, policy: ValidationPolicy) -> list[SignatureReport]:
    data = container.files[name]
    if kind == "ASiC-S":
        roots = [n for n in container.data_files if "/" not in n]
        content = SignedContent([container.files[roots[0]]], roots[0]) if len(roots) == 1 else None
        sigs = validate_cms(data, policy, detached_content=content).signatures
        return _named(sigs, name) or [_format_failed(name, "the CAdES signature cannot be read")]
    manifest_name = _manifest_for(container, name)
    if manifest_name is None:
        return [_format_failed(name, f"no ASiCManifest references {name}")]
    manifest = container.files[manifest_name]
    sigs = validate_cms(data, policy, detached_content=SignedContent([manifest], manifest_name)).signatures
    if not sigs:
        return [_format_failed(name, "the CAdES signature cannot be read")]
    try:
        objects, problems = _check_manifest(container, manifest)
    except (XmlParseError, StructureError) as exc:
        objects, problems = (
            [],
            [(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"{manifest_name}: {exc}")],
        )
    for sig in _named(sigs, name):
        sig.signed_objects = objects
        if problems:
            sig.intact = False
            deciding, others = crypto_order(problems)
            for indication, sub, reason in deciding:
                sig.fail(indication, sub, reason)
            sig.errors.extend(r for r in others if r not in sig.errors)
    return sigs


def _named(sigs: list[SignatureReport], name: str) -> list[SignatureReport]:
    for sig in sigs:
        sig.id = f"{name}:{sig.id}"
    return sigs


def _format_failed(name: str, reason: str) -> SignatureReport:
    sig = SignatureReport(id=name, format="CAdES", indication=Indication.TOTAL_FAILED)
    sig.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, reason)
    return sig


def _manifest_for(container: Container, sig_name: str) -> str | None:
    for name in sorted(container.meta_files):
        if not re.fullmatch(r"META-INF/ASiCManifest[^/]*\.xml", name, re.IGNORECASE):
            continue
        try:
            root = parse_xml(container.files[name]).getroot()
        except XmlParseError:
            continue
        for ref in root.iter(f"{{{ASIC_NS}}}SigReference"):
            if _entry_name(ref.get("URI") or "") == sig_name:
                return name
    return None


def _entry_name(uri: str) -> str:
    return unquote(uri).lstrip("./") if uri.startswith("./") else unquote(uri)


def _check_manifest(
    container: Container, manifest: bytes
) -> tuple[list[str], list[tuple[Indication, SubIndication, str]]]:
    root = parse_xml(manifest).getroot()
    objects: list[str] = []
    problems: list[tuple[Indication, SubIndication, str]] = []
    refs = list(root.iter(f"{{{ASIC_NS}}}DataObjectReference"))
    if not refs:
        problems.append(
            (
                Indication.INDETERMINATE,
                SubIndication.SIGNED_DATA_NOT_FOUND,
                "the ASiCManifest references no file",
            )
        )
    for ref in refs:
        name = _entry_name(ref.get("URI") or "")
        objects.append(name)
        dm, dv = ref.find(f"{{{DS}}}DigestMethod"), ref.find(f"{{{DS}}}DigestValue")
        if dm is None or dv is None:
            raise StructureError(f"the reference to {name} lacks DigestMethod or DigestValue")
        content = container.files.get(name)
        if content is None:
            problems.append(
                (
                    Indication.INDETERMINATE,
                    SubIndication.SIGNED_DATA_NOT_FOUND,
                    f"{name} is referenced by the manifest but not in the container",
                )
            )
            continue
        try:
            ok = xalg.digest(dm.get("Algorithm") or "", content) == b64decode(dv.text or "")
        except UnsupportedAlgorithm as exc:
            problems.append(
                (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, str(exc))
            )
            continue
        if not ok:
            problems.append(
                (
                    Indication.TOTAL_FAILED,
                    SubIndication.HASH_FAILURE,
                    f"{name} does not match its digest in the manifest",
                )
            )
    return objects, problems


# --- ASiC-E archive manifests (ETSI EN 319 162-1 4.4.3, long-term ASiC-E with CAdES) ----------


def _archive_manifests(report: ValidationReport, container: Container, policy: ValidationPolicy) -> None:
    """Check each ASiCArchiveManifest: its timestamp token over the manifest and the digests of the
    entries it lists; the result is listed as an archive timestamp of the signatures it covers (for
    information: it is not used as proof of existence)."""
    for name in sorted(container.meta_files):
        if not re.fullmatch(r"META-INF/ASiCArchiveManifest[^/]*\.xml", name, re.IGNORECASE):
            continue
        manifest = container.files[name]
        try:
            root = parse_xml(manifest).getroot()
            ref = next(root.iter(f"{{{ASIC_NS}}}SigReference"), None)
            token = container.files.get(_entry_name(ref.get("URI") or "")) if ref is not None else None
            objects, problems = _check_manifest(container, manifest)
        except (XmlParseError, StructureError) as exc:
            token, objects, problems = (
                None,
                [],
                [(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, str(exc))],
            )
        covered = [s for s in report.signatures if s.id.split(":", 1)[0] in objects]
        if token is None:
            for sig in covered or report.signatures:
                sig.warnings.append(f"{name}: its timestamp token is missing or unreadable")
            continue
        check = validate_timestamp_token(token, manifest, policy, kind="archive")
        if problems:
            check.info.intact = False
        for sig in covered:
            sig.timestamps.append(check.info)
            sig.warnings.extend(f"{name}: {e}" for e in [*check.errors, *(p[2] for p in problems)])


# --- XAdES ------------------------------------------------------------------------------------


def _xades(container: Container, name: str, policy: ValidationPolicy) -> list[SignatureReport]:
    try:
        tree = parse_xml(container.files[name])
    except XmlParseError as exc:
        sig = SignatureReport(id=name, format="XAdES", indication=Indication.TOTAL_FAILED)
        sig.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"{name}: {exc}")
        return [sig]

    def resolve(uri: str | None) -> tuple[str, bytes] | None:
        if uri is None:
            return None
        entry = _entry_name(uri.split("#", 1)[0])
        content = container.files.get(entry)
        return (entry, content) if content is not None and entry != name else None

    budget = DEFAULT_BUDGET + 8 * len(container.files[name]) + 2 * sum(map(len, container.files.values()))
    sigs = validate_signatures(tree, resolve, policy, budget=budget, prefix=f"{name}:")
    if not sigs:
        return [_format_failed(name, f"{name} contains no ds:Signature")]
    return sigs


register("ASiC", validate_asic, validate_asic)
