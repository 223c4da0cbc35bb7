"""Customer pages: the list, the profile, risk review, status override and audited PII reveal."""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from django_filters.views import FilterView

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import selectors as collection
from bnpl_admin.customers import selectors, services
from bnpl_admin.customers.errors import CustomerNotFound, InvalidOverride, UnknownPiiField
from bnpl_admin.customers.filters import CustomerFilter, DebtUserFilter
from bnpl_admin.customers.forms import StatusOverrideForm
from bnpl_admin.customers.masking import as_printed
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import PII_FIELDS
from bnpl_admin.customers.tables import CustomerTable, DebtUserTable
from bnpl_admin.plans.selectors import payments_of, plan_balance, plans_of
from bnpl_admin.refunds.selectors import refunds_of
from bnpl_admin.staff.exports import CsvExportMixin
from bnpl_admin.staff.paginators import LazyPaginator
from bnpl_admin.staff.roles import requires
from bnpl_admin.staff.views import HtmxTableMixin, TableMixin, customer_or_404


class SearchFormMixin:
    """Search without a typed phone number ever reaching a URL, a link, history or an access log.

    The search form is POSTed and answered with the equivalent GET URL (a redirect, or htmx's
    pushed URL), in which a phone number has become `ph=<its lookup hash>`. A GET with `q=<phone>`
    (an old bookmark) is redirected the same way.
    """

    search_params = ("q", "status", "sort")

    @staticmethod
    def _hash_phone(params: QueryDict) -> bool:
        """Replace a phone number typed as `q` by `ph=<its lookup hash>`; whether there was one."""
        query = params.get("q", "")
        if not selectors.looks_like_phone(query):
            return False
        del params["q"]
        params["ph"] = selectors.phone_lookup_hash(query)
        return True

    def _search_url(self, source) -> tuple[str, QueryDict]:
        params = QueryDict(mutable=True)
        for name in self.search_params:
            if source.get(name):
                params[name] = source[name]
        if not self._hash_phone(params) and source.get("ph") and not params.get("q"):
            params["ph"] = source["ph"]
        return f"{self.request.path}?{params.urlencode()}" if params else self.request.path, params

    def get(self, request, *args, **kwargs):
        params = request.GET.copy()
        if self._hash_phone(params):
            return redirect(f"{request.path}?{params.urlencode()}")
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        url, params = self._search_url(request.POST)
        if not request.htmx:
            return redirect(url)
        request.GET = params
        response = super().get(request, *args, **kwargs)
        response["HX-Push-Url"] = url
        return response


class CustomerList(PermissionRequiredMixin, SearchFormMixin, HtmxTableMixin, CsvExportMixin, TableMixin, FilterView):
    permission_required = "customers.view_customer"
    table_class = CustomerTable
    rows_named = ("customer", "customers")
    filterset_class = CustomerFilter
    # LazyPaginator: no COUNT(*) over the whole table on every page view.
    table_pagination = {"per_page": 25, "paginator_class": LazyPaginator}
    template_name = "customers/list.html"
    export_name = "customers"

    def get_queryset(self):
        return selectors.customer_list()


class DebtReview(PermissionRequiredMixin, SearchFormMixin, HtmxTableMixin, CsvExportMixin, TableMixin, FilterView):
    permission_required = "customers.review_debt"
    table_class = DebtUserTable
    rows_named = ("customer in debt", "customers in debt")
    filterset_class = DebtUserFilter
    table_pagination = {"per_page": 25, "paginator_class": LazyPaginator}
    template_name = "customers/risk.html"
    export_name = "debt-users"
    search_params = ("q", "bucket", "sort")

    def get_queryset(self):
        return selectors.debt_users()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if not self.request.htmx or self.request.htmx.history_restore_request:  # the strip is not in #table
            # The day's snapshot the checker keeps (one row), never an aggregate over installments.
            context["portfolio"] = collection.portfolio_figures()
        return context


class CustomerDetail(PermissionRequiredMixin, TemplateView):
    permission_required = "customers.view_customer"
    template_name = "customers/detail.html"

    def get_context_data(self, **kwargs):
        customer = customer_or_404(self.kwargs["customer_id"])
        plans = plans_of(customer)
        refunds = refunds_of(customer)
        return {
            **super().get_context_data(**kwargs),
            "customer": customer,
            "debt": selectors.debt_summary(i for plan in plans for i in plan.installments_in_order),
            "plans": [(plan, plan_balance(plan, refunds)) for plan in plans],
            "refunds": refunds,
            "payments": payments_of(customer),
            "timeline": selectors.timeline(customer),
            "pii_fields": [(name, getattr(customer, masked)) for name, (_, masked) in PII_FIELDS.items()],
            "status_form": StatusOverrideForm(initial={"status": customer.status}),
            "case_panel": collection.open_case_panel(customer),
        }


@require_POST
@requires("customers.reveal_pii")
def reveal_pii(request, customer_id, field):
    """Show one field of one customer in clear, once, audited. Never cached."""
    try:
        value = services.reveal_pii(customer_id=customer_id, field=field, actor=Actor.from_request(request))
    except (CustomerNotFound, UnknownPiiField):
        raise Http404("No such customer or field") from None
    context = {
        "customer_id": customer_id,
        "field": field,
        "value": as_printed(field, value),
        "label": field.replace("_", " ").capitalize(),
    }
    if request.htmx:
        # In place on the profile: a Hide button puts the masked value back, and the timeline,
        # swapped out of band, shows this reveal at once.
        customer = customer_or_404(customer_id)
        masked = getattr(customer, PII_FIELDS[field][1])
        context.update(customer=customer, name=field, masked=masked, timeline=selectors.timeline(customer))
    response = render(
        request, "customers/detail.html#revealed_in_place" if request.htmx else "customers/revealed.html", context
    )
    response["Cache-Control"] = "no-store"
    return response


@requires("customers.override_status")
def override_status(request, customer_id):
    customer = customer_or_404(customer_id)
    form = StatusOverrideForm(request.POST or None, initial={"status": customer.status})
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.override_status(
                customer_id=customer_id,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                hold_until=form.cleaned_data["hold_until"],
                actor=Actor.from_request(request),
            )
        except InvalidOverride as exc:
            form.add_error(None, str(exc))
        else:
            if updated.hold_until:
                messages.success(
                    request,
                    f"{customer_id} is Normal and on hold until {updated.hold_until:%Y-%m-%d}: the overdue checker "
                    "leaves them Normal until then; if an installment is still overdue after that day, the next "
                    "check makes them a Debt user again. A payment that clears the debt ends the hold.",
                )
            else:
                label = Customer.Status(form.cleaned_data["status"]).label
                messages.success(request, f"Status of {customer_id} set to {label}.")
            return redirect("customers:detail", customer_id=customer_id)
    has_overdue = customer.installments.filter(status="OVERDUE").exists()
    return render(
        request, "customers/status_form.html", {"customer": customer, "form": form, "has_overdue": has_overdue}
    )
