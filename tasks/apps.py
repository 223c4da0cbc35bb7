from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _register_schedules(sender, using="default", **kwargs):
    from tasks.schedules import register_schedules

    register_schedules(using=using)


class TasksConfig(AppConfig):
    name = "tasks"

    def ready(self):
        post_migrate.connect(_register_schedules, sender=self, dispatch_uid="bnpl_register_schedules")
