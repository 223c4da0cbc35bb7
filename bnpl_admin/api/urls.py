from django.conf import settings
from django.urls import path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from bnpl_admin.api import views

app_name = "api"

urlpatterns = [
    path("users/", views.UserList.as_view(), name="users"),
    path("users/<str:customer_id>/", views.UserDetail.as_view(), name="user"),
    path("users/<str:customer_id>/case/", views.CaseDetail.as_view(), name="case"),
    path("users/<str:customer_id>/case/notes/", views.CaseNoteCreate.as_view(), name="case-notes"),
    path("users/<str:customer_id>/case/promises/", views.PromiseCreate.as_view(), name="case-promises"),
    path("debt/<str:customer_id>/", views.DebtView.as_view(), name="debt"),
    path("plans/", views.PlanCreate.as_view(), name="plans"),
    path("plans/<uuid:plan_id>/", views.PlanDetail.as_view(), name="plan"),
    path("plans/<uuid:plan_id>/cancel/", views.PlanCancel.as_view(), name="plan-cancel"),
    path("payments/", views.PaymentCreate.as_view(), name="payments"),
    path("payments/<uuid:payment_id>/", views.PaymentDetail.as_view(), name="payment"),
    path("payments/<uuid:payment_id>/reverse/", views.PaymentReverse.as_view(), name="payment-reverse"),
    path("refunds/", views.RefundCreate.as_view(), name="refunds"),
    path("refunds/<uuid:refund_id>/", views.RefundDetail.as_view(), name="refund"),
    path("refunds/<uuid:refund_id>/cancel/", views.RefundCancel.as_view(), name="refund-cancel"),
    path("risk/portfolio/", views.RiskPortfolio.as_view(), name="risk-portfolio"),
    path("health/", views.Health.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "docs/",
        # Swagger UI's page has one inline <style>: allowed on this page only. Its script is served
        # by the split view as a separate file, so scripts stay 'self' only. GET/HEAD only.
        require_safe(
            csp_override({**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]})(
                SpectacularSwaggerSplitView.as_view(
                    url_name="api:schema", permission_classes=[], authentication_classes=[]
                )
            )
        ),
        name="docs",
    ),
]
