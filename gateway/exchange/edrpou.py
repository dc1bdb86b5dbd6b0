"""EDRPOU codes (ЄДРПОУ): the 8-digit registry codes that identify Ukrainian legal entities.

The eighth digit is a check digit: weights 1..7 over the first seven digits (7,1,2,3,4,5,6 for codes
between 30000000 and 60000000), sum modulo 11; when that is 10 the sum is recomputed with every
weight increased by 2; the check digit is (sum mod 11) mod 10.

Some codes used in the SEV test environment fail the check, so callers decide whether a failing
check digit is an error (`validate(code, check_digit=True)`) or only a warning (`is_valid`).
"""

from __future__ import annotations

from gateway.errors import GatewayError

_WEIGHTS_LOW = (1, 2, 3, 4, 5, 6, 7)
_WEIGHTS_MID = (7, 1, 2, 3, 4, 5, 6)


class EdrpouError(GatewayError):
    """An EDRPOU code is malformed or its check digit is wrong."""


def check_digit(first_seven: str) -> int:
    """The check digit of a code whose first seven digits are given."""
    if len(first_seven) != 7 or not first_seven.isascii() or not first_seven.isdigit():
        raise EdrpouError(f"EDRPOU prefix must be 7 digits, got {first_seven!r}")
    digits = [int(c) for c in first_seven]
    value = int(first_seven) * 10
    weights = _WEIGHTS_MID if 30000000 < value < 60000000 else _WEIGHTS_LOW
    total = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    if total == 10:
        total = sum(d * (w + 2) for d, w in zip(digits, weights, strict=True)) % 11
    return total % 10


def is_well_formed(code: str) -> bool:
    """Eight ASCII digits."""
    return len(code) == 8 and code.isascii() and code.isdigit()


def is_valid(code: str) -> bool:
    """Eight digits whose last one is the right check digit."""
    return is_well_formed(code) and check_digit(code[:7]) == int(code[7])


def validate(code: str, *, check_digit: bool = True) -> str:
    """Return `code` stripped, or raise EdrpouError; the check digit is verified only if asked."""
    code = code.strip()
    if not is_well_formed(code):
        raise EdrpouError(f"EDRPOU code must be 8 digits, got {code!r}")
    if check_digit and not is_valid(code):
        raise EdrpouError(f"EDRPOU code {code} has a wrong check digit")
    return code
