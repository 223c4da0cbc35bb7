"""POST /webhook/refund-status/: the merchants' signed refund-status webhook (the external contract)."""

import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from bnpl_admin.webhooks.services import InvalidPayload, InvalidSignature, authenticate, receive_event

logger = logging.getLogger(__name__)

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _read_body(request) -> bytes | None:
    """The raw body, or None when it is over the limit (checked before reading it all)."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if not request.META.get("CONTENT_LENGTH") and request.META.get("wsgi.input_terminated"):
        # A chunked body has no Content-Length, so Django's request stream reads it as empty; the
        # server (gunicorn) has de-chunked wsgi.input and marks it as ending where the body ends.
        stream, body = request.META["wsgi.input"], b""
        while len(body) <= limit and (chunk := stream.read(limit + 1 - len(body))):
            body += chunk
        return None if len(body) > limit else body
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt  # authenticated by the merchant's signature, not by a session
@login_not_required
def refund_status(request):
    if request.method != "POST":
        response = _error("Method not allowed", 405)
        response["Allow"] = "POST"
        return response
    body = _read_body(request)
    if body is None:
        return _error(f"Body larger than {settings.WEBHOOK_MAX_BODY_BYTES // 1024} KiB", 413)
    merchant_code = request.headers.get("X-Merchant-Id", "")
    headers = {name: request.headers.get(name, "") for name in SIGNATURE_HEADERS}
    try:
        merchant = authenticate(merchant_code=merchant_code, body=body, headers=headers)
    except InvalidSignature as exc:
        logger.warning("Webhook refused (401) merchant=%r: %s", merchant_code[:64], exc)
        return _error(str(exc), 401)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        logger.warning("Webhook refused (400) merchant=%s: body is not JSON", merchant.code)
        return _error("Body must be valid JSON", 400)
    try:
        receipt = receive_event(merchant=merchant, webhook_id=headers["webhook-id"], payload=payload)
    except InvalidPayload as exc:
        logger.warning("Webhook refused (400) merchant=%s: %s", merchant.code, exc)
        return _error(str(exc), 400)
    event = receipt.event
    answer = {"event_id": event.pk, "refund_id": event.refund_ref, "status": event.requested_status}
    if receipt.duplicate:
        return JsonResponse({"message": "duplicate", **answer}, status=200)
    return JsonResponse({"message": "Webhook received", **answer}, status=202)
