"""The signature-policy identifier (CAdES sigPolicyId, XAdES SignaturePolicyIdentifier): the hash of
the policy document is checked when that document is configured (`[trust] signature_policies`).

ETSI EN 319 102-1 5.2.4 (validation context initialization): a configured policy document whose
hash differs from the one the signer signed is INDETERMINATE / POLICY_PROCESSING_ERROR. A policy
that is not configured is reported as a warning only, as DSS's default policy does ("PolicyAvailable"
INFORM); so is an all-zero hash, which by ETSI TS 119 172-4 means "not to be checked".

Documents are looked up in the configured folder by identifier: a file whose name, without its
extension, is the policy OID (`urn:oid:` removed) or the last path segment of a URI identifier.
The hash is accepted over the whole document or, for an ASN.1 SignaturePolicy (ETSI TR 102 272),
over its signPolicyInfo; XAdES transforms given with the identifier are applied first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from asn1crypto import algos, core, parser

from gateway.signing import algorithms
from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.report import Indication, SignatureReport, SubIndication
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.signerinfo import PARSE_ERRORS, attribute_values

#: CAdES signed attribute id-aa-ets-sigPolicyId
OID_SIGNATURE_POLICY = "1.2.840.113549.1.9.16.2.15"
MAX_POLICY_BYTES = 16 * 1024 * 1024
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


class OtherHashAlgAndValue(core.Sequence):
    _fields = [("hash_algorithm", algos.DigestAlgorithm), ("hash_value", core.OctetString)]


class SignaturePolicyId(core.Sequence):
    _fields = [
        ("sig_policy_id", core.ObjectIdentifier),
        ("sig_policy_hash", OtherHashAlgAndValue),
        ("sig_policy_qualifiers", core.Any, {"optional": True}),
    ]


class SignaturePolicyIdentifier(core.Choice):
    _alternatives = [("signature_policy_id", SignaturePolicyId), ("signature_policy_implied", core.Null)]


@dataclass
class PolicyCheck:
    warnings: list[str] = field(default_factory=list)
    #: (indication, sub-indication, reason) when the policy decides against the signature
    failure: tuple[Indication, SubIndication, str] | None = None


def document_for(identifier: str, folder: Path | None) -> Path | None:
    """The configured policy document for `identifier`, if any."""
    if folder is None:
        return None
    key = identifier.strip()
    key = key[len("urn:oid:"):] if key.lower().startswith("urn:oid:") else key
    key = key.rstrip("/").rsplit("/", 1)[-1]
    if not _SAFE_NAME.fullmatch(key) or not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.is_file() and _names(path.name, key):
            return path
    return None


def _names(file_name: str, key: str) -> bool:
    """`file_name` is `key` or `key.EXT` (an extension, not one more OID arc: 1.2.3.4 is not 1.2.3)."""
    if file_name == key:
        return True
    extension = file_name[len(key) + 1:] if file_name.startswith(key + ".") else ""
    return bool(extension) and "." not in extension and not extension.isdigit()


def check_policy(
    identifier: str,
    expected: bytes,
    digest: Callable[[bytes], bytes],
    folder: Path | None,
    transform: Callable[[bytes], bytes] | None = None,
) -> PolicyCheck:
    """Check the policy `identifier` whose document should hash (with `digest`) to `expected`."""
    result = PolicyCheck()
    if expected and not any(expected):
        result.warnings.append(f"signature policy {identifier}: zero hash, the document is not to be checked")
        return result
    path = document_for(identifier, folder)
    if path is None:
        result.warnings.append(f"signature policy {identifier}: document not configured, hash not checked")
        return result
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise OSError("larger than the limit")
        document = path.read_bytes()
    except OSError as exc:
        result.failure = (Indication.INDETERMINATE, SubIndication.SIGNATURE_POLICY_NOT_AVAILABLE,
                          f"signature policy {identifier}: {path.name} cannot be read ({exc})")
        return result
    candidates = [document, *_sign_policy_info(document)]
    if transform is not None:
        try:
            candidates.insert(0, transform(document))
        except ValueError as exc:
            result.warnings.append(f"signature policy {identifier}: transforms not applied ({exc})")
    if not any(digest(c) == expected for c in candidates):
        result.failure = (Indication.INDETERMINATE, SubIndication.POLICY_PROCESSING_ERROR,
                          f"signature policy {identifier}: the hash of {path.name} does not match the "
                          "signed policy hash")
    return result


def _sign_policy_info(document: bytes) -> list[bytes]:
    """The DER signPolicyInfo of an ASN.1 SignaturePolicy (TR 102 272), which its hash covers."""
    try:
        _, constructed, tag, _, contents, _ = parser.parse(document, strict=True)
        if not constructed or tag != 16:
            return []
        first = parser.parse(contents)
        size = len(first[3]) + len(first[4]) + len(first[5])
        second = parser.parse(contents[size:])
        return [contents[size : size + len(second[3]) + len(second[4]) + len(second[5])]]
    except ValueError:
        return []


def report_into(report: SignatureReport, result: PolicyCheck) -> None:
    report.warnings.extend(w for w in result.warnings if w not in report.warnings)
    if result.failure is not None:
        report.fail(*result.failure)


def check_cms_policy(sig: SignatureReport, signed_attrs: object, policy: ValidationPolicy) -> None:
    """The sigPolicyId signed attribute: its policy document's hash, when the document is configured."""
    try:
        values = attribute_values(signed_attrs, OID_SIGNATURE_POLICY)
    except PARSE_ERRORS:
        sig.warnings.append("the signature-policy-identifier attribute cannot be read")
        return
    for value in values:
        try:
            spi = SignaturePolicyIdentifier.load(value.dump())
            if spi.name != "signature_policy_id":
                continue
            chosen = spi.chosen
            identifier = chosen["sig_policy_id"].dotted
            hash_field = chosen["sig_policy_hash"]
            algo = algorithms.digest_algorithm(hash_field["hash_algorithm"]["algorithm"].dotted)
            expected = hash_field["hash_value"].native
        except UnsupportedAlgorithm as exc:
            sig.warnings.append(f"signature policy hash not checked: {exc}")
            continue
        except PARSE_ERRORS:
            sig.warnings.append("the signature-policy-identifier attribute cannot be read")
            continue
        folder = policy.signature_policy_dir
        report_into(sig, check_policy(identifier, expected, partial(_digest, algo), folder))


def _digest(algo: algorithms.DigestAlgorithm, data: bytes) -> bytes:
    h = algo.factory()
    h.update(data)
    return h.digest()
