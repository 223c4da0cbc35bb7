"""JSON API v1: thin views over the same services as the pages; every error is `{"error": ...}`."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bnpl_admin.api import serializers as s
from bnpl_admin.api.idempotency import idempotent
from bnpl_admin.api.pagination import LargeTablePagination
from bnpl_admin.api.permissions import HasModelPermissions
from bnpl_admin.audit.services import Actor
from bnpl_admin.customers import selectors as customer_selectors
from bnpl_admin.customers import services as customer_services
from bnpl_admin.dashboard.health import probe
from bnpl_admin.plans import ledger
from bnpl_admin.plans import selectors as plan_selectors
from bnpl_admin.plans import services as plan_services
from bnpl_admin.plans.models import Plan
from bnpl_admin.refunds import services as refund_services
from bnpl_admin.refunds.models import Refund

# A domain service's refusal reaches the client through api.exceptions (EXCEPTION_HANDLER). Every
# POST's Idempotency-Key header, and its 409 and 422, are declared by api.schema's hook.


def error(message: str, code: int) -> Response:
    return Response({"error": message}, status=code)


def validated(serializer_class, request) -> dict:
    """The request body as `serializer_class` takes it, or a ValidationError (400)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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
    @idempotent("POST /api/v1/users/")
    def post(self, request):
        fields = validated(s.CustomerCreateSerializer, request)
        customer = customer_services.create_customer(**fields, actor=Actor.from_request(request))
        return Response(s.CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class UserDetail(ApiView):
    required_permissions = {"GET": ["customers.view_customer"]}

    @extend_schema(responses={200: s.CustomerSerializer, **errors(401, 403, 404)})
    def get(self, request, customer_id):
        customer = customer_selectors.get_customer(customer_id)
        return Response(s.CustomerSerializer(customer).data)


class DebtView(ApiView):
    required_permissions = {
        "GET": ["customers.view_customer", "plans.view_plan"],
        "POST": ["plans.record_payment"],
    }

    @extend_schema(responses={200: s.DebtStatusSerializer, **errors(401, 403, 404)})
    def get(self, request, customer_id):
        status_of_debt = customer_selectors.debt_status(customer_id)
        return Response(s.DebtStatusSerializer(status_of_debt).data)

    @extend_schema(
        request=s.RepaymentSerializer,
        responses={200: s.RepaymentResultSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    @idempotent("POST /api/v1/debt/{customer_id}/")
    def post(self, request, customer_id):
        fields = validated(s.RepaymentSerializer, request)
        result = ledger.pay_installments(**fields, customer_id=customer_id, actor=Actor.from_request(request))
        return Response(
            {
                "message": "Repayment processed successfully",
                "paid_installments": result.paid_installments,
                "user_status": str(result.customer_status),
                "payment_id": str(result.payment.pk),
            }
        )


class PlanCreate(ApiView):
    required_permissions = {"POST": ["plans.add_plan"]}

    @extend_schema(
        request=s.PlanCreateSerializer,
        responses={201: s.PlanSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    @idempotent("POST /api/v1/plans/")
    def post(self, request):
        fields = validated(s.PlanCreateSerializer, request)
        plan = plan_services.create_plan(**fields, actor=Actor.from_request(request))
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


class PlanCancel(ApiView):
    required_permissions = {"POST": ["plans.cancel_plan"]}

    @extend_schema(
        request=s.ReasonSerializer,
        responses={200: s.PlanSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    @idempotent("POST /api/v1/plans/{plan_id}/cancel/")
    def post(self, request, plan_id):
        fields = validated(s.ReasonSerializer, request)
        ledger.cancel_plan(**fields, plan_id=plan_id, actor=Actor.from_request(request))
        return Response(s.PlanSerializer(plan_selectors.plan_with_installments(plan_id)).data)


class PaymentCreate(ApiView):
    required_permissions = {"POST": ["plans.record_payment"]}

    @extend_schema(
        request=s.PaymentCreateSerializer,
        responses={
            201: s.PaymentSerializer,
            200: OpenApiResponse(s.PaymentSerializer, description="The payment already recorded under this reference"),
            **errors(400, 401, 403, 404, 409, 422),
        },
    )
    @idempotent("POST /api/v1/payments/")
    def post(self, request):
        fields = validated(s.PaymentCreateSerializer, request)
        posted = ledger.record_payment(**fields, actor=Actor.from_request(request))
        code = status.HTTP_201_CREATED if posted.created else status.HTTP_200_OK
        return Response(s.PaymentSerializer(posted.payment).data, status=code)


class PaymentDetail(ApiView):
    required_permissions = {"GET": ["plans.view_payment"]}

    @extend_schema(responses={200: s.PaymentSerializer, **errors(401, 403, 404)})
    def get(self, request, payment_id):
        return Response(s.PaymentSerializer(ledger.payment_with_allocations(payment_id)).data)


class PaymentReverse(ApiView):
    required_permissions = {"POST": ["plans.reverse_payment"]}

    @extend_schema(
        request=s.ReasonSerializer,
        responses={200: s.PaymentSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    @idempotent("POST /api/v1/payments/{payment_id}/reverse/")
    def post(self, request, payment_id):
        fields = validated(s.ReasonSerializer, request)
        payment = ledger.reverse_payment(**fields, payment_id=payment_id, actor=Actor.from_request(request))
        return Response(s.PaymentSerializer(payment).data)


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
    @idempotent("POST /api/v1/refunds/")
    def post(self, request):
        fields = validated(s.RefundCreateSerializer, request)
        issued = refund_services.issue_refund(**fields, actor=Actor.from_request(request))
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
    @idempotent("POST /api/v1/refunds/{refund_id}/cancel/")
    def post(self, request, refund_id):
        fields = validated(s.CancelRefundSerializer, request)
        refund = refund_services.cancel_refund(**fields, refund_id=refund_id, actor=Actor.from_request(request))
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
