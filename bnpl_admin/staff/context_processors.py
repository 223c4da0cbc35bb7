from bnpl_admin.staff.roles import role_of


def navigation(request):
    """What the navigation bar needs: the signed-in user's role and the sections they may open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Tables render with their own context, so this runs more than once per request: compute once.
    if not hasattr(request, "_staff_navigation"):
        request._staff_navigation = {
            "staff_role": role_of(user),
            "nav": {
                "customers": user.has_perm("customers.view_customer"),
                "risk": user.has_perm("customers.review_debt"),
                "audit": user.has_perm("audit.view_auditevent"),
                "webhooks": user.has_perm("webhooks.view_webhookevent"),
                "merchants": user.has_perm("webhooks.view_merchant"),
                "admin": user.is_staff,
            },
        }
    return request._staff_navigation
