"""Nothing is cut off: every staff page, as each role, at 1280 px and on a 390 px phone, fits the
viewport's width (a wide table scrolls inside its own box, the navigation wraps)."""

import datetime
from decimal import Decimal

from django.utils import timezone

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.models import Case
from bnpl_admin.plans.services import create_plan
from bnpl_admin.refunds.services import issue_refund
from e2e.test_back_office import _customer, _debt_user, _horizontal_overflow, _sign_in

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _pages(role: str, case_id: int) -> list[str]:
    support = [
        "/customers/",
        "/customers/usr-e2e-601/",
        "/customers/usr-e2e-602/",
        "/customers/usr-e2e-602/plans/new/",
        "/customers/usr-e2e-601/payments/new/",
        "/customers/usr-e2e-602/refunds/new/",
        "/webhooks/",
        "/health/",
    ]
    risk = ["/risk/", "/collections/", f"/collections/{case_id}/", "/audit/", "/merchants/"]
    return support + (risk if role != "support" else [])


def test_every_page_fits_the_screen_at_1280_and_on_a_phone(browser, live_server, demo_staff, screenshot):
    _debt_user("usr-e2e-601", "Dilnoza Abdurakhmonova-Yusupova", "+998901110601")
    _customer("usr-e2e-602", "Bekzod Nazarov", "+998901110602")
    plan = create_plan(
        customer_id="usr-e2e-602",
        total_amount=Decimal("12500000.00"),
        installment_count=12,
        start_date=timezone.localdate() - datetime.timedelta(days=20),
        actor=Actor.system(),
    )
    issue_refund(
        customer_id="usr-e2e-602",
        transaction_id="txn-e2e-a-long-transaction-identifier-000000000602",
        amount=Decimal("1234567.89"),
        reason="Order cancelled by the merchant after the goods were found damaged on delivery",
        plan_id=plan.pk,
        actor=Actor.system(),
    )
    case_id = Case.objects.get(customer__customer_id="usr-e2e-601", status="OPEN").pk

    defects = []
    for role in ("support", "risk", "admin"):
        for size_name, size in SIZES.items():
            context = browser.new_context(viewport=size)
            page = context.new_page()
            _sign_in(page, live_server, role, demo_staff[role])
            for path in _pages(role, case_id):
                response = page.goto(f"{live_server.url}{path}")
                assert response.status == 200, f"{role} got {response.status} at {path}"
                page.wait_for_load_state("networkidle")
                defects.append(_horizontal_overflow(page, f"{path} as {role} on the {size_name}"))
            screenshot(page, f"{role}-{size_name}-last-page")
            context.close()

    defects = [defect for defect in defects if defect]
    assert not defects, "\n".join(defects)
