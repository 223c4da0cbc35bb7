from django.urls import path

from bnpl_admin.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerList.as_view(), name="list"),
    path("<str:customer_id>/", views.CustomerDetail.as_view(), name="detail"),
    path("<str:customer_id>/status/", views.override_status, name="override_status"),
    path("<str:customer_id>/reveal/<str:field>/", views.reveal_pii, name="reveal"),
]
