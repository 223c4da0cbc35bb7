"""On PostgreSQL the customer search reads indexes, not the whole table (migration 0006).

The indexes are on the exact expressions Django writes for `istartswith` and `icontains`
(`UPPER(column::text)`): if either side changed, the search would silently go back to reading
every customer. With sequential scans priced out, the planner must reach each index; and with
walking the customer_id index in order priced out too (on an empty table the planner may prefer
it to a sort, whatever the filter), only an index on the searched expression is left.
"""

import pytest
from django.db import connection

from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.selectors import search_customers
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def plan_of(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


def test_a_customer_id_prefix_is_an_index_range():
    plan = plan_of(Customer.objects.filter(customer_id__istartswith="usr-0251"))

    assert "customer_id_upper_prefix" in plan


def test_part_of_a_name_is_found_through_the_trigram_index():
    plan = plan_of(Customer.objects.filter(full_name__icontains="nazar"))

    assert "customer_name_upper_trgm" in plan


def test_the_search_reads_both_indexes_and_finds_by_id_prefix_and_by_name():
    CustomerFactory(customer_id="usr-0251380", full_name="Bobur Nazarov")
    CustomerFactory(customer_id="usr-0777777", full_name="Feruza Hamidova")

    plan = plan_of(search_customers(Customer.objects.all(), "Nazar"))
    assert "customer_id_upper_prefix" in plan and "customer_name_upper_trgm" in plan
    assert [c.customer_id for c in search_customers(Customer.objects.all(), "USR-0251")] == ["usr-0251380"]
    assert [c.customer_id for c in search_customers(Customer.objects.all(), "hamid")] == ["usr-0777777"]
