from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _create_roles(sender, using="default", verbosity=1, **kwargs):
    from django.contrib.auth.management import create_permissions

    from bnpl_admin.staff.roles import sync_roles

    # Permissions are created per app as each app's post_migrate fires; make sure all exist first.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_roles(using=using)


class StaffConfig(AppConfig):
    name = "bnpl_admin.staff"

    def ready(self):
        post_migrate.connect(_create_roles, sender=self, dispatch_uid="bnpl_staff_roles")
