from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "bnpl_admin.webhooks"
