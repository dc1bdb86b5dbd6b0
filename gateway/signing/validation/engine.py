"""The validation engine: detect the container, dispatch to its validator, never raise on bad input.

Validators register per container kind: `register("XML", validate_xml)`, in the module named for
that kind in PLUGINS (imported on first use). CMS and PDF are built in; XML and ASiC come from
`gateway.signing.validation.xml` / `.asic` when present.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from gateway.signing.report import ValidationReport, format_failure
from gateway.signing.validation.detached import InputTooLarge
from gateway.signing.validation.policy import ValidationPolicy
from gateway.signing.validation.signerinfo import reusable_certificates

log = logging.getLogger(__name__)

Validator = Callable[[bytes, ValidationPolicy], ValidationReport]

#: container kind -> validator; kinds: "CMS", "PDF", "XML", "ASiC"
VALIDATORS: dict[str, Validator] = {}
#: the report's container name when a kind has no validator
_CONTAINER_NAMES = {"CMS": "CMS", "PDF": "PDF", "XML": "XML", "ASiC": "ASiC-E"}
#: per kind, the module that registers its validator when imported (loaded on first use only, so a
#: CMS validation never pays for importing the PDF or XML machinery)
PLUGINS = {
    "CMS": "gateway.signing.validation.cms",
    "PDF": "gateway.signing.validation.pdf",
    "XML": "gateway.signing.validation.xml",
    "ASiC": "gateway.signing.validation.asic",
}


#: modules that register more algorithms (algorithms.register_digest / register_signature) on import
ALGORITHM_PLUGINS = ("gateway.crypto.ua",)
_algorithms_loaded = False


def _load_algorithm_plugins() -> None:
    global _algorithms_loaded
    if _algorithms_loaded:
        return
    _algorithms_loaded = True
    for name in ALGORITHM_PLUGINS:
        _import_plugin(name)


def _import_plugin(name: str) -> None:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if not exc.name or not (name == exc.name or name.startswith(exc.name + ".")):
            log.warning("plugin %s not available: %s", name, exc)
    except Exception as exc:  # noqa: BLE001 - one broken plugin must not disable the others
        log.warning("plugin %s not available: %s: %s", name, type(exc).__name__, exc)


def register(kind: str, validator: Validator) -> None:
    VALIDATORS[kind] = validator


def validator_for(kind: str) -> Validator | None:
    """The registered validator of a kind, importing its plugin module on first use."""
    if kind not in VALIDATORS and kind in PLUGINS:
        _import_plugin(PLUGINS[kind])
    return VALIDATORS.get(kind)


def detect(data: bytes) -> str:
    """Container kind by content: PDF, ASiC (ZIP), XML, else CMS (DER/BER, PEM or base64)."""
    head = data[:1024]
    if head.startswith(b"%PDF") or (head[:1] != b"\x30" and b"%PDF-" in head):
        return "PDF"
    if head.startswith(b"PK\x03\x04"):
        return "ASiC"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "XML"
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


def validate(data: bytes | Path, policy: ValidationPolicy) -> ValidationReport:
    """Validate a signed file (bytes or a path) and return the INTERFACE.md report.

    Malformed input gives a TOTAL_FAILED / FORMAT_FAILURE report; I/O errors on `data` (a path) and
    detached files raise OSError, inputs over the size bound raise InputTooLarge.
    """
    # one "now" for the whole validation, so every time in the report agrees; private copies of the
    # trust anchors, since asn1crypto objects parse lazily and a policy may be shared by threads
    roots = reusable_certificates(policy.trust_roots)
    policy = replace(policy, at=policy.at or datetime.now(UTC), trust_roots=roots)
    if isinstance(data, Path):
        if not policy.source_name:
            policy.source_name = data.name
        data = read_bounded(data, policy.max_input_bytes)
    elif len(data) > policy.max_input_bytes:
        raise InputTooLarge(f"input larger than the limit of {policy.max_input_bytes} bytes")
    kind = detect(data)
    _load_algorithm_plugins()
    validator = validator_for(kind)
    if validator is None:
        return format_failure(_CONTAINER_NAMES[kind], f"{kind} signatures are not supported yet")
    try:
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
