"""Request validation and response bodies of the JSON API v1 (the contract's field names)."""

from decimal import Decimal

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bnpl_admin.collection.models import Case, PromiseToPay
from bnpl_admin.collection.portfolio import BUCKETS
from bnpl_admin.collection.services import MAX_NOTE
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.errors import InvalidCustomer
from bnpl_admin.money import AMOUNT_TEXT, MAX_AMOUNT
from bnpl_admin.plans.ledger import MAX_REASON, MAX_REFERENCE
from bnpl_admin.plans.models import Payment
from bnpl_admin.plans.schedule import MAX_INSTALLMENTS, MIN_INSTALLMENTS
from bnpl_admin.text import storable
from bnpl_admin.webhooks.models import Merchant


class Money(serializers.DecimalField):
    """Amounts in: a decimal string or number with at most 2 places; out: a string "166.67"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal("0.01"))
        super().__init__(max_digits=14, decimal_places=2, max_value=MAX_AMOUNT, coerce_to_string=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and not AMOUNT_TEXT.match(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data)


# The amounts a request may carry, as Money takes them: 0.01 to MAX_AMOUNT, at most 2 decimals,
# ASCII digits, perhaps a "+", leading zeros or whitespace around it.
AMOUNT_PATTERN = r"^\s*\+?0*(?=[0-9.]*[1-9])(?:[0-9]{1,12}(?:\.[0-9]{0,2})?|\.[0-9]{1,2})\s*$"


@extend_schema_field({"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "166.67"})
class Amount(Money):
    """An amount in a request: Money, with a schema that says which strings it takes (the default
    one, drawn from max_digits, would also take "", "-5" and "0")."""


class PaymentAmount(Amount):
    """The amount of a payment: as Amount, but never a JSON number with a fraction or an exponent
    (a float): money received is counted to the cent, and a float cannot always say which cent."""

    default_error_messages = {"float": 'Send the amount as a decimal string such as "166.67".'}

    def to_internal_value(self, data):
        if isinstance(data, float):
            self.fail("float")
        return super().to_internal_value(data)


class Text(serializers.CharField):
    """Text in a request. DRF refuses a NUL anywhere and, unless allow_blank, "" or only whitespace
    (it trims the text first); the schema says so with minLength 1 and a pattern. DRF's NUL check
    is replaced by that pattern, which also asks for a character that is not whitespace (Python's
    \\s is exactly what str.strip takes away, so this refuses nothing the blank check lets by)."""

    def __init__(self, **kwargs):
        if not kwargs.get("allow_blank", False):
            kwargs.setdefault("min_length", 1)
        super().__init__(**kwargs)
        # Blank allowed: drf-spectacular puts "" beside the pattern (oneOf), so the pattern must not take it.
        pattern = r"\A[^\x00]+\Z" if self.allow_blank else r"\A[^\x00]*[^\x00\s][^\x00]*\Z"
        no_nul = next(v for v in self.validators if isinstance(v, ProhibitNullCharactersValidator))
        self.validators = [v for v in self.validators if v is not no_nul]
        self.validators.append(RegexValidator(pattern, no_nul.message, no_nul.code))


# Requests: `validated_data` holds the service's keyword arguments (the contract's `user_id` is the
# service's `customer_id`).


class CustomerCreateSerializer(serializers.Serializer):
    user_id = Text(max_length=64, source="customer_id")
    full_name = Text(max_length=200)
    phone_number = Text(max_length=32)
    passport_number = Text(max_length=32)
    card_number = Text(max_length=32)
    date_of_birth = serializers.DateField()

    # The rules are the customer service's; this only puts its refusal on the field.
    def _rule(self, field: str, value):
        try:
            return customer_services.check_new_customer_field(field, value)
        except InvalidCustomer as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_user_id(self, value):
        return self._rule("customer_id", value)

    def validate_full_name(self, value):
        return self._rule("full_name", value)

    def validate_phone_number(self, value):
        return self._rule("phone_number", value)

    def validate_card_number(self, value):
        return self._rule("card_number", value)

    def validate_passport_number(self, value):
        return self._rule("passport_number", value)

    def validate_date_of_birth(self, value):
        return self._rule("date_of_birth", value)


class RepaymentSerializer(serializers.Serializer):
    installment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=500,
        allow_empty=False,
    )


class MerchantCode(serializers.SlugRelatedField):
    """An optional merchant, named by its code. A value the database could not even compare (not a
    string, a NUL: `text.storable`) is refused as unknown without a lookup."""

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"does_not_exist": "No merchant has this code.", "invalid": "Not a code."})
        super().__init__(
            slug_field="code", queryset=Merchant.objects.all(), required=False, allow_null=True, default=None, **kwargs
        )

    def to_internal_value(self, data):
        if not isinstance(data, str) or not storable(data):
            self.fail("does_not_exist")
        return super().to_internal_value(data)


class PlanCreateSerializer(serializers.Serializer):
    user_id = Text(max_length=64, source="customer_id")
    total_amount = Amount()
    installment_count = serializers.IntegerField(
        min_value=MIN_INSTALLMENTS, max_value=MAX_INSTALLMENTS, required=False, default=3
    )
    merchant = MerchantCode()


class RefundCreateSerializer(serializers.Serializer):
    user_id = Text(max_length=64, source="customer_id")
    transaction_id = Text(max_length=64)
    amount = Amount()
    reason = Text(max_length=500, required=False, allow_blank=True, default="")
    plan_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    merchant = MerchantCode()


class CancelRefundSerializer(serializers.Serializer):
    reason = Text(max_length=300, required=False, allow_blank=True, default="")


class PaymentCreateSerializer(serializers.Serializer):
    user_id = Text(max_length=64, source="customer_id")
    amount = PaymentAmount()
    reference = Text(max_length=MAX_REFERENCE)
    method = serializers.ChoiceField(choices=Payment.Method.choices, required=False, default=Payment.Method.OTHER)
    # Only this plan's installments are paid; it must be one of the user's ACTIVE plans.
    plan_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class ReasonSerializer(serializers.Serializer):
    """The body of a reversal or a plan cancellation: why (mandatory, audited)."""

    reason = Text(max_length=MAX_REASON)


class CaseNoteCreateSerializer(serializers.Serializer):
    """A note on the customer's open case; a phone, card or passport number in it is stored masked."""

    text = Text(max_length=MAX_NOTE)


class PromiseCreateSerializer(serializers.Serializer):
    """A promise to pay `amount` by `due_date` (today to 90 days ahead: the collection service's
    rule, which answers a 400). The amount is counted to the cent, as a payment's: never a float."""

    amount = PaymentAmount()
    due_date = serializers.DateField()


# Responses


class CustomerSerializer(serializers.Serializer):
    user_id = serializers.CharField(source="customer_id")
    full_name = serializers.CharField()
    phone_number = serializers.CharField(source="phone_masked")
    passport_number = serializers.CharField(source="passport_masked")
    card_number = serializers.CharField(source="card_masked")
    date_of_birth = serializers.DateField(allow_null=True)
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class InstallmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    amount_due = Money(min_value=None)
    amount_paid = Money(min_value=None)
    amount_refunded = Money(min_value=None)
    amount_remaining = Money(min_value=None)
    due_date = serializers.DateField()
    status = serializers.CharField()
    paid_at = serializers.DateTimeField(allow_null=True)


class PlanSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.CharField(source="customer.customer_id")
    total_amount = Money()
    installment_count = serializers.IntegerField()
    merchant = serializers.CharField(source="merchant.code", allow_null=True)  # null: no merchant
    status = serializers.CharField()
    installments = InstallmentSerializer(many=True, source="installments_in_order")  # see INSTALLMENTS_IN_ORDER
    created_at = serializers.DateTimeField()


class RefundSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.CharField(source="customer.customer_id")
    plan_id = serializers.UUIDField(allow_null=True)
    merchant = serializers.CharField(source="merchant.code", allow_null=True)  # null: no merchant
    transaction_id = serializers.CharField()
    amount = Money()
    reason = serializers.CharField(source="stated_reason")  # "Cancelled by staff" once staff cancelled it
    status = serializers.CharField()
    merchant_reference = serializers.CharField()
    # Set when the refund becomes APPROVED (rule 8): the part taken off the plan's remaining
    # amounts, and the rest, already paid, that is owed back to the customer. Null until then.
    amount_applied = Money(min_value=None, allow_null=True)
    amount_to_customer = Money(min_value=None, allow_null=True)
    processed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class AllocationSerializer(serializers.Serializer):
    installment_id = serializers.IntegerField()
    plan_id = serializers.UUIDField(source="installment.plan_id")
    number = serializers.IntegerField(source="installment.number")
    amount = Money()


class PaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.CharField(source="customer.customer_id")
    amount = Money()
    method = serializers.CharField()
    reference = serializers.CharField()
    status = serializers.CharField()
    allocations = AllocationSerializer(many=True, source="allocations_in_order")  # see ALLOCATIONS_IN_ORDER
    user_status = serializers.CharField(source="customer.status")  # after this payment (rules 3 and 7)
    received_at = serializers.DateTimeField()
    reversed_at = serializers.DateTimeField(allow_null=True)
    reversal_reason = serializers.CharField()  # "" unless REVERSED


class OverdueInstallmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan_id = serializers.UUIDField()
    amount_due = Money(min_value=None)
    amount_paid = Money(min_value=None)
    amount_refunded = Money(min_value=None)
    amount_remaining = Money(min_value=None)
    due_date = serializers.DateField()
    days_overdue = serializers.IntegerField()


class DebtStatusSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    has_overdue = serializers.BooleanField()
    total_debt = Money(min_value=None)  # what the overdue installments have remaining
    overdue_installments = OverdueInstallmentSerializer(many=True)
    total_overdue_count = serializers.IntegerField()
    user_status = serializers.CharField()


class RepaymentResultSerializer(serializers.Serializer):
    message = serializers.CharField()
    paid_installments = serializers.IntegerField()
    user_status = serializers.CharField()
    payment_id = serializers.UUIDField()  # the one Payment the repayment recorded


class CaseNoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()  # as stored: PII-like numbers masked
    masked = serializers.BooleanField()  # true when the stored text differs from the one sent
    author = serializers.CharField(source="author.username", allow_null=True)
    created_at = serializers.DateTimeField()


class PromiseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = Money()
    due_date = serializers.DateField()
    status = serializers.ChoiceField(choices=PromiseToPay.Status.choices)
    created_at = serializers.DateTimeField()
    evaluated_at = serializers.DateTimeField(allow_null=True)  # when the checker found it KEPT or BROKEN


class CaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.CharField(source="customer.customer_id")
    status = serializers.ChoiceField(choices=Case.Status.choices)
    assignee = serializers.CharField(source="assignee.username", allow_null=True)  # null: unassigned
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    notes = CaseNoteSerializer(many=True, source="notes_newest_first")  # see api.views.CASE_PARTS
    promises = PromiseSerializer(many=True, source="promises_newest_first")


class Total(serializers.DecimalField):
    """A sum over the book, out: a string with 2 decimals (wider than one amount's Money)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=16, decimal_places=2, coerce_to_string=True, **kwargs)


class Share(serializers.DecimalField):
    """A share of the book (PAR), out: a decimal string with 4 places, "0.3557"."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=5, decimal_places=4, coerce_to_string=True, **kwargs)


class BucketSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=[b.label for b in BUCKETS])
    customers = serializers.IntegerField()
    outstanding = Total()  # the remaining amount of these customers' open installments


class PortfolioSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    total_outstanding = Total()  # the remaining amount of every ACTIVE plan
    buckets = BucketSerializer(many=True)  # 1-30, 31-60, 61-90, 90+ in this order
    par30 = Share()
    par60 = Share()
    par90 = Share()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.CharField()
    task_queue = serializers.CharField()
