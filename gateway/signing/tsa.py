"""RFC 3161 time stamping with every token checked before it is embedded.

pyhanko's HTTP client already matches the nonce; `CheckedTimeStamper` also insists that the token's
message imprint is the one we asked for, that the TSA's signature over the TSTInfo verifies with the
TSA certificate carried in the token, and that this certificate is meant for time stamping.
"""

from __future__ import annotations

import hashlib

from asn1crypto import cms, tsp, x509
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError

from gateway.errors import SigningError

TSA_TIMEOUT_SECONDS = 15


def _tsa_cert(signed_data: cms.SignedData, signer_info: cms.SignerInfo) -> x509.Certificate:
    sid = signer_info["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if (cert.issuer == sid.chosen["issuer"]
                    and cert.serial_number == sid.chosen["serial_number"].native):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise SigningError("the TSA's token does not carry the TSA certificate")


def check_timestamp_token(token: cms.ContentInfo, message_digest: bytes, md_algorithm: str) -> tsp.TSTInfo:
    """Verify a time-stamp token against the digest it should cover; SigningError when it does not."""
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    try:
        if token["content_type"].native != "signed_data":
            raise SigningError("the TSA answered with something other than a SignedData token")
        sd = token["content"]
        encap = sd["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise SigningError("the TSA's token does not hold a TSTInfo")
        tst_info: tsp.TSTInfo = encap["content"].parsed
        imprint = tst_info["message_imprint"]
        if (imprint["hash_algorithm"]["algorithm"].native != md_algorithm
                or imprint["hashed_message"].native != message_digest):
            raise SigningError("the TSA time-stamped a different digest than requested")
        signer_infos = sd["signer_infos"]
        if len(signer_infos) != 1:
            raise SigningError("the TSA's token must have exactly one signer")
        si = signer_infos[0]
        cert = _tsa_cert(sd, si)
        eku = cert.extended_key_usage_value
        if eku is None or "time_stamping" not in eku.native:
            raise SigningError("the TSA certificate is not meant for time stamping")
        digest_name = si["digest_algorithm"]["algorithm"].native
        content_digest = hashlib.new(digest_name, bytes(encap["content"])).digest()
        intact, valid = validate_sig_integrity(si, cert, "tst_info", content_digest)
    except SigningError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise SigningError(f"the TSA's token is malformed ({type(exc).__name__})") from None
    if not (intact and valid):
        raise SigningError("the TSA's token signature does not verify")
    return tst_info


class CheckedTimeStamper(HTTPTimeStamper):
    """pyhanko's HTTP time stamper with `check_timestamp_token` applied to every answer."""

    def __init__(self, url: str, timeout: float = TSA_TIMEOUT_SECONDS):
        if not url.startswith(("http://", "https://")):
            raise SigningError(f"TSA URL must be http(s): {url}")
        super().__init__(url, timeout=timeout)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError as exc:
            cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ else ""
            raise SigningError(f"the TSA at {self.url} failed: {str(exc).splitlines()[0]}{cause}") from None
        except (OSError, TimeoutError) as exc:
            raise SigningError(f"cannot reach the TSA at {self.url} ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001 - aiohttp's errors are not OSErrors; keep one line
            if type(exc).__module__.startswith("aiohttp"):
                raise SigningError(f"cannot reach the TSA at {self.url} ({type(exc).__name__})") from None
            raise
        check_timestamp_token(token, message_digest, md_algorithm)
        return token
