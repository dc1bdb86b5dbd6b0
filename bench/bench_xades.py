"""XAdES and ASiC benchmarks (no network: B-B, a PKCS#12 key generated in a temporary folder).

- floor: the raw crypto a signature needs: SHA-256 of the data + one RSA-2048 signature with the
  already-loaded key, measured in the same run;
- XAdES-B-B detached over 1 MiB, and ASiC-E (XAdES and CAdES) with 10 files of 100 KiB (random, so
  stored, not deflated): signing must cost at most 3x its floor, validation (engine, report
  included, no trust anchors) at most 6x. Deflating text files is printed for information.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from timing import interleaved_samples

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.signing.asic.sign import AsicOptions, asice_cades, asice_xades  # noqa: E402
from gateway.signing.keys import load_signing_key  # noqa: E402
from gateway.signing.validation.engine import validate  # noqa: E402
from gateway.signing.validation.policy import ValidationPolicy  # noqa: E402
from gateway.signing.xades import sign_detached, to_bytes  # noqa: E402
from gateway.signing.xml.builder import DataObject, XadesOptions  # noqa: E402

KIB, MIB = 1024, 1024 * 1024
PASSWORD = b"bench"
ROUNDS = int(os.environ.get("BENCH_XADES_ROUNDS", "30"))
SIGN_GOAL, VALIDATE_GOAL = 3.0, 6.0


def _make_p12(folder: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench seal")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = folder / "seal.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal", key, cert, None, serialization.BestAvailableEncryption(PASSWORD)
        )
    )
    return path


def _medians(fns, rounds: int = ROUNDS) -> list[float]:
    return [statistics.median(t) for t in interleaved_samples(fns, rounds)]


def _line(label: str, value: float, floor: float, goal: float) -> str:
    ratio = value / floor
    verdict = "ok" if ratio <= goal else "OVER GOAL"
    return f"{label}: {value * 1000:.2f} ms = {ratio:.2f}x floor (goal <= {goal:g}x) {verdict}"


def run() -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = load_signing_key(str(_make_p12(folder)), PASSWORD)
        policy_offline = {"offline": True}

        # XAdES-B-B detached over 1 MiB
        doc = os.urandom(MIB)
        (folder / "doc.bin").write_bytes(doc)
        sig = to_bytes(sign_detached(key, [DataObject("doc.bin", doc)], XadesOptions()))
        policy = ValidationPolicy(detached={"doc.bin": folder / "doc.bin"}, **policy_offline)
        assert all(s.intact for s in validate(sig, policy).signatures)

        def floor_1m() -> None:
            key.sign_raw(hashlib.sha256(doc).digest(), "sha256")

        def sign_1m() -> None:
            to_bytes(sign_detached(key, [DataObject("doc.bin", doc)], XadesOptions()))

        def validate_1m() -> None:
            validate(sig, ValidationPolicy(detached={"doc.bin": folder / "doc.bin"}, **policy_offline))

        floor, t_sign, t_val = _medians([floor_1m, sign_1m, validate_1m])
        lines.append(f"floor (SHA-256 of 1 MiB + RSA-2048 signature): {floor * 1000:.2f} ms")
        lines.append(_line("XAdES-B-B detached 1 MiB, sign", t_sign, floor, SIGN_GOAL))
        lines.append(_line("XAdES-B-B detached 1 MiB, validate", t_val, floor, VALIDATE_GOAL))

        # ASiC-E with 10 files of 100 KiB
        files = [DataObject(f"file{i}.bin", os.urandom(100 * KIB)) for i in range(10)]
        containers = {
            "XAdES": asice_xades(key, files, AsicOptions()),
            "CAdES": asice_cades(key, files, AsicOptions()),
        }
        for data in containers.values():
            assert all(s.intact for s in validate(data, ValidationPolicy(**policy_offline)).signatures)

        def floor_asic() -> None:
            for f in files:
                hashlib.sha256(f.data).digest()
            key.sign_raw(hashlib.sha256(b"manifest").digest(), "sha256")

        fns = [floor_asic]
        for make, data in ((asice_xades, containers["XAdES"]), (asice_cades, containers["CAdES"])):
            fns.append(lambda make=make: make(key, files, AsicOptions()))
            fns.append(lambda data=data: validate(data, ValidationPolicy(**policy_offline)))
        floor, xs, xv, cs, cv = _medians(fns)
        lines.append(f"floor (SHA-256 of 10 x 100 KiB + RSA-2048 signature): {floor * 1000:.2f} ms")
        lines.append(_line("ASiC-E XAdES 10 x 100 KiB, sign", xs, floor, SIGN_GOAL))
        lines.append(_line("ASiC-E XAdES 10 x 100 KiB, validate", xv, floor, VALIDATE_GOAL))
        lines.append(_line("ASiC-E CAdES 10 x 100 KiB, sign", cs, floor, SIGN_GOAL))
        lines.append(_line("ASiC-E CAdES 10 x 100 KiB, validate", cv, floor, VALIDATE_GOAL))

        # for information: text files are deflated (random ones above are stored), which costs more
        text = [DataObject(f"file{i}.txt", (b"%08d council letter text\n" % i) * 3800) for i in range(10)]
        (t_text,) = _medians([lambda: asice_xades(key, text, AsicOptions())], rounds=max(5, ROUNDS // 3))
        lines.append(
            f"(info) ASiC-E XAdES 10 x 100 KiB of text, deflated, sign: {t_text * 1000:.2f} ms "
            f"= {t_text / floor:.2f}x floor"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
