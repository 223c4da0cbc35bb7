"""Request-level concerns: a request id and one access log line per request, no caching of staff
pages, and the idle timeout of a session pushed back."""

import logging
import re
import time
import uuid

from django.conf import settings
from django.utils.cache import add_never_cache_headers, patch_cache_control

access_log = logging.getLogger("bnpl.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class RequestLogMiddleware:
    """Give each request an id (kept from a sane `X-Request-ID`, or new), echo it back, and log
    method, path (never the query string: it may hold search text), status, user and timing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        response["X-Request-ID"] = request.request_id
        user = getattr(request, "user", None)
        access_log.info(
            "%s %s %s in %.1fms",  # "in": a status and a duration never read as one number
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "request_id": request.request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 1),
                "user": user.get_username() if user is not None and user.is_authenticated else None,
            },
        )
        return response


class NoStoreForStaffMiddleware:
    """Pages shown to a signed-in user hold customer data: never cached by a browser or a proxy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
            patch_cache_control(response, private=True)
        return response


class SessionKeepAliveMiddleware:
    """Sessions end after SESSION_COOKIE_AGE without a request; each request pushes that back,
    but the session is written at most once a minute instead of on every page view."""

    REFRESH_EVERY = 60  # seconds

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:  # no session to keep (e.g. an API call)
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            if now - request.session.get("_seen", 0) >= self.REFRESH_EVERY:
                request.session["_seen"] = now  # modified: saved, cookie and expiry renewed
        return self.get_response(request)
