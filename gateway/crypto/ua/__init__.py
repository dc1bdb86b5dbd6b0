"""Ukrainian national cryptography: GOST 34.311-95, Kupyna (DSTU 7564), DSTU 4145-2002.

Importing this package registers the OIDs with asn1crypto (certificates with DSTU 4145 keys parse)
and, when the validation engine is present, the digest and signature algorithms with
`gateway.signing.algorithms` (gost34311, kupyna256/384/512, dstu4145).
Everything is pure Python: verification is not constant-time (public data); signing draws a fresh
nonce from `secrets` for every signature.
"""

from __future__ import annotations

from gateway.crypto.ua.asn1 import register as _register_asn1

_register_asn1()


def _register_algorithms() -> None:
    try:
        from gateway.signing import algorithms
    except ImportError:  # the package is usable on its own
        return
    from gateway.crypto.ua.plugin import register_with
    register_with(algorithms)


_register_algorithms()
