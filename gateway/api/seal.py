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
        from gateway.errors import KeyLoadError
        from gateway.signing.cades import check_cades_level
        from gateway.signing.keys import certificate_validity_problem, signing_key_from_config

        level = check_cades_level(cfg.signing.default_level or ("B-T" if cfg.signing.tsa_url else "B-B"))
        if level == "B-B":
            log.warning("letters are sealed at B-B, without a qualified timestamp ([signing] tsa_url)")
        key = signing_key_from_config(cfg)
        problem = certificate_validity_problem(key)
        if problem and not cfg.signing.allow_expired:
            key.close()
            raise KeyLoadError(f"{problem} ([signing] allow_expired = true to seal anyway)")
        if problem:
            log.warning("%s; sealing anyway ([signing] allow_expired)", problem)
        return cls(key, level, cfg.signing.tsa_url)

    @property
    def certificate_der(self) -> bytes:
        return self.key.certificate.dump()

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CAdES signature of `data` at the configured level (DER)."""
        from gateway.signing.cades import CadesOptions, sign_cades_bytes

        return sign_cades_bytes(self.key, data, CadesOptions(level=self.level, tsa_url=self.tsa_url or None))
