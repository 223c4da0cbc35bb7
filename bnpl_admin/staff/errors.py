"""Error responses: never a traceback; JSON for machine clients; 503 when the database is away."""

import logging
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from bnpl_admin.staff.roles import permission_of

logger = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/", "/webhook/")


def _database_unavailable(exc) -> bool:
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )


def server_error(request, *args, **kwargs):
    """handler500: the transaction was rolled back already; say so plainly and cheaply."""
    exc = sys.exc_info()[1]
    unavailable = _database_unavailable(exc)
    status = 503 if unavailable else 500
    message = "The database is not available; try again shortly" if unavailable else "Internal server error"
    if request.path.startswith(MACHINE_PREFIXES):
        response = JsonResponse({"error": message}, status=status)
    else:
        # No request context: its processors could need the very database that is failing.
        response = HttpResponse(loader.render_to_string("500.html", {"unavailable": unavailable}), status=status)
    if unavailable:
        response["Retry-After"] = "5"
    return response


def not_found(request, exception=None):
    if request.path.startswith(MACHINE_PREFIXES):
        return JsonResponse({"error": "Not found"}, status=404)
    return render(request, "404.html", status=404)


def permission_denied(request, exception=None):
    """handler403: one log line saying who was refused what (django.request's own record of it,
    with a traceback, is dropped by staff.logging.WithoutPermissionDeniedTraceback)."""
    user = getattr(request, "user", None)
    match = request.resolver_match
    logger.warning(
        "Permission denied: user=%s path=%s permission=%s",
        user.get_username() if user is not None and user.is_authenticated else "-",
        request.path,
        (permission_of(match.func) if match else "") or "-",
    )
    if request.path.startswith(MACHINE_PREFIXES):
        return JsonResponse({"error": "Permission denied"}, status=403)
    return render(request, "403.html", status=403)


def bad_request(request, exception=None):
    """handler400 (a request Django finds suspicious: a redirect address over its length limit, too
    many form fields, ...): the staff's own page, or JSON for machine clients, not Django's bare text."""
    if request.path.startswith(MACHINE_PREFIXES):
        return JsonResponse({"error": "Bad request"}, status=400)
    return render(request, "400.html", status=400)
