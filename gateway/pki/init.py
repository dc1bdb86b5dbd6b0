"""`gateway init`: a ready-to-run development gateway folder (configuration, PKI, trust, storage)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import tomli_w

from gateway.errors import GatewayError
from gateway.pki.dev import create_dev_pki, organization_seal
from gateway.signing.certificates import fingerprint, load_certificates

HEADER = """\
# Development configuration written by `gateway init` — NEVER for production.
# Every key can be overridden from the environment as GATEWAY_<SECTION>__<KEY>.
"""


def init_gateway(
    target: Path, *, name: str, edrpou: str, port: int, pki_dir: Path | None = None, force: bool = False
) -> Path:
    """Write `target/gateway.toml` with a development PKI (own, or the shared one in `pki_dir`)."""
    target = target.resolve()
    config_path = target / "gateway.toml"
    if config_path.exists() and not force:
        raise GatewayError(f"{config_path} exists already (use --force to overwrite)")
    target.mkdir(parents=True, exist_ok=True)
    pki_dir = (pki_dir or target / "pki").resolve()
    pki = create_dev_pki(pki_dir, name=name, edrpou=edrpou, port=port + 1)
    seal_p12, _seal_pem = organization_seal(pki, name=name, edrpou=edrpou)

    trust_dir = target / "trust"
    trust_dir.mkdir(exist_ok=True)
    root = load_certificates(pki.root_cert)[0]
    shutil.copyfile(pki.root_cert, trust_dir / f"{fingerprint(root)[:16]}.pem")

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
            "key": str(seal_p12),
            "key_password_file": str(pki.password_file),
            "tsa_url": pki.tsa_url,
            "default_level": "B-T",
        },
        "trust": {"anchors": ["trust"], "revocation": "online", "cache_dir": "cache/revocation"},
        "sev": {"enabled": False, "url": "", "system_id": "", "password_env": "GATEWAY_SEV_PASSWORD",
                "poll_seconds": 5.0},
        "storage": {"dir": "storage"},
        "dev_pki": {"dir": str(pki.dir), "serve": True, "port": pki.port},
    }
    for sub in ("storage", "cache/revocation"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    config_path.write_text(HEADER + tomli_w.dumps(config), encoding="utf-8")
    return config_path
