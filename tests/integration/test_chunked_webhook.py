"""A webhook body sent chunked (Transfer-Encoding: chunked, no Content-Length) is read up to 64 KiB.

Merchants whose HTTP client streams the body send no Content-Length. Gunicorn de-chunks such a
body and marks wsgi.input as terminated; the endpoint reads it from there, with the same limit
(413 past it) as a body of declared length. The first tests build that WSGI request directly;
the others post to a real gunicorn serving bnpl_admin.wsgi against the test database.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from django_q.models import OrmQ

from bnpl_admin.webhooks import endpoint
from bnpl_admin.webhooks.models import WebhookEvent
from tests.factories import RefundFactory
from tests.integration.test_qcluster import cluster_database_url
from tests.webhooks import WEBHOOK_URL, merchant_with_secret, sign, stored_events

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024
APPROVE = {"refund_id": "TXN-CHUNKED", "status": "approved", "merchant_reference": "M-1"}
TOO_LARGE = "Body larger than 64 KiB"


def payload_of_size(size: int) -> dict:
    """APPROVE plus a `padding` key, so that the signed body is exactly `size` bytes."""
    empty = len(json.dumps({**APPROVE, "padding": ""}, separators=(",", ":")))
    return {**APPROVE, "padding": "x" * (size - empty)}


def chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


# --- the WSGI request gunicorn builds, without a server --------------------------------------


def terminated_request(body: bytes, headers: dict) -> WSGIRequest:
    """The request of a chunked post as gunicorn passes it: no CONTENT_LENGTH, wsgi.input terminated."""
    built = RequestFactory().post(WEBHOOK_URL, data=body, content_type="application/json", headers=headers)
    environ = {**built.META, "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}
    del environ["CONTENT_LENGTH"]
    return WSGIRequest(environ)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [200, LIMIT])
def test_a_chunked_body_up_to_64_kib_is_read_from_the_terminated_input(size):
    shop = merchant_with_secret("shop")
    RefundFactory(transaction_id="TXN-CHUNKED", merchant=shop.merchant)
    body, headers = sign(shop, payload_of_size(size), webhook_id="msg_chunked")
    assert len(body) == size

    response = endpoint.refund_status(terminated_request(body, headers))

    assert response.status_code == 202, response.content
    assert stored_events() == [("shop", "msg_chunked", "RECEIVED")]
    assert WebhookEvent.objects.get().payload == APPROVE


@pytest.mark.django_db
def test_a_chunked_body_over_64_kib_is_a_413():
    shop = merchant_with_secret("shop")
    body, headers = sign(shop, payload_of_size(LIMIT + 1))

    response = endpoint.refund_status(terminated_request(body, headers))

    assert response.status_code == 413
    assert json.loads(response.content) == {"error": TOO_LARGE}
    assert stored_events() == []


# --- a real gunicorn -----------------------------------------------------------------------------


class Gunicorn:
    """`gunicorn bnpl_admin.wsgi` in its own process group, on a socket bound here (no port race)."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": cluster_database_url(), "PYTHONUNBUFFERED": "1"}
        env.pop("GUNICORN_CMD_ARGS", None)
        env.pop("Q_SYNC", None)  # events are queued for a cluster, as in production
        fd = self.listener.fileno()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "bnpl_admin.wsgi", "--bind", f"fd://{fd}", "--workers", "1"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[fd],
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while self.request("GET", WEBHOOK_URL, timeout=1) is None:
            assert self.process.poll() is None, f"gunicorn exited with {self.process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"gunicorn did not answer within 30 s:\n{self.output()}"
            time.sleep(0.2)

    def request(self, method: str, path: str, *, timeout: float = 10, **kwargs) -> tuple[int, bytes] | None:
        """(status, body) of one request on a new connection; None when the server does not answer."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, **kwargs)
            response = connection.getresponse()
            return response.status, response.read()
        except (ConnectionError, TimeoutError):
            return None
        finally:
            connection.close()

    def post(self, body: bytes, headers: dict, *, chunked: bool) -> tuple[int, bytes]:
        """POST a webhook; chunked: in 4 KiB chunks, with Transfer-Encoding and no Content-Length."""
        if chunked:
            headers = {**headers, "Transfer-Encoding": "chunked"}
            answer = self.request("POST", WEBHOOK_URL, body=chunks(body), headers=headers, encode_chunked=True)
        else:
            answer = self.request("POST", WEBHOOK_URL, body=body, headers=headers)
        assert answer is not None, f"gunicorn did not answer:\n{self.output()}"
        return answer

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.listener.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """A running gunicorn on the test database; killed after the test (before the database is flushed)."""
    server = Gunicorn(tmp_path / "gunicorn.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print(server.output())  # shown by pytest when the test failed


@pytest.fixture
def shop(transactional_db):
    shop = merchant_with_secret("shop")
    RefundFactory(transaction_id="TXN-CHUNKED", merchant=shop.merchant)
    return shop


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_accepts_a_signed_chunked_webhook(gunicorn, shop):
    body, headers = sign(shop, APPROVE, webhook_id="msg_chunked")

    status, answer = gunicorn.post(body, headers, chunked=True)

    assert status == 202, answer
    assert json.loads(answer)["message"] == "Webhook received"
    assert stored_events() == [("shop", "msg_chunked", "RECEIVED")]
    assert WebhookEvent.objects.get().payload == APPROVE
    assert OrmQ.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_refuses_a_chunked_webhook_over_64_kib(gunicorn, shop):
    body, headers = sign(shop, payload_of_size(LIMIT + 1024))

    status, answer = gunicorn.post(body, headers, chunked=True)

    assert status == 413, answer
    assert json.loads(answer) == {"error": TOO_LARGE}
    assert stored_events() == []
    assert not OrmQ.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_still_accepts_a_webhook_with_a_content_length(gunicorn, shop):
    body, headers = sign(shop, APPROVE, webhook_id="msg_sized")

    status, answer = gunicorn.post(body, headers, chunked=False)

    assert status == 202, answer
    assert stored_events() == [("shop", "msg_sized", "RECEIVED")]
    assert WebhookEvent.objects.get().payload == APPROVE
