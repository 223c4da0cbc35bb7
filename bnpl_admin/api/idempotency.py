"""`Idempotency-Key` on POST, with Stripe's semantics (and the IETF draft's status codes).

- first request: the key is recorded IN_FLIGHT (committed at once), the work runs, and the
  response is stored with the key in the same transaction as the work;
- a replay with the same body: the stored status and body, with `Idempotent-Replayed: true`;
- the same key with another body: 422; while the first request is still running: 409;
- a request refused by validation (400) or failing (5xx) is not stored: the key is released
  and may be used again.
Keys live 24 hours (`purge_expired` runs on a schedule); an IN_FLIGHT key whose request died
without cleaning up is taken over after `ABANDONED_AFTER`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.response import Response

from bnpl_admin.api.models import IdempotencyKey
from bnpl_admin.text import storable, stored_form

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
# A key: 1 to 255 printable ASCII characters; the spaces and tabs around it (which HTTP servers
# strip anyway) are not part of it. The schema publishes this pattern (api.schema).
KEY_MAX_LENGTH = IdempotencyKey._meta.get_field("key").max_length
KEY = re.compile(rf"[ \t]*([!-~](?:[ -~]{{0,{KEY_MAX_LENGTH - 2}}}[!-~])?)[ \t]*")
TTL = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=2)
STORED_STATUSES = {200, 201, 403, 404, 409}
_ENDPOINT_LENGTH = IdempotencyKey._meta.get_field("endpoint").max_length


def stored_endpoint(endpoint: str) -> str:
    """The endpoint as its keys are stored: itself, or, when a client's id in the path makes it
    longer than the column or unstorable (a NUL), its start and a digest of the whole: still one
    value per endpoint, and the request goes on to the answer its handler gives such an id."""
    if len(endpoint) <= _ENDPOINT_LENGTH and storable(endpoint):
        return endpoint
    digest = hashlib.sha256(endpoint.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{stored_form(endpoint[: _ENDPOINT_LENGTH - len(digest) - 1])}#{digest}"


def fingerprint(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _error(message: str, status: int) -> Response:
    return Response({"error": message}, status=status)


def _claim(*, owner, endpoint: str, key: str, print_: str) -> IdempotencyKey | Response:
    """Record the key IN_FLIGHT, or answer from (or about) the request that already holds it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                owner=owner, endpoint=endpoint, key=key, fingerprint=print_, created_at=now, locked_at=now
            )
    except IntegrityError:
        pass
    with transaction.atomic():
        existing = IdempotencyKey.objects.select_for_update().filter(owner=owner, endpoint=endpoint, key=key).first()
        if existing is None:  # released meanwhile: try once more from the start
            return _claim(owner=owner, endpoint=endpoint, key=key, print_=print_)
        if existing.created_at < now - TTL:
            existing.fingerprint, existing.state, existing.created_at, existing.locked_at = (
                print_,
                IdempotencyKey.State.IN_FLIGHT,
                now,
                now,
            )
            existing.response_status = existing.response_body = None
            existing.save()
            return existing
        if existing.fingerprint != print_:
            return _error("Idempotency-Key was already used with a different request body", 422)
        if existing.state == IdempotencyKey.State.COMPLETED:
            response = Response(existing.response_body, status=existing.response_status)
            response["Idempotent-Replayed"] = "true"
            return response
        if existing.locked_at > now - ABANDONED_AFTER:
            return _error("A request with this Idempotency-Key is still being processed", 409)
        existing.locked_at = now  # the first request died without cleaning up: take over
        existing.save(update_fields=["locked_at"])
        return existing


def idempotent(endpoint: str):
    """Decorate an APIView's `post`: run it once per Idempotency-Key, under `endpoint` formatted
    with the URL's arguments. Its errors become their responses (`view.handle_exception`, DRF's
    own path) inside the transaction, so a refusal is stored and replayed like a success."""

    def decorate(post):
        @functools.wraps(post)
        def run(view, request, **kwargs):
            def answer() -> Response:
                try:
                    return post(view, request, **kwargs)
                except Exception as exc:
                    return view.handle_exception(exc)  # answers the exception, or raises it again

            return run_idempotent(request, endpoint=endpoint.format(**kwargs), handler=answer)

        return run

    return decorate


def run_idempotent(request, *, endpoint: str, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per (token owner, endpoint, Idempotency-Key); without the header, just run it."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    match = KEY.fullmatch(key)
    if match is None:
        return _error(f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} printable ASCII characters", 400)
    key = match[1]
    claimed = _claim(owner=request.user, endpoint=stored_endpoint(endpoint), key=key, print_=fingerprint(request.data))
    if isinstance(claimed, Response):
        return claimed
    try:
        with transaction.atomic():
            response = handler()
            if response.status_code in STORED_STATUSES:
                claimed.state = IdempotencyKey.State.COMPLETED
                claimed.response_status = response.status_code
                claimed.response_body = response.data
                claimed.save(update_fields=["state", "response_status", "response_body"])
            else:
                claimed.delete()
        return response
    except BaseException:
        _release(claimed)
        raise


def _release(claimed: IdempotencyKey) -> None:
    """Free the key of a request that failed, so that the client's retry runs it again. If the
    failure was the database connection itself, try once on a fresh connection; failing that, the
    key is taken over after ABANDONED_AFTER."""
    for attempt in range(2):
        try:
            IdempotencyKey.objects.filter(pk=claimed.pk, state=IdempotencyKey.State.IN_FLIGHT).delete()
            return
        except DatabaseError:
            if attempt == 0 and not connection.in_atomic_block:
                connection.close()
                continue
            logger.warning("Could not release Idempotency-Key %s; it will be taken over later", claimed.key)
            return


def purge_expired() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
