"""The three ceiling views: what Django (and DRF) serve with nothing of the application around them."""

from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import generics, serializers

from bench.ceiling.models import Customer

PAGE = 20


def ok(request):
    return HttpResponse("ok")


def by_pk(request, pk):
    """One primary-key query, as JSON."""
    try:
        row = Customer.objects.values("id", "customer_id", "status", "created_at").get(pk=pk)
    except Customer.DoesNotExist:
        raise Http404 from None
    return JsonResponse(row)


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "customer_id", "status", "created_at"]


class KeysetList(generics.ListAPIView):
    """20 rows after `?after=<customer_id>` in customer_id order (the first 20 without it)."""

    serializer_class = CustomerSerializer

    def get_queryset(self):
        rows = Customer.objects.order_by("customer_id")
        after = self.request.query_params.get("after")
        if after:
            rows = rows.filter(customer_id__gt=after)
        return rows[:PAGE]
