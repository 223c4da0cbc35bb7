"""WSGI entry point (gunicorn bnpl_admin.wsgi)."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bnpl_admin.settings")

application = get_wsgi_application()

# What is loaded by now (Django, the apps, every view module through the URL patterns) lives as
# long as the process. gc.freeze() keeps it out of the cyclic collector's passes, which otherwise
# walk all of it on each full collection: a pause of a few milliseconds in some requests.
import_module(settings.ROOT_URLCONF)
gc.collect()
gc.freeze()
