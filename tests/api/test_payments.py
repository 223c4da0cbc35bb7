"""POST /api/v1/payments/ (rule 6: by amount, once per reference), GET /api/v1/payments/<id>/ and
POST /api/v1/payments/<id>/reverse/ (rule 7, risk only)."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.models import Installment, Payment, Plan
from bnpl_admin.plans.services import check_overdue
from tests.api.conftest import assert_error, assert_iso_datetime, assert_money, bearer_client, ledger_rows
from tests.factories import CustomerFactory, PlanFactory, UserFactory
from tests.ledger.invariants import assert_ledger_consistent
from tests.threads import run_together

pytestmark = pytest.mark.django_db

D = Decimal
PAID, UPCOMING, OVERDUE = Installment.Status.PAID, Installment.Status.UPCOMING, Installment.Status.OVERDUE
PAYMENT_FIELDS = {
    "id",
    "user_id",
    "amount",
    "method",
    "reference",
    "status",
    "allocations",
    "user_status",
    "received_at",
    "reversed_at",
    "reversal_reason",
}
ALREADY_REVERSED = "Payment is already reversed"
NOT_ALLOWED = "Your role does not allow this"


def make_overdue_first(*, second_plan: bool = False):
    """usr-p, DEBT_USER: a 300.00 plan in 3 (100.00 each) started 35 days ago, so that after
    `check_overdue` #1 is OVERDUE and #2 and #3 are UPCOMING; with `second_plan`, also a 90.00
    plan started today (created first: a DEBT_USER cannot get a plan)."""
    customer = CustomerFactory(customer_id="usr-p")
    plan = PlanFactory(
        customer=customer, total_amount=D("300.00"), start_date=timezone.localdate() - datetime.timedelta(days=35)
    )
    other = PlanFactory(customer=customer, total_amount=D("90.00")) if second_plan else None
    check_overdue(actor=Actor.system("test"))
    assert statuses(plan) == [OVERDUE, UPCOMING, UPCOMING]
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.DEBT_USER
    return customer, plan, other


@pytest.fixture
def overdue_first(db):
    customer, plan, _ = make_overdue_first()
    return customer, plan


@pytest.fixture
def two_plans(db):
    """overdue_first, and a 90.00 plan in 3 (30.00 each) with nothing due yet."""
    return make_overdue_first(second_plan=True)


def installments(plan) -> list[Installment]:
    return list(Installment.objects.filter(plan=plan).order_by("number"))


def statuses(plan) -> list[str]:
    return [i.status for i in installments(plan)]


def remaining(plan) -> list[Decimal]:
    return [i.amount_remaining for i in installments(plan)]


def customer_status(customer_id: str = "usr-p") -> str:
    return Customer.objects.get(customer_id=customer_id).status


def pay(client, headers=None, **body):
    body = {"user_id": "usr-p", "amount": "150.00", "reference": "ref-1", **body}
    return client.post("/api/v1/payments/", body, format="json", headers=headers)


def reverse(client, payment_id, reason="Transfer bounced", headers=None):
    return client.post(f"/api/v1/payments/{payment_id}/reverse/", {"reason": reason}, format="json", headers=headers)


class TestTheWorkedExample:
    """#1 overdue and #2 upcoming: 150.00 pays #1 and 50.00 of #2; the customer is NORMAL again.
    Reversing it makes the customer DEBT_USER again."""

    def test_150_pays_the_overdue_installment_and_half_the_next_and_the_user_is_normal_again(
        self, support_client, support_user, overdue_first
    ):
        customer, plan = overdue_first
        first, second, third = installments(plan)

        response = pay(support_client, method="bank_transfer")

        assert response.status_code == 201, response.content
        body = response.json()
        payment = Payment.objects.get()
        assert set(body) == PAYMENT_FIELDS
        assert body == {
            "id": str(payment.pk),
            "user_id": "usr-p",
            "amount": "150.00",
            "method": "bank_transfer",
            "reference": "ref-1",
            "status": "POSTED",
            "allocations": [
                {"installment_id": first.pk, "plan_id": str(plan.pk), "number": 1, "amount": "100.00"},
                {"installment_id": second.pk, "plan_id": str(plan.pk), "number": 2, "amount": "50.00"},
            ],
            "user_status": "NORMAL",
            "received_at": body["received_at"],
            "reversed_at": None,
            "reversal_reason": "",
        }
        assert_iso_datetime(body["received_at"])
        first, second, third = installments(plan)
        assert (first.status, first.amount_paid, first.amount_remaining) == (PAID, D("100.00"), D("0.00"))
        assert (second.status, second.amount_paid, second.amount_remaining) == (UPCOMING, D("50.00"), D("50.00"))
        assert (third.status, third.amount_paid, third.amount_remaining) == (UPCOMING, D("0.00"), D("100.00"))
        assert customer_status() == Customer.Status.NORMAL
        assert (payment.customer, payment.amount, payment.method) == (customer, D("150.00"), "bank_transfer")
        assert payment.created_by == support_user
        assert list(payment.allocations.order_by("id").values_list("installment_id", "amount")) == [
            (first.pk, D("100.00")),
            (second.pk, D("50.00")),
        ]
        assert AuditEvent.objects.filter(action="payment.recorded", target_id=str(payment.pk)).count() == 1
        assert_ledger_consistent()

    def test_the_plan_and_the_debt_status_show_what_remains(self, support_client, overdue_first):
        _customer, plan = overdue_first
        pay(support_client)

        shown = support_client.get(f"/api/v1/plans/{plan.pk}/").json()["installments"]
        debt = support_client.get("/api/v1/debt/usr-p/").json()

        assert [(i["status"], i["amount_paid"], i["amount_remaining"]) for i in shown] == [
            ("PAID", "100.00", "0.00"),
            ("UPCOMING", "50.00", "50.00"),
            ("UPCOMING", "0.00", "100.00"),
        ]
        assert (debt["has_overdue"], debt["total_debt"], debt["user_status"]) == (False, "0.00", "NORMAL")

    def test_reversing_it_with_a_risk_token_makes_the_user_a_debt_user_again(
        self, support_client, risk_client, risk_user, overdue_first
    ):
        _customer, plan = overdue_first
        paid = pay(support_client).json()

        response = reverse(risk_client, paid["id"], reason="Transfer bounced")

        assert response.status_code == 200, response.content
        body = response.json()
        assert body == {
            **paid,
            "status": "REVERSED",
            "user_status": "DEBT_USER",
            "reversed_at": body["reversed_at"],
            "reversal_reason": "Transfer bounced",
        }
        assert_iso_datetime(body["reversed_at"])
        payment = Payment.objects.get()
        assert (payment.status, payment.reversal_reason, payment.reversed_by) == (
            Payment.Status.REVERSED,
            "Transfer bounced",
            risk_user,
        )
        assert customer_status() == Customer.Status.DEBT_USER
        assert statuses(plan) == [OVERDUE, UPCOMING, UPCOMING]
        assert remaining(plan) == [D("100.00")] * 3
        assert [i.amount_paid for i in installments(plan)] == [D("0.00")] * 3
        assert AuditEvent.objects.filter(action="payment.reversed", target_id=str(payment.pk)).count() == 1
        [debt_again] = AuditEvent.objects.filter(action="customer.status_changed", data__to="DEBT_USER").exclude(
            data__reason="Overdue installment"
        )
        assert debt_again.actor_user_id == risk_user.pk
        assert support_client.get(f"/api/v1/payments/{paid['id']}/").json() == body
        assert_ledger_consistent()


class TestRecord:
    def test_the_method_defaults_to_other(self, support_client, overdue_first):
        response = pay(support_client, amount="10.00")

        assert response.json()["method"] == "other"
        assert Payment.objects.get().method == Payment.Method.OTHER

    @pytest.mark.parametrize("amount", ["150", "150.0", " 150.00 ", 150])
    def test_an_amount_may_be_written_as_any_decimal_with_at_most_two_places(
        self, support_client, overdue_first, amount
    ):
        response = pay(support_client, amount=amount)

        assert response.status_code == 201, response.content
        assert response.json()["amount"] == "150.00"
        assert Payment.objects.get().amount == D("150.00")

    def test_the_whole_balance_completes_the_plan(self, support_client, overdue_first):
        _customer, plan = overdue_first

        response = pay(support_client, amount="300.00")

        assert response.status_code == 201, response.content
        assert [a["amount"] for a in response.json()["allocations"]] == ["100.00", "100.00", "100.00"]
        assert statuses(plan) == [PAID, PAID, PAID]
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.COMPLETED

    def test_a_plan_id_pays_only_that_plans_installments(self, support_client, two_plans):
        _customer, overdue_plan, other = two_plans

        response = pay(support_client, amount="40.00", plan_id=str(other.pk))

        assert response.status_code == 201, response.content
        assert {a["plan_id"] for a in response.json()["allocations"]} == {str(other.pk)}
        assert remaining(other) == [D("0.00"), D("20.00"), D("30.00")]
        assert remaining(overdue_plan) == [D("100.00")] * 3
        assert customer_status() == Customer.Status.DEBT_USER  # #1 of the first plan is still overdue
        assert response.json()["user_status"] == "DEBT_USER"

    def test_the_same_reference_user_and_amount_again_is_a_200_with_the_same_payment(
        self, support_client, overdue_first
    ):
        _customer, plan = overdue_first
        first = pay(support_client)
        assert first.status_code == 201

        again = pay(support_client, amount="150")

        assert again.status_code == 200, again.content
        assert again.json() == first.json()
        assert Payment.objects.count() == 1
        assert remaining(plan) == [D("0.00"), D("50.00"), D("100.00")]
        assert AuditEvent.objects.filter(action="payment.recorded").count() == 1

    def test_a_reversed_payments_reference_answers_with_the_reversed_payment_and_pays_nothing(
        self, support_client, risk_client, overdue_first
    ):
        _customer, plan = overdue_first
        paid = pay(support_client).json()
        reverse(risk_client, paid["id"])

        again = pay(support_client)

        assert again.status_code == 200, again.content
        assert (again.json()["id"], again.json()["status"]) == (paid["id"], "REVERSED")
        assert Payment.objects.count() == 1
        assert remaining(plan) == [D("100.00")] * 3

    @pytest.mark.parametrize("conflict", [{"amount": "150.01"}, {"user_id": "usr-other"}])
    def test_the_same_reference_for_another_amount_or_user_is_a_409_and_changes_nothing(
        self, support_client, overdue_first, conflict
    ):
        PlanFactory(customer=CustomerFactory(customer_id="usr-other"))
        pay(support_client)
        before = ledger_rows()

        response = pay(support_client, **conflict)

        assert_error(response, 409, "Reference ref-1 was already used for a different payment")
        assert ledger_rows() == before

    def test_an_idempotency_key_replay_answers_the_first_response_and_pays_once(self, support_client, overdue_first):
        _customer, plan = overdue_first
        first = pay(support_client, headers={"Idempotency-Key": "key-1"})
        assert first.status_code == 201

        again = pay(support_client, headers={"Idempotency-Key": "key-1"})

        assert again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert Payment.objects.count() == 1
        assert remaining(plan) == [D("0.00"), D("50.00"), D("100.00")]

    def test_an_idempotency_key_with_another_body_is_a_422_and_changes_nothing(self, support_client, overdue_first):
        pay(support_client, headers={"Idempotency-Key": "key-1"})
        before = ledger_rows()

        response = pay(support_client, reference="ref-2", headers={"Idempotency-Key": "key-1"})

        assert_error(response, 422)
        assert ledger_rows() == before


class TestRecordRefusals:
    """Every refusal is a JSON 4xx with a clear message, and no row changes."""

    @pytest.mark.parametrize(
        "amount",
        [
            "0",
            "0.00",
            "-5.00",
            "-0.01",
            "10.001",
            "0.005",
            "NaN",
            "Infinity",
            "1e2",
            "abc",
            "",
            "1,000.00",
            "1000000000000.00",
            None,
            True,
            [],
            {"amount": "1.00"},
            -5,
            0,
        ],
    )
    def test_an_invalid_amount_is_a_400_and_changes_nothing(self, support_client, overdue_first, amount):
        before = ledger_rows()

        body = assert_error(pay(support_client, amount=amount), 400)

        assert body["error"].startswith("amount: ")
        assert ledger_rows() == before

    @pytest.mark.parametrize("amount", [150.0, 150.5, 1e2, 0.1])
    def test_an_amount_sent_as_a_json_float_is_a_400_and_changes_nothing(self, support_client, overdue_first, amount):
        before = ledger_rows()

        response = pay(support_client, amount=amount)

        assert_error(response, 400, 'amount: Send the amount as a decimal string such as "166.67".')
        assert ledger_rows() == before

    def test_more_than_the_balance_is_a_400_naming_the_balance(self, support_client, overdue_first):
        before = ledger_rows()

        assert_error(pay(support_client, amount="300.01"), 400, "Payment exceeds the outstanding balance (300.00)")
        assert ledger_rows() == before

    def test_more_than_a_named_plan_has_remaining_is_a_400_naming_that_plans_balance(self, support_client, two_plans):
        _customer, _plan, other = two_plans
        before = ledger_rows()

        response = pay(support_client, amount="90.01", plan_id=str(other.pk))

        assert_error(response, 400, "Payment exceeds the outstanding balance (90.00)")
        assert ledger_rows() == before

    def test_a_user_without_anything_outstanding_is_a_400(self, support_client):
        CustomerFactory(customer_id="usr-p")
        before = ledger_rows()

        assert_error(pay(support_client, amount="1.00"), 400, "Nothing is outstanding")
        assert ledger_rows() == before

    def test_a_user_who_paid_everything_has_nothing_outstanding(self, support_client, overdue_first):
        pay(support_client, amount="300.00")
        before = ledger_rows()

        assert_error(pay(support_client, amount="1.00", reference="ref-2"), 400, "Nothing is outstanding")
        assert ledger_rows() == before

    def test_another_customers_plan_is_a_400_and_changes_nothing(self, support_client, overdue_first):
        foreign = PlanFactory(customer=CustomerFactory(customer_id="usr-other"))
        before = ledger_rows()

        response = pay(support_client, amount="10.00", plan_id=str(foreign.pk))

        assert_error(response, 400, f"Plan {foreign.pk} not found for user usr-p")
        assert ledger_rows() == before

    def test_an_unknown_plan_is_a_400(self, support_client, overdue_first):
        missing = uuid.uuid4()
        before = ledger_rows()

        assert_error(pay(support_client, plan_id=str(missing)), 400, f"Plan {missing} not found for user usr-p")
        assert ledger_rows() == before

    def test_a_cancelled_plan_is_a_400_and_changes_nothing(self, support_client, two_plans):
        _customer, _plan, cancelled = two_plans
        ledger.cancel_plan(plan_id=cancelled.pk, reason="Never shipped", actor=Actor.system("test"))
        before = ledger_rows()

        response = pay(support_client, amount="10.00", plan_id=str(cancelled.pk))

        assert_error(response, 400, f"Plan {cancelled.pk} is cancelled")
        assert ledger_rows() == before

    def test_a_cancelled_plan_takes_no_part_of_a_payment_without_a_plan(self, support_client, two_plans):
        _customer, plan, cancelled = two_plans
        ledger.cancel_plan(plan_id=cancelled.pk, reason="Never shipped", actor=Actor.system("test"))

        assert_error(pay(support_client, amount="300.01"), 400, "Payment exceeds the outstanding balance (300.00)")
        assert pay(support_client, amount="300.00").status_code == 201
        assert {i.status for i in installments(cancelled)} == {Installment.Status.CANCELLED}
        assert statuses(plan) == [PAID, PAID, PAID]

    def test_an_unknown_user_is_a_404_and_changes_nothing(self, support_client, overdue_first):
        before = ledger_rows()

        assert_error(pay(support_client, user_id="usr-ghost"), 404, "User usr-ghost not found")
        assert ledger_rows() == before

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("reference", ""),
            ("reference", "   "),
            ("reference", "r" * 65),
            ("reference", None),
            ("reference", "a\x00b"),
            ("reference", ["ref-1"]),
            ("method", "bitcoin"),
            ("method", ""),
            ("method", None),
            ("method", ["card"]),
            ("user_id", ""),
            ("user_id", None),
            ("user_id", "u" * 65),
            ("plan_id", "not-a-uuid"),
            ("plan_id", ["x"]),
        ],
    )
    def test_invalid_input_is_a_400_and_changes_nothing(self, support_client, overdue_first, field, value):
        before = ledger_rows()

        body = assert_error(pay(support_client, **{field: value}), 400)

        assert body["error"].startswith(f"{field}: ")
        assert ledger_rows() == before

    @pytest.mark.parametrize("missing", ["user_id", "amount", "reference"])
    def test_a_missing_required_field_is_a_400(self, support_client, overdue_first, missing):
        body = {"user_id": "usr-p", "amount": "150.00", "reference": "ref-1"}
        del body[missing]
        before = ledger_rows()

        assert_error(
            support_client.post("/api/v1/payments/", body, format="json"), 400, f"{missing}: This field is required."
        )
        assert ledger_rows() == before

    def test_a_body_that_is_not_json_is_a_400(self, support_client, overdue_first):
        before = ledger_rows()

        assert_error(support_client.post("/api/v1/payments/", "{oops", content_type="application/json"), 400)
        assert ledger_rows() == before

    def test_a_role_without_record_payment_is_a_403(self, roleless_client, overdue_first):
        before = ledger_rows()

        assert_error(pay(roleless_client), 403, NOT_ALLOWED)
        assert ledger_rows() == before

    def test_no_token_is_a_401(self, anonymous_client, overdue_first):
        before = ledger_rows()

        assert_error(pay(anonymous_client), 401)
        assert ledger_rows() == before


class TestDetail:
    def test_returns_the_payment_with_its_allocations(self, support_client, overdue_first):
        posted = pay(support_client).json()

        response = support_client.get(f"/api/v1/payments/{posted['id']}/")

        assert response.status_code == 200
        body = response.json()
        assert body == posted
        assert_money(body["amount"])
        for allocation in body["allocations"]:
            assert_money(allocation["amount"])

    def test_the_user_status_is_the_users_status_now(self, support_client, overdue_first):
        posted = pay(support_client, amount="100.00").json()
        assert posted["user_status"] == "NORMAL"
        PlanFactory(
            customer=Customer.objects.get(customer_id="usr-p"),
            start_date=timezone.localdate() - datetime.timedelta(days=40),
        )
        check_overdue(actor=Actor.system("test"))

        assert support_client.get(f"/api/v1/payments/{posted['id']}/").json()["user_status"] == "DEBT_USER"

    def test_an_unknown_payment_is_a_json_404(self, support_client):
        missing = uuid.uuid4()

        assert_error(support_client.get(f"/api/v1/payments/{missing}/"), 404, f"Payment {missing} not found")

    @pytest.mark.parametrize("payment_id", ["not-a-uuid", "123", "ref-1"])
    def test_a_malformed_payment_id_is_a_json_404(self, support_client, payment_id):
        assert_error(support_client.get(f"/api/v1/payments/{payment_id}/"), 404)

    def test_a_role_without_view_payment_is_a_403(self, support_client, roleless_client, overdue_first):
        posted = pay(support_client).json()

        assert_error(roleless_client.get(f"/api/v1/payments/{posted['id']}/"), 403, NOT_ALLOWED)


class TestReverse:
    @pytest.fixture
    def posted(self, support_client, overdue_first) -> dict:
        response = pay(support_client)
        assert response.status_code == 201
        return response.json()

    def test_support_may_not_reverse_a_payment_403_and_nothing_changes(self, support_client, posted):
        before = ledger_rows()

        assert_error(reverse(support_client, posted["id"]), 403, NOT_ALLOWED)
        assert ledger_rows() == before
        assert Payment.objects.get().status == Payment.Status.POSTED
        assert customer_status() == Customer.Status.NORMAL

    def test_a_second_reversal_is_a_400_and_changes_nothing(self, risk_client, posted):
        assert reverse(risk_client, posted["id"]).status_code == 200
        before = ledger_rows()

        assert_error(reverse(risk_client, posted["id"], reason="again"), 400, ALREADY_REVERSED)
        assert ledger_rows() == before
        assert Payment.objects.get().reversal_reason == "Transfer bounced"
        assert AuditEvent.objects.filter(action="payment.reversed").count() == 1

    def test_reversing_a_payment_that_completed_a_plan_makes_it_active_again(self, support_client, risk_client):
        customer = CustomerFactory(customer_id="usr-p")
        plan = PlanFactory(customer=customer, total_amount=D("300.00"))
        posted = pay(support_client, amount="300.00").json()
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.COMPLETED

        response = reverse(risk_client, posted["id"])

        assert response.status_code == 200, response.content
        assert response.json()["user_status"] == "NORMAL"  # nothing is past due
        assert Plan.objects.get(pk=plan.pk).status == Plan.Status.ACTIVE
        assert statuses(plan) == [UPCOMING, UPCOMING, UPCOMING]
        assert customer_status() == Customer.Status.NORMAL
        assert_ledger_consistent()

    def test_an_idempotency_key_replay_answers_the_first_reversal(self, risk_client, posted):
        first = reverse(risk_client, posted["id"], headers={"Idempotency-Key": "rev-1"})
        assert first.status_code == 200

        again = reverse(risk_client, posted["id"], headers={"Idempotency-Key": "rev-1"})

        assert again.status_code == 200
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert AuditEvent.objects.filter(action="payment.reversed").count() == 1

    def test_an_unknown_payment_is_a_404(self, risk_client, overdue_first):
        missing = uuid.uuid4()
        before = ledger_rows()

        assert_error(reverse(risk_client, missing), 404, f"Payment {missing} not found")
        assert ledger_rows() == before

    def test_a_malformed_payment_id_is_a_json_404(self, risk_client):
        assert_error(risk_client.post("/api/v1/payments/not-a-uuid/reverse/", {"reason": "x"}, format="json"), 404)

    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "r" * 501}, {"reason": None}])
    def test_a_reason_is_required_400_and_nothing_changes(self, risk_client, posted, body):
        before = ledger_rows()

        response = risk_client.post(f"/api/v1/payments/{posted['id']}/reverse/", body, format="json")

        assert assert_error(response, 400)["error"].startswith("reason: ")
        assert ledger_rows() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    """Requests at the same moment, each on its own connection (PostgreSQL row locks)."""

    @pytest.fixture(autouse=True)
    def _setup(self, db):
        self.customer = CustomerFactory(customer_id="usr-p")
        self.plan = PlanFactory(customer=self.customer, total_amount=D("500.00"), installment_count=5)
        self.tokens = {
            role: bearer_client(getattr(UserFactory, role)())._credentials["HTTP_AUTHORIZATION"].split()[1]
            for role in ("support", "risk")
        }

    def client(self, role: str = "support"):
        client = bearer_client(token=self.tokens[role])
        client.raise_request_exception = False
        return client

    def test_twenty_identical_payments_record_one(self):
        responses = run_together(*[lambda: pay(self.client(), amount="100.00")] * 20)

        failures = [r for r in responses if isinstance(r, BaseException)]
        assert not failures, failures
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        payment = Payment.objects.get()
        assert {r.json()["id"] for r in responses} == {str(payment.pk)}
        assert remaining(self.plan) == [D("0.00")] + [D("100.00")] * 4
        assert AuditEvent.objects.filter(action="payment.recorded").count() == 1
        assert_ledger_consistent()

    def test_twenty_payments_at_once_never_take_more_than_the_balance(self):
        def send(n):
            return lambda: pay(self.client(), amount="100.00", reference=f"ref-{n}")

        responses = run_together(*[send(n) for n in range(20)])

        failures = [r for r in responses if isinstance(r, BaseException)]
        assert not failures, failures
        assert sorted(r.status_code for r in responses) == [201] * 5 + [400] * 15
        assert Payment.objects.count() == 5
        assert remaining(self.plan) == [D("0.00")] * 5
        assert Plan.objects.get(pk=self.plan.pk).status == Plan.Status.COMPLETED
        assert_ledger_consistent()

    def test_twenty_reversals_at_once_reverse_once(self):
        paid = pay(self.client(), amount="250.00").json()

        responses = run_together(*[lambda: reverse(self.client("risk"), paid["id"])] * 20)

        failures = [r for r in responses if isinstance(r, BaseException)]
        assert not failures, failures
        assert sorted(r.status_code for r in responses) == [200] + [400] * 19
        assert {r.json()["error"] for r in responses if r.status_code == 400} == {ALREADY_REVERSED}
        assert remaining(self.plan) == [D("100.00")] * 5
        assert AuditEvent.objects.filter(action="payment.reversed").count() == 1
        assert_ledger_consistent()
