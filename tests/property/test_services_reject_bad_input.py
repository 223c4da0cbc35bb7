"""Bad input is refused with the domain's own error, never another exception, and changes no row.

parse_amount raises ValueError with a message naming the field; create_plan raises InvalidPlan,
issue_refund InvalidRefund, and a customer id that names nobody CustomerNotFound. "No row changed"
is checked with the counts and checksums of `tests.property.table_state()`, taken right after the
refused call (see `tests.property.attempt`).

The webhook side: validate_payload turns any JSON value into the three contract fields or raises
InvalidPayload; receive_event stores what validate_payload accepts, or raises InvalidPayload.
"""

import json
import re
from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bnpl_admin.customers.errors import CustomerNotFound
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.services import override_status, reveal_pii
from bnpl_admin.money import MAX_AMOUNT, parse_amount
from bnpl_admin.plans.errors import InvalidPlan
from bnpl_admin.plans.services import create_plan
from bnpl_admin.refunds.errors import InvalidRefund
from bnpl_admin.refunds.services import MERCHANT_STATUSES, issue_refund
from bnpl_admin.webhooks.services import InvalidPayload, receive_event, validate_payload
from tests.factories import MerchantFactory
from tests.property import COMMON, assert_refused, attempt

pytestmark = pytest.mark.django_db

TEN_KB = 10 * 1024
_txn_numbers = iter(range(10**9))


def ten_kb(pieces=None):
    """10 KiB strings made by repeating a short piece (hypothesis would not draw them directly)."""
    pieces = pieces if pieces is not None else st.text(min_size=1, max_size=8)
    return pieces.map(lambda piece: (piece * (TEN_KB // len(piece) + 1))[:TEN_KB])


def fresh_transaction_id() -> str:
    return f"prop-bad-{next(_txn_numbers)}"


# Bad amounts

THREE_PLUS_DECIMALS = st.builds(
    lambda units, places: Decimal(units).scaleb(-places), st.integers(1, 10**15), st.integers(3, 12)
).filter(lambda value: value != value.quantize(Decimal("0.01")))
ZEROS = st.sampled_from(["0", "0.00", "-0", "+0.0", "0e5", " 0 ", "0.000", Decimal("0"), Decimal("-0.00"), 0])
NEGATIVES = st.one_of(
    st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False),
    st.integers(max_value=-1),
).flatmap(lambda value: st.sampled_from([value, str(value)]))
HUGE = st.one_of(
    st.decimals(min_value=MAX_AMOUNT + Decimal("0.01"), places=2, allow_nan=False, allow_infinity=False),
    st.integers(min_value=int(MAX_AMOUNT) + 1),
    st.sampled_from(["1000000000000", "1000000000000.00", "1e13", "1E+100", "9" * 40, "1e999999999"]),
).flatmap(lambda value: st.sampled_from([value, str(value)]))
NANS = st.sampled_from(["NaN", "nan", "-NaN", "sNaN", "NaN123", Decimal("NaN"), Decimal("sNaN"), float("nan")])
INFINITIES = st.sampled_from(
    ["Infinity", "-Infinity", "inf", "-inf", "+Inf", Decimal("Infinity"), Decimal("-Infinity"), float("inf")]
)


def _not_a_decimal(text: str) -> bool:
    try:
        Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return True
    return False


NON_NUMERIC = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "abc",
            "1,00",
            "1.2.3",
            "$10",
            "10 EUR",
            "0x10",
            "1/2",
            "\u0661\u0660\u0660\u066b\u0665",
            "²",
            "½",
            "--1",
        ]
    ),
    st.text(max_size=30).filter(_not_a_decimal),
)
OTHER_TYPES = st.one_of(
    st.floats(),  # never a float, even 1.5
    st.booleans(),
    st.none(),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.binary(max_size=10),
)
TEN_KB_AMOUNTS = st.one_of(
    ten_kb(),
    ten_kb(st.sampled_from(["1", "9", "0"])),
    st.just("0." + "0" * (TEN_KB - 3) + "1"),
    st.just("1." + "1" * (TEN_KB - 2)),
)
BAD_AMOUNTS = st.one_of(
    THREE_PLUS_DECIMALS.flatmap(lambda value: st.sampled_from([value, str(value), f"{value:f}"])),
    ZEROS,
    NEGATIVES,
    HUGE,
    NANS,
    INFINITIES,
    NON_NUMERIC,
    OTHER_TYPES,
    TEN_KB_AMOUNTS,
)

# Digits of other scripts: Decimal() reads them ("١٢٣" is 123), the contract does not.
UNICODE_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())
UNICODE_DIGIT_AMOUNTS = st.tuples(
    st.text(UNICODE_DIGITS, min_size=1, max_size=6),
    st.one_of(st.just(""), st.text(UNICODE_DIGITS, min_size=2, max_size=2).map(lambda d: "." + d)),
    st.text(st.sampled_from("0123456789"), max_size=3),
).map(lambda parts: parts[2] + parts[0] + parts[1])
# Arabic-Indic, Devanagari, full-width, Thai, Bengali, mixed with ASCII.
UNICODE_DIGIT_SAMPLES = [
    "\u0661",
    "\u0661\u0660\u0660",
    "\u0661\u0662.\u0665\u0660",
    "\u0967\u0968.\u096b\u0966",
    "\uff11\uff12\uff13",
    "\uff11\uff10.\uff15\uff10",
    "\u0e51\u0e50\u0e50",
    "\u09e7\u09e8\u09e9",
    "1\u0660\u0660.00",
]

# A number as people and programs write it: ASCII digits, a point, an optional exponent.
_ASCII_AMOUNT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)


def assert_parse_refused(value):
    with pytest.raises(ValueError, match=r"^amount must "):
        parse_amount(value)


@settings(max_examples=500, **COMMON)
@given(BAD_AMOUNTS)
def test_parse_amount_refuses_bad_amounts(value):
    assert_parse_refused(value)


@settings(max_examples=100, **COMMON)
@given(UNICODE_DIGIT_AMOUNTS)
def test_parse_amount_refuses_digits_of_other_scripts(value):
    assert_parse_refused(value)


# Underscores: Decimal() reads "_1", "1_" and "1._5" (CPython's C implementation takes them anywhere).
UNDERSCORED_AMOUNTS = st.tuples(st.integers(1, 10**6), st.integers(0, 99), st.integers(0, 8), st.integers(1, 3)).map(
    lambda parts: (
        lambda text: text[: parts[2] % (len(text) + 1)] + "_" * parts[3] + text[parts[2] % (len(text) + 1) :]
    )(f"{parts[0]}.{parts[1]:02d}")
)


@settings(max_examples=100, **COMMON)
@given(UNDERSCORED_AMOUNTS)
def test_parse_amount_refuses_underscores(value):
    assert_parse_refused(value)


@settings(max_examples=500, **COMMON)
@given(st.one_of(st.text(), st.text(st.sampled_from("0123456789.,+-eE_ \t"), max_size=20)))
def test_parse_amount_accepts_only_plain_ascii_numbers(text):
    """Any text: a clear ValueError, or a positive two-place Decimal written in ASCII digits."""
    try:
        amount = parse_amount(text)
    except ValueError as exc:
        assert str(exc).startswith("amount must ")
        return
    assert _ASCII_AMOUNT.match(text.strip()), f"{text!r} was read as {amount}"
    assert Decimal("0.01") <= amount <= MAX_AMOUNT
    assert amount.as_tuple().exponent == -2


@settings(max_examples=80, **COMMON)
@given(BAD_AMOUNTS)
def test_create_plan_refuses_bad_amounts(actor, customer, total_amount):
    error = assert_refused(
        create_plan, (InvalidPlan,), customer_id=customer.customer_id, total_amount=total_amount, actor=actor
    )
    assert str(error).startswith("total_amount must ")


@settings(max_examples=80, **COMMON)
@given(BAD_AMOUNTS)
def test_issue_refund_refuses_bad_amounts(actor, customer, amount):
    error = assert_refused(
        issue_refund,
        (InvalidRefund,),
        customer_id=customer.customer_id,
        transaction_id=fresh_transaction_id(),
        amount=amount,
        actor=actor,
    )
    assert str(error).startswith("amount must ")


@settings(max_examples=20, **COMMON)
@given(st.sampled_from(UNICODE_DIGIT_SAMPLES))
def test_services_refuse_amounts_in_digits_of_other_scripts(actor, customer, amount):
    assert_refused(create_plan, (InvalidPlan,), customer_id=customer.customer_id, total_amount=amount, actor=actor)
    assert_refused(
        issue_refund,
        (InvalidRefund,),
        customer_id=customer.customer_id,
        transaction_id=fresh_transaction_id(),
        amount=amount,
        actor=actor,
    )


# Bad installment counts

BAD_COUNTS = st.one_of(
    st.integers(max_value=1),
    st.integers(min_value=25),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.sampled_from(["3", " 12 ", Decimal(3), 3.0, [3], {"count": 3}, (3,)]),
)


@settings(max_examples=80, **COMMON)
@given(BAD_COUNTS)
def test_create_plan_refuses_bad_installment_counts(actor, customer, count):
    error = assert_refused(
        create_plan,
        (InvalidPlan,),
        customer_id=customer.customer_id,
        total_amount="1000.00",
        installment_count=count,
        actor=actor,
    )
    assert str(error).startswith("installment_count must ")


@settings(max_examples=60, **COMMON)
@given(st.integers(3, 24).flatmap(lambda count: st.tuples(st.just(count), st.integers(1, count - 1))))
def test_create_plan_refuses_less_than_a_cent_per_installment(actor, customer, count_and_cents):
    count, cents = count_and_cents
    assert_refused(
        create_plan,
        (InvalidPlan,),
        customer_id=customer.customer_id,
        total_amount=str(Decimal(cents) / 100),
        installment_count=count,
        actor=actor,
    )


# Customer ids that name nobody

TEXT_WITH_NUL = st.tuples(st.text(max_size=20), st.text(max_size=20)).map(lambda ab: f"{ab[0]}\x00{ab[1]}")
BAD_CUSTOMER_IDS = st.one_of(
    st.sampled_from(["", " ", "\t\n", "usr-", "usr-000001 ", " usr-000001", "USR-000001", "%", "_", "*"]),
    st.text(min_size=1, max_size=64),
    st.text(st.characters(min_codepoint=0x80, codec="utf-8"), min_size=1, max_size=64),  # non-ASCII only
    ten_kb(),
    TEXT_WITH_NUL,
)


@pytest.fixture
def known_customer_ids(customer):
    return set(Customer.objects.values_list("customer_id", flat=True))


@settings(max_examples=80, **COMMON)
@given(BAD_CUSTOMER_IDS)
def test_create_plan_refuses_unknown_customer_ids(actor, known_customer_ids, customer_id):
    assume(customer_id not in known_customer_ids)
    assert_refused(create_plan, (CustomerNotFound,), customer_id=customer_id, total_amount="300.00", actor=actor)


@settings(max_examples=80, **COMMON)
@given(BAD_CUSTOMER_IDS)
def test_issue_refund_refuses_unknown_customer_ids(actor, known_customer_ids, customer_id):
    assume(customer_id not in known_customer_ids)
    assert_refused(
        issue_refund,
        (CustomerNotFound,),
        customer_id=customer_id,
        transaction_id=fresh_transaction_id(),
        amount="10.00",
        actor=actor,
    )


@settings(max_examples=60, **COMMON)
@given(BAD_CUSTOMER_IDS)
def test_override_status_refuses_unknown_customer_ids(actor, known_customer_ids, customer_id):
    assume(customer_id not in known_customer_ids)
    assert_refused(
        override_status,
        (CustomerNotFound,),
        customer_id=customer_id,
        status=Customer.Status.DEBT_USER,
        reason="property test",
        actor=actor,
    )


@settings(max_examples=60, **COMMON)
@given(BAD_CUSTOMER_IDS, st.sampled_from(["phone_number", "passport_number", "card_number"]))
def test_reveal_pii_refuses_unknown_customer_ids(actor, known_customer_ids, customer_id, field):
    """No customer, nothing revealed, and no audit event for a reveal that did not happen."""
    assume(customer_id not in known_customer_ids)
    assert_refused(reveal_pii, (CustomerNotFound,), customer_id=customer_id, field=field, actor=actor)


# Transaction ids and reasons

BLANK_TRANSACTION_IDS = st.one_of(st.none(), st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000"), max_size=5))
TOO_LONG_TRANSACTION_IDS = st.one_of(
    st.text(min_size=65, max_size=200).filter(lambda s: len(s.strip()) > 64),
    ten_kb().filter(lambda s: len(s.strip()) > 64),
)


@settings(max_examples=60, **COMMON)
@given(st.one_of(BLANK_TRANSACTION_IDS, TOO_LONG_TRANSACTION_IDS))
def test_issue_refund_refuses_blank_or_too_long_transaction_ids(actor, customer, transaction_id):
    error = assert_refused(
        issue_refund,
        (InvalidRefund,),
        customer_id=customer.customer_id,
        transaction_id=transaction_id,
        amount="10.00",
        actor=actor,
    )
    assert str(error).startswith("transaction_id ")


@settings(max_examples=80, **COMMON)
@given(st.one_of(st.text(min_size=1, max_size=64), TEXT_WITH_NUL.filter(lambda s: len(s) <= 64)))
def test_issue_refund_any_transaction_id_is_issued_or_refused_never_a_crash(actor, customer, transaction_id):
    """Unicode, control characters, NUL: a valid id gives one refund under its stripped form;
    anything else is an InvalidRefund that writes nothing."""
    outcome = attempt(
        issue_refund,
        (InvalidRefund,),
        customer_id=customer.customer_id,
        transaction_id=transaction_id,
        amount="10.00",
        actor=actor,
    )
    if outcome.refusal is not None:
        assert outcome.after == outcome.before
        return
    assert outcome.result.created
    assert outcome.result.refund.transaction_id == transaction_id.strip()
    assert outcome.after["refund"][0] == outcome.before["refund"][0] + 1


@settings(max_examples=30, **COMMON)
@given(st.one_of(ten_kb(), st.text(min_size=501, max_size=600)).filter(lambda s: len(s.strip()) > 500))
def test_issue_refund_refuses_reasons_over_500_characters(actor, customer, reason):
    error = assert_refused(
        issue_refund,
        (InvalidRefund,),
        customer_id=customer.customer_id,
        transaction_id=fresh_transaction_id(),
        amount="10.00",
        reason=reason,
        actor=actor,
    )
    assert str(error) == "reason must be at most 500 characters"


@settings(max_examples=60, **COMMON)
@given(st.one_of(st.text(max_size=500), TEXT_WITH_NUL))
def test_issue_refund_any_reason_up_to_500_characters_is_issued_or_refused(actor, customer, reason):
    outcome = attempt(
        issue_refund,
        (InvalidRefund,),
        customer_id=customer.customer_id,
        transaction_id=fresh_transaction_id(),
        amount="10.00",
        reason=reason,
        actor=actor,
    )
    if outcome.refusal is not None:
        assert outcome.after == outcome.before
    else:
        assert outcome.result.refund.reason == reason.strip()


# Webhook payloads (validate_payload, receive_event)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(sorted(MERCHANT_STATUSES)),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_REFUND_IDS = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["", " ", "txn-1", " txn-1 ", "a\x00b", "x" * 64, "x" * 65, " " + "x" * 64]),
    JSON_SCALARS,
)
_STATUSES = st.one_of(
    st.sampled_from([*sorted(MERCHANT_STATUSES), "APPROVED", "Approved", " approved", "", "pending"]), JSON_SCALARS
)
_REFERENCES = st.one_of(
    st.none(), st.text(max_size=140), st.sampled_from(["x" * 128, "x" * 129, "a\x00"]), JSON_SCALARS
)
PAYLOADS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"refund_id": _REFUND_IDS, "status": _STATUSES},
        optional={"merchant_reference": _REFERENCES, "extra": JSON_VALUES, "card_number": st.text(max_size=20)},
    ),
)


def expected_fields(payload) -> dict | None:
    """What the contract lets through (None: refused), written independently of the service."""
    if not isinstance(payload, dict):
        return None
    refund_id, status = payload.get("refund_id"), payload.get("status")
    reference = payload.get("merchant_reference", "")
    reference = "" if reference is None else reference
    if not (isinstance(refund_id, str) and refund_id.strip() and "\x00" not in refund_id and len(refund_id) <= 64):
        return None
    if not (isinstance(status, str) and status in ("approved", "rejected", "processing", "failed")):
        return None
    if not (isinstance(reference, str) and len(reference) <= 128 and "\x00" not in reference):
        return None
    return {"refund_id": refund_id.strip(), "status": status, "merchant_reference": reference}


@settings(max_examples=600, **COMMON)
@given(PAYLOADS)
def test_validate_payload_returns_the_three_fields_or_raises_invalid_payload(payload):
    expected = expected_fields(payload)
    try:
        fields = validate_payload(payload)
    except InvalidPayload as exc:
        assert expected is None, f"refused ({exc}) a valid payload"
        assert str(exc)
        return
    assert set(fields) == {"refund_id", "status", "merchant_reference"}
    assert fields == expected


@pytest.fixture
def merchant(db):
    return MerchantFactory()


@settings(max_examples=100, **COMMON)
@given(PAYLOADS)
def test_receive_event_stores_a_valid_payload_or_raises_invalid_payload(merchant, payload):
    """Never another exception; a refusal stores nothing, an acceptance stores the contract fields."""
    payload = json.loads(json.dumps(payload))  # what the endpoint hands over (NaN, Infinity included)
    outcome = attempt(
        receive_event, (InvalidPayload,), merchant=merchant, webhook_id=f"msg_{fresh_transaction_id()}", payload=payload
    )
    if outcome.refusal is not None:
        assert expected_fields(payload) is None
        assert outcome.after == outcome.before
        return
    assert expected_fields(payload) is not None
    assert outcome.result.event.payload == expected_fields(payload)
    assert outcome.after["webhook_event"][0] == outcome.before["webhook_event"][0] + 1


# JSON as a merchant can send it: json.loads turns a "\ud800" escape into a lone surrogate, which
# neither SQLite nor PostgreSQL can store (UTF-8 has no surrogates; jsonb refuses the escape).
_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, codec=None)


@pytest.mark.parametrize("field", ["refund_id", "merchant_reference"])
@settings(max_examples=20, **COMMON)
@given(st.tuples(st.text("abc-", max_size=3), _SURROGATES, st.text("abc-", max_size=3)).map("".join))
def test_receive_event_refuses_lone_surrogates_from_json(merchant, field, text):
    body = json.dumps({"refund_id": "txn-1", "status": "approved", field: text})
    payload = json.loads(body)
    assert payload[field] == text

    assert_refused(
        receive_event, (InvalidPayload,), merchant=merchant, webhook_id=f"msg_{fresh_transaction_id()}", payload=payload
    )


@settings(max_examples=80, **COMMON)
@given(st.one_of(st.text(min_size=1, max_size=140), TEXT_WITH_NUL, ten_kb()))
def test_receive_event_any_webhook_id_is_stored_or_refused(merchant, webhook_id):
    outcome = attempt(
        receive_event,
        (InvalidPayload,),
        merchant=merchant,
        webhook_id=webhook_id,
        payload={"refund_id": "txn-1", "status": "approved"},
    )
    if outcome.refusal is not None:
        assert outcome.after == outcome.before
    else:
        assert outcome.result.event.webhook_id == webhook_id
