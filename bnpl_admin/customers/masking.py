"""Masked forms of personal data: the only place that decides what may be shown.

Every function takes anything (None, numbers, odd strings) and never raises; a value that does not
look like what it should be is masked fully.
"""

import re

FULL_MASK = "****"

# re.ASCII: other scripts' digits (Arabic-Indic, full-width) are not well-formed numbers here.
_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"^\+?(\d{8,15})$", re.ASCII)
_CARD = re.compile(r"^\d{12,19}$", re.ASCII)
_PASSPORT = re.compile(r"^([A-Z]{1,3})(\d{5,10})$", re.ASCII)


def _clean(value) -> str:
    if value is None:
        return ""
    return _SEPARATORS.sub("", str(value)).upper()


def normalize_phone(value) -> str:
    """`+998 (90) 123-45-67` -> `+998901234567`; anything else is returned cleaned but unchanged."""
    cleaned = _clean(value)
    match = _PHONE.match(cleaned)
    return f"+{match.group(1)}" if match else cleaned


def mask_phone(value) -> str:
    """`+998901234567` -> `+998****4567`: the plus sign, the first three digits, the last four."""
    cleaned = _clean(value)
    if not cleaned:
        return ""
    match = _PHONE.match(cleaned)
    if not match:
        return FULL_MASK
    digits = match.group(1)
    return f"+{digits[:3]}****{digits[-4:]}"


def mask_card_number(value) -> str:
    """`4111111111111111` -> `4111 **** **** 1111`: at most the first four and last four (PCI DSS)."""
    cleaned = _clean(value)
    if not cleaned:
        return ""
    if not _CARD.match(cleaned):
        return FULL_MASK
    return f"{cleaned[:4]} **** **** {cleaned[-4:]}"


def mask_passport(value) -> str:
    """`AA1234567` -> `AA*******`: the series letters kept, every digit hidden."""
    cleaned = _clean(value)
    if not cleaned:
        return ""
    match = _PASSPORT.match(cleaned)
    if not match:
        return FULL_MASK
    series, digits = match.groups()
    return series + "*" * len(digits)
