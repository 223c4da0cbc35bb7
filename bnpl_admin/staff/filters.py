"""The base of the back office's django-filter filter sets."""

import django_filters
from django_filters.filters import QuerySetRequestMixin


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, with its form class made once per filter set class.

    django-filter makes a new form class (a `type()` call through Django's form metaclass) for
    every filter set it makes, i.e. on every list page view: a twentieth of the customer list. The
    class only holds the filters' fields, which every form deep-copies when it is made, so one
    class per filter set class serves every request; except when a filter's field depends on the
    request (a model choice whose queryset is computed per request): then it is made every time.
    """

    def get_form_class(self):
        if any(isinstance(f, QuerySetRequestMixin) for f in self.filters.values()):
            return super().get_form_class()
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class
