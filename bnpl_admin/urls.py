from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from bnpl_admin.audit.views import AuditLog
from bnpl_admin.customers.views import DebtReview
from bnpl_admin.dashboard import views as dashboard_views
from bnpl_admin.webhooks.endpoint import refund_status

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False), name="home"),
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (the admin, the API's JSON).
    # The static URL is looked up per request: in production it is the manifest's hashed name.
    path(
        "favicon.ico",
        login_not_required(RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=False)),
        name="favicon",
    ),
    # Django's sign-in and sign-out only: no self-service password reset (an admin resets a staff
    # password with `manage.py changepassword` or in the admin), so no page sends mail.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customers/", include("bnpl_admin.customers.urls")),
    path("", include("bnpl_admin.plans.urls")),
    path("", include("bnpl_admin.refunds.urls")),
    path("risk/", DebtReview.as_view(), name="risk"),
    path("collections/", include("bnpl_admin.collection.urls")),
    path("audit/", AuditLog.as_view(), name="audit"),
    path("", include("bnpl_admin.webhooks.urls")),
    path("webhook/refund-status/", refund_status, name="webhook-refund-status"),
    path("api/v1/", include("bnpl_admin.api.urls")),
    path("health/", dashboard_views.health, name="health"),
    path("admin/", admin.site.urls),
]

handler400 = "bnpl_admin.staff.errors.bad_request"
handler500 = "bnpl_admin.staff.errors.server_error"
handler404 = "bnpl_admin.staff.errors.not_found"
handler403 = "bnpl_admin.staff.errors.permission_denied"
