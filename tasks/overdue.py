"""django-q2 task: the scheduled overdue checker (thin: the rule lives in plans.services)."""

from bnpl_admin.plans.services import check_overdue


def run_check_overdue() -> dict:
    result = check_overdue()
    return {
        "as_of": result.as_of.isoformat(),
        "installments_marked_overdue": result.installments_marked_overdue,
        "customers_marked_debt": result.customers_marked_debt,
        "cases_opened": result.cases_opened,
        "promises_kept": result.promises_kept,
        "promises_broken": result.promises_broken,
    }
