"""The signature formats `gateway sign --format F` (and the REST API) offer, by name.

`FORMATS` maps a format name to a `SignFormat`: a function signing input files into one output file,
plus how the default output is named. CAdES and PAdES are registered here; other modules add theirs
with `register_format(...)` from a `register_formats(register_format)` function, listed in
`PLUGIN_MODULES` (imported on first use, skipped while they do not exist yet).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import x509

from gateway.errors import SigningError
from gateway.signing.keys import SigningKey

#: modules contributing more formats (XAdES, ASiC) via `register_formats(register_format)`
PLUGIN_MODULES = ("gateway.signing.xades", "gateway.signing.asic")


@dataclass
class SignRequest:
    """Options common to every format."""

    level: str = "B-B"
    tsa_url: str | None = None
    trust_roots: Sequence[x509.Certificate] = field(default_factory=list)
    digest_algorithm: str | None = None
    #: sign with a certificate outside its validity period (the caller warned: --allow-expired)
    allow_expired: bool = False


#: sign(key, inputs, output, request) -> output path
SignFunction = Callable[[SigningKey, list[Path], Path, SignRequest], Path]


@dataclass(frozen=True)
class SignFormat:
    name: str
    sign: SignFunction
    default_output: Callable[[list[Path]], Path]
    description: str = ""
    #: True: all inputs go into one container; False: one signature per input
    many_inputs: bool = False


FORMATS: dict[str, SignFormat] = {}
_plugins_loaded = False


def register_format(name: str, sign: SignFunction, default_output: Callable[[list[Path]], Path], *,
                    description: str = "", many_inputs: bool = False) -> None:
    FORMATS[name] = SignFormat(name, sign, default_output, description, many_inputs)


def _single(inputs: list[Path], fmt: str) -> Path:
    if len(inputs) != 1:
        raise SigningError(f"format {fmt} signs one file at a time")
    return inputs[0]


def _sign_cades(attached: bool) -> SignFunction:
    def sign(key: SigningKey, inputs: list[Path], output: Path, req: SignRequest) -> Path:
        from gateway.signing.cades import CadesOptions, sign_cades_file

        src = _single(inputs, "cades-attached" if attached else "cades")
        opts = CadesOptions(level=req.level, tsa_url=req.tsa_url, digest_algorithm=req.digest_algorithm,
                            trust_roots=req.trust_roots)
        return sign_cades_file(key, src, output, opts, attached=attached)

    return sign


def _sign_pades(key: SigningKey, inputs: list[Path], output: Path, req: SignRequest) -> Path:
    from gateway.signing.pades import sign_pdf_file

    return sign_pdf_file(key, _single(inputs, "pades"), output, level=req.level, tsa_url=req.tsa_url,
                         digest_algorithm=req.digest_algorithm, trust_roots=req.trust_roots)


def _suffixed(suffix: str) -> Callable[[list[Path]], Path]:
    return lambda inputs: inputs[0].with_name(inputs[0].name + suffix)


def _pdf_output(inputs: list[Path]) -> Path:
    p = inputs[0]
    stem = p.stem if p.suffix.lower() == ".pdf" else p.name
    return p.with_name(f"{stem}-signed.pdf")


register_format("cades", _sign_cades(False), _suffixed(".p7s"), description="CAdES detached (.p7s)")
register_format("cades-attached", _sign_cades(True), _suffixed(".p7m"), description="CAdES attached (.p7m)")
register_format("pades", _sign_pades, _pdf_output, description="PAdES (PDF input)")


def all_formats() -> dict[str, SignFormat]:
    """FORMATS after importing the plugin modules that exist."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for name in PLUGIN_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            hook = getattr(module, "register_formats", None)
            if hook is not None:
                hook(register_format)
    return FORMATS


def get_format(name: str) -> SignFormat:
    formats = all_formats()
    if name not in formats:
        raise SigningError(f"unknown format {name!r} (available: {', '.join(sorted(formats))})")
    return formats[name]


def check_certificate_usable(key: SigningKey, now: datetime | None = None) -> None:
    """Refuse to make new signatures with a certificate outside its validity period."""
    now = now or datetime.now(UTC)
    validity = key.certificate["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if now > not_after:
        raise SigningError(f"the signing certificate expired on {not_after:%Y-%m-%d}")
    if now < not_before:
        raise SigningError(f"the signing certificate is not valid before {not_before:%Y-%m-%d}")


def sign_files(fmt_name: str, key: SigningKey, inputs: Sequence[Path], req: SignRequest,
               output: Path | None = None) -> list[Path]:
    """Sign inputs in the given format; returns the outputs written.

    One output per input for per-file formats (then `output` may name a file for a single input, or an
    existing folder), one container for many-input formats.
    """
    fmt = get_format(fmt_name)
    if not req.allow_expired:
        check_certificate_usable(key)
    inputs = [Path(p) for p in inputs]
    if not inputs:
        raise SigningError("no input files")
    for p in inputs:
        if not p.is_file():
            raise SigningError(f"input not found: {p}" if not p.exists() else f"not a regular file: {p}")
    groups = [inputs] if fmt.many_inputs else [[p] for p in inputs]
    if output is not None and len(groups) > 1 and not output.is_dir():
        raise SigningError("--out must be an existing folder when signing several files")
    written = []
    for group in groups:
        default = fmt.default_output(group)
        if output is None:
            target = default
        elif output.is_dir():
            target = output / default.name
        else:
            target = output
        if target.resolve() in {p.resolve() for p in group}:
            raise SigningError(f"output would overwrite the input: {target}")
        written.append(fmt.sign(key, group, target, req))
    return written
