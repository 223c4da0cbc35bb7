"""Every API error is JSON `{"error": "..."}` (validation errors add the per-field `details`)."""

from rest_framework import exceptions
from rest_framework.views import exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
        return "Invalid input"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input"
    return str(detail)


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _first_message(exc.detail), "details": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        response.data = {"error": str(exc.detail)}
    return response
