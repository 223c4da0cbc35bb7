"""Project-wide pytest setup.

Tests that need PostgreSQL are marked `postgres`, browser tests `browser`. Where the resource is
missing they are skipped, unless REQUIRE_POSTGRES=1 / REQUIRE_BROWSER=1 (set by .ci/run), which
turns the skip into a failure so that CI never passes by skipping.
"""

import logging
import os
import re
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def _uses_postgres() -> bool:
    from django.db import connections

    return connections["default"].vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    have_postgres = _uses_postgres()
    have_browser = shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)
    for item in items:
        if "postgres" in item.keywords and not have_postgres:
            if _flag("REQUIRE_POSTGRES"):
                item.add_marker(pytest.mark.usefixtures("_fail_missing_postgres"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)"))
        if "browser" in item.keywords and not have_browser:
            if _flag("REQUIRE_BROWSER"):
                item.add_marker(pytest.mark.usefixtures("_fail_missing_browser"))
            else:
                item.add_marker(pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}"))


@pytest.fixture
def _fail_missing_postgres():
    pytest.fail("REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def _fail_missing_browser():
    pytest.fail(f"REQUIRE_BROWSER=1 but Chromium is missing at {CHROMIUM}")


@pytest.fixture(autouse=True)
def _forget_per_process_memos():
    """Each process remembers some figures for a while (the dashboard's checks): not across tests."""
    from django.core.cache import caches

    caches["process"].clear()
    yield
    caches["process"].clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class _PersonalDataInLogs(logging.Handler):
    """Remembers every log line that looks like it carries a raw phone, card or passport number."""

    PATTERNS = [
        re.compile(r"\+?998[ \-]?\d{2}[ \-]?\d{3}[ \-]?\d{2}[ \-]?\d{2}(?!\d)"),  # Uzbek phone numbers
        re.compile(r"(?<![\d-])(?:\d[ \-]?){15}\d(?![\d-])"),  # 16-digit card numbers
        re.compile(r"\b[A-Z]{2}\d{7}\b"),  # passport series + number
    ]

    UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record):
        try:
            text = record.getMessage()
        except Exception:
            return
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + str(record.exc_info[1])
        text = self.UUID.sub("<uuid>", text)  # a plan's or refund's id may hold a card-like digit run
        if any(pattern.search(text) for pattern in self.PATTERNS):
            self.leaks.append(f"{record.name}: {text[:300]}")


@pytest.fixture(autouse=True)
def _no_raw_personal_data_in_logs():
    """Every test fails if anything it made the application log carries a raw phone, card or
    passport number (the console handler masks them, but nothing should log them at all)."""
    watcher = _PersonalDataInLogs()
    root = logging.getLogger()
    root.handlers.insert(0, watcher)
    try:
        yield watcher
    finally:
        root.removeHandler(watcher)
    assert not watcher.leaks, "raw personal data in the logs:\n" + "\n".join(watcher.leaks)
