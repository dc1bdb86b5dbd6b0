"""Uploaded files: the names they may carry and how they are written to a temporary folder.

A client's file name is untrusted text that ends up as a path on disk, in a 1207 DocTransfer and in
the EDMS's user interface. It is reduced to a plain name: the last path component, no control or
format characters (C0/C1 controls, the bidi overrides such as U+202E that make `exe.pdf` of
`fdp.exe`, zero-width characters), never `.` or `..`, and at most 200 bytes in UTF-8 (file systems
allow 255; the rest is room for the `.p7s`, `.asice`, ... a signer appends), cut so that the
extension survives. Its declared media type is kept only when it is one.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import quote

from fastapi import UploadFile

from gateway.api.errors import ApiError

CHUNK = 1024 * 1024
MAX_NAME_BYTES = 200
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_MAX_SUFFIX = 16
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


def safe_filename(raw: str | None, n: int) -> str:
    """A plain file name for upload `n` (from 1; `file<n>` when nothing usable is left)."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED)
    name = PureWindowsPath(PurePosixPath(name).name).name.strip()
    if not name.strip("."):
        return f"file{n}"
    return _truncate(name)


def _truncate(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    suffix = PurePosixPath(name).suffix
    if len(suffix) > _MAX_SUFFIX:
        suffix = ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    budget = MAX_NAME_BYTES - len(suffix.encode())
    return stem.encode()[:budget].decode(errors="ignore") + suffix


def safe_media_type(raw: str | None) -> str | None:
    """The `type/subtype` of an upload's Content-Type (RFC 6838 names, lower-case, parameters
    dropped), or None when the client sent something else (a NUL, 5000 characters, ...)."""
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else None


def content_disposition(name: str) -> str:
    """`attachment` with the name as ASCII (for old clients) and in full (RFC 6266/5987)."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def save_uploads(uploads: list[UploadFile], folder: Path, first: int = 1) -> list[Path]:
    """`save_upload` of each, numbered from `first`; two files whose (safe) names are the same are
    refused: their signatures or detached contents would silently replace each other."""
    seen: set[str] = set()
    for n, upload in enumerate(uploads, start=first):
        name = safe_filename(upload.filename, n)
        if name in seen:
            raise ApiError(422, "invalid_request", f"two files are named {name!r}; names must be distinct")
        seen.add(name)
    return [save_upload(u, folder, n) for n, u in enumerate(uploads, start=first)]


def save_upload(upload: UploadFile, folder: Path, n: int) -> Path:
    """Write an upload to `folder/n/<safe name>` (a folder per file keeps names apart)."""
    path = folder / f"{n}" / safe_filename(upload.filename, n)
    path.parent.mkdir(parents=True)
    with path.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            out.write(chunk)
    return path
