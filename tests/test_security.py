"""Production hardening: deploy checks, CSP, login throttling, no caching, request ids, safe logs."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User

from bnpl_admin.staff.logging import MaskingFormatter, RequestJsonFormatter
from tests.factories import UserFactory

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_production_settings_pass_the_deploy_checks_with_no_warning():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS")}
    env.update(
        DEBUG="0",
        SECRET_KEY="k" * 20 + "a-long-random-looking-secret-value-0123456789",
        FIELD_ENCRYPTION_KEYS="Idy7zE__t0PmivJlJkYFQ2H4Ldv7myKQj-yA-ePIq3o=",
        ALLOWED_HOSTS="bnpl.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_with_a_nonce_for_htmx(client):
    client.force_login(UserFactory.support())

    response = client.get("/customers/")

    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_staff_pages_are_never_cached(client):
    client.force_login(UserFactory.support())

    response = client.get("/customers/")

    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_every_response_has_a_request_id_and_a_sane_incoming_one_is_kept(client):
    assert len(client.get("/accounts/login/")["X-Request-ID"]) == 32
    assert client.get("/accounts/login/", headers={"X-Request-ID": "lb-123"})["X-Request-ID"] == "lb-123"
    assert client.get("/accounts/login/", headers={"X-Request-ID": "bad id\n"})["X-Request-ID"] != "bad id\n"


@pytest.mark.django_db
def test_repeated_failed_sign_ins_lock_the_account_for_a_while(client):
    User.objects.create_user("agent", password="right-password-1")
    for _ in range(5):
        client.post("/accounts/login/", {"username": "agent", "password": "wrong"})

    response = client.post("/accounts/login/", {"username": "agent", "password": "right-password-1"})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_sign_in_with_an_overlong_username_is_refused_and_counted_not_a_500(client, path):
    """django-axes records the failure under the username, in a column of 255 characters: a longer
    one made PostgreSQL refuse the row (a 500). It is recorded cut to that length, and still locks."""
    username = "é" * 300
    for _ in range(4):
        assert client.post(path, {"username": username, "password": "wrong"}).status_code == 200

    assert client.post(path, {"username": username, "password": "wrong"}).status_code == 429  # the fifth
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username == username[:255] and attempt.failures_since_start == 5


@pytest.mark.django_db
def test_a_correct_sign_in_still_works_after_a_few_mistakes(client):
    User.objects.create_user("agent", password="right-password-1")
    for _ in range(3):
        client.post("/accounts/login/", {"username": "agent", "password": "wrong"})

    response = client.post("/accounts/login/", {"username": "agent", "password": "right-password-1"})

    assert response.status_code == 302


@pytest.mark.django_db
def test_the_access_log_has_the_request_id_user_and_timing_but_no_query_string(client, caplog):
    client.force_login(UserFactory.support(username="agent-7"))
    with caplog.at_level(logging.INFO, logger="bnpl.access"):
        client.get("/customers/?q=%2B998901234567", headers={"X-Request-ID": "req-1"})

    [record] = [r for r in caplog.records if r.name == "bnpl.access" and r.request_id == "req-1"]
    assert record.path == "/customers/" and record.user == "agent-7" and record.duration_ms >= 0
    assert "998901234567" not in record.getMessage()


@pytest.mark.parametrize(
    "raw",
    ["+998901234567", "998901234567", "4111111111111111", "4111 1111 1111 1111", "+998 90 123-45-67", "AA1234567"],
)
def test_log_lines_never_carry_a_raw_phone_card_or_passport_number(raw):
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "lookup of %s failed", (raw,), None)

    line = MaskingFormatter("%(message)s").format(record)
    json_line = RequestJsonFormatter().format(record)

    digits = "".join(ch for ch in raw if ch.isdigit())
    for text in (line, json_line):
        assert digits not in "".join(ch for ch in text if ch.isdigit())
    assert raw in record.getMessage()  # the record itself is untouched for other handlers


def test_production_logs_are_json_with_the_request_fields():
    record = logging.LogRecord("bnpl.access", logging.INFO, __file__, 1, "GET / 200", (), None)
    record.request_id, record.user, record.duration_ms = "r-1", "agent", 3.2

    line = RequestJsonFormatter().format(record)

    assert '"request_id": "r-1"' in line and '"user": "agent"' in line and '"message": "GET / 200"' in line


@pytest.mark.parametrize("raw", ["+998901234567", "+998 90 123 45 67", "4111 1111 1111 1111", "AA1234567"])
def test_the_suite_wide_log_watcher_would_catch_raw_personal_data(_no_raw_personal_data_in_logs, raw):
    logging.getLogger("bnpl.test").warning("customer %s", raw)

    assert _no_raw_personal_data_in_logs.leaks  # every test of the suite fails on such a line
    _no_raw_personal_data_in_logs.leaks.clear()


def test_masking_leaves_dates_times_and_ids_readable():
    text = "2026-11-26 13:02:52,820 check_overdue as_of=2026-11-26 event 4711 refund txn-usr-280-ca0841de"

    assert (
        MaskingFormatter("%(message)s").format(logging.LogRecord("x", logging.INFO, __file__, 1, text, (), None))
        == text
    )


def test_masking_leaves_request_ids_and_task_process_names_whole_but_not_numbers_beside_them():
    request_id = "808123456789f3f6475d8484a5c75112"  # uuid4().hex with long digit runs
    text = f"Process-{request_id} processing; request {request_id} card 4111111111111111"
    all_digits = "41111111111111112222222222222222"  # 32 characters, but no id: no letter

    line = MaskingFormatter("%(message)s").format(logging.LogRecord("x", logging.INFO, __file__, 1, text, (), None))
    numbers = MaskingFormatter("%(message)s").format(
        logging.LogRecord("x", logging.INFO, __file__, 1, all_digits, (), None)
    )

    assert line == f"Process-{request_id} processing; request {request_id} card 411****"
    assert "4111111111111111" not in numbers


def test_masking_leaves_uuids_whole_even_with_card_like_digit_runs(_no_raw_personal_data_in_logs):
    refund_id = "3b7dd82d-4b57-4dd8-8828-16814978798a"  # "8-8828-16814978798": 16 digits with dashes
    text = f"POST /api/v1/refunds/{refund_id}/cancel/ 400; card 4111-1111-1111-1111; phone +998901234567"

    line = MaskingFormatter("%(message)s").format(logging.LogRecord("x", logging.INFO, __file__, 1, text, (), None))
    logging.getLogger("bnpl.test").warning("refund %s cancelled", refund_id)

    assert line == f"POST /api/v1/refunds/{refund_id}/cancel/ 400; card 411****; phone +998****"
    assert not _no_raw_personal_data_in_logs.leaks  # the suite's own detector knows a UUID too


def _session_row(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.cookies["sessionid"].value)


@pytest.mark.django_db
def test_a_session_left_idle_past_its_age_is_signed_out(client):
    import datetime

    from django.utils import timezone

    client.force_login(UserFactory.support())
    assert client.get("/customers/").status_code == 200
    row = _session_row(client)
    row.expire_date = timezone.now() - datetime.timedelta(seconds=1)
    row.save()

    response = client.get("/customers/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_using_the_back_office_pushes_the_idle_timeout_back(client, settings):
    import datetime

    from django.utils import timezone

    client.force_login(UserFactory.support())
    client.get("/customers/")
    row = _session_row(client)
    row.expire_date = timezone.now() + datetime.timedelta(seconds=30)  # nearly idle for too long
    data = row.get_decoded()
    data["_seen"] -= 120  # last pushed back two minutes ago
    row.session_data = row.get_session_store_class()().encode(data)
    row.save()

    assert client.get("/customers/").status_code == 200

    assert _session_row(client).expire_date > timezone.now() + datetime.timedelta(
        seconds=settings.SESSION_COOKIE_AGE - 60
    )


PASSWORD_RESET_PATHS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PASSWORD_RESET_PATHS)
def test_password_reset_is_not_served(client, path):
    """Self-service reset is off: an admin resets a staff password (manage.py changepassword)."""
    response = client.get(path)

    assert response.status_code == 404
    assert "There is nothing at this address" in response.content.decode()  # the project's 404 page
    client.force_login(UserFactory.support())
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_a_password_reset_request_sends_no_mail_and_logs_no_error(client, mailoutbox, caplog):
    UserFactory.support(email="agent@example.com")

    with caplog.at_level(logging.INFO):
        response = client.post("/accounts/password_reset/", {"email": "agent@example.com"})

    assert response.status_code == 404
    assert mailoutbox == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_sign_in_pages_offer_no_password_reset(client, path):
    from django.urls import NoReverseMatch, reverse

    page = client.get(path).content.decode()

    assert "Forgotten your password" not in page and "reset" not in page.lower()
    for name in ("password_reset", "admin_password_reset", "password_reset_confirm"):
        with pytest.raises(NoReverseMatch):
            reverse(name)


@pytest.mark.django_db
def test_staff_still_sign_in_and_out(client):
    UserFactory.support(username="agent")

    response = client.post("/accounts/login/", {"username": "agent", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/customers/").status_code == 200

    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/customers/").status_code == 302


def _default_mailer(env_overrides: dict) -> dict:
    """settings.MAILERS["default"] as a process started with these environment variables sees it."""
    ignored = ("DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "EMAIL_URL")
    env = {k: v for k, v in os.environ.items() if k not in ignored} | env_overrides
    code = "import json; from bnpl_admin import settings; print(json.dumps(settings.MAILERS['default']))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 50,
    "FIELD_ENCRYPTION_KEYS": "Idy7zE__t0PmivJlJkYFQ2H4Ldv7myKQj-yA-ePIq3o=",
}


@pytest.mark.parametrize(
    ("env", "backend"),
    [({}, "console"), (PRODUCTION_ENV, "dummy")],
    ids=["debug-prints-mail", "production-discards-mail"],
)
def test_no_mail_ever_goes_to_an_smtp_server_by_accident(env, backend):
    assert _default_mailer(env) == {"BACKEND": f"django.core.mail.backends.{backend}.EmailBackend", "OPTIONS": {}}


def test_email_url_names_a_real_mail_server():
    mailer = _default_mailer(PRODUCTION_ENV | {"EMAIL_URL": "smtp+tls://bnpl:secret@mail.example.com:587"})

    assert mailer == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "mail.example.com", "port": 587, "username": "bnpl", "password": "secret", "use_tls": True},
    }


@pytest.mark.django_db
def test_favicon_ico_answers_without_signing_in(client, settings):
    from django.templatetags.static import static

    settings.WHITENOISE_USE_FINDERS = True  # serve static files as in debug (read when the client starts)

    response = client.get("/favicon.ico")

    assert response.status_code == 302 and response["Location"] == static("favicon.svg")
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"".join(icon.streaming_content).startswith(b"<svg")


@pytest.mark.django_db
def test_every_page_names_its_icon_within_the_content_security_policy(client):
    from django.templatetags.static import static

    response = client.get("/accounts/login/")

    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in response.content.decode()
    assert static("favicon.svg").startswith("/") and "img-src 'self'" in response["Content-Security-Policy"]
