from django.contrib.auth.mixins import PermissionRequiredMixin
from django_tables2 import SingleTableView
from django_tables2.paginators import LazyPaginator

from bnpl_admin.customers import selectors
from bnpl_admin.customers.tables import CustomerTable


class CustomerList(PermissionRequiredMixin, SingleTableView):
    permission_required = "customers.view_customer"
    table_class = CustomerTable
    # LazyPaginator: no COUNT(*) over the whole table on every page view.
    table_pagination = {"per_page": 25, "paginator_class": LazyPaginator}
    template_name = "customers/list.html"

    def get_queryset(self):
        return selectors.customer_list()

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return ["customers/list.html#table"]
        return ["customers/list.html"]
