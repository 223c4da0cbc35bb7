import django_filters
from django import forms

from bnpl_admin.collection.filters import BUCKET_CHOICES, in_bucket
from bnpl_admin.customers import selectors
from bnpl_admin.customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        help_text="Customer ID, name, or the exact phone number",
    )
    # A phone search arrives as `q` and is turned into its lookup hash (see PhoneSearchMixin).
    ph = django_filters.CharFilter(field_name="phone_hash", widget=forms.HiddenInput)
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices, empty_label="Any status")

    class Meta:
        model = Customer
        fields = ["q", "ph", "status"]

    def search(self, queryset, name, value):
        return selectors.search_customers(queryset, value)


class DebtUserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="search", help_text="Customer ID, name, or exact phone")

    ph = django_filters.CharFilter(field_name="phone_hash", widget=forms.HiddenInput)
    # Rule 10's buckets as of today, through the index on (status, overdue_since).
    bucket = django_filters.ChoiceFilter(choices=BUCKET_CHOICES, empty_label="Any bucket", method="by_bucket")

    class Meta:
        model = Customer
        fields = ["q", "ph", "bucket"]

    def search(self, queryset, name, value):
        return selectors.search_customers(queryset, value)

    def by_bucket(self, queryset, name, value):
        return in_bucket(queryset, value)
