"""The staff roles (Django groups) and the permissions each one holds.

`migrate` creates and updates them (see apps.py), so a fresh database has them without any manual step.
"""

from bnpl_admin.staff.backends import remembered

SUPPORT = "support"
RISK = "risk"

SUPPORT_PERMISSIONS = [
    "customers.view_customer",
    "customers.add_customer",
    "plans.view_plan",
    "plans.add_plan",
    "plans.record_payment",
    "refunds.view_refund",
    "refunds.add_refund",
    "refunds.cancel_refund",
    "webhooks.view_webhookevent",
]

RISK_PERMISSIONS = [
    *SUPPORT_PERMISSIONS,
    "customers.review_debt",
    "customers.override_status",
    "customers.reveal_pii",
    "audit.view_auditevent",
    "webhooks.view_merchant",
    "webhooks.reprocess_webhookevent",
]

ROLE_PERMISSIONS = {SUPPORT: SUPPORT_PERMISSIONS, RISK: RISK_PERMISSIONS}


def sync_roles(*, using: str = "default") -> None:
    """Create the role groups and set exactly their permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        permissions = []
        for name in names:
            app_label, codename = name.split(".")
            permissions.append(
                Permission.objects.using(using).get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(permissions)


def role_of(user) -> str:
    """The role to show for a user: admin, risk, support, or "staff"."""
    if user.is_superuser:
        return "admin"
    names = remembered(user, "groups", lambda: frozenset(user.groups.values_list("name", flat=True)))
    for role in (RISK, SUPPORT):
        if role in names:
            return role
    return "staff"
