"""Back-office pages for webhook events and merchants."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_filters.views import FilterView

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.staff.paginators import LazyPaginator
from bnpl_admin.staff.roles import requires
from bnpl_admin.staff.views import HtmxTableMixin, TableMixin
from bnpl_admin.webhooks import selectors, services
from bnpl_admin.webhooks.filters import WebhookEventFilter
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.tables import WebhookEventTable

REPROCESSABLE = (WebhookEvent.Status.FAILED, WebhookEvent.Status.UNMATCHED)


class EventList(PermissionRequiredMixin, HtmxTableMixin, TableMixin, FilterView):
    permission_required = "webhooks.view_webhookevent"
    table_class = WebhookEventTable
    rows_named = ("webhook event", "webhook events")
    filterset_class = WebhookEventFilter
    table_pagination = {"per_page": 50, "paginator_class": LazyPaginator}
    template_name = "webhooks/list.html"

    def get_queryset(self):
        return WebhookEvent.objects.select_related("merchant")


@requires("webhooks.view_webhookevent")
def event_detail(request, event_id):
    event = get_object_or_404(WebhookEvent.objects.select_related("merchant", "refund__customer"), pk=event_id)
    history = AuditEvent.objects.filter(target_type="webhook_event", target_id=str(event.pk)).order_by("-at", "-id")
    return render(
        request,
        "webhooks/detail.html",
        {"event": event, "history": history, "reprocessable": event.status in REPROCESSABLE},
    )


@require_POST
@requires("webhooks.reprocess_webhookevent")
def reprocess(request, event_id):
    try:
        services.reprocess_event(event_id=event_id, actor=Actor.from_request(request))
    except WebhookEvent.DoesNotExist:
        return redirect("webhooks:list")
    except services.NotReprocessable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Event {event_id} queued for processing again.")
    return redirect("webhooks:detail", event_id=event_id)


@requires("webhooks.view_merchant")
def merchant_list(request):
    rows = selectors.merchant_overview(since=timezone.now() - timedelta(hours=24))
    return render(request, "webhooks/merchants.html", {"rows": rows, "now": timezone.now()})
