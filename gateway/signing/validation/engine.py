"""The validation engine: detect the container, dispatch to its validator, never raise on bad input.

Validators register per container kind: `register("XML", validate_xml)`, in the module named for
that kind in PLUGINS (imported on first use, so a CMS validation never pays for importing the PDF
or XML machinery; a server imports them all at start-up with `load_validators`). A validator module
that cannot be imported is a broken installation: ValidatorUnavailable (a one-line error at
start-up or for the command), never a TOTAL_FAILED report for every file of that kind.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from gateway.errors import GatewayError
from gateway.signing.report import ValidationReport, format_failure
from gateway.signing.validation.detached import InputTooLarge
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.signerinfo import reusable_certificates

log = logging.getLogger(__name__)

Validator = Callable[[bytes, ValidationPolicy], ValidationReport]
#: a validator reading the signed file itself (large files: without loading them whole)
FileValidator = Callable[[Path, ValidationPolicy], ValidationReport]

#: container kind -> validator; kinds: "CMS", "PDF", "XML", "ASiC"
VALIDATORS: dict[str, Validator] = {}
#: container kind -> its file validator, where it has one (used for a path given to `validate`)
FILE_VALIDATORS: dict[str, FileValidator] = {}
#: the report's container name per kind
_CONTAINER_NAMES = {"CMS": "CMS", "PDF": "PDF", "XML": "XML", "ASiC": "ASiC-E"}
#: per kind, the module that registers its validator when imported
PLUGINS = {
    "CMS": "gateway.signing.validation.cms",
    "PDF": "gateway.signing.validation.pdf",
    "XML": "gateway.signing.validation.xml",
    "ASiC": "gateway.signing.validation.asic",
}


#: optional modules that register more algorithms (algorithms.register_digest / register_signature)
#: on import; one that is not installed is skipped, one that is installed but fails is an error
ALGORITHM_PLUGINS = ("gateway.crypto.ua",)
_algorithms_loaded = False


class ValidatorUnavailable(GatewayError):
    """A validator or algorithm module is installed but cannot be imported."""


def _load_algorithm_plugins() -> None:
    global _algorithms_loaded
    if _algorithms_loaded:
        return
    for name in ALGORITHM_PLUGINS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # not installed: its algorithms are simply unknown
            raise ValidatorUnavailable(f"algorithm plugin {name} cannot be loaded: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any failure of an installed plugin is reported
            raise ValidatorUnavailable(
                f"algorithm plugin {name} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
    _algorithms_loaded = True


def register(kind: str, validator: Validator, file_validator: FileValidator | None = None) -> None:
    VALIDATORS[kind] = validator
    if file_validator is not None:
        FILE_VALIDATORS[kind] = file_validator


def validator_for(kind: str) -> Validator:
    """The registered validator of a kind, importing its module on first use."""
    if kind not in VALIDATORS:
        try:
            importlib.import_module(PLUGINS[kind])
        except Exception as exc:  # noqa: BLE001 - whatever broke, the installation is unusable
            raise ValidatorUnavailable(
                f"the {kind} validator cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if kind not in VALIDATORS:
            raise ValidatorUnavailable(f"{PLUGINS[kind]} registers no {kind} validator")
    return VALIDATORS[kind]


def load_validators() -> None:
    """Import every validator and algorithm module now: call at start-up, so that a broken
    installation stops the program instead of failing each validation."""
    _load_algorithm_plugins()
    for kind in PLUGINS:
        validator_for(kind)


def detect(data: bytes) -> str:
    """Container kind by content: PDF, ASiC (ZIP), XML, else CMS (DER/BER, PEM or base64)."""
    head = data[:1024]
    if head.startswith(b"%PDF") or (head[:1] != b"\x30" and b"%PDF-" in head):
        return "PDF"
    if head.startswith(b"PK\x03\x04"):
        return "ASiC"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<") or head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        return "XML"  # UTF-8, or UTF-16 with or without its byte order mark
    return "CMS"


def read_bounded(path: Path, limit: int) -> bytes:
    """Read at most `limit` bytes; a larger file is an error, found without reading it all."""
    with path.open("rb") as f:
        if path.is_file() and os.fstat(f.fileno()).st_size > limit:
            raise InputTooLarge(f"{path.name}: larger than the limit of {limit} bytes")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"{path.name}: larger than the limit of {limit} bytes")
    return data


def read_head(path: Path, limit: int) -> bytes:
    """The first bytes of a regular file (enough for `detect`), after checking its size against `limit`."""
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size > limit:
            raise InputTooLarge(f"{path.name}: larger than the limit of {limit} bytes")
        return f.read(1024)


def validate(data: bytes | Path, policy: ValidationPolicy) -> ValidationReport:
    """Validate a signed file (bytes or a path) and return the INTERFACE.md report.

    Malformed input gives a TOTAL_FAILED / FORMAT_FAILURE report; I/O errors on `data` (a path) and
    detached files raise OSError, inputs over the size bound raise InputTooLarge, a validator that
    cannot be loaded raises ValidatorUnavailable.
    """
    # one "now" for the whole validation, so every time in the report agrees; private copies of the
    # trust anchors, since asn1crypto objects parse lazily and a policy may be shared by threads
    roots = reusable_certificates(policy.trust_roots)
    extra = reusable_certificates(policy.extra_certificates)
    policy = replace(policy, at=policy.at or datetime.now(UTC), trust_roots=roots, extra_certificates=extra)
    path: Path | None = None
    if isinstance(data, Path):
        if not policy.source_name:
            policy.source_name = data.name
        if data.is_file():  # a pipe or device cannot be read twice: read whole
            path = data
            data = read_head(path, policy.max_input_bytes)
        else:
            data = read_bounded(data, policy.max_input_bytes)
    elif len(data) > policy.max_input_bytes:
        raise InputTooLarge(f"input larger than the limit of {policy.max_input_bytes} bytes")
    kind = detect(data)
    _load_algorithm_plugins()
    validator = validator_for(kind)
    try:
        if path is not None and kind in FILE_VALIDATORS:
            report = FILE_VALIDATORS[kind](path, policy)
        else:
            if path is not None:
                data = read_bounded(path, policy.max_input_bytes)
            report = validator(data, policy)
    except (InputTooLarge, OSError):
        raise
    except RecursionError:
        return format_failure(_CONTAINER_NAMES[kind], "input nested too deeply")
    except Exception as exc:  # noqa: BLE001 - malformed input must give a report, not a traceback
        log.debug("validator %s failed", kind, exc_info=True)
        return format_failure(_CONTAINER_NAMES[kind], f"cannot validate: {type(exc).__name__}: {exc}"[:300])
    for signature in report.signatures:
        signature.settle_qualification(policy.qualifier is not None)
    return report
