from django.apps import AppConfig


class CollectionConfig(AppConfig):
    name = "bnpl_admin.collection"
    label = "collection"
    verbose_name = "Collections"
