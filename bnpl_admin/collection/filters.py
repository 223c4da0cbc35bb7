import django_filters
from django.utils import timezone

from bnpl_admin.collection import portfolio
from bnpl_admin.collection.models import Case
from bnpl_admin.collection.selectors import QUEUE_VIEWS

BUCKET_CHOICES = [(bucket.label, f"{bucket.label} days") for bucket in portfolio.BUCKETS]


def in_bucket(queryset, label: str, *, prefix: str = ""):
    """Rows of customers in that bucket as of today (`portfolio.in_bucket`, through `overdue_since`)."""
    if not label:
        return queryset
    return queryset.filter(portfolio.in_bucket(label, timezone.localdate(), prefix=prefix))


class CaseFilter(django_filters.FilterSet):
    """The queue's tabs (all, mine, unassigned) and its bucket filter; the view narrows by tab."""

    view = django_filters.ChoiceFilter(choices=QUEUE_VIEWS, empty_label=None, method="by_view", label="Cases")
    bucket = django_filters.ChoiceFilter(choices=BUCKET_CHOICES, empty_label="Any bucket", method="by_bucket")

    class Meta:
        model = Case
        fields = ["view", "bucket"]

    def by_view(self, queryset, name, value):
        if value == "mine":
            return queryset.filter(assignee=getattr(self.request, "user", None))
        if value == "unassigned":
            return queryset.filter(assignee__isnull=True)
        return queryset

    def by_bucket(self, queryset, name, value):
        return in_bucket(queryset, value, prefix="queue_")
