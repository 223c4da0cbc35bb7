import django_filters

from bnpl_admin.customers import selectors
from bnpl_admin.customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        help_text="Customer ID, name, or the exact phone number",
    )
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices, empty_label="Any status")

    class Meta:
        model = Customer
        fields = ["q", "status"]

    def search(self, queryset, name, value):
        return selectors.search_customers(queryset, value)


class DebtUserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label="Search", method="search", help_text="Customer ID, name, or exact phone")

    class Meta:
        model = Customer
        fields = ["q"]

    def search(self, queryset, name, value):
        return selectors.search_customers(queryset, value)
