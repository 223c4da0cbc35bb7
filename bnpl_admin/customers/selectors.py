"""Read queries about customers."""

from django.db.models import QuerySet

from bnpl_admin.customers import encryption, masking
from bnpl_admin.customers.models import Customer

# Columns a list or export may read: never the encrypted ones.
LIST_COLUMNS = (
    "id",
    "customer_id",
    "full_name",
    "phone_masked",
    "passport_masked",
    "card_masked",
    "status",
    "created_at",
)


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.only(*LIST_COLUMNS).order_by("customer_id")


def phone_lookup_hash(phone_number: str) -> str:
    """The lookup hash of a phone number as typed by an agent (spaces, dashes and brackets allowed)."""
    return encryption.lookup_hash(masking.normalize_phone(phone_number))


def looks_like_phone(text: str) -> bool:
    return masking.mask_phone(text) not in ("", masking.FULL_MASK)
