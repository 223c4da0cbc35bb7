from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "bnpl_admin.api"
