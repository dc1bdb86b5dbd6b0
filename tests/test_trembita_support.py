"""Gateways exchanging over Трембіта on 127.0.0.1 for the Трембіта tests (no tests inside).

Each gateway serves its own /soap/trembita; standing in for the partner's side, a gateway's
`[trembita] security_server_url` is the other gateway's service (plain HTTP, or its HTTPS listener
with client certificates of a throw-away TLS PKI made here with cryptography).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config import load_config
from gateway.netutil import listen_tcp
from gateway.soap.trembita_tls import running_tls_listener
from gateway.store.apikeys import create_key
from gateway.store.db import open_database
from gateway.store.partners import upsert_partner

INSTANCE = "SEVDEIR-TEST"
SUBSYSTEM = "SEV1207"


def client_path(edrpou: str) -> str:
    return f"{INSTANCE}/GOV/{edrpou}/{SUBSYSTEM}"


def service_path(edrpou: str) -> str:
    return f"{client_path(edrpou)}/deliverMessage/v1"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.COUNTRY_NAME, "UA")]
    )


def make_tls_pki(folder: Path, names: list[str]) -> tuple[Path, dict[str, tuple[Path, Path]]]:
    """(CA PEM, {name: (certificate PEM, key PEM)}): TLS certificates for 127.0.0.1, both EKUs."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Trembita TLS CA"))
        .issuer_name(_name("Test Trembita TLS CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "tls-ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out = {}
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_pem, key_pem = folder / f"{name}.pem", folder / f"{name}.key"
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_pem.chmod(0o600)
        out[name] = (cert_pem, key_pem)
    return ca_pem, out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Side:
    """One gateway: its identity, folder, seal and (pre-bound) listening socket."""

    name: str
    edrpou: str
    dir: Path
    seal_p12: Path
    sock: socket.socket = field(default_factory=lambda: listen_tcp("127.0.0.1", 0))
    tls: tuple[Path, Path] | None = None
    tls_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    @property
    def service_url(self) -> str:
        if self.tls_port:
            return f"https://127.0.0.1:{self.tls_port}/soap/trembita"
        return self.url + "/soap/trembita"


def write_config(
    me: Side, partner: Side, dev_pki, *, tls_ca: Path | None = None, wsdl: str | None = None, db_url: str = ""
) -> Path:
    me.dir.mkdir(parents=True, exist_ok=True)
    tls = ""
    if me.tls and tls_ca:
        tls = f"""tls_cert = "{me.tls[0]}"
tls_key = "{me.tls[1]}"
server_ca = "{tls_ca}"
client_ca = "{tls_ca}"
listen = "127.0.0.1:{me.tls_port}"
"""
    conf = me.dir / "gateway.toml"
    conf.write_text(
        f"""
[organization]
name = "{me.name}"
edrpou = "{me.edrpou}"
system_id = "sys-{me.edrpou}"
system_name = "gateway {me.edrpou}"

[server]
public_url = "{me.url}"

[database]
url = "{db_url or "sqlite:///gateway.db"}"

[storage]
dir = "storage"

[signing]
key = "{me.seal_p12}"
key_password_file = "{dev_pki.password_file}"
tsa_url = "{dev_pki.tsa_url}"

[trust]
anchors = ["{dev_pki.root_cert}"]
revocation = "online"
cache_dir = "revocation-cache"
fetch_allow = ["127.0.0.1:{dev_pki.port}"]

[trembita]
enabled = true
instance = "{INSTANCE}"
member_class = "GOV"
member_code = "{me.edrpou}"
subsystem = "{SUBSYSTEM}"
security_server_url = "{partner.service_url}"
wsdl = "{wsdl or partner.url + "/soap/trembita?wsdl"}"
timeout = 20.0
{tls}""",
        encoding="utf-8",
    )
    return conf


@contextmanager
def serve_socket(app, sock: socket.socket) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextmanager
def running_gateway(me: Side, partner: Side, conf: Path) -> Iterator[httpx.Client]:
    """The gateway of `me` (workers on), knowing `partner` over Трембіта; yields its API client."""
    from gateway.api.app import create_app

    cfg = load_config(conf)
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
        upsert_partner(
            s,
            edrpou=partner.edrpou,
            name=partner.name,
            channel="trembita",
            xroad_client=client_path(partner.edrpou),
            xroad_service=service_path(partner.edrpou),
        )
    db.dispose()
    app = create_app(cfg)
    with (
        serve_socket(app, me.sock),
        running_tls_listener(app, cfg),
        httpx.Client(base_url=me.url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        yield client
