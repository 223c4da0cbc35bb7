import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from bnpl_admin.collection import selectors as collection
from bnpl_admin.dashboard import charts, metrics


@never_cache
@login_required
def health(request):
    """The live health page; htmx polls it for the `panels` partial every 5 s while visible."""
    figures = metrics.business_figures()
    portfolio = collection.portfolio_figures()  # the day's snapshot: one indexed row
    context = {
        "portfolio": portfolio,
        "bucket_chart": charts.outstanding_by_bucket(portfolio.buckets) if portfolio else None,
        "figures": figures,
        "figures_at": datetime.datetime.fromisoformat(figures["computed_at"]),
        "checks": metrics.recent_system_checks(),
        "refund_chart": charts.refunds_by_status(figures["refunds"]),
        "installment_chart": charts.installments_by_day(figures["installments_by_day"], today=timezone.localdate()),
        "updated_at": timezone.now(),
    }
    template = "dashboard/health.html#panels" if request.htmx else "dashboard/health.html"
    return render(request, template, context)
