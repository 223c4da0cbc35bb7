"""Property-based tests (hypothesis) of the domain services, and the helpers they share.

pytest-django's `db` fixture runs a whole test in one transaction, and every hypothesis example of
that test runs inside it. So each example that writes runs in a savepoint that is rolled back at
its end (`rolled_back`): every example starts from the rows the fixtures made, and on PostgreSQL an
error in one example cannot leave the transaction aborted for the next one.

"Nothing changed" is checked with `table_state()`: counts and a checksum of the rows the services
write (customer statuses, plans, installments, refunds, webhook events) and the number of audit events.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, Phase

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.refunds.models import Refund
from bnpl_admin.webhooks.models import WebhookEvent

# For @settings(max_examples=..., **COMMON): no deadline (database round trips vary), no example
# database written into the project (.hypothesis/), and the fixtures are function-scoped on purpose
# (the rows they make are shared by every example of a test, which the savepoints keep unchanged).
# No "explain" phase: on a failure it re-runs the test many times to comment the falsifying
# example, which costs seconds per test that writes rows; the shrunk example is enough.
COMMON = {
    "deadline": None,
    "database": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@contextmanager
def rolled_back():
    """A savepoint undone at the end, whatever happened inside it."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _checksum(rows) -> tuple[int, str]:
    rows = sorted(tuple(str(value) for value in row) for row in rows)
    return len(rows), hashlib.sha256(repr(rows).encode("utf-8", "backslashreplace")).hexdigest()[:16]


def table_state() -> dict[str, Any]:
    """Counts and checksums of the rows a refused call must leave as they were."""
    return {
        "customer": _checksum(Customer.objects.values_list("customer_id", "status")),
        "plan": _checksum(Plan.objects.values_list("id", "customer_id", "total_amount", "installment_count", "status")),
        "installment": _checksum(
            Installment.objects.values_list("id", "plan_id", "number", "amount_due", "due_date", "status", "paid_at")
        ),
        "refund": _checksum(
            Refund.objects.values_list(
                "id", "customer_id", "plan_id", "transaction_id", "amount", "reason", "status", "processed_at"
            )
        ),
        "webhook_event": _checksum(WebhookEvent.objects.values_list("id", "webhook_id", "status")),
        "audit_events": AuditEvent.objects.count(),
    }


@dataclass(frozen=True)
class Outcome:
    result: Any
    refusal: Exception | None
    before: dict
    after: dict


def attempt(call, refusals: tuple[type[Exception], ...], **kwargs) -> Outcome:
    """Call a service in a savepoint that is then rolled back.

    The call's result or its refusal (one of `refusals`) is returned with the table state before
    the call and right after it (taken inside the savepoint, so a write made before a refusal
    shows). Any other exception is a failure of the property: it propagates.
    """
    before = table_state()
    result = refusal = None
    with rolled_back():
        try:
            result = call(**kwargs)
        except refusals as exc:
            refusal = exc
        after = table_state()
    return Outcome(result=result, refusal=refusal, before=before, after=after)


def assert_refused(call, refusals: tuple[type[Exception], ...], **kwargs) -> Exception:
    """The call raises one of `refusals` (never another exception) and changes no row."""
    outcome = attempt(call, refusals, **kwargs)
    assert outcome.refusal is not None, f"{call.__name__} accepted it and returned {outcome.result!r}"
    assert outcome.after == outcome.before, f"{call.__name__} refused ({outcome.refusal!r}) but changed rows"
    return outcome.refusal
