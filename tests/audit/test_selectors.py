"""The audit trail's reads."""

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.selectors import actions_in_use

pytestmark = pytest.mark.django_db


def _events(*actions: str) -> None:
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(at=now, actor_kind="system", actor_label="test", action=action, target_type="t", target_id="1")
        for action in actions
    )


def test_an_empty_trail_has_no_actions():
    assert actions_in_use() == []


def test_each_action_once_in_order_however_often_and_in_whatever_order_it_was_recorded():
    _events(*["refund.issued"] * 30, "plan.created", *["customer.status_changed"] * 200, "overdue.checked")
    _events("plan.created", "a.first", "z.last")

    assert actions_in_use() == sorted(set(AuditEvent.objects.values_list("action", flat=True)))
    assert actions_in_use() == [
        "a.first",
        "customer.status_changed",
        "overdue.checked",
        "plan.created",
        "refund.issued",
        "z.last",
    ]


def test_the_actions_are_found_with_one_query(django_assert_num_queries):
    _events("b", "a", "c", "a")

    with django_assert_num_queries(1):
        assert actions_in_use() == ["a", "b", "c"]
