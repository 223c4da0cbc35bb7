"""django-q2 task: keep the dashboard's business figures warm in the cache."""

from bnpl_admin.dashboard.metrics import refresh_figures


def refresh_dashboard_figures() -> str:
    return refresh_figures()["computed_at"]
