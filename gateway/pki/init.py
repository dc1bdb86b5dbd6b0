"""`gateway init`: a ready-to-run development gateway folder (configuration, PKI, trust, storage)."""

from __future__ import annotations

import secrets
import shutil
import uuid
from pathlib import Path

import tomli_w

from gateway.errors import GatewayError
from gateway.pki.dev import DevPki, create_dev_pki, organization_seal, write_private
from gateway.signing.certificates import fingerprint, load_certificates

HEADER = """\
# Development configuration written by `gateway init` — NEVER for production.
# Every key can be overridden from the environment as GATEWAY_<SECTION>__<KEY>.
"""


def init_gateway(
    target: Path, *, name: str, edrpou: str, port: int, pki_dir: Path | None = None, force: bool = False,
    pki_port: int | None = None, dstu: bool = False,
) -> Path:
    """Write `target/gateway.toml` with a development PKI (own, or the shared one in `pki_dir`).

    A new PKI's services get `pki_port` (default: the gateway's port + 1); an existing one keeps its.
    With `dstu`, the seal is a DSTU 4145 key (`keys/seal-dstu.pem`, issued by a DSTU root of its own,
    which is trusted too), so the national algorithms can be tried end to end.
    """
    if not edrpou.isdigit() or len(edrpou) != 8:
        raise GatewayError(f"--edrpou must be the 8 digits of an EDRPOU code, got {edrpou!r}")
    target = target.resolve()
    config_path = target / "gateway.toml"
    if config_path.exists() and not force:
        raise GatewayError(f"{config_path} exists already (use --force to overwrite)")
    target.mkdir(parents=True, exist_ok=True)
    pki_dir = (pki_dir or target / "pki").resolve()
    pki = create_dev_pki(pki_dir, name=name, edrpou=edrpou, port=pki_port or port + 1)
    seal_p12, seal_pem = organization_seal(pki, name=name, edrpou=edrpou)
    key, password_file = _own_seal_copy(pki, seal_p12, seal_pem, target / "keys")

    trust_dir = target / "trust"
    trust_dir.mkdir(exist_ok=True)
    root = load_certificates(pki.root_cert)[0]
    shutil.copyfile(pki.root_cert, trust_dir / f"{fingerprint(root)[:16]}.pem")
    signing = {"key": _relative(key, target), "key_password_file": _relative(password_file, target)}
    if dstu:
        signing = {"key": _relative(_dstu_seal(target / "keys", trust_dir, name, edrpou), target)}

    config = {
        "organization": {
            "name": name,
            "edrpou": edrpou,
            "system_id": str(uuid.uuid4()).upper(),
            "system_name": "Mykolaiv gateway",
        },
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "database": {"url": f"sqlite:///{target / 'gateway.db'}"},
        "signing": {
            **signing,
            "tsa_url": pki.tsa_url,
            "default_level": "B-T",
        },
        "trust": {"anchors": ["trust"], "revocation": "online", "cache_dir": "cache/revocation",
                  # the development PKI serves its CRL/OCSP on loopback, refused unless allowed
                  "fetch_allow": [f"127.0.0.1:{pki.port}"]},
        "sev": {"enabled": False, "url": "", "system_id": "", "password_env": "GATEWAY_SEV_PASSWORD",
                "poll_seconds": 5.0},
        "storage": {"dir": "storage"},
        "dev_pki": {"dir": _relative(pki.dir, target), "serve": True, "port": pki.port},
    }
    for sub in ("storage", "cache/revocation"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    config_path.write_text(HEADER + tomli_w.dumps(config), encoding="utf-8")
    return config_path


def _own_seal_copy(pki: DevPki, seal_p12: Path, seal_pem: Path, keys: Path) -> tuple[Path, Path]:
    """The gateway's seal as `keys/seal.p12` under a password of its own (`keys/seal-password.txt`,
    0600), so a gateway sharing a PKI never needs the PKI's password."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

    keys.mkdir(mode=0o700, exist_ok=True)
    key, cert, chain = pkcs12.load_key_and_certificates(seal_p12.read_bytes(), pki.password())
    password = secrets.token_urlsafe(18).encode()
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(100_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    p12 = pkcs12.serialize_key_and_certificates(b"seal", key, cert, chain, encryption)  # type: ignore[arg-type]
    write_private(keys / "seal.p12", p12)
    write_private(keys / "seal-password.txt", password + b"\n")
    shutil.copyfile(seal_pem, keys / "seal.pem")
    return keys / "seal.p12", keys / "seal-password.txt"


def _dstu_seal(keys: Path, trust_dir: Path, name: str, edrpou: str) -> Path:
    """A DSTU 4145 (m=257) seal bundle (unencrypted PKCS#8 + chain, mode 0600); its root is trusted."""
    from asn1crypto import pem

    from gateway.crypto.ua.signing import write_dev_bundle

    bundle = keys / "seal-dstu.pem"
    root = write_dev_bundle(bundle, f"{name} seal (DSTU 4145)", edrpou=edrpou)
    (trust_dir / f"{fingerprint(root)[:16]}.pem").write_bytes(pem.armor("CERTIFICATE", root.dump()))
    return bundle


def _relative(path: Path, base: Path) -> str:
    """`path` relative to the configuration's folder when inside it (the folder can move)."""
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
