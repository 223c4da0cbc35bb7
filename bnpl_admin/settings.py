"""Settings for the BNPL back office, read from the environment.

With no environment at all the project runs in demo mode (DEBUG, SQLite, a fixed demo
encryption key). `DEBUG=0` switches on production mode, which refuses to start without
`SECRET_KEY` and `FIELD_ENCRYPTION_KEYS`.
"""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
# Production strictness follows DEBUG=0 at start-up (the test runner turns DEBUG off; this stays).
PRODUCTION = not DEBUG

# Demo-only values: usable on a laptop, refused in production below.
_DEMO_SECRET_KEY = "demo-only-insecure-secret-key-do-not-use-in-production"
_DEMO_FIELD_KEY = "Idy7zE__t0PmivJlJkYFQ2H4Ldv7myKQj-yA-ePIq3o="

if PRODUCTION:
    _missing = [name for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS") if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            f"Production mode (DEBUG=0) needs {' and '.join(_missing)} in the environment; "
            "refusing to start with demo secrets."
        )

SECRET_KEY = env.str("SECRET_KEY", default=_DEMO_SECRET_KEY)

# Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = [
    k.strip() for k in env.str("FIELD_ENCRYPTION_KEYS", default=_DEMO_FIELD_KEY).split(",") if k.strip()
]
# Key for the phone-number lookup hash (HMAC-SHA256). Kept apart from the encryption keys so that
# rotating those does not invalidate lookups; defaults to a key derived from SECRET_KEY.
FIELD_HASH_KEY = env.str("FIELD_HASH_KEY", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = env.str("TIME_ZONE", default="Asia/Tashkent")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True
CURRENCY = env.str("CURRENCY", default="UZS")
# Rule 10: days after its due date before an unpaid installment is OVERDUE (0: the day after).
OVERDUE_GRACE_DAYS = env.int("OVERDUE_GRACE_DAYS", default=0)
if not 0 <= OVERDUE_GRACE_DAYS <= 365:
    raise ImproperlyConfigured("OVERDUE_GRACE_DAYS must be a whole number of days between 0 and 365")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "django_q",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "bnpl_admin.audit",
    "bnpl_admin.staff",
    "bnpl_admin.customers",
    "bnpl_admin.plans",
    "bnpl_admin.refunds",
    "bnpl_admin.webhooks",
    "bnpl_admin.collection",
    "bnpl_admin.dashboard",
    "bnpl_admin.api",
    "bnpl_admin.demo",
    "tasks",
]

MIDDLEWARE = [
    "bnpl_admin.staff.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bnpl_admin.staff.middleware.SessionKeepAliveMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "bnpl_admin.staff.middleware.NoStoreForStaffMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out sign-ins
    "bnpl_admin.staff.signin.StaffBackend",  # ModelBackend, permissions in one query
]
# Login throttling: 5 failures for a username from one address lock it for 15 minutes.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The username a failure is recorded under, cut to its column (a longer one answered 500).
AXES_USERNAME_CALLABLE = "bnpl_admin.staff.signin.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)

# Content-Security-Policy (Django's own): scripts only from here, with a per-request nonce for
# htmx's script tag; no inline styles; no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

ROOT_URLCONF = "bnpl_admin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "bnpl_admin.staff.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "bnpl_admin.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and qcluster write to the same file: queue writers instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # A persistent connection that went bad while idle is replaced before the request uses it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    # Short OLTP queries: PostgreSQL's JIT compilation costs more than it saves on them.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    if env.bool("PG_PREPARED_STATEMENTS", default=True):
        # psycopg 3: parameters bound by the server, and a query run twice on a connection kept
        # prepared there. Off (0) behind a pooler in transaction mode that cannot keep prepared
        # statements (PgBouncer < 1.21).
        DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    # Shared between the web server and qcluster (django-q2 keeps cluster stats in the cache).
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "bnpl_cache"},
    # API throttling: per process, so that a request costs no database round trip for it.
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bnpl-throttle"},
    # Short-lived per-process memos (the dashboard's system checks).
    "process": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bnpl-process"},
    # Rendered table pages keyed on what they show (staff.tables.Table.fingerprint): never stale,
    # so per process; the oldest go first.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "bnpl-fragments",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 500},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Django's database sessions (staff/signin.py adds only the guard against a crafted cookie). Not
# cached_db: the only cache shared by all web workers is the database one (no gain), and a
# per-process cache would keep a signed-out session alive in the other workers.
SESSION_ENGINE = "bnpl_admin.staff.signin"
SESSION_COOKIE_HTTPONLY = True
# Sessions end after 30 minutes without a request (each request extends them).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
# The idle timer is extended at most once a minute (staff.middleware.SessionKeepAliveMiddleware),
# not by a session write on every page view.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]  # container and load-balancer probes speak plain HTTP
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Email: the back office sends none (no password reset: an admin resets a staff password; no
# ADMINS). The default mailer is named all the same, so that nothing ever reaches for an SMTP
# server on localhost by accident: the console when DEBUG, a backend that discards every message
# in production. EMAIL_URL (django-environ's form, e.g. smtp+tls://user:password@mail.example.com:587)
# names a real server, for a deployment that adds mail of its own.
_email = env.email_url_config(env.str("EMAIL_URL", default="consolemail://" if DEBUG else "dummymail://"))
_MAILER_OPTIONS = {  # django-environ's names -> the OPTIONS of Django's backends
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_FILE_PATH": "file_path",
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {option: _email[name] for name, option in _MAILER_OPTIONS.items() if _email.get(name)},
    }
}
if MAILERS["default"]["BACKEND"] == "django.core.mail.backends.dummy.EmailBackend":
    # The deploy check's "email will not be sent" is the intent here.
    SILENCED_SYSTEM_CHECKS = ["mail.E001"]

DJANGO_TABLES2_TEMPLATE = "components/table.html"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["bnpl_admin.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["bnpl_admin.api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["bnpl_admin.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env.str("API_THROTTLE_RATE", default="6000/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bnpl_admin.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BNPL back office API",
    "DESCRIPTION": "JSON API v1. Authenticate with `Authorization: Bearer <token>` (manage.py issue_api_token). "
    'Errors are `{"error": "..."}`. Amounts are strings with two decimals.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",  # the default hook, kept
        "bnpl_admin.api.schema.idempotency_key_on_every_post",
    ],
}

Q_CLUSTER = {
    "name": "bnpl",
    # Tasks wait on the database about half their time (py-spy during a webhook drain): two per core.
    "workers": env.int("Q_WORKERS", default=4),
    "orm": "default",
    "timeout": env.int("Q_TIMEOUT", default=90),
    # Must exceed timeout, or a running task is delivered a second time; an unacknowledged task
    # (its worker was killed) is delivered again after this many seconds.
    "retry": env.int("Q_RETRY", default=120),
    "max_attempts": 5,
    "catch_up": False,
    "cache": "default",
    "ack_failures": True,
    # Successful results kept per task function (the health page reads the checker's last one; a
    # burst of other tasks must not prune it). Webhook tasks keep none: the event row is their record.
    "save_limit": 1000,
    "save_limit_per": "func",
    "poll": 1,
}
if env.bool("Q_SYNC", default=False):
    Q_CLUSTER["sync"] = True

# Webhook processing: events left RECEIVED longer than this are re-queued by the sweeper.
WEBHOOK_STALE_AFTER_SECONDS = env.int("WEBHOOK_STALE_AFTER_SECONDS", default=180)
WEBHOOK_MAX_BODY_BYTES = 64 * 1024

# CSV exports of the table pages (`?_export=csv`) are streamed; one with more rows than this is
# refused before it starts (the agent narrows the filter), so that no export outlives the web
# worker's timeout and no file is ever cut short. Through django-tables2's own export about 3,500
# rows a second are written (bench/RESULTS.md): 50,000 stay well within gunicorn's 30 s.
EXPORT_MAX_ROWS = env.int("EXPORT_MAX_ROWS", default=50_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "bnpl_admin.staff.logging.MaskingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "bnpl_admin.staff.logging.RequestJsonFormatter"},
    },
    "filters": {"without_403_traceback": {"()": "bnpl_admin.staff.logging.WithoutPermissionDeniedTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="plain" if DEBUG else "json"),
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["without_403_traceback"]},
        # runserver's own request lines (4xx at WARNING) would print query strings and repeat
        # ours (bnpl.access, which never prints one): only its errors are kept.
        "django.server": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        "bnpl.access": {"level": env.str("ACCESS_LOG_LEVEL", default="INFO")},
    },
}
