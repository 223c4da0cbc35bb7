from django.utils.functional import SimpleLazyObject

from bnpl_admin.staff.roles import role_of


def navigation(request):
    """What the navigation bar needs: the signed-in user's role and the sections they may open.

    Lazy: only a page that shows the bar reads the role and the permissions; htmx fragments, such
    as the health panels polled every 5 seconds, never do.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "staff_role": SimpleLazyObject(lambda: role_of(user)),
        "nav": SimpleLazyObject(
            lambda: {
                "customers": user.has_perm("customers.view_customer"),
                "risk": user.has_perm("customers.review_debt"),
                "collections": user.has_perm("collection.work_case"),
                "audit": user.has_perm("audit.view_auditevent"),
                "webhooks": user.has_perm("webhooks.view_webhookevent"),
                "merchants": user.has_perm("webhooks.view_merchant"),
                "admin": user.is_staff,
            }
        ),
    }
