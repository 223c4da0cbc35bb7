"""WSGI entry point of the ceiling project (gunicorn bench.ceiling.wsgi): Django's own, nothing added."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.ceiling.settings")

application = get_wsgi_application()
