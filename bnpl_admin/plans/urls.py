from django.urls import path

from bnpl_admin.plans import views

app_name = "plans"

urlpatterns = [
    path("customers/<str:customer_id>/plans/new/", views.create_plan, name="create"),
    path("installments/<int:installment_id>/pay/", views.record_payment, name="pay"),
]
