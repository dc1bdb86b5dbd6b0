"""The organization's seal: loaded once at start-up, used for every letter and /signatures call.

`ActiveSeal` follows the keys registry: on each use it checks which key is active (one indexed
query) and opens a newly activated key once, so `gateway keys activate` needs no restart. Without
an active registry key it uses [signing] key.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gateway.config import Config
from gateway.store import keyregistry
from gateway.store.db import Database
from gateway.store.models import SealKey

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

    def current(self) -> Seal:
        """This seal (the interface of `ActiveSeal.current`)."""
        return self

    @property
    def certificate_der(self) -> bytes:
        return self.key.certificate.dump()

    def sign_detached(self, data: bytes) -> bytes:
        """A detached CAdES signature of `data` at the configured level (DER)."""
        from gateway.signing.cades import CadesOptions, sign_cades_bytes

        return sign_cades_bytes(self.key, data, CadesOptions(level=self.level, tsa_url=self.tsa_url or None))


class ActiveSeal:
    """The seal in force: the registry's active key, else the configured one (the same interface
    as `Seal` for the API and the workers). Each use reads the registry in a session of its own:
    never use it inside an open transaction (on SQLite the two would wait for each other)."""

    def __init__(self, cfg: Config, db: Database, fallback: Seal | None) -> None:
        self.cfg, self.db, self.fallback = cfg, db, fallback
        self.level = fallback.level if fallback else _default_level(cfg)
        self.tsa_url = cfg.signing.tsa_url
        self._lock = threading.Lock()
        self._loaded: tuple[int, Seal] | None = None

    def current(self) -> Seal:
        with self.db.session() as s:
            row = s.scalars(select(SealKey).where(SealKey.active.is_(True)).limit(1)).first()
        if row is None:
            if self.fallback is None:
                raise keyregistry.RegistryError("no seal: no active key in the registry and no [signing] key")
            return self.fallback
        with self._lock:
            if self._loaded is None or self._loaded[0] != row.id:
                previous = self._loaded
                self._loaded = (row.id, Seal(keyregistry.load(self.cfg, row), self.level, self.tsa_url))
                log.warning("seal changed to registry key %s (%s)", row.id, row.label)
                if previous is not None:
                    previous[1].key.close()
            return self._loaded[1]

    @property
    def key(self) -> Any:
        return self.current().key

    @property
    def certificate_der(self) -> bytes:
        return self.current().certificate_der

    def sign_detached(self, data: bytes) -> bytes:
        return self.current().sign_detached(data)


def _default_level(cfg: Config) -> str:
    from gateway.signing.cades import check_level

    return check_level(cfg.signing.default_level or ("B-T" if cfg.signing.tsa_url else "B-B"))
