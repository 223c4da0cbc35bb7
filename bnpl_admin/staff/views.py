"""View helpers every domain's pages share: table pages, and the customer a page is about."""

from django.http import Http404

from bnpl_admin.customers import selectors
from bnpl_admin.customers.errors import CustomerNotFound


class HtmxTableMixin:
    """Full page normally; only the `#table` partial when htmx swaps the table."""

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return [f"{self.template_name}#table"]
        return [self.template_name]


def customer_or_404(customer_id):
    """The customer for a page, or the 404 page."""
    try:
        return selectors.get_customer(customer_id)
    except CustomerNotFound:
        raise Http404(f"No customer {customer_id}") from None
