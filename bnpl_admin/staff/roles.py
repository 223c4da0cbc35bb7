"""The staff roles (Django groups) and the permissions each one holds.

`migrate` creates and updates them (see apps.py), so a fresh database has them without any manual step.
"""

from django.contrib.auth.decorators import permission_required

SUPPORT = "support"
RISK = "risk"

SUPPORT_PERMISSIONS = [
    "customers.view_customer",
    "customers.add_customer",
    "plans.view_plan",
    "plans.add_plan",
    "plans.record_payment",
    "plans.view_payment",
    "plans.cancel_plan",
    "refunds.view_refund",
    "refunds.add_refund",
    "refunds.cancel_refund",
    "webhooks.view_webhookevent",
    "collection.view_case",
]

RISK_PERMISSIONS = [
    *SUPPORT_PERMISSIONS,
    "customers.review_debt",
    "customers.override_status",
    "customers.reveal_pii",
    "plans.reverse_payment",
    "collection.work_case",
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
    """The role to show for a user: admin, risk, support, or "staff". Told by the permissions the
    user holds (already read for the request), so it costs no query of its own."""
    if user.is_superuser:
        return "admin"
    for role in (RISK, SUPPORT):
        if user.has_perms(ROLE_PERMISSIONS[role]):
            return role
    return "staff"


def requires(permission: str):
    """Django's `permission_required(permission, raise_exception=True)`, with the permission kept on
    the view (as PermissionRequiredMixin keeps it on the class) for the one-line 403 log."""

    def decorate(view):
        checked = permission_required(permission, raise_exception=True)(view)
        checked.permission_required = permission
        return checked

    return decorate


def permission_of(view) -> str:
    """The permission a resolved view requires, when it says (see `requires`), else ""."""
    required = getattr(getattr(view, "view_class", view), "permission_required", "")
    return required if isinstance(required, str) else ",".join(required)
