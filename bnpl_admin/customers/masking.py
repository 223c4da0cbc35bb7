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


def as_printed(field: str, value: str) -> str:
    """A revealed value grouped as people read it: a card number in fours (`8600 0018 5830 3568`),
    an Uzbek phone number as `+998 90 123 45 67`; anything else as stored."""
    cleaned = _clean(value)
    if field == "card_number" and _CARD.match(cleaned):
        return " ".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))
    if field == "phone_number" and re.fullmatch(r"\+998\d{9}", cleaned):
        return f"{cleaned[:4]} {cleaned[4:6]} {cleaned[6:9]} {cleaned[9:11]} {cleaned[11:]}"
    return value


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


# Kept whole, whatever digit runs they hold: hexadecimal ids (uuid4().hex request ids, django-q
# process names, UUIDs of plans and refunds), ISO dates and times.
_KEPT_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])("
    r"(?=[0-9]*[a-f])[0-9a-f]{32}"
    r"|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r")(?![0-9A-Za-z])"
)
# A number as people write it: digits separated by spaces, dashes, dots, brackets or a "+" (a
# space in a query string). Eight digits or more is a phone (with or without its country code),
# a card or an account number: all but the first three digits are hidden.
_SEPARATED_NUMBER = re.compile(r"(?<!\d)\d(?:[ \-.()+]{0,3}\d)+")
_MIN_DIGITS = 8
# Passport series letters and digits: AA1234567, and AA 1234567 / AA-1234567 for the two-letter
# series (not three letters and a dash: that is a customer id, usr-1000000).
_PASSPORT_IN_TEXT = re.compile(r"\b([A-Za-z]{1,3})\d{5,10}\b|(?<![0-9A-Za-z])([A-Za-z]{2})[ .\-]\d{7}(?!\d)")
# Percent-escapes of printable ASCII (digits, "+", space, "-", ...) are read as what they stand for,
# so that a number in a URL path or query is masked like one typed; other escapes stay as they are.
_PRINTABLE_ESCAPE = re.compile(r"%(2[0-9A-Fa-f]|[3-6][0-9A-Fa-f]|7[0-9A-Ea-e])")


def mask_free_text(text: str) -> str:
    """Free text (a log line, a message, a note) with every phone-, card- or passport-like number
    in it masked, however it is written; ids, dates and times are left readable."""
    text = _PRINTABLE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    # Split on the kept tokens (a capturing group: they sit at the odd positions), mask the rest.
    return "".join(part if i % 2 else _mask_numbers(part) for i, part in enumerate(_KEPT_IN_TEXT.split(text)))


def _mask_numbers(text: str) -> str:
    text = _PASSPORT_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + "****", text)
    return _SEPARATED_NUMBER.sub(_mask_number, text)


def _mask_number(match: re.Match) -> str:
    digits = [ch for ch in match.group(0) if ch.isdigit()]
    if len(digits) < _MIN_DIGITS:
        return match.group(0)
    return "".join(digits[:3]) + "****"
