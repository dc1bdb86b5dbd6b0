"""Independent implementations the tests ask for a second opinion (OpenSSL here)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl_cms_verify(
    sig: Path, ca_file: Path | None, content: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`openssl cms -verify` of a DER signature: detached over `content` when given; the chain is
    checked against `ca_file`, or not at all (`-noverify`) when it is None."""
    cmd = ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(sig), "-purpose", "any",
           "-out", str(sig) + ".out"]
    cmd += ["-CAfile", str(ca_file)] if ca_file is not None else ["-noverify"]
    if content is not None:
        cmd += ["-binary", "-content", str(content)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)
