"""Project-wide pytest setup.

Tests that need PostgreSQL are marked `postgres`, browser tests `browser`. Where the resource is
missing they are skipped, unless REQUIRE_POSTGRES=1 / REQUIRE_BROWSER=1 (set by .ci/run), which
turns the skip into a failure so that CI never passes by skipping.
"""

import os
import shutil

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def _uses_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


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
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
