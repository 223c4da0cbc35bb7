# BNPL back office: production image (gunicorn). Run the task worker from the same image:
#   docker run ... <image> python manage.py qcluster
# Required at runtime: SECRET_KEY, FIELD_ENCRYPTION_KEYS, DATABASE_URL, ALLOWED_HOSTS (DEBUG defaults to 0 here).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=0

# Unprivileged user that owns nothing but runs everything.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first so that code changes do not invalidate this layer.
# (psycopg's binary package, cryptography etc. ship manylinux wheels: no compiler needed.)
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time. Production settings refuse to load without secrets, so
# throwaway values are passed to this one command only; they never reach the image's environment.
RUN SECRET_KEY=collectstatic-build-only \
    FIELD_ENCRYPTION_KEYS=Q29sbGVjdHN0YXRpYy1idWlsZC1vbmx5LWtleS0wMDA= \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput \
 && rm -f /tmp/collectstatic.sqlite3

USER app

EXPOSE 8000

# The public probe: 200 while the database answers (503 otherwise). Sent with the first allowed
# host and as HTTPS-behind-a-proxy so that ALLOWED_HOSTS and the SSL redirect let it through.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD python -c "import os, sys, urllib.request as u; \
host = (os.environ.get('ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.') or 'localhost'; \
r = u.urlopen(u.Request('http://127.0.0.1:8000/api/v1/health/', headers={'Host': host, 'X-Forwarded-Proto': 'https'}), timeout=4); \
sys.exit(0 if r.status == 200 else 1)"

# Sync workers: WEB_CONCURRENCY (gunicorn's own variable), one per CPU core. The app is CPU-bound;
# on 2 vCPUs, 2 workers served more requests with a lower p99 than 3 (bench/RESULTS.md).
ENV WEB_CONCURRENCY=2
# No gunicorn access log: the app logs each request (request id, user, timing) without query strings.
CMD ["gunicorn", "bnpl_admin.wsgi", "--bind", "0.0.0.0:8000"]
