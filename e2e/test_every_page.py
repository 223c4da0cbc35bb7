"""Every staff page, as each role: nothing cut off at 1280 px and on a 390 px phone (the page fits
the viewport's width; a wide table scrolls inside its own box, the navigation wraps), and no
accessibility violation that axe-core rates serious or critical (moderate ones are reported in
e2e-artifacts/axe-report.txt; /api/v1/docs/, third-party Swagger UI, is reported only)."""

import datetime
from decimal import Decimal

from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from bnpl_admin.audit.services import Actor
from bnpl_admin.collection.models import Case
from bnpl_admin.plans.services import create_plan
from bnpl_admin.refunds.services import issue_refund
from e2e.conftest import SCREENSHOT_DIR
from e2e.test_back_office import _customer, _debt_user, _horizontal_overflow, _sign_in

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FAILING_IMPACTS = {"serious", "critical"}
REPORTED_ONLY = {"/api/v1/docs/"}  # third-party
AXE_REPORT = SCREENSHOT_DIR.parent / "axe-report.txt"


def _violations(axe, page, where) -> tuple[list[str], list[str]]:
    """axe-core's violations on the page: (serious or critical, the others), one line each."""
    failing, reported = [], []
    for violation in axe.run(page).response["violations"]:
        nodes = "; ".join(node["target"][0] if node["target"] else "?" for node in violation["nodes"][:3])
        line = f"{where}: {violation['impact']} {violation['id']} ({violation['help']}) at {nodes}"
        (failing if violation["impact"] in FAILING_IMPACTS else reported).append(line)
    return failing, reported


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
    admin = ["/api/v1/docs/"]
    return support + (risk if role != "support" else []) + (admin if role == "admin" else [])


def test_every_page_fits_the_screen_and_passes_axe(browser, live_server, demo_staff, screenshot):
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

    axe = Axe()
    defects, reported = [], []
    for role in ("support", "risk", "admin"):
        for size_name, size in SIZES.items():
            context = browser.new_context(viewport=size)
            page = context.new_page()
            _sign_in(page, live_server, role, demo_staff[role])
            if size_name == "phone":  # the menu folds behind its button, and opens
                menu = page.get_by_role("button", name="Menu")
                expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
                menu.click()
                expect(menu).to_have_attribute("aria-expanded", "true")
                expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Health")).to_be_visible()
                defects.append(_horizontal_overflow(page, f"the open menu as {role} on the phone"))
            else:
                expect(page.get_by_role("button", name="Menu")).to_be_hidden()
            for path in _pages(role, case_id):
                response = page.goto(f"{live_server.url}{path}")
                assert response.status == 200, f"{role} got {response.status} at {path}"
                page.wait_for_load_state("networkidle")
                where = f"{path} as {role} on the {size_name}"
                if path in REPORTED_ONLY:
                    failing, others = _violations(axe, page, where)
                    reported += failing + others
                    continue
                defects.append(_horizontal_overflow(page, where))
                if size_name == "desktop":
                    failing, others = _violations(axe, page, where)
                    defects += failing
                    reported += others
            screenshot(page, f"{role}-{size_name}-last-page")
            context.close()

    AXE_REPORT.parent.mkdir(parents=True, exist_ok=True)
    AXE_REPORT.write_text("\n".join(reported or ["No moderate or minor violation."]) + "\n")
    defects = [defect for defect in defects if defect]
    assert not defects, "\n".join(defects)
