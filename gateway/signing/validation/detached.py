"""Choosing the detached content a signature covers from the files the user passed."""

from __future__ import annotations

from pathlib import Path

from gateway.errors import GatewayError
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.signerinfo import SignedContent

SIGNATURE_SUFFIXES = (".p7s", ".p7m", ".pkcs7", ".sig", ".p7", ".der", ".pem")


def pick_detached(policy: ValidationPolicy, wanted: str | None = None) -> tuple[SignedContent | None, str]:
    """The content for a detached signature and, when none fits, why.

    `wanted` is a name the signature gives for its file; without one, a single detached file is the
    content, and among several the one named like the signature file without its suffix.
    """
    files = policy.detached
    if not files:
        return None, ""
    if wanted is not None:
        path = files.get(wanted) or files.get(Path(wanted).name)
        if path is None:
            return None, f"no detached file named {wanted!r} was given"
        return _content(path, policy), ""
    if len(files) == 1:
        return _content(next(iter(files.values())), policy), ""
    stem = policy.source_name
    for suffix in SIGNATURE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem in files:
        return _content(files[stem], policy), ""
    return None, "several detached files were given and none is named like the signature file"


def _content(path: Path, policy: ValidationPolicy) -> SignedContent:
    size = path.stat().st_size
    if size > policy.max_input_bytes:
        raise InputTooLarge(f"{path.name}: larger than the limit of {policy.max_input_bytes} bytes")
    return SignedContent.from_file(path)


class InputTooLarge(GatewayError):
    """An input exceeds ValidationPolicy.max_input_bytes."""
