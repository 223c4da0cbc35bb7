"""Log formatting: JSON in production, and a last line of defence against raw personal data.

The masking is done when a line is formatted, on the formatted text: the log record itself is
left as it is for any other handler.
"""

import logging
import re

from pythonjsonlogger.json import JsonFormatter

# What a phone, card or passport number looks like in free text: an international number
# (+ then digits, spaces, dashes), a run of 8+ digits, a card in 4-digit groups, or passport series
# letters and digits. Dates and times (2026-11-26 13:02:52) do not match, nor do ids, which are
# left whole: 32-character hexadecimal ones (uuid4().hex: request ids, django-q process names) and
# UUIDs in their 8-4-4-4-12 form (plans and refunds, in URLs), whatever digit runs they hold.
_PHONE = re.compile(r"\+\d[\d \-]{6,}\d")
_HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])((?=[0-9]*[a-f])[0-9a-f]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})(?![0-9A-Za-z])"
)
_LONG_NUMBER = re.compile(r"(?<!\d)\d{8,}(?!\d)")
_CARD_GROUPS = re.compile(r"(?<!\d)\d{4}(?:[ \-]\d{4}){2,3}(?!\d)")
_PASSPORT_LIKE = re.compile(r"\b([A-Za-z]{1,3})\d{5,10}\b")


def mask_personal_data(text: str) -> str:
    # Split on the hex ids (a capturing group: they sit at the odd positions) and mask the rest.
    return "".join(part if i % 2 else _mask(part) for i, part in enumerate(_HEX_ID.split(text)))


def _mask(text: str) -> str:
    for pattern in (_PHONE, _CARD_GROUPS, _LONG_NUMBER):
        text = pattern.sub(lambda m: m.group(0)[:3] + "****", text)
    return _PASSPORT_LIKE.sub(lambda m: m.group(1) + "****", text)


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_personal_data(super().format(record))


class RequestJsonFormatter(JsonFormatter):
    """One JSON object per line with the request fields (request_id, user, duration_ms, ...)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", True)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return mask_personal_data(super().format(record))
