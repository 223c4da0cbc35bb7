"""System health: the database round trip and the task cluster, for the probe and the dashboard."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probe:
    database_ok: bool
    database_ms: float | None
    clusters: int | None  # running django-q2 clusters; None when it could not be read

    @property
    def cluster_ok(self) -> bool:
        return bool(self.clusters)

    @property
    def status(self) -> str:
        # The contract knows "ok" and "degraded"; a database that does not answer is a 503 "degraded".
        return "ok" if self.database_ok and self.cluster_ok else "degraded"

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "database": "ok" if self.database_ok else "unavailable",
            "task_queue": "ok" if self.cluster_ok else ("unknown" if self.clusters is None else "down"),
        }


def database_round_trip() -> float | None:
    """Milliseconds for `SELECT 1`, or None when the database does not answer."""
    started = time.perf_counter()
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("Health probe: the database does not answer", exc_info=True)
        connection.close_if_unusable_or_obsolete()
        return None
    return (time.perf_counter() - started) * 1000


def running_clusters() -> int | None:
    """How many django-q2 clusters reported in the last seconds (their stats expire after 3 s)."""
    from django_q.status import Stat

    try:
        return len(Stat.get_all())
    except Exception:
        logger.warning("Health probe: cannot read the task cluster status", exc_info=True)
        return None


def probe() -> Probe:
    database_ms = database_round_trip()
    if database_ms is None:
        return Probe(database_ok=False, database_ms=None, clusters=None)
    return Probe(database_ok=True, database_ms=database_ms, clusters=running_clusters())
