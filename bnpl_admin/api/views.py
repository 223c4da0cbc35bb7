"""JSON API v1: thin views over the same services as the pages; every error is `{"error": ...}`."""

from django.db.models import Case as Choose
from django.db.models import Prefetch, Value, When
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
from bnpl_admin.collection import portfolio
from bnpl_admin.collection import services as collection_services
from bnpl_admin.collection.models import Case, CaseNote, PromiseToPay
from bnpl_admin.customers import selectors as customer_selectors
from bnpl_admin.customers import services as customer_services
from bnpl_admin.customers.masking import mask_free_text
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


class RiskPortfolio(ApiView):
    required_permissions = {"GET": ["customers.review_debt"]}

    @extend_schema(
        description=(
            "Rule 10's figures from the newest daily snapshot (the overdue checker's schedule keeps it): "
            "one stored row, whatever the size of the book. Before the first snapshot, e.g. on a fresh "
            "install, one is computed and kept as of today on this call."
        ),
        responses={200: s.PortfolioSerializer, **errors(401, 403)},
    )
    def get(self, request):
        snapshot = portfolio.latest() or portfolio.refresh()
        return Response(s.PortfolioSerializer(snapshot).data)


# A case's notes and promises, newest first, in two queries (CaseSerializer reads these attributes).
CASE_PARTS = (
    Prefetch(
        "notes",
        queryset=CaseNote.objects.select_related("author").order_by("-created_at", "-id"),
        to_attr="notes_newest_first",
    ),
    Prefetch("promises", queryset=PromiseToPay.objects.order_by("-created_at", "-id"), to_attr="promises_newest_first"),
)


def _case_of(customer_id: str) -> Case:
    """The customer's OPEN case, or else their latest one (CustomerNotFound, CaseNotFound)."""
    customer = customer_selectors.get_customer(customer_id)
    open_first = Choose(When(status=Case.Status.OPEN, then=Value(0)), default=Value(1))
    case = (
        Case.objects.filter(customer=customer)
        .select_related("customer", "assignee")
        .prefetch_related(*CASE_PARTS)
        .order_by(open_first, "-opened_at", "-id")
        .first()
    )
    if case is None:
        raise collection_services.CaseNotFound(f"No collection case for user {mask_free_text(customer.customer_id)}")
    return case


def _open_case_id(customer_id: str) -> int:
    """The id of the customer's OPEN case (CustomerNotFound; InvalidCaseAction when there is none).
    The collection service locks the case and checks again that it is still open."""
    customer = customer_selectors.get_customer(customer_id)
    case_id = Case.objects.filter(customer=customer, status=Case.Status.OPEN).values_list("pk", flat=True).first()
    if case_id is None:
        raise collection_services.InvalidCaseAction(
            f"User {mask_free_text(customer.customer_id)} has no open collection case"
        )
    return case_id


class CaseDetail(ApiView):
    required_permissions = {"GET": ["collection.work_case"]}

    @extend_schema(
        description="The customer's OPEN collection case, or else their latest one; notes and promises newest first.",
        responses={200: s.CaseSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, customer_id):
        return Response(s.CaseSerializer(_case_of(customer_id)).data)


class CaseNoteCreate(ApiView):
    required_permissions = {"POST": ["collection.work_case"]}

    @extend_schema(
        request=s.CaseNoteCreateSerializer,
        responses={201: s.CaseNoteSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    @idempotent("POST /api/v1/users/{customer_id}/case/notes/")
    def post(self, request, customer_id):
        fields = validated(s.CaseNoteCreateSerializer, request)
        case_id = _open_case_id(customer_id)
        note = collection_services.add_note(**fields, case_id=case_id, actor=Actor.from_request(request))
        return Response(s.CaseNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class PromiseCreate(ApiView):
    required_permissions = {"POST": ["collection.work_case"]}

    @extend_schema(
        request=s.PromiseCreateSerializer,
        responses={201: s.PromiseSerializer, **errors(400, 401, 403, 404, 409, 422)},
    )
    @idempotent("POST /api/v1/users/{customer_id}/case/promises/")
    def post(self, request, customer_id):
        fields = validated(s.PromiseCreateSerializer, request)
        case_id = _open_case_id(customer_id)
        promise = collection_services.add_promise(**fields, case_id=case_id, actor=Actor.from_request(request))
        return Response(s.PromiseSerializer(promise).data, status=status.HTTP_201_CREATED)


class Health(APIView):
    """Public liveness probe: no business numbers."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(responses={200: s.HealthSerializer, 503: s.HealthSerializer})
    def get(self, request):
        result = probe()
        return Response(result.as_json(), status=200 if result.database_ok else 503)
