"""Check digits of card numbers (Luhn) and IBANs (ISO 13616 mod 97), shared by the generator and the rules.

The generator uses them to make valid numbers, the rule-based detector to reject look-alikes (an order
number, a random 16-digit string), so both agree on what counts as a card number or an IBAN.
"""

from __future__ import annotations

import re

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# IBAN length per country (ISO 13616 registry: the countries the generator uses and common neighbours)
IBAN_LENGTHS: dict[str, int] = {
    "AT": 20, "BE": 16, "BR": 29, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "GR": 27, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}  # fmt: skip
_BBAN = re.compile(r"[A-Z0-9]{1,30}")


def luhn_is_valid(digits: str) -> bool:
    """True when `digits` (ASCII digits only, at least 2, no separators) passes the Luhn check."""
    if len(digits) < 2 or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:  # every second digit from the right is doubled
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mod97(alnum: str) -> int:
    """The ISO 7064 MOD 97-10 remainder of an alphanumeric string (A=10 ... Z=35)."""
    return int("".join(str(int(char, 36)) for char in alnum)) % 97


def iban_is_valid(text: str) -> bool:
    """True when `text` is an IBAN: 2 letters, 2 check digits, 11-30 letters/digits (15-34 in all; spaces
    are ignored, letters may be lower case), the length of its country where `IBAN_LENGTHS` knows it, and
    the mod-97 remainder of the rearranged number is 1."""
    compact = text.replace(" ", "").upper()
    if not _IBAN.fullmatch(compact):
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    return _mod97(compact[4:] + compact[:4]) == 1


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make `country` + digits + `bban` a valid IBAN (e.g. "89" for DE and
    "370400440532013000")."""
    country, bban = country.upper(), bban.replace(" ", "").upper()
    if not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ValueError(f"country must be 2 letters, got {country!r}")
    if not _BBAN.fullmatch(bban):
        raise ValueError(f"bban must be 1-30 letters/digits, got {bban!r}")
    return f"{98 - _mod97(bban + country + '00'):02d}"


def luhn_check_digit(partial: str) -> str:
    """The digit that, appended to `partial`, makes it Luhn-valid."""
    return next(digit for digit in "0123456789" if luhn_is_valid(partial + digit))
