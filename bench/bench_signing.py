"""Signing benchmarks (no network: B-B, a PKCS#12 key generated in a temporary folder).

- floor: SHA-256 of a 1 MiB document + one raw RSA-2048 signature with the already-loaded key;
- POST /api/v1/signatures (CAdES B-B detached of the same 1 MiB, over HTTP on loopback to uvicorn, the
  seal's audit entry in SQLite) must cost at most 3x the floor;
- CAdES B-B detached signing of the same 1 MiB document must cost at most 2x the floor (the file-to-file
  variant, which adds filesystem work the floor does not have, is printed for information);
- 100 MiB detached and attached signing stream: the peak RSS growth of a fresh process that signs
  must stay far below the document size.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from timing import interleaved_samples

MIB = 1024 * 1024
PASSWORD = b"bench"
ROUNDS = 60


def _make_p12(folder: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench seal")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = folder / "seal.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"seal", key, cert, None, serialization.BestAvailableEncryption(PASSWORD)))
    return path


def _interleaved_medians(fns, rounds: int = ROUNDS) -> list[float]:
    return [statistics.median(t) for t in interleaved_samples(fns, rounds)]


_STREAM_CHILD = r"""
import resource, sys, tracemalloc
from gateway.signing.keys import load_signing_key
from gateway.signing.cades import CadesOptions, sign_cades_file

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None

key = load_signing_key(sys.argv[1], b"bench")
attached = sys.argv[4] == "attached"
sign_cades_file(key, sys.argv[1], sys.argv[3] + ".warm", CadesOptions(), attached=attached)
before = status("VmRSS")
try:  # reset the peak-RSS mark so that earlier peaks (imports) cannot hide growth
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    peak_field = "VmHWM"
except OSError:
    peak_field = None
tracemalloc.start()
sign_cades_file(key, sys.argv[2], sys.argv[3], CadesOptions(), attached=attached)
python_peak = tracemalloc.get_traced_memory()[1]
if before is None or peak_field is None:
    before = 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
else:
    peak = status(peak_field)
print(peak - before, python_peak // 1024)
"""


def _stream_growth_kib(p12: Path, doc: Path, out: Path, mode: str) -> tuple[int, int]:
    """(peak RSS growth, peak Python heap) in KiB while a fresh process signs `doc`."""
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run([sys.executable, "-c", _STREAM_CHILD, str(p12), str(doc), str(out), mode],
                         capture_output=True, text=True, env=env, check=True)
    rss, heap = run.stdout.split()
    return int(rss), int(heap)


REST_BUDGET = 3.0


@contextmanager
def _signing_server(folder: Path, p12: Path) -> Iterator[httpx.Client]:
    """`gateway serve`'s app with `p12` as the seal (SQLite database in `folder`), on a loopback port in
    a thread; yields a client holding an EDMS API key."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.config import load_config
    from gateway.netutil import listen_tcp
    from gateway.store.apikeys import create_key
    from gateway.store.db import open_database

    password = folder / "seal.pw"
    password.write_bytes(PASSWORD)
    password.chmod(0o600)
    cfg = load_config(env={
        "GATEWAY_DATABASE__URL": f"sqlite:///{folder / 'gw.db'}",
        "GATEWAY_STORAGE__DIR": str(folder / "blobs"),
        "GATEWAY_SIGNING__KEY": str(p12), "GATEWAY_SIGNING__KEY_PASSWORD_FILE": str(password),
        "GATEWAY_SIGNING__DEFAULT_LEVEL": "B-B",
    })
    db = open_database(cfg)
    with db.session() as s:
        _, api_key = create_key(s, "bench")
    db.dispose()
    sock = listen_tcp("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, workers=False), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the signing server did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=60,
                          headers={"Authorization": f"Bearer {api_key}"}) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _rest_signing(folder: Path, p12: Path, key, data: bytes) -> list[str]:
    def floor() -> None:
        key.sign_raw(hashlib.sha256(data).digest(), "sha256")

    with _signing_server(folder, p12) as client:
        def rest() -> None:
            resp = client.post("/api/v1/signatures", data={"format": "cades", "level": "B-B"},
                               files=[("file", ("doc-1m.bin", data))])
            if resp.status_code != 200:
                raise RuntimeError(f"POST /api/v1/signatures: {resp.status_code} {resp.text[:200]}")

        t_floor, t_rest = _interleaved_medians([floor, rest])
    ratio = t_rest / t_floor
    verdict = "OK" if ratio <= REST_BUDGET else "OVER BUDGET"
    return [f"POST /api/v1/signatures, CAdES B-B detached of 1 MiB (HTTP, audit entry in SQLite): "
            f"{t_rest * 1000:.2f} ms, ratio {ratio:.2f} to a floor of {t_floor * 1000:.2f} ms "
            f"(budget {REST_BUDGET:.2f}) {verdict}"]


def run() -> list[str]:
    from gateway.signing.cades import CadesOptions, sign_cades_bytes, sign_cades_file
    from gateway.signing.keys import load_signing_key

    lines = []
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        folder = Path(tmp)
        p12 = _make_p12(folder)
        key = load_signing_key(str(p12), PASSWORD)
        doc = folder / "doc-1m.bin"
        data = os.urandom(MIB)
        doc.write_bytes(data)

        def floor() -> None:
            digest = hashlib.sha256(data).digest()
            key.sign_raw(digest, "sha256")

        out = folder / "doc-1m.p7s"
        t_floor, t_file, t_mem = _interleaved_medians([
            floor,
            lambda: sign_cades_file(key, doc, out, CadesOptions()),
            lambda: sign_cades_bytes(key, data, CadesOptions()),
        ])
        lines.append(f"floor (SHA-256 of 1 MiB in memory + RSA-2048 signature): {t_floor * 1000:.2f} ms")
        ratio = t_mem / t_floor
        verdict = "OK" if ratio <= 2.0 else "OVER BUDGET"
        lines.append(f"CAdES B-B detached, 1 MiB document in memory: {t_mem * 1000:.2f} ms, "
                     f"ratio {ratio:.2f} (budget 2.00) {verdict}")
        lines.append(f"  same from a file to a .p7s file (adds the file read and an atomic write): "
                     f"{t_file * 1000:.2f} ms, ratio {t_file / t_floor:.2f} (informational)")
        lines.extend(_rest_signing(folder, p12, key, data))

        big = folder / "doc-100m.bin"
        with big.open("wb") as f:
            for _ in range(100):
                f.write(data)
        for mode in ("detached", "attached"):
            growth, heap = _stream_growth_kib(p12, big, folder / f"big.{mode}", mode)
            share = max(growth, heap) * 1024 / (100 * MIB)
            ok = "OK" if share < 0.25 else "NOT STREAMING"
            lines.append(f"CAdES B-B {mode}, 100 MiB: peak RSS growth {growth / 1024:.1f} MiB, "
                         f"peak Python heap {heap / 1024:.1f} MiB ({share:.1%} of the document) {ok}")
    return lines
