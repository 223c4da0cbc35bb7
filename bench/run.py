"""The performance benchmark: builds (or reuses) the data set, measures, prints one table.

    python bench/run.py                      # 1,000,000 customers, every measurement
    python bench/run.py --reuse              # keep the data set already built
    python bench/run.py --only overdue,reads --customers 20000
    python bench/run.py --reuse --only ceiling  # Django alone on this machine (bench/ceiling)

Everything runs against the PostgreSQL database `bnpl_bench` (BENCH_DB_NAME overrides it) with
production settings (DEBUG=0) over plain HTTP on 127.0.0.1; the table also goes to
bench/RESULTS.md with the command, the data sizes and the machine.

`ceiling` (first, so measured before the others) serves the issue's three reference figures from a
minimal Django project of its own (bench/ceiling: "ok", one primary-key query as JSON, a DRF keyset
page of 20 rows) with the same gunicorn and wrk settings; the report then gives each read figure as
a percentage of its ceiling, and this machine's scale against the issue's (ok-ceiling / 5,900).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432"
# BENCH_DB_NAME keeps a second data set beside the first (e.g. 10,000 customers to compare with 1,000,000).
DB_NAME = os.environ.get("BENCH_DB_NAME", "bnpl_bench")
# Fixed, benchmark-only key: the data set is encrypted with it and reused across runs.
BENCH_FIELD_KEY = "YmVuY2gtb25seS1maWVsZC1rZXktMzItYnl0ZXMhISE="

BENCH_ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"{PG_ADMIN_URL}/{DB_NAME}"),
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "FIELD_ENCRYPTION_KEYS": BENCH_FIELD_KEY,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "API_THROTTLE_RATE": "100000000/s",
    "LOG_LEVEL": "WARNING",
    "ACCESS_LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "bnpl_admin.settings",
}
os.environ.update(BENCH_ENV)

# "ceiling" first: the reference figures are measured before the machine has worked on anything else.
ALL = ["ceiling", "overdue", "reads", "writes", "webhooks", "exports"]


def manage(*args: str, capture: bool = False) -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**os.environ, **BENCH_ENV},
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return out.stdout or ""


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", f"{PG_ADMIN_URL}/{db}", "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        text=True,
        capture_output=True,
    ).stdout.strip()


# The server settings the figures in RESULTS.md were measured with (README: "Deploying and scaling").
POSTGRES_SETTINGS = {
    "shared_buffers": "4GB",
    "effective_cache_size": "12GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "work_mem": "16MB",
    "maintenance_work_mem": "512MB",
    "wal_buffers": "64MB",
}


def tune_postgres() -> None:
    """ALTER SYSTEM to POSTGRES_SETTINGS and restart the local cluster if anything changed."""
    changed = False
    for name, value in POSTGRES_SETTINGS.items():
        current = psql(f"SELECT current_setting('{name}')")  # PostgreSQL shows "4GB", "15min"...
        if current == value:
            continue
        print(f">> postgres: {name} {current} -> {value}", file=sys.stderr)
        psql(f"ALTER SYSTEM SET {name} = '{value}'")
        changed = True
    if changed:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
        for _ in range(60):
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
                break
            time.sleep(1)


def warn_if_untuned() -> None:
    if int(psql("SELECT pg_size_bytes(current_setting('shared_buffers'))")) < 1024**3:
        print(
            ">> warning: PostgreSQL runs with shared_buffers < 1GB (its default is 128MB); the figures in "
            "RESULTS.md were measured with bench/run.py --tune-postgres",
            file=sys.stderr,
        )


def prepare_database(*, customers: int, reuse: bool):
    """Reuse a complete data set of the right size, or build one from scratch."""
    import django

    django.setup()
    from bench import dataset

    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") == "1"
    meta = {}
    if exists:
        rows = psql("SELECT key || '=' || value FROM bench_meta", DB_NAME) if _has_meta() else ""
        meta = dict(line.split("=", 1) for line in rows.splitlines() if line)
    # A data set of another version (older rows, e.g. without the ledger's) is never reused.
    complete = (
        meta.get("complete") == "1"
        and int(meta.get("customers", -1)) == customers
        and meta.get("version", "1") == dataset.VERSION
    )
    if reuse and not complete:
        print(
            f">> --reuse: no complete data set of {customers} customers, version {dataset.VERSION}, in {DB_NAME}; "
            "building it",
            file=sys.stderr,
        )
    if not (reuse and complete):
        print(f">> building {DB_NAME}: {customers:,} customers", file=sys.stderr)
        psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{DB_NAME}"')
    manage("migrate", "--noinput", "-v", "0")
    if reuse and complete:
        print(f">> reusing {DB_NAME} ({customers:,} customers)", file=sys.stderr)
        return dataset.info_from_meta(meta), True
    return dataset.build(customers=customers), False


def _has_meta() -> bool:
    return psql("SELECT to_regclass('bench_meta') IS NOT NULL", DB_NAME) == "t"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--only",
        default=",".join(ALL),
        help=f"comma-separated subset of {','.join(ALL)} (ceiling: the issue's reference figures, Django alone)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep a complete data set of this size")
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per scenario (median reported)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk round (after a 5 s warm-up)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (the issue's bar: 2)")
    parser.add_argument("--match", default="", help="only the read scenarios whose name holds this text (e.g. API)")
    parser.add_argument("--label", default="", help="label of this run in RESULTS.md (e.g. before/after)")
    parser.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument(
        "--tune-postgres",
        action="store_true",
        help="ALTER SYSTEM the local PostgreSQL to the settings of RESULTS.md and restart it (needs root)",
    )
    args = parser.parse_args(argv)
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    if args.tune_postgres:
        tune_postgres()
    warn_if_untuned()
    info, reused = prepare_database(customers=args.customers, reuse=args.reuse)
    from bench import measure, report

    rows = measure.run_all(only=only, info=info, args=args)
    text = report.render(
        rows=rows, info=info, reused=reused, args=args, argv=sys.argv, seconds=time.perf_counter() - started
    )
    print(text)
    report.write(text, path=Path(args.results), label=args.label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
