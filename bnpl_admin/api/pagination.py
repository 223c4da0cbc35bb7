"""Page-number pagination that stays cheap at a million rows, with the same body as DRF's.

The contract keeps `count` and `?page=N`, whose costs grow with the table, so:

- a large count is kept in the per-process cache for `COUNT_TTL` seconds (small tables are
  counted exactly every time: the scan is cheap there, and fresh installs see exact numbers);
- deep pages first read the page's primary keys (an index-only scan), then just those rows.

A client walking the whole list should use keyset pages: `?after=<key of the last row seen>`
starts just after that row (every page as cheap as the first, no row skipped or repeated when
rows are inserted meanwhile), `next` carries on the same way and `previous` is null.

`?page_size=` is one whole number of at least 1 (more than `max_page_size` gives `max_page_size`
rows) and `?after=` one key, or a 400; `?page=` is one whole number, or the page does not exist
(404).
"""

from __future__ import annotations

import hashlib
import re

from django.core.cache import caches
from django.core.exceptions import EmptyResultSet
from django.core.paginator import InvalidPage, Page, Paginator
from django.utils.functional import cached_property
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

# Counts below this are taken live: exact, and cheap enough.
EXACT_COUNT_BELOW = 50_000
COUNT_TTL = 30  # seconds a large count may lag behind inserts
# From this offset on, pages are fetched by primary key first.
DEFERRED_JOIN_FROM = 1_000


def _count_key(queryset) -> str:
    """What a count is remembered under: the SQL of the rows counted, whatever their order."""
    return "api-count:" + hashlib.sha256(str(queryset.order_by().query).encode()).hexdigest()


class LargeTablePaginator(Paginator):
    @cached_property
    def count(self) -> int:
        try:
            key = _count_key(self.object_list)
        except EmptyResultSet:  # a queryset that can match nothing: nothing to count or remember
            return 0
        counts = caches["process"]  # bounded (MAX_ENTRIES) and per process
        count = counts.get(key)
        if count is None:
            count = super().count
            if count >= EXACT_COUNT_BELOW:
                counts.set(key, count, COUNT_TTL)
        return count

    def page(self, number):
        """The page's rows, read live: a remembered count may lag behind inserts, so the rows are
        not cut off where that count says the last page ends."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if bottom < DEFERRED_JOIN_FROM:
            rows = self.object_list[bottom:top]
        else:
            ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
            by_pk = self.object_list.in_bulk(ids)
            rows = [by_pk[pk] for pk in ids if pk in by_pk]
        return Page(rows, number, self)


class LargeTablePagination(PageNumberPagination):
    """DRF's page-number pagination (same query parameters and body) over `LargeTablePaginator`,
    plus keyset pages with `?after=` on `keyset_field` (the queryset must be ordered by it)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    after_query_param = "after"
    keyset_field = "customer_id"
    keyset_value = re.compile(r"^[A-Za-z0-9_.\-]{0,64}$")  # empty: from the first row
    whole_number = re.compile(r"[0-9]+")

    def get_page_number(self, request, paginator):
        """One whole number, or none (the first page); anything else is no page: 404, as DRF
        answers "abc" or "0" (it took "", "last" and the last of repeated values for pages)."""
        values = request.query_params.getlist(self.page_query_param)
        if not values:
            return 1
        if len(values) > 1 or not self.whole_number.fullmatch(values[0]):
            raise NotFound(self.invalid_page_message)
        return values[0]

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        digits = values[0].lstrip("0")
        if len(values) > 1 or not self.whole_number.fullmatch(values[0]) or not digits:
            most = self.max_page_size
            message = f"A whole number of at least 1, given once (more than {most} gives {most} rows)."
            raise ValidationError({self.page_size_query_param: [message]})
        if len(digits) > len(str(self.max_page_size)):  # no int() of thousands of digits (Python refuses them)
            return self.max_page_size
        return min(int(digits), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.request, self.next_key = request, None
        starts = request.query_params.getlist(self.after_query_param)
        self.keyset = bool(starts)
        if self.keyset:
            return self.keyset_page(queryset, request, starts)
        paginator = LargeTablePaginator(queryset, self.get_page_size(request))
        number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(number)
        except InvalidPage:
            raise NotFound(self.invalid_page_message) from None
        return list(self.page)

    def keyset_page(self, queryset, request, starts) -> list:
        after = starts[0]
        if len(starts) > 1 or not self.keyset_value.match(after):
            raise ValidationError({self.after_query_param: ["Not a valid key to start after."]})
        self.get_page_number(request, None)  # not used here, but no more taken in any form than elsewhere
        size = self.get_page_size(request)
        rows = list(queryset.filter(**{f"{self.keyset_field}__gt": after})[: size + 1])
        if len(rows) > size:
            self.next_key = getattr(rows[size - 1], self.keyset_field)
        self.total = LargeTablePaginator(queryset, size).count
        return rows[:size]

    def get_paginated_response(self, data):
        if not self.keyset:
            return super().get_paginated_response(data)
        next_url = None
        if self.next_key is not None:
            url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
            next_url = replace_query_param(url, self.after_query_param, self.next_key)
        return Response({"count": self.total, "next": next_url, "previous": None, "results": data})

    def get_schema_operation_parameters(self, view):
        page, page_size = super().get_schema_operation_parameters(view)
        page["schema"] = {"type": "integer", "minimum": 1}
        page_size["schema"] = {"type": "integer", "minimum": 1}
        page_size["description"] = (
            f"Rows per page (default {self.page_size}); more than {self.max_page_size} gives {self.max_page_size}."
        )
        return [
            page,
            page_size,
            {
                "name": self.after_query_param,
                "required": False,
                "in": "query",
                "description": "Keyset paging: the page starts after this user_id (empty: the first); follow `next`.",
                "schema": {"type": "string", "pattern": self.keyset_value.pattern},
            },
        ]
