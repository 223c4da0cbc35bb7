"""Log formatting: JSON in production, and a last line of defence against raw personal data.

Masking happens when a line is formatted: the log record itself is left as it is for any other
handler. The JSON formatter masks each value before it is serialised, so a masked line always
parses; the plain formatter masks the formatted line.
"""

import datetime
import logging

from pythonjsonlogger.json import JsonFormatter

from bnpl_admin.customers.masking import mask_free_text


def mask_value(value):
    """A log field made safe to serialise: text masked, containers walked, other objects (a
    request, say, whose repr holds its path and query) turned into masked text."""
    if value is None or isinstance(value, bool | int | float | datetime.date):
        return value
    if isinstance(value, str):
        return mask_free_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return mask_free_text(str(value))


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_free_text(super().format(record))


class RequestJsonFormatter(JsonFormatter):
    """One JSON object per line with the request fields (request_id, user, duration_ms, ...)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", True)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def process_log_record(self, log_data):
        return {key: mask_value(value) for key, value in log_data.items()}


class WithoutPermissionDeniedTraceback(logging.Filter):
    """Drops django.request's record of a refused page (a traceback at WARNING for every 403):
    the 403 handler logs the refusal in one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (getattr(record, "status_code", None) == 403 and record.exc_info)
