"""Log formatting: JSON in production, and a last line of defence against raw personal data.

The masking is done when a line is formatted, on the formatted text: the log record itself is
left as it is for any other handler.
"""

import logging
import re

from pythonjsonlogger.json import JsonFormatter

# Runs of 8+ digits (phones, cards, passport digits), optionally with a leading + or spaced in
# groups, are masked in every log line, whatever logged them.
_LONG_NUMBER = re.compile(r"\+?\d(?:[ \-]?\d){7,}")
# Passport-like tokens: series letters then 5 to 10 digits (AA1234567).
_PASSPORT_LIKE = re.compile(r"\b([A-Za-z]{1,3})\d{5,10}\b")


def mask_personal_data(text: str) -> str:
    text = _LONG_NUMBER.sub(lambda m: m.group(0)[:3] + "****", text)
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
