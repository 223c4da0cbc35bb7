from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "bnpl_admin.audit"
