"""Log formatting: JSON in production, and a last line of defence against raw personal data."""

import logging
import re

from pythonjsonlogger.json import JsonFormatter

# Runs of 8+ digits (phones, cards, passport digits), optionally with a leading + or spaced in
# groups, are masked in every log message, whatever logged them.
_LONG_NUMBER = re.compile(r"\+?\d(?:[ \-]?\d){7,}")
# Passport-like tokens: series letters then 5 to 10 digits (AA1234567).
_PASSPORT_LIKE = re.compile(r"\b([A-Za-z]{1,3})\d{5,10}\b")


def _mask(text: str) -> str:
    text = _LONG_NUMBER.sub(lambda m: m.group(0)[:3] + "****", text)
    return _PASSPORT_LIKE.sub(lambda m: m.group(1) + "****", text)


class MaskPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class RequestJsonFormatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", True)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)
