"""A development PKI made with certomancer from `certs/dev-pki.yml`. Never for production.

`create_dev_pki` generates the keys and certificates once into a folder and writes what a gateway
and its tests need: PEM certificates, PKCS#12 files of the signers (one random password, kept in
a 0600 file), the certomancer configuration and `pki.json`. `start_pki_services` serves its CRLs,
OCSP responder and TSA over HTTP on the PKI's own port, so B-T/B-LT/B-LTA signing and revocation
checks work for real on a machine without internet.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.errors import GatewayError
from gateway.signing.certificates import OID_UA_EDRPOU

TEMPLATE = Path(__file__).resolve().parents[2] / "certs" / "dev-pki.yml"
ARCH = "dev"
#: key label -> algorithm; every certificate label of the template has a key of its own
KEYS = {
    "root": "rsa2048", "ca": "rsa2048", "seal": "rsa2048", "seal-ec": "p256", "revoked": "rsa2048",
    "expired": "rsa2048", "ocsp": "rsa2048", "tsa": "rsa2048",
}
#: signers packaged as PKCS#12 (with their chain)
SIGNERS = ("seal", "seal-ec", "revoked", "expired")
PUBLISHED_CERTS = ("root", "ca", "seal", "seal-ec", "revoked", "expired", "tsa", "ocsp")


@dataclass
class DevPki:
    dir: Path
    base_url: str
    root_cert: Path
    ca_cert: Path
    seal_cert: Path
    seal_p12: Path
    seal_ec_p12: Path
    revoked_p12: Path
    expired_p12: Path
    password_file: Path
    tsa_url: str
    ocsp_url: str
    crl_url: str
    name: str
    edrpou: str
    port: int

    def password(self) -> bytes:
        return self.password_file.read_bytes().strip()

    @property
    def config_file(self) -> Path:
        return self.dir / "certomancer.yml"


class _Attribute(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("values", core.SetOf, {"spec": core.PrintableString})]


class _Attributes(core.SequenceOf):
    _child_spec = _Attribute


def edrpou_attribute_der(edrpou: str) -> bytes:
    """subjectDirectoryAttributes with the Ukrainian EDRPOU attribute (1.2.804.2.1.1.1.11.1.4.2.1)."""
    return _Attributes([{"type": OID_UA_EDRPOU, "values": [edrpou]}]).dump()


def _new_key(kind: str) -> bytes:
    if kind == "p256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000")


def render_config(*, name: str, edrpou: str, base_url: str, now: datetime) -> str:
    """The certomancer YAML of `certs/dev-pki.yml` with this PKI's names, URL and dates."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        org=quoted,
        edrpou=edrpou,
        url=base_url,
        since=_stamp(now - timedelta(days=30)),
        until=_stamp(now + timedelta(days=5 * 365)),
        expired=_stamp(now - timedelta(days=1)),
        edrpou_attribute=edrpou_attribute_der(edrpou).hex(),
    )


def load_architecture(pki_dir: Path):  # -> certomancer PKIArchitecture
    from certomancer.registry import ArchLabel, CertomancerConfig

    cfg = CertomancerConfig.from_file(str(pki_dir / "certomancer.yml"), key_search_dir=str(pki_dir))
    return cfg.get_pki_arch(ArchLabel(ARCH))


@contextmanager
def _locked(dir: Path) -> Iterator[None]:
    """One writer at a time in a PKI folder (two `gateway init --pki` may run at once)."""
    dir.mkdir(parents=True, exist_ok=True)
    with open(dir / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_dev_pki(dir: Path, *, name: str, edrpou: str, port: int) -> DevPki:
    """Make a development PKI in `dir` (or load the one already there)."""
    dir = Path(dir)
    if (dir / "pki.json").exists():  # written last: the PKI is complete
        return load_dev_pki(dir)
    if not edrpou.isdigit() or len(edrpou) not in (8, 10):
        raise GatewayError(f"EDRPOU must be 8 digits, got {edrpou!r}")
    with _locked(dir):
        if (dir / "pki.json").exists():
            return load_dev_pki(dir)
        return _create(dir, name=name, edrpou=edrpou, port=port)


def _create(dir: Path, *, name: str, edrpou: str, port: int) -> DevPki:
    from certomancer.registry import CertLabel

    (dir / "keys").mkdir(parents=True, exist_ok=True)
    os.chmod(dir / "keys", 0o700)
    for label, kind in KEYS.items():
        write_private(dir / "keys" / f"{label}.key.pem", _new_key(kind))
    base_url = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC).replace(microsecond=0)
    (dir / "certomancer.yml").write_text(
        render_config(name=name, edrpou=edrpou, base_url=base_url, now=now), encoding="utf-8"
    )
    password = secrets.token_urlsafe(18).encode()
    write_private(dir / "password.txt", password + b"\n")
    arch = load_architecture(dir)
    for label in PUBLISHED_CERTS:
        (dir / f"{label}.pem").write_bytes(_pem(arch.get_cert(CertLabel(label)).dump()))
    for label in SIGNERS:
        p12 = arch.package_pkcs12(CertLabel(label), password=password)
        write_private(dir / f"{label}.p12", p12)
    meta = {"name": name, "edrpou": edrpou, "port": port, "base_url": base_url, "created": now.isoformat()}
    (dir / "pki.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return load_dev_pki(dir)


def _pem(der: bytes) -> bytes:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", der)


def load_dev_pki(dir: Path) -> DevPki:
    dir = Path(dir)
    try:
        meta = json.loads((dir / "pki.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GatewayError(f"{dir}: not a development PKI (no pki.json)") from None
    except (OSError, ValueError) as exc:
        raise GatewayError(f"{dir}/pki.json: unreadable: {exc}") from None
    base = meta["base_url"]
    return DevPki(
        dir=dir,
        base_url=base,
        root_cert=dir / "root.pem",
        ca_cert=dir / "ca.pem",
        seal_cert=dir / "seal.pem",
        seal_p12=dir / "seal.p12",
        seal_ec_p12=dir / "seal-ec.p12",
        revoked_p12=dir / "revoked.p12",
        expired_p12=dir / "expired.p12",
        password_file=dir / "password.txt",
        tsa_url=f"{base}/{ARCH}/tsa/tsa",
        ocsp_url=f"{base}/{ARCH}/ocsp/ca",
        crl_url=f"{base}/{ARCH}/crls/ca/latest.crl",
        name=meta["name"],
        edrpou=meta["edrpou"],
        port=int(meta["port"]),
    )


def organization_seal(pki: DevPki, *, name: str, edrpou: str) -> tuple[Path, Path]:
    """(PKCS#12, PEM) of the seal of organization `edrpou`, issued by the shared development CA.

    The PKI's own organization uses `seal.p12`; every other gateway sharing the PKI (`gateway init
    --pki`) gets a seal of its own, added to the certomancer configuration (the services reload it).
    """
    if edrpou == pki.edrpou:
        return pki.seal_p12, pki.seal_cert
    label = f"seal-{edrpou}"
    p12, pem_path = pki.dir / f"{label}.p12", pki.dir / f"{label}.pem"
    if p12.exists():  # written last: the seal is complete
        return p12, pem_path
    if not edrpou.isdigit() or len(edrpou) not in (8, 10):
        raise GatewayError(f"EDRPOU must be 8 digits, got {edrpou!r}")
    with _locked(pki.dir):
        if not p12.exists():
            _add_seal(pki, label, name=name, edrpou=edrpou)
    return p12, pem_path


def _add_seal(pki: DevPki, label: str, *, name: str, edrpou: str) -> None:
    import yaml
    from certomancer.registry import CertLabel

    write_private(pki.dir / "keys" / f"{label}.key.pem", _new_key("rsa2048"))
    config = yaml.safe_load(pki.config_file.read_text(encoding="utf-8"))
    config["keysets"]["dev"]["keys"][label] = {"path": f"{label}.key.pem"}
    arch_cfg = config["pki-architectures"][ARCH]
    arch_cfg["entities"][label] = {
        "common-name": f"{name} seal",
        "organization-name": name,
        "organization-identifier": f"NTRUA-{edrpou}",
    }
    seal_spec = dict(arch_cfg["certs"]["seal"])
    extensions = [dict(e) for e in seal_spec["extensions"]]
    for ext in extensions:
        if ext["id"] == "subject_directory_attributes":
            ext["smart-value"] = {"schema": "der-bytes", "params": edrpou_attribute_der(edrpou).hex()}
    serial = max(int(c.get("serial", 0)) for c in arch_cfg["certs"].values()) + 1
    arch_cfg["certs"][label] = {**seal_spec, "subject": label, "serial": serial, "extensions": extensions}
    tmp = pki.config_file.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, pki.config_file)
    arch = load_architecture(pki.dir)
    (pki.dir / f"{label}.pem").write_bytes(_pem(arch.get_cert(CertLabel(label)).dump()))
    write_private(pki.dir / f"{label}.p12", arch.package_pkcs12(CertLabel(label), password=pki.password()))
