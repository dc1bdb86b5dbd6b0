"""The organization's seal for outgoing letters: loaded once, used for every detached signature."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from gateway.config import Config

log = logging.getLogger(__name__)


@dataclass
class Seal:
    key: Any  # gateway.signing.keys.SigningKey
    tsa_url: str

    @classmethod
    def from_config(cls, cfg: Config) -> Seal:
        from gateway.signing.keys import key_password, load_signing_key, needs_password

        spec = cfg.signing.key
        if not spec.startswith("pkcs11:"):
            spec = str(cfg.resolve(spec))
        password = key_password(cfg.signing, None, resolve=cfg.resolve) if needs_password(spec) else None
        if not cfg.signing.tsa_url:
            log.warning("no [signing] tsa_url: letters are sealed without a timestamp (B-B)")
        return cls(load_signing_key(spec, password), cfg.signing.tsa_url)

    @property
    def certificate_der(self) -> bytes:
        return self.key.certificate.dump()

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CAdES signature (B-T with the configured TSA, else B-B), DER."""
        from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

        timestamper = RequestsHTTPTimeStamper(self.tsa_url, timeout=20) if self.tsa_url else None
        signed = asyncio.run(self.key.signer.async_sign_general_data(
            data, self.key.default_digest, detached=True, use_cades=True, timestamper=timestamper))
        return signed.dump()
