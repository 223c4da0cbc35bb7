from bnpl_admin.refunds.models import Refund


def refunds_of(customer) -> list[Refund]:
    """The customer's refunds with their merchants, newest first (the profile)."""
    return list(Refund.objects.filter(customer=customer).select_related("merchant").order_by("-created_at"))
