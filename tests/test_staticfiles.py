"""Production static files: whitenoise's compressed storage, with hashed URLs from the manifest."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.templatetags.static import static

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
MANIFEST = {"paths": {"css/app.css": "css/app.0123456789ab.css"}, "version": "1.1", "hash": "f00"}


@pytest.fixture
def production_storage(tmp_path, settings):
    """The storage production uses (settings.py names it under DEBUG=0), over a collected manifest."""
    settings.DEBUG = False
    settings.STATIC_URL = "/static/"
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": PRODUCTION_STORAGE},
    }
    (tmp_path / "staticfiles.json").write_text(json.dumps(MANIFEST))
    return storages["staticfiles"]


def test_a_static_url_is_the_hashed_name_from_the_manifest(production_storage):
    assert static("css/app.css") == "/static/css/app.0123456789ab.css"


def test_a_name_missing_from_the_manifest_is_refused_every_time(production_storage):
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            static("js/missing.js")


def test_production_settings_name_whitenoises_storage():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS")}
    env.update(DEBUG="0", SECRET_KEY="s" * 50, FIELD_ENCRYPTION_KEYS="Idy7zE__t0PmivJlJkYFQ2H4Ldv7myKQj-yA-ePIq3o=")
    code = "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == PRODUCTION_STORAGE, result.stderr
