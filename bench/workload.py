"""What the format benchmarks do: sign a file in each format, validate the result, and the raw-crypto
floor they are compared with. Shared by the in-process timings, the worker processes of the
throughput runs and, run as a script, the fresh process whose peak RSS is measured.

Every format goes through the same entry point as `gateway sign --format F` (file to file), and
validation through the engine `gateway verify` uses (offline, no trust anchors: the signatures are
checked for integrity; the chain is the validation benchmark's subject).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.signing.formats import SignRequest, get_format  # noqa: E402
from gateway.signing.keys import SigningKey, load_signing_key  # noqa: E402
from gateway.signing.validation.engine import validate  # noqa: E402
from gateway.signing.validation.policy import ValidationPolicy  # noqa: E402

PASSWORD = b"bench"
CHUNK = 1024 * 1024
#: format name (as in `gateway sign --format`) -> the signed file's suffix
FORMATS = {
    "cades": ".p7s",
    "cades-attached": ".p7m",
    "xades": ".xades.xml",
    "pades": "-signed.pdf",
    "asice-cades": ".asice",
    "asice-xades": ".asice",
}
LABELS = {
    "cades": "CAdES detached",
    "cades-attached": "CAdES attached",
    "xades": "XAdES detached",
    "pades": "PAdES",
    "asice-cades": "ASiC-E CAdES",
    "asice-xades": "ASiC-E XAdES",
}


def make_p12(folder: Path) -> Path:
    """A self-signed RSA-2048 seal in a PKCS#12 file (password PASSWORD)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench seal")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = folder / "seal.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"seal", key, cert, None, serialization.BestAvailableEncryption(PASSWORD)))
    return path


def load_key(p12: Path) -> SigningKey:
    return load_signing_key(str(p12), PASSWORD)


def write_pdf(path: Path, size: int) -> None:
    """A one-page PDF of about `size` bytes: the page draws an image XObject whose stream holds
    incompressible bytes (what a scanned letter is), written in chunks."""
    stream_len = max(1024, size - 1024)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /XObject << /Im1 5 0 R >> >> >>",
    ]
    content = b"q 100 0 0 100 50 700 cm /Im1 Do Q"
    with path.open("wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(objects, start=1):
            offsets.append(f.tell())
            f.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
        offsets.append(f.tell())
        f.write(b"4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(content), content))
        offsets.append(f.tell())
        # an 8-bit grey image, width x height = stream length
        f.write(b"5 0 obj\n<< /Type /XObject /Subtype /Image /Width 1024 /Height %d /ColorSpace /DeviceGray"
                b" /BitsPerComponent 8 /Length %d >>\nstream\n" % (stream_len // 1024, stream_len))
        write_random(f, stream_len)
        f.write(b"\nendstream\nendobj\n")
        xref = f.tell()
        f.write(b"xref\n0 6\n0000000000 65535 f \n")
        for off in offsets:
            f.write(b"%010d 00000 n \n" % off)
        f.write(b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)


def write_random(f, size: int) -> None:
    """`size` random (incompressible) bytes, written without holding them all in memory."""
    written = 0
    while written < size:
        n = min(CHUNK, size - written)
        f.write(os.urandom(n))
        written += n


def make_input(folder: Path, fmt: str, size: int) -> Path:
    """The document a format signs: a PDF for PAdES, random bytes for the others."""
    if fmt == "pades":
        path = folder / f"letter-{size}.pdf"
        if not path.exists():
            write_pdf(path, size)
        return path
    path = folder / f"letter-{size}.bin"
    if not path.exists():
        with path.open("wb") as f:
            write_random(f, size)
    return path


def signed_path(fmt: str, src: Path, tag: str = "") -> Path:
    suffix = FORMATS[fmt]
    stem = src.stem if fmt == "pades" else src.name
    return src.with_name(f"{stem}.{fmt}{tag}{suffix}")


def sign(key: SigningKey, fmt: str, src: Path, out: Path, existing: Path | None = None) -> Path:
    """Sign `src` in format `fmt` into `out` (with `existing`: add a signature to that container)."""
    return get_format(fmt).sign(key, [existing] if existing else [src], out, SignRequest())


def policy_for(fmt: str, src: Path) -> ValidationPolicy:
    detached = {src.name: src} if fmt in ("cades", "xades") else {}
    return ValidationPolicy(offline=True, detached=detached)


def check(fmt: str, signed: Path, src: Path, signatures: int = 1) -> int:
    """Validate `signed`; raise unless it holds `signatures` intact signatures. Returns their number."""
    report = validate(signed, policy_for(fmt, src))
    if len(report.signatures) != signatures or not all(s.intact for s in report.signatures):
        raise RuntimeError(f"{fmt}: {signed.name} does not validate: {report.to_dict()}")
    return len(report.signatures)


def floor_sign(key: SigningKey, src: Path) -> None:
    """The raw-crypto floor of signing: SHA-256 of the file (read in chunks) + one RSA-2048 signature."""
    h = hashlib.sha256()
    with src.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    key.sign_raw(h.digest(), "sha256")


def loop(args: tuple[str, str, str, str, float]) -> tuple[int, int]:
    """Worker of the throughput runs: repeat one operation for `seconds`; (pid, how many were done)."""
    op, fmt, p12, src, seconds = args
    key = load_key(Path(p12))
    source = Path(src)
    out = signed_path(fmt, source, tag=f"-w{time.monotonic_ns()}")
    sign(key, fmt, source, out)
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if op == "sign":
            sign(key, fmt, source, out)
        else:
            check(fmt, out, source)
        done += 1
    out.unlink(missing_ok=True)
    return os.getpid(), done


def child(op: str, fmt: str, p12: str, src: str, out: str) -> dict[str, float]:
    """One operation in this (fresh) process: its wall time and the process's peak RSS (KiB)."""
    key = load_key(Path(p12))
    source, target = Path(src), Path(out)
    start = time.perf_counter()
    if op == "sign":
        sign(key, fmt, source, target)
    elif op == "validate":
        check(fmt, target, source)
    else:
        floor_sign(key, source)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_kib": peak_rss_kib()}


def peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM where there is /proc: Linux carries ru_maxrss over fork and
    exec, so a child's ru_maxrss is at least its parent's RSS at the fork; VmHWM starts afresh."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    print(json.dumps(child(*sys.argv[1:6])))
