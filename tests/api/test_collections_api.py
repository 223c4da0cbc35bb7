"""GET /api/v1/risk/portfolio/ (rule 10), and a customer's collection case (rule 12):
GET /api/v1/users/<id>/case/, POST .../case/notes/ and POST .../case/promises/; risk role only."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.services import Actor
from bnpl_admin.collection import portfolio
from bnpl_admin.collection import services as collection_services
from bnpl_admin.collection.models import Case, CaseNote, PortfolioSnapshot, PromiseToPay
from bnpl_admin.customers.models import Customer
from bnpl_admin.plans import ledger
from bnpl_admin.plans.services import check_overdue
from tests.api.conftest import assert_error, assert_iso_date, assert_iso_datetime, assert_money
from tests.factories import CustomerFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
AS_OF = datetime.date(2026, 12, 1)
NOT_ALLOWED = "Your role does not allow this"
CARD = "8600 1234 5678 9012"
CASE_FIELDS = {"id", "user_id", "status", "assignee", "opened_at", "closed_at", "notes", "promises"}
NOTE_FIELDS = {"id", "text", "masked", "author", "created_at"}
PROMISE_FIELDS = {"id", "amount", "due_date", "status", "created_at", "evaluated_at"}


def today() -> datetime.date:
    return timezone.localdate()


def in_days(days: int) -> str:
    return (today() + datetime.timedelta(days=days)).isoformat()


def case_rows() -> dict:
    """Every row a case action writes, to compare before and after a refused request."""
    return {
        "cases": list(Case.objects.order_by("pk").values_list("pk", "status", "assignee_id", "closed_at")),
        "notes": list(CaseNote.objects.order_by("pk").values_list("pk", "text")),
        "promises": list(PromiseToPay.objects.order_by("pk").values_list("pk", "amount", "due_date", "status")),
        "audit_events": AuditEvent.objects.count(),
    }


@pytest.fixture
def debtor(db):
    """usr-c, DEBT_USER: #1 of a 300.00 plan in 3 started 35 days ago is OVERDUE; the check opened a case."""
    customer = CustomerFactory(customer_id="usr-c")
    PlanFactory(customer=customer, total_amount=D("300.00"), start_date=today() - datetime.timedelta(days=35))
    check_overdue(actor=Actor.system("test"))
    customer.refresh_from_db()
    assert customer.status == Customer.Status.DEBT_USER
    assert Case.objects.filter(customer=customer, status=Case.Status.OPEN).count() == 1
    return customer


def case_of(client, customer_id="usr-c"):
    return client.get(f"/api/v1/users/{customer_id}/case/")


def note(client, text="Called, will pay on Friday", customer_id="usr-c", headers=None, body=None):
    body = {"text": text} if body is None else body
    return client.post(f"/api/v1/users/{customer_id}/case/notes/", body, format="json", headers=headers)


def promise(client, amount="50.00", due_date=None, customer_id="usr-c", headers=None, body=None):
    body = {"amount": amount, "due_date": due_date or in_days(7)} if body is None else body
    return client.post(f"/api/v1/users/{customer_id}/case/promises/", body, format="json", headers=headers)


class TestPortfolio:
    @pytest.fixture
    def book(self, actor):
        """tests/collection/test_portfolio.py's four customers as of 2026-12-01:
        A 300.00 in 3, #1 due 11-16 (DPD 15), 50.00 paid   -> 1-30, 250.00 outstanding
        B 600.00 in 3, #1 due 10-17, #2 11-17 (DPD 45)     -> 31-60, 600.00
        C  90.00 in 3, all due by 08-23 (DPD 161)          -> 90+, 90.00
        D 1000.00 in 2, first due 12-20                     -> not past due, 1000.00
        Total 1,940.00; PAR30 = 690/1940 = 0.3557; PAR60 = PAR90 = 90/1940 = 0.0464."""
        a = PlanFactory(total_amount=D("300.00"), start_date=datetime.date(2026, 10, 16))
        PlanFactory(total_amount=D("600.00"), start_date=datetime.date(2026, 9, 17))
        PlanFactory(total_amount=D("90.00"), start_date=datetime.date(2026, 5, 23))
        PlanFactory(total_amount=D("1000.00"), installment_count=2, start_date=datetime.date(2026, 11, 20))
        check_overdue(as_of=AS_OF)
        ledger.record_payment(customer_id=a.customer.customer_id, amount="50.00", reference="a-1", actor=actor)

    def test_answers_the_hand_computed_figures_of_the_snapshot(self, risk_client, book):
        portfolio.refresh(AS_OF)

        response = risk_client.get("/api/v1/risk/portfolio/")

        assert response.status_code == 200, response.content
        assert response.json() == {
            "as_of": "2026-12-01",
            "total_outstanding": "1940.00",
            "buckets": [
                {"bucket": "1-30", "customers": 1, "outstanding": "250.00"},
                {"bucket": "31-60", "customers": 1, "outstanding": "600.00"},
                {"bucket": "61-90", "customers": 0, "outstanding": "0.00"},
                {"bucket": "90+", "customers": 1, "outstanding": "90.00"},
            ],
            "par30": "0.3557",
            "par60": "0.0464",
            "par90": "0.0464",
        }

    def test_equals_the_domain_computation(self, risk_client, book):
        portfolio.refresh(AS_OF)
        figures = portfolio.compute(AS_OF)

        body = risk_client.get("/api/v1/risk/portfolio/").json()

        assert body["as_of"] == figures["as_of"].isoformat()
        assert D(body["total_outstanding"]) == figures["total_outstanding"]
        assert [(b["bucket"], b["customers"], D(b["outstanding"])) for b in body["buckets"]] == [
            (b["bucket"], b["customers"], b["outstanding"]) for b in figures["buckets"]
        ]
        assert [D(body[par]) for par in ("par30", "par60", "par90")] == [
            figures[par] for par in ("par30", "par60", "par90")
        ]
        assert_money(body["total_outstanding"])
        for bucket in body["buckets"]:
            assert_money(bucket["outstanding"])
        assert all(len(body[par]) == 6 and body[par].startswith("0.") for par in ("par30", "par60", "par90"))

    def test_reads_the_newest_snapshot(self, risk_client, book):
        older, newer = AS_OF - datetime.timedelta(days=20), AS_OF
        portfolio.refresh(newer)
        portfolio.refresh(older)

        body = risk_client.get("/api/v1/risk/portfolio/").json()

        assert body["as_of"] == newer.isoformat()
        assert PortfolioSnapshot.objects.count() == 2

    def test_a_fresh_install_answers_with_a_snapshot_computed_now_and_kept(self, risk_client, book):
        assert not PortfolioSnapshot.objects.exists()

        first = risk_client.get("/api/v1/risk/portfolio/")
        second = risk_client.get("/api/v1/risk/portfolio/")

        assert first.status_code == second.status_code == 200
        [snapshot] = PortfolioSnapshot.objects.all()
        assert snapshot.as_of == today()
        assert first.json() == second.json()
        figures = portfolio.compute(today())
        body = first.json()
        assert body["as_of"] == today().isoformat()
        assert D(body["total_outstanding"]) == figures["total_outstanding"] == D("1940.00")
        assert [D(b["outstanding"]) for b in body["buckets"]] == [b["outstanding"] for b in figures["buckets"]]
        assert body["par30"] == str(figures["par30"])

    def test_an_empty_book_has_no_risk(self, risk_client):
        body = risk_client.get("/api/v1/risk/portfolio/").json()

        assert body["total_outstanding"] == "0.00"
        assert (body["par30"], body["par60"], body["par90"]) == ("0.0000", "0.0000", "0.0000")
        assert [b["customers"] for b in body["buckets"]] == [0, 0, 0, 0]


class TestRoles:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("get", "/api/v1/risk/portfolio/", None),
            ("get", "/api/v1/users/usr-c/case/", None),
            ("post", "/api/v1/users/usr-c/case/notes/", {"text": "Called"}),
            ("post", "/api/v1/users/usr-c/case/promises/", {"amount": "50.00", "due_date": "2026-12-31"}),
        ],
    )
    @pytest.mark.parametrize("who", ["support_client", "roleless_client"])
    def test_support_and_roleless_staff_are_refused_and_nothing_written(self, request, debtor, who, method, path, body):
        client = request.getfixturevalue(who)
        before = case_rows()

        response = getattr(client, method)(path, body, format="json")

        assert_error(response, 403, NOT_ALLOWED)
        assert case_rows() == before
        assert not PortfolioSnapshot.objects.exists()

    @pytest.mark.parametrize("path", ["/api/v1/risk/portfolio/", "/api/v1/users/usr-c/case/"])
    def test_no_token_is_a_401(self, anonymous_client, debtor, path):
        assert_error(anonymous_client.get(path), 401)


class TestCaseDetail:
    def test_the_open_case_with_its_notes_and_promises_newest_first(self, risk_client, risk_user, debtor):
        case = Case.objects.get(customer=debtor)
        actor = Actor.staff(risk_user)
        first = collection_services.add_note(case_id=case.pk, text="Called, no answer", actor=actor)
        second = collection_services.add_note(case_id=case.pk, text="Called, will pay", actor=actor)
        kept = collection_services.add_promise(
            case_id=case.pk, amount="100.00", due_date=today() + datetime.timedelta(days=3), actor=actor
        )
        later = collection_services.add_promise(
            case_id=case.pk, amount="50.00", due_date=today() + datetime.timedelta(days=30), actor=actor
        )
        collection_services.assign(case_id=case.pk, assignee_username=risk_user.username, actor=actor)

        response = case_of(risk_client)

        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == CASE_FIELDS
        assert body["id"] == case.pk and body["user_id"] == "usr-c" and body["status"] == "OPEN"
        assert body["assignee"] == risk_user.username
        assert_iso_datetime(body["opened_at"])
        assert body["closed_at"] is None
        assert [n["id"] for n in body["notes"]] == [second.pk, first.pk]
        assert body["notes"][0] == {
            "id": second.pk,
            "text": "Called, will pay",
            "masked": False,
            "author": risk_user.username,
            "created_at": body["notes"][0]["created_at"],
        }
        assert_iso_datetime(body["notes"][0]["created_at"])
        assert [p["id"] for p in body["promises"]] == [later.pk, kept.pk]
        assert body["promises"][1] == {
            "id": kept.pk,
            "amount": "100.00",
            "due_date": in_days(3),
            "status": "PENDING",
            "created_at": body["promises"][1]["created_at"],
            "evaluated_at": None,
        }

    def test_reads_a_case_in_the_same_number_of_queries_whatever_its_notes_and_promises(
        self, risk_client, risk_user, debtor
    ):
        case = Case.objects.get(customer=debtor)
        actors = [Actor.staff(risk_user), Actor.staff(UserFactory.risk())]

        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                assert case_of(risk_client).status_code == 200
            return len(captured)

        collection_services.add_note(case_id=case.pk, text="first", actor=actors[0])
        few = queries()
        for n in range(6):
            collection_services.add_note(case_id=case.pk, text=f"note {n}", actor=actors[n % 2])
            collection_services.add_promise(case_id=case.pk, amount=f"{n + 1}.00", due_date=today(), actor=actors[0])
        many = queries()

        assert many == few
        assert len(case_of(risk_client).json()["notes"]) == 7

    def test_an_unassigned_case_without_notes(self, risk_client, debtor):
        body = case_of(risk_client).json()

        assert body["assignee"] is None and body["notes"] == [] and body["promises"] == []

    def test_the_open_case_rather_than_an_earlier_closed_one(self, risk_client, actor, debtor):
        posted = ledger.record_payment(customer_id="usr-c", amount="100.00", reference="r1", actor=actor)
        ledger.reverse_payment(payment_id=posted.payment.pk, reason="Bounced", actor=actor)
        closed, opened = Case.objects.filter(customer=debtor).order_by("id")
        assert (closed.status, opened.status) == ("CLOSED", "OPEN")

        body = case_of(risk_client).json()

        assert (body["id"], body["status"]) == (opened.pk, "OPEN")

    def test_else_the_latest_closed_case(self, risk_client, actor, debtor):
        posted = ledger.record_payment(customer_id="usr-c", amount="100.00", reference="r1", actor=actor)
        ledger.reverse_payment(payment_id=posted.payment.pk, reason="Bounced", actor=actor)
        ledger.record_payment(customer_id="usr-c", amount="100.00", reference="r2", actor=actor)
        first, latest = Case.objects.filter(customer=debtor).order_by("id")
        assert (first.status, latest.status) == ("CLOSED", "CLOSED")

        body = case_of(risk_client).json()

        assert (body["id"], body["status"]) == (latest.pk, "CLOSED")
        assert_iso_datetime(body["closed_at"])

    def test_a_customer_who_never_had_a_case_is_a_404(self, risk_client):
        CustomerFactory(customer_id="usr-n")

        assert_error(case_of(risk_client, "usr-n"), 404, "No collection case for user usr-n")

    def test_an_unknown_user_is_a_404(self, risk_client):
        assert_error(case_of(risk_client, "usr-missing"), 404, "User usr-missing not found")


class TestNotes:
    def test_a_note_is_added_to_the_open_case_and_audited(self, risk_client, risk_user, debtor):
        response = note(risk_client)

        assert response.status_code == 201, response.content
        body = response.json()
        [stored] = CaseNote.objects.all()
        assert set(body) == NOTE_FIELDS
        assert body == {
            "id": stored.pk,
            "text": "Called, will pay on Friday",
            "masked": False,
            "author": risk_user.username,
            "created_at": body["created_at"],
        }
        assert_iso_datetime(body["created_at"])
        assert stored.case == Case.objects.get(customer=debtor, status=Case.Status.OPEN)
        assert stored.author == risk_user and stored.text == "Called, will pay on Friday"
        event = AuditEvent.objects.get(action="case.note_added")
        assert event.customer_ref == "usr-c" and event.actor_user == risk_user

    def test_a_card_number_in_a_note_comes_back_masked_and_is_stored_masked(self, risk_client, debtor):
        response = note(risk_client, text=f"Pays with card {CARD} on Friday")

        assert response.status_code == 201, response.content
        body = response.json()
        assert body["masked"] is True
        assert "1234 5678" not in body["text"] and "5678" not in body["text"]
        assert body["text"].startswith("Pays with card ") and body["text"].endswith(" on Friday")
        stored = CaseNote.objects.get()
        assert stored.masked and stored.text == body["text"]
        case_body = case_of(risk_client).content.decode()
        assert "5678" not in case_body and "1234 5678 9012" not in case_body
        assert "5678" not in str(AuditEvent.objects.get(action="case.note_added").data)

    @pytest.mark.parametrize(
        "body",
        [{"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"text": "nul\x00"}, {"text": None}, {"text": ["a"]}, {}],
        ids=["empty", "blank", "too-long", "nul", "null", "list", "missing"],
    )
    def test_a_bad_note_is_a_400_and_nothing_is_written(self, risk_client, debtor, body):
        before = case_rows()

        assert_error(note(risk_client, body=body), 400)

        assert case_rows() == before

    def test_a_customer_without_an_open_case_is_a_400(self, risk_client, actor, debtor):
        ledger.record_payment(customer_id="usr-c", amount="100.00", reference="r1", actor=actor)
        CustomerFactory(customer_id="usr-n")
        before = case_rows()

        assert_error(note(risk_client), 400, "User usr-c has no open collection case")
        assert_error(note(risk_client, customer_id="usr-n"), 400, "User usr-n has no open collection case")

        assert case_rows() == before

    def test_an_unknown_user_is_a_404(self, risk_client):
        assert_error(note(risk_client, customer_id="usr-missing"), 404, "User usr-missing not found")
        assert not CaseNote.objects.exists()

    def test_an_idempotency_key_replay_writes_once(self, risk_client, debtor):
        headers = {"Idempotency-Key": "note-1"}

        first = note(risk_client, headers=headers)
        again = note(risk_client, headers=headers)
        other = note(risk_client, text="Something else", headers=headers)

        assert first.status_code == again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert_error(other, 422)
        assert CaseNote.objects.count() == 1
        assert AuditEvent.objects.filter(action="case.note_added").count() == 1


class TestPromises:
    def test_a_promise_is_added_to_the_open_case_and_audited(self, risk_client, risk_user, debtor):
        response = promise(risk_client, amount="150.50", due_date=in_days(10))

        assert response.status_code == 201, response.content
        body = response.json()
        [stored] = PromiseToPay.objects.all()
        assert set(body) == PROMISE_FIELDS
        assert body == {
            "id": stored.pk,
            "amount": "150.50",
            "due_date": in_days(10),
            "status": "PENDING",
            "created_at": body["created_at"],
            "evaluated_at": None,
        }
        assert_money(body["amount"])
        assert_iso_date(body["due_date"])
        assert_iso_datetime(body["created_at"])
        assert stored.amount == D("150.50") and stored.due_date.isoformat() == in_days(10)
        assert stored.status == PromiseToPay.Status.PENDING and stored.created_by == risk_user
        assert stored.case == Case.objects.get(customer=debtor, status=Case.Status.OPEN)
        event = AuditEvent.objects.get(action="case.promise_added")
        assert event.customer_ref == "usr-c" and event.data == {"amount": "150.50", "due_date": in_days(10)}

    @pytest.mark.parametrize("days", [0, 90])
    def test_today_and_90_days_ahead_are_taken(self, risk_client, debtor, days):
        assert promise(risk_client, due_date=in_days(days)).status_code == 201
        assert PromiseToPay.objects.get().due_date.isoformat() == in_days(days)

    @pytest.mark.parametrize(
        "change",
        [
            {"amount": "0"},
            {"amount": "0.00"},
            {"amount": "-1"},
            {"amount": "1.001"},
            {"amount": "NaN"},
            {"amount": "Infinity"},
            {"amount": 12.5},
            {"amount": "abc"},
            {"amount": ""},
            {"amount": None},
            {"due_date": "yesterday"},
            {"due_date": -1},
            {"due_date": 91},
            {"due_date": "2026-13-01"},
            {"due_date": "2026-12-20T10:00:00"},
            {"due_date": None},
            {"amount": ...},
            {"due_date": ...},
        ],
        ids=lambda change: "-".join(f"{k}={v!r}" for k, v in change.items()),
    )
    def test_a_bad_promise_is_a_400_and_nothing_is_written(self, risk_client, debtor, change):
        body = {"amount": "50.00", "due_date": in_days(7)}
        for field, value in change.items():
            if value is ...:
                del body[field]
            elif field == "due_date" and isinstance(value, int):
                body[field] = in_days(value)
            elif field == "due_date" and value == "yesterday":
                body[field] = in_days(-1)
            else:
                body[field] = value
        before = case_rows()

        assert_error(promise(risk_client, body=body), 400)

        assert case_rows() == before

    def test_a_customer_without_an_open_case_is_a_400(self, risk_client, actor, debtor):
        ledger.record_payment(customer_id="usr-c", amount="100.00", reference="r1", actor=actor)
        before = case_rows()

        assert_error(promise(risk_client), 400, "User usr-c has no open collection case")

        assert case_rows() == before

    def test_an_unknown_user_is_a_404(self, risk_client):
        assert_error(promise(risk_client, customer_id="usr-missing"), 404, "User usr-missing not found")
        assert not PromiseToPay.objects.exists()

    def test_an_idempotency_key_replay_writes_once(self, risk_client, debtor):
        headers = {"Idempotency-Key": "promise-1"}

        first = promise(risk_client, headers=headers)
        again = promise(risk_client, headers=headers)
        other = promise(risk_client, amount="60.00", headers=headers)

        assert first.status_code == again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert_error(other, 422)
        assert PromiseToPay.objects.count() == 1
        assert AuditEvent.objects.filter(action="case.promise_added").count() == 1

    def test_a_refused_promise_releases_its_key(self, risk_client, debtor):
        headers = {"Idempotency-Key": "promise-2"}

        assert_error(promise(risk_client, body={"amount": "0", "due_date": in_days(7)}, headers=headers), 400)
        assert not PromiseToPay.objects.exists()
        retried = promise(risk_client, body={"amount": "0.01", "due_date": in_days(7)}, headers=headers)

        assert retried.status_code == 201, retried.content  # not a 422: the refusal was not kept
        assert not retried.has_header("Idempotent-Replayed")
        assert PromiseToPay.objects.get().amount == D("0.01")
