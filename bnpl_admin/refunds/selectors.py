from bnpl_admin.prepared import NUMBER, PreparedQuery, every_column
from bnpl_admin.refunds.models import Refund

_REFUNDS_OF = PreparedQuery(
    lambda customer_pk: (
        Refund.objects.filter(customer_id=customer_pk).order_by("-created_at").values_list(*every_column(Refund))
    ),
    placeholders=(NUMBER,),
)


def refunds_of(customer) -> list[Refund]:
    """The customer's refunds, newest first (the profile; SQL prepared once per process)."""
    return _REFUNDS_OF.instances(customer.pk)
