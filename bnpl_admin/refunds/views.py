"""Refund pages: issue a refund (form, confirmation, exactly once) and cancel a PENDING one."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from bnpl_admin.audit.services import Actor
from bnpl_admin.refunds import services
from bnpl_admin.refunds.errors import IllegalTransition, RefundError
from bnpl_admin.refunds.forms import CancelRefundForm, RefundForm
from bnpl_admin.refunds.models import Refund
from bnpl_admin.staff.roles import requires
from bnpl_admin.staff.submissions import new_token
from bnpl_admin.staff.templatetags.bnpl import money
from bnpl_admin.staff.views import customer_or_404, submit_form


@requires("refunds.add_refund")
def issue_refund(request, customer_id):
    """Step 1 shows the form; step 2 (`step=review`) asks for confirmation; step 3 issues it once."""
    customer = customer_or_404(customer_id)
    plans = list(customer.plans.select_related("merchant").order_by("-created_at"))
    initial = {"token": new_token(), "plan": request.GET.get("plan", "")}
    form = RefundForm(request.POST or None, plans=plans, initial=initial)
    step = request.POST.get("step", "form")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if step == "review":
            plan = next((p for p in plans if str(p.pk) == data["plan"]), None)
            return render(request, "refunds/confirm.html", {"customer": customer, "form": form, "plan": plan})
        if step == "confirm":
            outcome = {}

            def work() -> str:
                issued = services.issue_refund(
                    customer_id=customer_id,
                    transaction_id=data["transaction_id"],
                    amount=data["amount"],
                    reason=data["reason"],
                    plan_id=data["plan"] or None,
                    merchant=data["merchant"],
                    actor=Actor.from_request(request),
                )
                outcome["created"] = issued.created
                return reverse("customers:detail", args=[customer_id]) + f"#refund-{issued.refund.pk}"

            already = (
                messages.WARNING,
                f"A refund for transaction {data['transaction_id']} was already issued; showing it.",
            )

            def said():
                if not outcome["created"]:  # the transaction id was issued before, from another form
                    return already
                return f"Refund of {money(data['amount'])} for {data['transaction_id']} issued."

            response = submit_form(
                request, form, action="refund.issue", work=work, refused=(RefundError,), replayed=already, done=said
            )
            if response:
                return response
    return render(request, "refunds/issue.html", {"customer": customer, "form": form})


@requires("refunds.cancel_refund")
def cancel_refund(request, refund_id):
    refund = get_object_or_404(Refund.objects.select_related("customer"), pk=refund_id)
    form = CancelRefundForm(request.POST or None, initial={"token": new_token()})
    if request.method == "POST" and form.is_valid():

        def work() -> str:
            services.cancel_refund(
                refund_id=refund.pk, reason=form.cleaned_data["reason"], actor=Actor.from_request(request)
            )
            return reverse("customers:detail", args=[refund.customer.customer_id]) + f"#refund-{refund.pk}"

        cancelled = messages.SUCCESS, f"Refund {refund.transaction_id} cancelled."
        response = submit_form(
            request,
            form,
            action="refund.cancel",
            work=work,
            refused=(IllegalTransition,),
            replayed=cancelled,
            done=lambda: cancelled,
        )
        if response:
            return response
    return render(request, "refunds/cancel.html", {"refund": refund, "customer": refund.customer, "form": form})
