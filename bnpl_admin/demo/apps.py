from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "bnpl_admin.demo"
    label = "demo"
