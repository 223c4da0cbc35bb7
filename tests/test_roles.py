"""Roles and schedules come from `migrate` (DESIGN: External contract), idempotently."""

import pytest
from django.contrib.auth.models import Group
from django.core.management.sql import emit_post_migrate_signal
from django_q.models import Schedule

from bnpl_admin.staff.roles import RISK, RISK_PERMISSIONS, SUPPORT, SUPPORT_PERMISSIONS, role_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _permissions(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def _run_post_migrate_twice() -> None:
    for _ in range(2):
        emit_post_migrate_signal(verbosity=0, interactive=False, db="default")


@pytest.mark.parametrize(("role", "permissions"), [(SUPPORT, SUPPORT_PERMISSIONS), (RISK, RISK_PERMISSIONS)])
def test_migrate_creates_each_role_with_exactly_its_permissions(role, permissions):
    assert _permissions(role) == set(permissions)


def test_support_cannot_reveal_pii_or_override_a_status():
    assert not {"customers.reveal_pii", "customers.override_status", "customers.review_debt"} & _permissions(SUPPORT)


def test_risk_can_do_everything_support_can():
    assert _permissions(SUPPORT) <= _permissions(RISK)


def test_running_post_migrate_again_changes_no_role():
    before = {role: _permissions(role) for role in (SUPPORT, RISK)}

    _run_post_migrate_twice()

    assert Group.objects.filter(name__in=[SUPPORT, RISK]).count() == 2
    assert {role: _permissions(role) for role in (SUPPORT, RISK)} == before


def test_post_migrate_restores_a_role_permission_removed_by_hand():
    Group.objects.get(name=SUPPORT).permissions.clear()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert _permissions(SUPPORT) == set(SUPPORT_PERMISSIONS)


def test_the_overdue_checker_is_scheduled_every_five_minutes():
    schedule = Schedule.objects.get(name="check-overdue")

    assert schedule.func == "tasks.overdue.run_check_overdue"
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.minutes == 5
    assert schedule.repeats == -1


def test_the_overdue_checker_is_scheduled_exactly_once_when_post_migrate_runs_twice():
    _run_post_migrate_twice()

    assert Schedule.objects.filter(name="check-overdue").count() == 1
    assert Schedule.objects.filter(func="tasks.overdue.run_check_overdue").count() == 1


def test_a_schedule_edited_by_hand_is_put_back_by_migrate():
    Schedule.objects.filter(name="check-overdue").update(minutes=60)

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert Schedule.objects.get(name="check-overdue").minutes == 5


@pytest.mark.parametrize(
    ("make_user", "role"),
    [
        (lambda: UserFactory.support(), "support"),
        (lambda: UserFactory.risk(), "risk"),
        (lambda: UserFactory(), "staff"),
        (lambda: UserFactory(is_superuser=True), "admin"),
    ],
)
def test_role_of_names_the_users_role(make_user, role):
    assert role_of(make_user()) == role


def test_a_support_agent_holds_the_support_permissions_and_not_reveal():
    agent = UserFactory.support()

    assert agent.has_perms(SUPPORT_PERMISSIONS)
    assert not agent.has_perm("customers.reveal_pii")


def test_a_risk_officer_may_reveal_pii_and_override_status():
    officer = UserFactory.risk()

    assert officer.has_perms(["customers.reveal_pii", "customers.override_status", "customers.review_debt"])


def test_a_role_taken_away_closes_its_pages_on_the_next_request(client):
    officer = UserFactory.risk()
    client.force_login(officer)
    assert client.get("/risk/").status_code == 200
    officer.groups.clear()

    assert client.get("/risk/").status_code == 403
    assert role_of(officer) == "staff"


def test_a_permission_taken_from_a_role_closes_its_pages_on_the_next_request(client):
    from django.contrib.auth.models import Permission

    client.force_login(UserFactory.risk())
    assert client.get("/risk/").status_code == 200
    Group.objects.get(name=RISK).permissions.remove(Permission.objects.get(codename="review_debt"))

    assert client.get("/risk/").status_code == 403


def test_a_deactivated_user_is_signed_out_at_once(client):
    agent = UserFactory.support()
    client.force_login(agent)
    assert client.get("/customers/").status_code == 200
    agent.is_active = False
    agent.save(update_fields=["is_active"])

    response = client.get("/customers/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_changed_password_signs_the_other_sessions_out(client):
    agent = UserFactory.support()
    client.force_login(agent)
    assert client.get("/customers/").status_code == 200
    agent.set_password("another-long-password-1")
    agent.save()

    response = client.get("/customers/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_users_own_and_group_permissions_are_read_in_one_query(django_assert_num_queries):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    agent = UserFactory.support()
    agent.user_permissions.add(Permission.objects.get(codename="reveal_pii"))
    agent = get_user_model().objects.get(pk=agent.pk)  # nothing read yet

    with django_assert_num_queries(1):
        assert agent.has_perms(["customers.reveal_pii", "customers.view_customer", "plans.add_plan"])
        assert not agent.has_perm("customers.override_status")
        assert role_of(agent) == SUPPORT  # from the same permissions, no query of its own


def test_a_user_holding_every_risk_permission_directly_is_shown_as_risk():
    from django.contrib.auth.models import Permission

    officer = UserFactory()
    for name in RISK_PERMISSIONS:
        app_label, codename = name.split(".")
        officer.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))

    assert role_of(officer) == RISK
