"""DSTU 4145 in pyhanko-certvalidator: a SignatureValidator for `ValidationContext(signature_validator=...)`.

Certificates, CRLs and OCSP responses signed with DSTU 4145 are checked here; every other algorithm
goes to pyhanko-certvalidator's default implementation.
"""

from __future__ import annotations

from asn1crypto import algos
from asn1crypto.keys import PublicKeyInfo
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from gateway.crypto.ua import oids
from gateway.crypto.ua.verify import verify_signature


class UASignatureValidator(DefaultSignatureValidator):
    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        oid = signature_algorithm["algorithm"].dotted
        if oid not in oids.SIGNATURE_OIDS:
            super().validate_signature(signature, signed_data, public_key_info, signature_algorithm,
                                       context)
            return
        hash_name = oids.SIGNATURE_HASH.get(oid, "gost34311")  # the signature OID fixes the digest
        if not verify_signature(public_key_info, signature, signed_data, hash_name, oid):
            raise InvalidSignature("DSTU 4145 signature does not verify")


UA_SIGNATURE_VALIDATOR = UASignatureValidator()
