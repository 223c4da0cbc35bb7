"""Plan pages: create a plan (with a live schedule preview), record a payment by amount (with a
live allocation preview), pay one installment, reverse a payment and cancel a plan."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger, selectors, services
from bnpl_admin.plans.errors import DebtUserError, InvalidPlan, PaymentNotFound, PlanError
from bnpl_admin.plans.forms import PaymentForm, PlanForm, ReasonForm, RecordPaymentForm
from bnpl_admin.plans.models import Installment, Plan
from bnpl_admin.plans.schedule import build_schedule
from bnpl_admin.staff.roles import requires
from bnpl_admin.staff.submissions import new_token
from bnpl_admin.staff.templatetags.bnpl import money
from bnpl_admin.staff.views import customer_or_404, submit_form


def _status_words(status: str) -> str:
    """A customer status as the pages show it: "DEBT_USER" -> "Debt user"."""
    return Customer.Status(status).label


def _schedule_preview(form: PlanForm):
    """The installments the form would create, or None while the input is incomplete."""
    if not form.is_valid():
        return None
    return build_schedule(
        form.cleaned_data["total_amount"], form.cleaned_data["installment_count"], timezone.localdate()
    )


@requires("plans.add_plan")
def create_plan(request, customer_id):
    customer = customer_or_404(customer_id)

    if request.htmx and request.method == "GET" and "total_amount" in request.GET:
        form = PlanForm({**request.GET.dict(), "token": "preview"})
        return render(request, "plans/create.html#preview", {"schedule": _schedule_preview(form)})

    form = PlanForm(request.POST or None, initial={"token": new_token()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def work() -> str:
            plan = services.create_plan(
                customer_id=customer_id,
                total_amount=data["total_amount"],
                installment_count=data["installment_count"],
                merchant=data["merchant"],
                actor=Actor.from_request(request),
            )
            return reverse("customers:detail", args=[customer_id]) + f"#plan-{plan.pk}"

        response = submit_form(
            request,
            form,
            action="plan.create",
            work=work,
            refused=(DebtUserError, InvalidPlan),
            replayed="This plan was already created; showing it.",
            done=lambda: f"Plan of {money(data['total_amount'])} in {data['installment_count']} installments created.",
        )
        if response:
            return response
    return render(
        request,
        "plans/create.html",
        {
            "customer": customer,
            "form": form,
            "schedule": _schedule_preview(form) if form.is_bound else None,
            "debt_refusal": DebtUserError.message if customer.is_debt_user else "",
        },
    )


@requires("plans.record_payment")
def pay_installment(request, installment_id):
    """One installment's own pay button: a payment of exactly its remaining amount."""
    installment = get_object_or_404(Installment.objects.select_related("plan", "customer"), pk=installment_id)
    customer = installment.customer
    form = PaymentForm(request.POST or None, initial={"token": new_token()})
    if request.method == "POST" and form.is_valid():

        def work() -> str:
            ledger.pay_installments(
                installment_ids=[installment.pk], customer_id=customer.customer_id, actor=Actor.from_request(request)
            )
            return reverse("customers:detail", args=[customer.customer_id]) + f"#plan-{installment.plan_id}"

        def paid() -> str:
            customer.refresh_from_db(fields=["status"])
            installment.plan.refresh_from_db(fields=["status"])
            return (
                f"Payment of installment #{installment.number} recorded. Plan is "
                f"{installment.plan.get_status_display().lower()}; customer is {customer.get_status_display()}."
            )

        response = submit_form(
            request,
            form,
            action="payment",
            work=work,
            refused=(PlanError,),
            replayed="This payment was already recorded.",
            done=paid,
        )
        if response:
            return response
    return render(request, "plans/pay.html", {"installment": installment, "customer": customer, "form": form})


def _allocation_preview(form: RecordPaymentForm, customer, plans: list[Plan]) -> dict:
    """Where the typed amount would go (`rows`), or why it cannot (`refusal`); neither while the
    amount is still empty. Only the amount and the plan are looked at: the rest is typed later."""
    form.is_valid()
    for name in ("amount", "plan"):
        if form.has_error(name):
            return {"refusal": form.errors[name][0] if form.data.get(name, "").strip() else ""}
    plan_id = form.cleaned_data["plan"] or None
    try:
        parts = ledger.allocation_preview(customer=customer, amount=form.cleaned_data["amount"], plan_id=plan_id)
    except PlanError as exc:
        return {"refusal": str(exc)}
    by_id = {plan.pk: plan for plan in plans}
    return {
        "rows": [(by_id[i.plan_id], i, part, ledger.remaining(i) - part) for i, part in parts],
        "total": form.cleaned_data["amount"],
    }


def _installments_paid(count: int) -> str:
    return f"{count} installment{'' if count == 1 else 's'} paid"


@requires("plans.record_payment")
def record_payment(request, customer_id):
    """A payment by amount, method and reference; the ledger allocates it (rule 6), and the page
    shows where each cent will go before it is confirmed (htmx, while typing)."""
    customer = customer_or_404(customer_id)
    plans = selectors.active_plans_of(customer)

    if request.htmx and request.method == "GET" and "amount" in request.GET:
        form = RecordPaymentForm(request.GET, plans=plans)
        return render(request, "plans/record_payment.html#preview", _allocation_preview(form, customer, plans))

    initial = {"token": new_token(), "plan": request.GET.get("plan", "")}
    form = RecordPaymentForm(request.POST or None, plans=plans, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        outcome = {}

        def work() -> str:
            posted = ledger.record_payment(
                customer_id=customer_id,
                amount=data["amount"],
                reference=data["reference"],
                method=data["method"],
                plan_id=data["plan"] or None,
                actor=Actor.from_request(request),
            )
            outcome["posted"] = posted
            return reverse("customers:detail", args=[customer_id]) + f"#payment-{posted.payment.pk}"

        already = "This payment was already recorded; showing it."

        def recorded():
            posted = outcome["posted"]
            if not posted.created:  # its reference was recorded before, from another form
                return messages.INFO, already
            return (
                f"Payment of {money(posted.payment.amount)} recorded: "
                f"{_installments_paid(posted.paid_installments)}; "
                f"customer is {_status_words(posted.customer_status)}."
            )

        response = submit_form(
            request, form, action="payment.record", work=work, refused=(PlanError,), replayed=already, done=recorded
        )
        if response:
            return response
    return render(
        request,
        "plans/record_payment.html",
        {
            "customer": customer,
            "form": form,
            "plans": plans,
            **(_allocation_preview(form, customer, plans) if form.is_bound else {}),
        },
    )


@requires("plans.reverse_payment")
def reverse_payment(request, payment_id):
    """A mistaken payment stops counting (rule 7), with a reason; risk only."""
    try:
        payment = ledger.payment_with_allocations(payment_id)
    except PaymentNotFound:
        raise Http404("No such payment") from None
    customer = payment.customer
    form = ReasonForm(request.POST or None, initial={"token": new_token()})
    if request.method == "POST" and form.is_valid():
        outcome = {}

        def work() -> str:
            reversed_payment = ledger.reverse_payment(
                payment_id=payment.pk, reason=form.cleaned_data["reason"], actor=Actor.from_request(request)
            )
            outcome["status"] = reversed_payment.customer.status
            return reverse("customers:detail", args=[customer.customer_id]) + f"#payment-{payment.pk}"

        response = submit_form(
            request,
            form,
            action="payment.reverse",
            work=work,
            refused=(PlanError,),
            replayed="This payment was already reversed; showing it.",
            done=lambda: (
                f"Payment {payment.reference} of {money(payment.amount)} reversed; "
                f"customer is {_status_words(outcome['status'])}."
            ),
        )
        if response:
            return response
    return render(request, "plans/reverse.html", {"payment": payment, "customer": customer, "form": form})


@requires("plans.cancel_plan")
def cancel_plan(request, plan_id):
    """A plan nobody has paid on is written off (rule 9), with a reason."""
    try:
        plan = selectors.plan_with_installments(plan_id)
    except Plan.DoesNotExist:
        raise Http404("No such plan") from None
    customer = plan.customer
    form = ReasonForm(request.POST or None, initial={"token": new_token()})
    if request.method == "POST" and form.is_valid():

        def work() -> str:
            ledger.cancel_plan(plan_id=plan.pk, reason=form.cleaned_data["reason"], actor=Actor.from_request(request))
            return reverse("customers:detail", args=[customer.customer_id]) + f"#plan-{plan.pk}"

        response = submit_form(
            request,
            form,
            action="plan.cancel",
            work=work,
            refused=(PlanError,),
            replayed="This plan was already cancelled; showing it.",
            done=lambda: f"Plan of {money(plan.total_amount)} cancelled.",
        )
        if response:
            return response
    return render(request, "plans/cancel.html", {"plan": plan, "customer": customer, "form": form})
