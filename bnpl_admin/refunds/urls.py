from django.urls import path

from bnpl_admin.refunds import views

app_name = "refunds"

urlpatterns = [
    path("customers/<str:customer_id>/refunds/new/", views.issue_refund, name="issue"),
    path("refunds/<uuid:refund_id>/cancel/", views.cancel_refund, name="cancel"),
]
