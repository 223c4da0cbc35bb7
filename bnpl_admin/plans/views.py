"""Plan pages: create a plan (with a live schedule preview) and record a payment."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.plans import ledger, services
from bnpl_admin.plans.errors import DebtUserError, InvalidPlan, PaymentError
from bnpl_admin.plans.forms import PaymentForm, PlanForm
from bnpl_admin.plans.models import Installment
from bnpl_admin.plans.schedule import build_schedule
from bnpl_admin.staff.roles import requires
from bnpl_admin.staff.submissions import InvalidToken, new_token, submit_once
from bnpl_admin.staff.templatetags.bnpl import money
from bnpl_admin.staff.views import customer_or_404


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
                actor=Actor.from_request(request),
            )
            return reverse("customers:detail", args=[customer_id]) + f"#plan-{plan.pk}"

        try:
            submitted = submit_once(token=data["token"], user=request.user, action="plan.create", work=work)
        except (DebtUserError, InvalidPlan, InvalidToken) as exc:
            form.add_error(None, str(exc))
        else:
            if submitted.replayed:
                messages.info(request, "This plan was already created; showing it.")
            else:
                count = data["installment_count"]
                messages.success(request, f"Plan of {money(data['total_amount'])} in {count} installments created.")
            return redirect(submitted.result_url)
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
def record_payment(request, installment_id):
    installment = get_object_or_404(Installment.objects.select_related("plan", "customer"), pk=installment_id)
    customer = installment.customer
    form = PaymentForm(request.POST or None, initial={"token": new_token()})
    if request.method == "POST" and form.is_valid():

        def work() -> str:
            ledger.pay_installments(
                installment_ids=[installment.pk], customer_id=customer.customer_id, actor=Actor.from_request(request)
            )
            return reverse("customers:detail", args=[customer.customer_id]) + f"#plan-{installment.plan_id}"

        try:
            submitted = submit_once(token=form.cleaned_data["token"], user=request.user, action="payment", work=work)
        except (PaymentError, InvalidToken) as exc:
            form.add_error(None, str(exc))
        else:
            if submitted.replayed:
                messages.info(request, "This payment was already recorded.")
            else:
                customer.refresh_from_db(fields=["status"])
                installment.plan.refresh_from_db(fields=["status"])
                messages.success(
                    request,
                    f"Payment of installment #{installment.number} recorded. Plan is {installment.plan.status}; "
                    f"customer is {customer.status}.",
                )
            return redirect(submitted.result_url)
    return render(request, "plans/pay.html", {"installment": installment, "customer": customer, "form": form})
