from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "bnpl_admin.dashboard"
