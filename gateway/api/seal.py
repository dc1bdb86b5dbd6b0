"""The organization's seal: loaded once at start-up, used for every letter and /signatures call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gateway.config import Config

log = logging.getLogger(__name__)


@dataclass
class Seal:
    key: Any  # gateway.signing.keys.SigningKey
    level: str
    tsa_url: str

    @classmethod
    def from_config(cls, cfg: Config) -> Seal:
        from gateway.signing.cades import check_level
        from gateway.signing.keys import key_password, load_signing_key, needs_password

        spec = cfg.signing.key
        if not spec.startswith("pkcs11:"):
            spec = str(cfg.resolve(spec))
        password = key_password(cfg.signing, None, resolve=cfg.resolve) if needs_password(spec) else None
        level = check_level(cfg.signing.default_level or ("B-T" if cfg.signing.tsa_url else "B-B"))
        if level == "B-B":
            log.warning("letters are sealed at B-B, without a qualified timestamp ([signing] tsa_url)")
        return cls(load_signing_key(spec, password), level, cfg.signing.tsa_url)

    @property
    def certificate_der(self) -> bytes:
        return self.key.certificate.dump()

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CAdES signature of `data` at the configured level (DER)."""
        from gateway.signing.cades import CadesOptions, sign_cades_bytes

        return sign_cades_bytes(self.key, data, CadesOptions(level=self.level, tsa_url=self.tsa_url or None))
