"""django-q2 task: the scheduled overdue checker, then the day's portfolio figures (thin: the rules
live in plans.services and collection.portfolio)."""

from bnpl_admin.collection import portfolio
from bnpl_admin.plans.services import check_overdue


def run_check_overdue() -> dict:
    result = check_overdue()
    # The day's DPD buckets and PAR, for the pages and the API to read (rule 10).
    portfolio.refresh(result.as_of)
    return {
        "as_of": result.as_of.isoformat(),
        "installments_marked_overdue": result.installments_marked_overdue,
        "customers_marked_debt": result.customers_marked_debt,
        "cases_opened": result.cases_opened,
        "promises_kept": result.promises_kept,
        "promises_broken": result.promises_broken,
    }
