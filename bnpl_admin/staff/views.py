"""View helpers every domain's pages share: table pages, and the customer a page is about."""

import copy
from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.html import format_html
from django_tables2 import RequestConfig, SingleTableMixin

from bnpl_admin.customers import selectors
from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.staff.submissions import InvalidToken, submit_once


class HtmxTableMixin:
    """Full page normally; only the `#table` partial when htmx swaps the table."""

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return [f"{self.template_name}#table"]
        return [self.template_name]


# Query keys that page or sort a table rather than filter it.
NOT_FILTERS = {"sort", "page", "per_page", "_export"}


class TableMixin(SingleTableMixin):
    """django-tables2's SingleTableMixin, sorting by the table's columns only, and saying what an
    empty table means: nothing yet, or nothing matching the filters (with a link to clear them).

    A `?sort=` key that names no column is dropped before django-tables2 reads the query: the
    library ignores it as well, but warns first about a "." in one (its old accessor syntax).
    """

    # What the rows are, for the empty table's text: ("customer", "customers").
    rows_named = ("row", "rows")

    def get_table_kwargs(self):
        one, many = self.rows_named
        filtered = any(value for key, value in self.request.GET.items() if key not in NOT_FILTERS)
        if filtered:
            empty = format_html('No {} matches these filters. <a href="{}">Clear filters</a>', one, self.request.path)
        else:
            empty = f"No {many} yet."
        return {**super().get_table_kwargs(), "empty_text": empty}

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
        table.rows_named = self.rows_named  # the result count's words
        return table


def customer_or_404(customer_id):
    """The customer for a page, or the 404 page."""
    try:
        return selectors.get_customer(customer_id)
    except CustomerNotFound:
        raise Http404(f"No customer {customer_id}") from None


# A page message: its text (a success, or for a replay an info), or (a messages level, text).
Message = str | tuple[int, str]


def submit_form(
    request,
    form,
    *,
    action: str,
    work: Callable[[], str],
    refused: tuple[type[Exception], ...],
    replayed: Message,
    done: Callable[[], Message],
) -> HttpResponse | None:
    """The page side of `submit_once` for a valid form with a one-time token: run `work` once and
    redirect to its result with `done()`'s message, or `replayed` for a second submission. A
    refusal (`refused`, or a stale token) becomes the form's error and None: the view renders the
    form again."""
    try:
        submitted = submit_once(token=form.cleaned_data["token"], user=request.user, action=action, work=work)
    except (*refused, InvalidToken) as exc:
        form.add_error(None, str(exc))
        return None
    message, level = (replayed, messages.INFO) if submitted.replayed else (done(), messages.SUCCESS)
    level, text = message if isinstance(message, tuple) else (level, message)
    messages.add_message(request, level, text)
    return redirect(submitted.result_url)
