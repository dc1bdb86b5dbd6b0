"""ASiC containers (ETSI EN 319 162-1): safe reading, writing, signing, and the sign formats
`asice-xades`, `asice-cades` and `asics-cades`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.errors import SigningError
from gateway.fileutil import atomic_output, write_atomically
from gateway.signing.asic.container import MIMETYPE_E, write_container_to

ZIP_MAGIC = b"PK\x03\x04"


def _is_container(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == ZIP_MAGIC and path.suffix.lower() in (".asice", ".sce", ".asics", ".scs", ".bdoc")


def _inputs(inputs: list[Path]) -> tuple[list[Any], bytes | None]:
    """(data objects, existing container bytes): one ASiC input means "add a signature to it"."""
    from gateway.signing.xades import mime_type, read_input
    from gateway.signing.xml.builder import DataObject

    if len(inputs) == 1 and _is_container(inputs[0]):
        return [], read_input(inputs[0])
    names = [p.name for p in inputs]
    if len(set(names)) != len(names):
        raise SigningError("two input files have the same name; a container needs distinct names")
    return [DataObject(p.name, read_input(p), mime_type(p.name)) for p in inputs], None


def _options(req: Any) -> Any:
    from gateway.signing.asic.sign import AsicOptions

    return AsicOptions(
        level=req.level,
        tsa_url=req.tsa_url,
        digest_algorithm=req.digest_algorithm,
        trust_roots=list(req.trust_roots),
    )


def _fmt_asice(cades: bool) -> Callable[..., Path]:
    def sign(key: Any, inputs: list[Path], output: Path, req: Any) -> Path:
        from gateway.signing.asic import sign as asic_sign

        files, existing = _inputs(inputs)
        make = asic_sign.asice_cades_entries if cades else asic_sign.asice_xades_entries
        entries = make(key, files, _options(req), existing)
        with atomic_output(output) as out:
            write_container_to(out, MIMETYPE_E, entries)
        return output

    return sign


def _fmt_asics(key: Any, inputs: list[Path], output: Path, req: Any) -> Path:
    from gateway.signing.asic.sign import asics_cades

    files, existing = _inputs(inputs)
    if existing is not None or len(files) != 1:
        raise SigningError("an ASiC-S container holds exactly one file: give one input file")
    return write_atomically(output, asics_cades(key, files[0], _options(req)))


def _container_name(suffix: str) -> Callable[[list[Path]], Path]:
    def name(inputs: list[Path]) -> Path:
        p = inputs[0]
        if p.suffix.lower() == suffix:
            return p.with_name(f"{p.stem}-signed{suffix}")
        return p.with_name(p.name + suffix)

    return name


def register_formats(register: Callable[..., None]) -> None:
    register(
        "asice-xades",
        _fmt_asice(False),
        _container_name(".asice"),
        many_inputs=True,
        description="ASiC-E with XAdES (.asice; an .asice input gets one more signature)",
    )
    register(
        "asice-cades",
        _fmt_asice(True),
        _container_name(".asice"),
        many_inputs=True,
        description="ASiC-E with CAdES (.asice; an .asice input gets one more signature)",
    )
    register("asics-cades", _fmt_asics, _container_name(".asics"), description="ASiC-S with CAdES (.asics)")
