"""Collections pages (rule 12): the queue of open cases, and a case's page with its assignee, notes
and promises to pay. Risk only (`collection.work_case`); support reads a case on the profile."""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_filters.views import FilterView

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import selectors, services
from bnpl_admin.collection.filters import CaseFilter
from bnpl_admin.collection.forms import AssignForm, NoteForm, PromiseForm
from bnpl_admin.collection.models import Case
from bnpl_admin.collection.services import WORK_PERMISSION, CaseError
from bnpl_admin.collection.tables import CaseQueueTable
from bnpl_admin.staff.paginators import LazyPaginator
from bnpl_admin.staff.roles import requires
from bnpl_admin.staff.submissions import new_token
from bnpl_admin.staff.templatetags.bnpl import money
from bnpl_admin.staff.views import HtmxTableMixin, TableMixin, submit_form

MASKED_NOTE = "Note added. It held a phone, card or passport number: that number was stored masked."


class CaseQueue(PermissionRequiredMixin, HtmxTableMixin, TableMixin, FilterView):
    permission_required = WORK_PERMISSION
    table_class = CaseQueueTable
    rows_named = ("open case", "open cases")
    filterset_class = CaseFilter
    table_pagination = {"per_page": 25, "paginator_class": LazyPaginator}
    template_name = "collection/queue.html"

    def get_queryset(self):
        return selectors.case_queue()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        current = self.request.GET.get("view") or "all"
        context["tabs"] = [(value, label, value == current) for value, label in selectors.QUEUE_VIEWS]
        context["bucket"] = self.request.GET.get("bucket", "")
        return context


def _case_view_or_404(case_id) -> selectors.CaseView:
    try:
        return selectors.case_view(case_id)
    except Case.DoesNotExist:
        raise Http404("No such case") from None


def _workers() -> list[str]:
    return list(selectors.case_workers().values_list("username", flat=True))


def _render_case(request, view: selectors.CaseView, *, assign=None, note=None, promise=None):
    """The case page; a form passed in (bound, with its errors) replaces the empty one."""
    case = view.case
    current = case.assignee.get_username() if case.assignee else ""
    return render(
        request,
        "collection/case.html",
        {
            "view": view,
            "case": case,
            "customer": case.customer,
            "assign_form": assign
            or AssignForm(initial={"assignee": current, "token": new_token()}, workers=_workers()),
            "note_form": note or NoteForm(initial={"token": new_token()}),
            "promise_form": promise or PromiseForm(initial={"token": new_token()}),
        },
    )


@requires(WORK_PERMISSION)
def case_detail(request, case_id):
    return _render_case(request, _case_view_or_404(case_id))


def _case_url(case_id, anchor: str) -> str:
    return reverse("collection:case", args=[case_id]) + f"#{anchor}"


@requires(WORK_PERMISSION)
@require_POST
def assign_case(request, case_id):
    view = _case_view_or_404(case_id)
    form = AssignForm(request.POST, workers=_workers())
    if form.is_valid():
        assignee = form.cleaned_data["assignee"] or None

        def work() -> str:
            services.assign(case_id=case_id, assignee_username=assignee, actor=Actor.from_request(request))
            return _case_url(case_id, "assignee")

        response = submit_form(
            request,
            form,
            action="case.assign",
            work=work,
            refused=(CaseError,),
            replayed="This assignment was already made.",
            done=lambda: f"Case assigned to {assignee}." if assignee else "Case unassigned.",
        )
        if response:
            return response
    return _render_case(request, view, assign=form)


@requires(WORK_PERMISSION)
@require_POST
def add_note(request, case_id):
    view = _case_view_or_404(case_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        outcome = {}

        def work() -> str:
            note = services.add_note(case_id=case_id, text=form.cleaned_data["text"], actor=Actor.from_request(request))
            outcome["masked"] = note.masked
            return _case_url(case_id, f"note-{note.pk}")

        def added():
            if outcome["masked"]:
                return messages.WARNING, MASKED_NOTE
            return "Note added."

        response = submit_form(
            request,
            form,
            action="case.note",
            work=work,
            refused=(CaseError,),
            replayed="This note was already added.",
            done=added,
        )
        if response:
            return response
    return _render_case(request, view, note=form)


@requires(WORK_PERMISSION)
@require_POST
def add_promise(request, case_id):
    view = _case_view_or_404(case_id)
    form = PromiseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data

        def work() -> str:
            promise = services.add_promise(
                case_id=case_id, amount=data["amount"], due_date=data["due_date"], actor=Actor.from_request(request)
            )
            return _case_url(case_id, f"promise-{promise.pk}")

        response = submit_form(
            request,
            form,
            action="case.promise",
            work=work,
            refused=(CaseError,),
            replayed="This promise was already recorded.",
            done=lambda: f"Promise to pay {money(data['amount'])} by {data['due_date']:%Y-%m-%d} recorded.",
        )
        if response:
            return response
    return _render_case(request, view, promise=form)
