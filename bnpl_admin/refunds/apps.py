from django.apps import AppConfig


class RefundsConfig(AppConfig):
    name = "bnpl_admin.refunds"
