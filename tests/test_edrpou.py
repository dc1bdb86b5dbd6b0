"""EDRPOU check digit (sev-reference README): both weight sets and the +2 recomputation."""

import pytest

from gateway.exchange.edrpou import EdrpouError, check_digit, is_valid, validate


@pytest.mark.parametrize(
    "code",
    [
        "00032129",  # State Treasury (weights 1..7)
        "00013480",  # Ukrzaliznytsia (weights 1..7)
        "37472062",  # Ministry of Infrastructure, from the SEV samples (weights 7,1,2,...)
        "30116577",  # IT-Enterprise, from the SEV samples
        "30855996",  # State Centre of Information Resources, from the SEV samples
        "21560045",  # Ukrposhta, from the SEV samples
    ],
)
def test_known_codes_are_valid(code):
    assert is_valid(code)
    assert validate(code) == code


def test_recomputation_with_weights_plus_two():
    # 0000001x: first sum 7 -> digit 7; 0000002: 14 % 11 = 3; find a prefix whose first sum is 10
    prefix = next(
        f"{n:07d}"
        for n in range(1, 10**6)
        if sum(int(c) * w for c, w in zip(f"{n:07d}", range(1, 8), strict=True)) % 11 == 10
    )
    digits = [int(c) for c in prefix]
    expected = sum(d * (w + 2) for d, w in zip(digits, range(1, 8), strict=True)) % 11 % 10
    assert check_digit(prefix) == expected


@pytest.mark.parametrize("prefix", ["2999999", "3000000", "3000001", "5999999", "6000000", "6000001"])
def test_weights_change_exactly_at_30_and_60_million(prefix):
    """The band 30000000 <= code < 60000000 takes the weights 7,1,2,...: of the ten codes with a
    prefix at either edge, exactly one is valid, the one those weights give."""
    first = [int(c) for c in prefix]
    weights = (7, 1, 2, 3, 4, 5, 6) if "3000000" <= prefix < "6000000" else (1, 2, 3, 4, 5, 6, 7)
    total = sum(d * w for d, w in zip(first, weights, strict=True)) % 11
    if total == 10:
        total = sum(d * (w + 2) for d, w in zip(first, weights, strict=True)) % 11
    assert [d for d in range(10) if is_valid(f"{prefix}{d}")] == [total % 10]


def test_wrong_check_digit_is_rejected_only_when_asked():
    assert not is_valid("37472063")
    with pytest.raises(EdrpouError, match="check digit"):
        validate("37472063")
    assert validate("37472063", check_digit=False) == "37472063"


@pytest.mark.parametrize("code", ["", "1234567", "123456789", "1234567a", "١٢٣٤٥٦٧٨"])
def test_malformed_codes(code):
    assert not is_valid(code)
    with pytest.raises(EdrpouError, match="8 digits"):
        validate(code, check_digit=False)
