from django.urls import path

from bnpl_admin.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerList.as_view(), name="list"),
]
