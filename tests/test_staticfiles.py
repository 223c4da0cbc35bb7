"""Production static files: hashed URLs from the manifest, each worked out once per process."""

import json

import pytest
from whitenoise.storage import CompressedManifestStaticFilesStorage

from bnpl_admin.staticfiles import ManifestStaticFilesStorage

MANIFEST = {"paths": {"css/app.css": "css/app.0123456789ab.css"}, "version": "1.1", "hash": "f00"}


@pytest.fixture
def location(tmp_path, settings):
    settings.DEBUG = False
    settings.STATIC_URL = "/static/"
    (tmp_path / "staticfiles.json").write_text(json.dumps(MANIFEST))
    return tmp_path


def test_the_url_is_the_hashed_one_the_library_gives(location):
    ours = ManifestStaticFilesStorage(location=location)
    library = CompressedManifestStaticFilesStorage(location=location)

    assert ours.url("css/app.css") == library.url("css/app.css") == "/static/css/app.0123456789ab.css"


def test_the_url_is_worked_out_once(location, monkeypatch):
    storage = ManifestStaticFilesStorage(location=location)
    calls = []
    work = CompressedManifestStaticFilesStorage.url
    monkeypatch.setattr(
        CompressedManifestStaticFilesStorage, "url", lambda self, *args: calls.append(args) or work(self, *args)
    )

    urls = {storage.url("css/app.css") for _ in range(5)}

    assert urls == {"/static/css/app.0123456789ab.css"}
    assert len(calls) == 1


def test_a_name_missing_from_the_manifest_is_refused_every_time(location):
    storage = ManifestStaticFilesStorage(location=location)

    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            storage.url("js/missing.js")
