"""Reads of the audit trail."""

from django.db import connection

from bnpl_admin.audit.models import AuditEvent


def actions_in_use() -> list[str]:
    """Every action the trail holds, in order, for the audit log's filter.

    One index probe per distinct action (a recursive "skip scan" on the index that starts with
    `action`) instead of `SELECT DISTINCT action`, which reads the whole trail, and the trail grows
    by an event per customer each overdue check flips.
    """
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE actions(action) AS ("
            f"  SELECT MIN(action) FROM {table}"
            f"  UNION ALL"
            f"  SELECT (SELECT MIN(e.action) FROM {table} e WHERE e.action > actions.action)"
            f"  FROM actions WHERE actions.action IS NOT NULL"
            f") SELECT action FROM actions WHERE action IS NOT NULL"
        )
        return [action for (action,) in cursor.fetchall()]
