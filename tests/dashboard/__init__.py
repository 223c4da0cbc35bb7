"""Helpers for the health dashboard's tests."""

from bnpl_admin.dashboard import metrics


def health_check(name: str) -> metrics.Check:
    """The live system check of that name, as the health page shows it."""
    return next(check for check in metrics.system_checks() if check.name == name)
