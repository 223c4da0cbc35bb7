from django.contrib.auth.mixins import PermissionRequiredMixin
from django_filters.views import FilterView

from bnpl_admin.audit.filters import AuditEventFilter
from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.tables import AuditEventTable
from bnpl_admin.staff.exports import CsvExportMixin
from bnpl_admin.staff.paginators import LazyPaginator
from bnpl_admin.staff.views import HtmxTableMixin, TableMixin


class AuditLog(PermissionRequiredMixin, HtmxTableMixin, CsvExportMixin, TableMixin, FilterView):
    permission_required = "audit.view_auditevent"
    table_class = AuditEventTable
    rows_named = ("event", "events")
    filterset_class = AuditEventFilter
    table_pagination = {"per_page": 50, "paginator_class": LazyPaginator}
    template_name = "audit/list.html"
    export_name = "audit-log"

    def get_queryset(self):
        return AuditEvent.objects.all()
