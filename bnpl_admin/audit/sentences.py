"""Audit events as people read them on the timeline and the audit log: "Status changed from Normal
to Debt user: Overdue installment", amounts with their currency. Exports keep the event's data as
recorded (`audit.tables`), and an action without a sentence here is shown as its data."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bnpl_admin.staff.templatetags.bnpl import audit_value, money

PII_WORDS = {"phone_number": "Phone number", "passport_number": "Passport number", "card_number": "Card number"}


def word(code) -> str:
    """A status code as a word: "DEBT_USER" -> "Debt user"."""
    return str(code).replace("_", " ").capitalize() if code else "—"


def _because(text) -> str:
    return f": {text}" if text else ""


def _count(n, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _allocations(parts) -> str:
    return ", ".join(f"#{part['number']} {money(part['amount'])}" for part in parts or [])


def _plan_created(d: dict) -> str:
    text = f"Plan of {money(d['total_amount'])} in {d['installment_count']} installments created"
    text += f", from {d['start_date']}"
    return text + (f", merchant {d['merchant']}" if d.get("merchant") else "")


def _plan_cancelled(d: dict) -> str:
    written_off = d.get("written_off")
    text = f"Plan cancelled{_because(d.get('reason'))}"
    return text + (f"; {money(written_off)} no longer owed" if written_off and Decimal(written_off) else "")


def _payment_recorded(d: dict) -> str:
    text = f"Payment of {money(d['amount'])} by {word(d.get('method'))}, reference {d['reference']}"
    parts = _allocations(d.get("allocations"))
    return text + (f": paid {parts}" if parts else "")


def _refund_status_changed(d: dict) -> str:
    text = f"Refund {d.get('transaction_id', '')} went from {word(d['from'])} to {word(d['to'])}".replace("  ", " ")
    if d.get("amount_applied") is not None:
        text += f": {money(d['amount_applied'])} off the plan, {money(d['amount_to_customer'])} owed to the customer"
    elif d.get("detail"):
        text += _because(d["detail"])
    return text


def _refund_cancelled(d: dict) -> str:
    return f"Refund {d['transaction_id']} cancelled by staff{_because(d.get('staff_reason'))}"


def _hold_ended(d: dict) -> str:
    until = f" (it was until {d['hold_until']})" if d.get("hold_until") else ""
    return f"Hold ended{until}{_because(d.get('reason'))}"


def _exported(d: dict) -> str:
    query = ", ".join(f"{name}={value}" for name, value in sorted(d.get("query", {}).items()))
    return f"{_count(d['rows'], 'row')} exported" + (f", filtered by {query}" if query else "")


def _overdue_checked(d: dict) -> str:
    parts = [
        _count(d.get("installments_marked_overdue", 0), "installment") + " overdue",
        _count(d.get("customers_marked_debt", 0), "customer") + " in debt",
    ]
    for key, one in (
        ("cases_opened", "case opened"),
        ("promises_kept", "promise kept"),
        ("promises_broken", "promise broken"),
    ):
        if d.get(key):
            parts.append(_count(d[key], one, one.replace(" ", "s ", 1)))
    return "Overdue check: " + ", ".join(parts)


SENTENCES: dict[str, Callable[[dict], str]] = {
    "customer.created": lambda d: "Customer created",
    "customer.status_changed": lambda d: (
        f"Status changed from {word(d['from'])} to {word(d['to'])}{_because(d.get('reason'))}"
    ),
    "customer.hold_set": lambda d: f"On hold until {d['hold_until']}{_because(d.get('reason'))}",
    "customer.hold_ended": _hold_ended,
    "customer.pii_revealed": lambda d: f"{PII_WORDS.get(d['field'], word(d['field']))} revealed",
    "plan.created": _plan_created,
    "plan.completed": lambda d: "Plan completed: nothing left to pay",
    "plan.cancelled": _plan_cancelled,
    "plan.active": lambda d: f"Plan active again (was {word(d['from'])})",
    "payment.recorded": _payment_recorded,
    "payment.reversed": lambda d: (
        f"Payment {d['reference']} of {money(d['amount'])} reversed{_because(d.get('reason'))}"
    ),
    "refund.issued": lambda d: f"Refund {d['transaction_id']} of {money(d['amount'])} issued",
    "refund.status_changed": _refund_status_changed,
    "refund.cancelled": _refund_cancelled,
    "case.assigned": lambda d: f"Case assigned to {d['to']}" if d.get("to") else "Case unassigned",
    "case.note_added": lambda d: f"Note: {d['note']}" + (" (numbers masked)" if d.get("masked") else ""),
    "case.promise_added": lambda d: f"Promise to pay {money(d['amount'])} by {d['due_date']}",
    "overdue.checked": _overdue_checked,
    "webhook.processed": lambda d: (
        f"Merchant reported {d.get('requested', '')}: {word(d['status'])}{_because(d.get('detail'))}"
    ),
    "webhook.reprocess_requested": lambda d: f"Sent for processing again (was {word(d.get('was'))})",
    "merchant.created": lambda d: f"Merchant {d['name']} added",
    "merchant.secret_rotated": lambda d: (
        f"Webhook secret rotated; the previous one works until {d['previous_valid_until']}"
    ),
    "api_token.issued": lambda d: "API token issued",
    "table.exported": _exported,
    "demo.seeded": lambda d: (
        f"Demo data loaded: {d['customers']} customers, {d['plans']} plans, {d['refunds']} refunds"
    ),
}


# Where "noun verb" (customer.hold_set -> "Customer hold set") does not read well.
ACTION_WORDS = {
    "customer.pii_revealed": "Personal data revealed",
    "customer.status_changed": "Status changed",
    "customer.hold_set": "Hold set",
    "customer.hold_ended": "Hold ended",
    "api_token.issued": "API token issued",
    "overdue.checked": "Overdue check",
    "webhook.reprocess_requested": "Webhook reprocessed",
    "table.exported": "Table exported",
    "demo.seeded": "Demo data loaded",
}


def action_words(action: str) -> str:
    """An action as words: "payment.reversed" -> "Payment reversed"."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    noun, _, verb = action.partition(".")
    return f"{word(noun)} {verb.replace('_', ' ')}".strip()


def _as_data(data: dict) -> str:
    return " · ".join(f"{key}: {audit_value(value)}" for key, value in data.items())


def describe(action: str, data: dict | None) -> str:
    """The sentence of an event; its data as `key: value` pairs when the action has none (or its
    data is of an older shape)."""
    data = data or {}
    sentence = SENTENCES.get(action)
    if sentence is not None:
        try:
            return sentence(data)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            pass
    return _as_data(data)
