from django.db.models import QuerySet

from bnpl_admin.refunds.models import Refund


def refunds_of(customer) -> QuerySet[Refund]:
    return Refund.objects.filter(customer=customer).select_related("plan").order_by("-created_at")
