"""Playwright against a live server, driving Debian's Chromium (`playwright install` cannot download here).

Browser tests are marked `browser`; the root conftest skips them when /usr/bin/chromium is missing,
or fails them when REQUIRE_BROWSER=1. Screenshots land in e2e-artifacts/screenshots/.
"""

import io
import os
import re
import time
from pathlib import Path

# live_server + sync Playwright: the test body runs while Playwright's event loop is set, which
# makes Django refuse ORM calls from "async context" unless this is set.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "e2e-artifacts" / "screenshots"
_SESSION_STARTED = time.time()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def page_problems(page):
    """HTTP errors (>= 400) and uncaught JavaScript errors seen by `page`: a smoke test wants none."""
    problems = []

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status} {response.url}")

    page.on("response", on_response)
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    return problems


@pytest.fixture(autouse=True)
def _plain_static(settings):
    """Manifest storage without collectstatic breaks {% static %} and {% htmx_script %}."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def screenshot(request):
    """`screenshot(page, "login")` saves e2e-artifacts/screenshots/<test name>-<nn>-login.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")  # test_x[chromium] -> test_x-chromium
    counter = iter(range(1, 100))

    def take(page, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{test_name}-{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def demo_staff(transactional_db):
    """The demo staff accounts (support/support-demo, risk/risk-demo, admin/admin-demo) and merchants."""
    from django.core.management import call_command

    call_command("seed_demo", "--customers", "0", stdout=io.StringIO())
    return {"support": "support-demo", "risk": "risk-demo", "admin": "admin-demo"}


def pytest_configure(config):
    # Each run's screenshots replace the previous run's, so the folder shows one run.
    for old in SCREENSHOT_DIR.glob("*.png"):
        old.unlink()
    # Noise from plugins/settings that the e2e run cannot act on.
    config.addinivalue_line("filterwarnings", "ignore:Session-scoped fixtures defined as instance methods")
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


def pytest_terminal_summary(terminalreporter):
    """Point at the screenshots this run wrote (also under xdist: this runs in the controller)."""
    if not SCREENSHOT_DIR.is_dir():
        return
    shots = sorted(p for p in SCREENSHOT_DIR.glob("*.png") if p.stat().st_mtime >= _SESSION_STARTED - 1)
    if shots:
        terminalreporter.write_sep("-", "e2e screenshots")
        terminalreporter.write_line(f"{len(shots)} screenshot(s) in {SCREENSHOT_DIR}/")
        for shot in shots:
            terminalreporter.write_line(f"  {shot.name}")
