"""EDRPOU codes (ЄДРПОУ): the 8-digit registry codes that identify Ukrainian legal entities.

The eighth digit is a check digit (weights 1..7, or 7,1,2,3,4,5,6 for codes from 30000000 up to
60000000, sum modulo 11, recomputed with every weight plus 2 when that is 10); python-stdnum's
`stdnum.ua.edrpou` computes it, as it does for many other registries.

Some codes used in the SEV test environment fail the check, so callers decide whether a failing
check digit is an error (`validate(code, check_digit=True)`) or only a warning (`is_valid`).
"""

from __future__ import annotations

from stdnum.ua import edrpou as stdnum_edrpou

from gateway.errors import GatewayError


class EdrpouError(GatewayError):
    """An EDRPOU code is malformed or its check digit is wrong."""


def check_digit(first_seven: str) -> int:
    """The check digit of a code whose first seven digits are given."""
    if len(first_seven) != 7 or not first_seven.isascii() or not first_seven.isdigit():
        raise EdrpouError(f"EDRPOU prefix must be 7 digits, got {first_seven!r}")
    return int(stdnum_edrpou.calc_check_digit(first_seven))


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
