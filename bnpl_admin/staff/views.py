"""View helpers every domain's pages share: table pages, and the customer a page is about."""

import copy

from django.http import Http404
from django_tables2 import RequestConfig, SingleTableMixin

from bnpl_admin.customers import selectors
from bnpl_admin.customers.errors import CustomerNotFound


class HtmxTableMixin:
    """Full page normally; only the `#table` partial when htmx swaps the table."""

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return [f"{self.template_name}#table"]
        return [self.template_name]


class TableMixin(SingleTableMixin):
    """django-tables2's SingleTableMixin, sorting by the table's columns only.

    A `?sort=` key that names no column is dropped before django-tables2 reads the query: the
    library ignores it as well, but warns first about a "." in one (its old accessor syntax).
    """

    def get_table(self, **kwargs):
        table = self.get_table_class()(data=self.get_table_data(), **kwargs)
        field = table.prefixed_order_by_field
        query = self.request.GET.copy()
        if field in query:  # "" when none is left: no order, as a sort by no column gives
            known = [key for key in query.getlist(field) if key.removeprefix("-") in table.columns]
            query.setlist(field, known or [""])
        request = copy.copy(self.request)
        request.GET = query
        RequestConfig(request, paginate=self.get_table_pagination(table)).configure(table)
        table.request = self.request
        return table


def customer_or_404(customer_id):
    """The customer for a page, or the 404 page."""
    try:
        return selectors.get_customer(customer_id)
    except CustomerNotFound:
        raise Http404(f"No customer {customer_id}") from None
