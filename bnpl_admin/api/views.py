"""JSON API v1: thin views over the same services as the pages; every error is `{"error": ...}`."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bnpl_admin.api import serializers as s
from bnpl_admin.api.idempotency import run_idempotent
from bnpl_admin.api.pagination import LargeTablePagination
from bnpl_admin.api.permissions import HasModelPermissions
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import selectors as customer_selectors
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.errors import CustomerAlreadyExists, CustomerNotFound
from bnpl_admin.dashboard.health import probe
from bnpl_admin.plans import selectors as plan_selectors
from bnpl_admin.plans import services as plan_services
from bnpl_admin.plans.errors import DebtUserError, InvalidPlan, PaymentError
from bnpl_admin.plans.models import Plan
from bnpl_admin.refunds import services as refund_services
from bnpl_admin.refunds.errors import (
    IllegalTransition,
    InvalidRefund,
    RefundConflict,
    RefundLimitExceeded,
    RefundNotFound,
)
from bnpl_admin.refunds.models import Refund

# Every POST's Idempotency-Key header, and its 409 and 422, are declared by api.schema's hook.


def error(message: str, code: int) -> Response:
    return Response({"error": message}, status=code)


# Each refusal of a domain service answers with one status, whatever the endpoint.
REFUSAL_STATUS = {
    CustomerNotFound: 404,
    RefundNotFound: 404,
    CustomerAlreadyExists: 409,
    RefundConflict: 409,
    DebtUserError: 403,
    InvalidPlan: 400,
    PaymentError: 400,
    InvalidRefund: 400,
    RefundLimitExceeded: 400,
    IllegalTransition: 400,
}
REFUSALS = tuple(REFUSAL_STATUS)


def refused(exc: Exception) -> Response:
    return error(str(exc), REFUSAL_STATUS[type(exc)])


def errors(*codes: int) -> dict:
    """Error responses for the schema; 429 (throttled) can happen on every authenticated call."""
    return {code: OpenApiResponse(s.ErrorSerializer) for code in (*codes, 429)}


class ApiView(APIView):
    permission_classes = [HasModelPermissions]
    required_permissions: dict = {}


class UserList(ListAPIView, ApiView):
    required_permissions = {"GET": ["customers.view_customer"], "POST": ["customers.add_customer"]}
    serializer_class = s.CustomerSerializer
    # Cached count and deferred-join deep pages: no COUNT(*) or long OFFSET scan per request.
    pagination_class = LargeTablePagination

    def get_queryset(self):
        return customer_selectors.customer_list()

    @extend_schema(responses={200: s.CustomerSerializer(many=True), **errors(400, 401, 403, 404)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=s.CustomerCreateSerializer,
        responses={201: s.CustomerSerializer, **errors(400, 401, 403, 409, 422)},
    )
    def post(self, request):
        return run_idempotent(request, endpoint="POST /api/v1/users/", handler=lambda: self._create(request))

    def _create(self, request):
        data = s.CustomerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            customer = customer_services.create_customer(
                customer_id=fields["user_id"],
                full_name=fields["full_name"],
                phone_number=fields["phone_number"],
                passport_number=fields["passport_number"],
                card_number=fields["card_number"],
                date_of_birth=fields["date_of_birth"],
                actor=Actor.from_request(request),
            )
        except REFUSALS as exc:
            return refused(exc)
        return Response(s.CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class UserDetail(ApiView):
    required_permissions = {"GET": ["customers.view_customer"]}

    @extend_schema(responses={200: s.CustomerSerializer, **errors(401, 403, 404)})
    def get(self, request, customer_id):
        try:
            customer = customer_selectors.get_customer(customer_id)
        except CustomerNotFound as exc:
            return refused(exc)
        return Response(s.CustomerSerializer(customer).data)


class DebtView(ApiView):
    required_permissions = {
        "GET": ["customers.view_customer", "plans.view_plan"],
        "POST": ["plans.record_payment"],
    }

    @extend_schema(responses={200: s.DebtStatusSerializer, **errors(401, 403, 404)})
    def get(self, request, customer_id):
        try:
            status_of_debt = customer_selectors.debt_status(customer_id)
        except CustomerNotFound as exc:
            return refused(exc)
        return Response(s.DebtStatusSerializer(status_of_debt).data)

    @extend_schema(
        request=s.RepaymentSerializer,
        responses={200: s.RepaymentResultSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, customer_id):
        endpoint = f"POST /api/v1/debt/{customer_id}/"
        return run_idempotent(request, endpoint=endpoint, handler=lambda: self._repay(request, customer_id))

    def _repay(self, request, customer_id):
        data = s.RepaymentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = plan_services.record_payment(
                installment_ids=data.validated_data["installment_ids"],
                customer_id=customer_id,
                actor=Actor.from_request(request),
            )
        except REFUSALS as exc:
            return refused(exc)
        return Response(
            {
                "message": "Repayment processed successfully",
                "paid_installments": result.paid_installments,
                "user_status": str(result.customer_status),
            }
        )


class PlanCreate(ApiView):
    required_permissions = {"POST": ["plans.add_plan"]}

    @extend_schema(
        request=s.PlanCreateSerializer,
        responses={201: s.PlanSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request):
        return run_idempotent(request, endpoint="POST /api/v1/plans/", handler=lambda: self._create(request))

    def _create(self, request):
        data = s.PlanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            plan = plan_services.create_plan(
                customer_id=fields["user_id"],
                total_amount=fields["total_amount"],
                installment_count=fields["installment_count"],
                merchant=fields["merchant"],
                actor=Actor.from_request(request),
            )
        except REFUSALS as exc:
            return refused(exc)
        # The service's plan already has its customer and `installments_in_order`: nothing to read back.
        return Response(s.PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetail(ApiView):
    required_permissions = {"GET": ["plans.view_plan"]}

    @extend_schema(responses={200: s.PlanSerializer, **errors(401, 403, 404)})
    def get(self, request, plan_id):
        try:
            plan = plan_selectors.plan_with_installments(plan_id)
        except Plan.DoesNotExist:
            return error(f"Plan {plan_id} not found", 404)
        return Response(s.PlanSerializer(plan).data)


class RefundCreate(ApiView):
    required_permissions = {"POST": ["refunds.add_refund"]}

    @extend_schema(
        request=s.RefundCreateSerializer,
        responses={
            201: s.RefundSerializer,
            200: OpenApiResponse(s.RefundSerializer, description="The refund already issued for this transaction"),
            **errors(400, 401, 403, 404, 409, 422),
        },
    )
    def post(self, request):
        return run_idempotent(request, endpoint="POST /api/v1/refunds/", handler=lambda: self._create(request))

    def _create(self, request):
        data = s.RefundCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            issued = refund_services.issue_refund(
                customer_id=fields["user_id"],
                transaction_id=fields["transaction_id"],
                amount=fields["amount"],
                reason=fields["reason"],
                plan_id=fields["plan_id"],
                merchant=fields["merchant"],
                actor=Actor.from_request(request),
            )
        except REFUSALS as exc:
            return refused(exc)
        code = status.HTTP_201_CREATED if issued.created else status.HTTP_200_OK
        return Response(s.RefundSerializer(issued.refund).data, status=code)


def _refund(refund_id):
    return Refund.objects.select_related("customer", "merchant").get(pk=refund_id)


class RefundDetail(ApiView):
    required_permissions = {"GET": ["refunds.view_refund"]}

    @extend_schema(responses={200: s.RefundSerializer, **errors(401, 403, 404)})
    def get(self, request, refund_id):
        try:
            refund = _refund(refund_id)
        except Refund.DoesNotExist:
            return error(f"Refund {refund_id} not found", 404)
        return Response(s.RefundSerializer(refund).data)


class RefundCancel(ApiView):
    required_permissions = {"POST": ["refunds.cancel_refund"]}

    @extend_schema(
        request=s.CancelRefundSerializer,
        responses={200: s.RefundSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request, refund_id):
        endpoint = f"POST /api/v1/refunds/{refund_id}/cancel/"
        return run_idempotent(request, endpoint=endpoint, handler=lambda: self._cancel(request, refund_id))

    def _cancel(self, request, refund_id):
        data = s.CancelRefundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            refund = refund_services.cancel_refund(
                refund_id=refund_id, reason=data.validated_data["reason"], actor=Actor.from_request(request)
            )
        except REFUSALS as exc:
            return refused(exc)
        return Response(s.RefundSerializer(refund).data)


class Health(APIView):
    """Public liveness probe: no business numbers."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(responses={200: s.HealthSerializer, 503: s.HealthSerializer})
    def get(self, request):
        result = probe()
        return Response(result.as_json(), status=200 if result.database_ok else 503)
