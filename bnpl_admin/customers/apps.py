from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "bnpl_admin.customers"
