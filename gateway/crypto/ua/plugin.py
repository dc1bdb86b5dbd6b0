"""Registration of the Ukrainian algorithms with the validation engine's algorithm registry."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from asn1crypto import keys

from gateway.crypto.ua import oids
from gateway.crypto.ua.verify import HASHES, verify_signature


def _make_verify(sig_oid: str):
    def verify(info: keys.PublicKeyInfo, signature: bytes, data: bytes, hash_name: str, _params: Any) -> bool:
        return verify_signature(info, signature, data, hash_name, sig_oid)

    return verify


def register_with(algorithms: ModuleType) -> None:
    for oid, name in oids.DIGEST_OIDS.items():
        algorithms.register_digest(oid, name, HASHES[name])
    for oid in oids.SIGNATURE_OIDS:
        # the SignerInfo's digest algorithm names the hash (GOST 34.311 or Kupyna-256/384/512)
        algorithms.register_signature(oid, "dstu4145", _make_verify(oid))
    # certificates, CRLs and OCSP responses signed with DSTU 4145 (pyhanko-certvalidator hook)
    set_validator = getattr(algorithms, "set_chain_signature_validator", None)
    if set_validator is not None:
        set_validator(_ChainValidator())


class _ChainValidator:
    """pyhanko-certvalidator's SignatureValidator interface, importing it only when a chain is checked
    (registration happens on import of gateway.crypto.ua, also for code that never validates chains)."""

    def validate_signature(self, *args: Any, **kwargs: Any) -> None:
        from gateway.crypto.ua.certvalidator import UA_SIGNATURE_VALIDATOR

        UA_SIGNATURE_VALIDATOR.validate_signature(*args, **kwargs)
