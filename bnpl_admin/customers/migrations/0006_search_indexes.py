"""Indexes for the customer search (`selectors.search_customers`), on PostgreSQL.

The search is `customer_id ILIKE 'text%' OR full_name ILIKE '%text%'`, which Django writes as
`UPPER(column::text) LIKE UPPER(...)`. Without an index for either side every search read the whole
table: 0.5-0.6 s at a million customers for an exact customer id or a rare name. These indexes are
on exactly those expressions: a B-tree with pattern operators for the id prefix, a trigram GIN
index for the part of the name (PostgreSQL's pg_trgm extension, trusted: the database's owner may
install it). Django's model state does not describe expression and GIN indexes portably, so they
are made here, on PostgreSQL only; SQLite (development) keeps scanning.
"""

from django.db import migrations

INDEXES = {
    "customer_id_upper_prefix": "(UPPER(customer_id::text) text_pattern_ops)",
    "customer_name_upper_trgm": "USING gin (UPPER(full_name::text) gin_trgm_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_customer_id_without_like_index"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
