from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "bnpl_admin.plans"
