"""Reading and writing ASiC ZIP containers safely.

Every entry name is checked (no absolute paths, no `..`, no backslashes, no drive letters, no
duplicates), the total uncompressed size and each entry's compression ratio are bounded before
anything is inflated, and entries are read through zipfile's size-bounded reader. Nothing is ever
extracted to disk.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MIMETYPE_E = "application/vnd.etsi.asic-e+zip"
MIMETYPE_S = "application/vnd.etsi.asic-s+zip"
MAX_ENTRIES = 10_000
MAX_NAME = 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024
MAX_MIMETYPE = 256
SAMPLE = 512
#: fast deflate: for letters and scans a higher level saves little and costs several times the time
DEFLATE_LEVEL = 1


class ContainerError(ValueError):
    """The ZIP is damaged or hostile; the message is fit for a report."""


@dataclass
class Container:
    #: entry name -> content, files only, in the archive's order
    files: dict[str, bytes] = field(default_factory=dict)
    mimetype: str | None = None
    #: deviations from ETSI EN 319 162-1 A.1 that DSS tolerates (mimetype not first / compressed)
    deviations: list[str] = field(default_factory=list)

    @property
    def data_files(self) -> list[str]:
        return [n for n in self.files if not n.startswith("META-INF/") and n != "mimetype"]

    @property
    def meta_files(self) -> list[str]:
        return [n for n in self.files if n.startswith("META-INF/")]


def check_name(name: str) -> None:
    """Refuse entry names that could escape a folder or confuse a reader."""
    if not name or len(name) > MAX_NAME:
        raise ContainerError("a ZIP entry has an empty or overlong name")
    if "\\" in name or "\x00" in name or any(ord(c) < 0x20 for c in name):
        raise ContainerError(f"ZIP entry name {name!r} has forbidden characters")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ContainerError(f"ZIP entry name {name!r} is an absolute path")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ContainerError(f"ZIP entry name {name!r} contains '..', '.' or an empty segment")


_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    OSError,
    EOFError,
    ValueError,
    struct.error,
    UnicodeDecodeError,
)


def read_container(data: bytes | Path, max_total: int) -> Container:
    """Open an ASiC ZIP held in memory or in a file (read through its central directory, never
    loaded whole); raise ContainerError for anything unsafe or damaged."""
    try:
        return _read_container(_open(data), max_total)
    except ContainerError:
        raise
    except _ZIP_ERRORS as exc:
        raise ContainerError(f"damaged ZIP container: {type(exc).__name__}: {exc}"[:300]) from None


def _open(data: bytes | Path) -> zipfile.ZipFile:
    if isinstance(data, Path):
        try:
            return zipfile.ZipFile(data)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            data = data.read_bytes()  # the repair below works on the bytes
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        real = _without_false_end_record(data)
        if real is None:
            raise ContainerError(f"not a valid ZIP container: {exc}") from None
        try:
            return zipfile.ZipFile(io.BytesIO(real))
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            raise ContainerError(f"not a valid ZIP container: {exc}") from None


def _read_container(archive: zipfile.ZipFile, max_total: int) -> Container:
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ContainerError(f"more than {MAX_ENTRIES} ZIP entries")
        seen: set[str] = set()
        total = 0
        for info in infos:
            check_name(info.filename)
            key = unicodedata.normalize("NFC", info.filename).casefold()
            if key in seen:
                raise ContainerError(f"duplicate ZIP entry {info.filename!r}")
            seen.add(key)
            if info.flag_bits & 0x1:
                raise ContainerError(f"ZIP entry {info.filename!r} is encrypted")
            total += info.file_size
            if total > max_total:
                raise ContainerError(f"the container unpacks to more than {max_total} bytes (zip bomb?)")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise ContainerError(
                    f"ZIP entry {info.filename!r} has a compression ratio over {MAX_RATIO} (zip bomb?)"
                )
        out = Container()
        for info in infos:
            if info.is_dir():
                continue
            out.files[info.filename] = _read(archive, info)
    _check_mimetype(out, infos)
    return out


_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22


def _without_false_end_record(data: bytes) -> bytes | None:
    """The archive without its comment when the comment holds a look-alike end-of-central-directory
    record (zipfile takes the last one it finds): the real record is the one whose comment length
    reaches exactly the end of the file. None when there is no such record."""
    pos = len(data)
    while (pos := data.rfind(_END_RECORD, max(0, len(data) - 65_557), pos)) >= 0:
        comment_length = int.from_bytes(data[pos + 20 : pos + 22], "little")
        if pos + _END_RECORD_SIZE + comment_length == len(data) and comment_length:
            return data[: pos + 20] + b"\x00\x00"
    return None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as f:
            content = f.read(info.file_size + 1)
    except _ZIP_ERRORS as exc:
        raise ContainerError(f"ZIP entry {info.filename!r} cannot be read: {exc}") from None
    if len(content) != info.file_size:
        raise ContainerError(f"ZIP entry {info.filename!r} is not the size its header declares")
    return content


def _check_mimetype(out: Container, infos: list[zipfile.ZipInfo]) -> None:
    raw = out.files.get("mimetype")
    if raw is None:
        out.deviations.append("the container has no mimetype entry")
        return
    if len(raw) > MAX_MIMETYPE:
        raise ContainerError("the mimetype entry is too long")
    out.mimetype = raw.decode("ascii", "replace").strip()
    first = infos[0]
    if first.filename != "mimetype":
        out.deviations.append("the mimetype entry is not the first entry of the ZIP")
    elif first.compress_type != zipfile.ZIP_STORED:
        out.deviations.append("the mimetype entry is compressed (it must be stored)")
    elif first.extra:
        out.deviations.append("the mimetype entry has an extra field")


_COMPRESSED_MAGIC = (
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\xff\xd8\xff",
    b"\x89PNG",
    b"GIF8",
    b"7z\xbc\xaf",
    b"BZh",
    b"\xfd7zXZ",
    b"\x28\xb5\x2f\xfd",
    b"ftyp",
)


def compressible(content: bytes) -> bool:
    """Deflate only what is likely to shrink: already-compressed files (images, archives) and data
    that looks random are stored, sparing a slow and useless deflate. A cheap guess from known magic
    numbers and the byte variety of a sample (a trial deflate costs more than it saves here)."""
    if len(content) < 4096:
        return True
    if content.startswith(_COMPRESSED_MAGIC) or content[4:8] == b"ftyp":
        return False
    return len(set(content[:SAMPLE])) < 160


def write_container(mimetype: str, files: Iterable[tuple[str, bytes]], comment: bytes = b"") -> bytes:
    """A new ZIP: `mimetype` first and stored without extra field, then `files` (deflated when that
    helps)."""
    buf = io.BytesIO()
    write_container_to(buf, mimetype, files, comment)
    return buf.getvalue()


def write_container_to(
    out: BinaryIO, mimetype: str, files: Iterable[tuple[str, bytes]], comment: bytes = b""
) -> None:
    """`write_container` into a stream (a file: the container is never in memory whole)."""
    with zipfile.ZipFile(out, "w") as zf:
        info = zipfile.ZipInfo("mimetype", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        zf.writestr(info, mimetype.encode("ascii"))
        names = {"mimetype"}
        for name, content in files:
            check_name(name)
            if name in names:
                raise ContainerError(f"duplicate file name {name!r} in the container")
            names.add(name)
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED if compressible(content) else zipfile.ZIP_STORED
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, content, compresslevel=DEFLATE_LEVEL)
        zf.comment = comment
