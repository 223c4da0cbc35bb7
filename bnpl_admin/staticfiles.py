"""Static files in production: whitenoise's compressed, hashed-name storage, with each file's URL
worked out once per process.

`{% static %}` (and `{% htmx_script %}`) ask the storage for a URL on every page: the manifest
lookup, then `urljoin`, `urlsplit` and quoting, about 25 µs a file and four files a page, 3% of a
customer list page (py-spy). The manifest is fixed for the life of a process (it is written by
`collectstatic`, before the server starts), so the URL of a name never changes: it is remembered
after the first time. A name the manifest lacks still raises each time, as without the cache.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = super().url(name)
            return url
