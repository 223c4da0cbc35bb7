from django.urls import path

from bnpl_admin.plans import views

app_name = "plans"

urlpatterns = [
    path("customers/<str:customer_id>/plans/new/", views.create_plan, name="create"),
    path("customers/<str:customer_id>/payments/new/", views.record_payment, name="record_payment"),
    path("installments/<int:installment_id>/pay/", views.pay_installment, name="pay"),
    path("payments/<uuid:payment_id>/reverse/", views.reverse_payment, name="reverse_payment"),
    path("plans/<uuid:plan_id>/cancel/", views.cancel_plan, name="cancel"),
]
