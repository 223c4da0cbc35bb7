"""The WSGI entry point gunicorn loads: the application, with what it loaded kept out of the collector."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, sys
import bnpl_admin.wsgi as wsgi
print(callable(wsgi.application), gc.get_freeze_count() > 10_000, "bnpl_admin.customers.views" in sys.modules)
"""


def test_the_wsgi_module_loads_the_views_and_freezes_what_it_loaded():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "bnpl_admin.settings", "PYTHONPATH": str(ROOT)},
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
