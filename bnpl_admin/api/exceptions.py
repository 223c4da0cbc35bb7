"""Every API error is JSON `{"error": "..."}` (validation errors add the per-field `details`).

DRF's EXCEPTION_HANDLER also answers the domain services' refusals, so a view only validates,
calls the service and serialises: each refusal has one status, whatever the endpoint.
"""

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from bnpl_admin.collection.services import CaseNotFound, InvalidCaseAction
from bnpl_admin.customers.errors import CustomerAlreadyExists, CustomerNotFound
from bnpl_admin.plans.errors import (
    DebtUserError,
    InvalidPlan,
    NothingOutstanding,
    PaymentConflict,
    PaymentError,
    PaymentExceedsBalance,
    PaymentNotFound,
    PlanNotCancellable,
    PlanNotFound,
)
from bnpl_admin.refunds.errors import (
    IllegalTransition,
    InvalidRefund,
    RefundConflict,
    RefundLimitExceeded,
    RefundNotFound,
)

REFUSAL_STATUS = {
    CustomerNotFound: 404,
    RefundNotFound: 404,
    PaymentNotFound: 404,
    PlanNotFound: 404,
    PaymentConflict: 409,
    PaymentExceedsBalance: 400,
    NothingOutstanding: 400,
    PlanNotCancellable: 400,
    CustomerAlreadyExists: 409,
    RefundConflict: 409,
    DebtUserError: 403,
    InvalidPlan: 400,
    PaymentError: 400,
    InvalidRefund: 400,
    RefundLimitExceeded: 400,
    IllegalTransition: 400,
    CaseNotFound: 404,
    InvalidCaseAction: 400,
}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
        return "Invalid input"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input"
    return str(detail)


def api_exception_handler(exc, context):
    refusal = REFUSAL_STATUS.get(type(exc))
    if refusal is not None:
        return Response({"error": str(exc)}, status=refusal)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _first_message(exc.detail), "details": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        response.data = {"error": str(exc.detail)}
    return response
