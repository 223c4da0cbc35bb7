"""Page-number pagination that stays cheap at a million rows, with the same body as DRF's.

Two costs grow with the table under DRF's `PageNumberPagination`: the `COUNT(*)` behind `count`
(a full scan on every request) and `OFFSET` on deep pages (PostgreSQL reads and throws away every
row before the page). The contract keeps `count` and `?page=N`, so instead:

- a large count is remembered per process for `COUNT_TTL` seconds (small tables are counted
  exactly every time: the scan is cheap there, and tests and fresh installs see exact numbers);
- deep pages first find the page's primary keys (an index-only scan, no table rows touched) and
  then load just those rows: a "deferred join".
"""

from __future__ import annotations

import time

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

# Counts below this are taken live: exact, and cheap enough.
EXACT_COUNT_BELOW = 50_000
COUNT_TTL = 30.0  # seconds a large count may lag behind inserts
# From this offset on, pages are fetched by primary key first.
DEFERRED_JOIN_FROM = 1_000

_counts: dict[str, tuple[int, float]] = {}


class LargeTablePaginator(Paginator):
    @cached_property
    def count(self) -> int:
        try:
            key = str(self.object_list.query)
        except EmptyResultSet:  # a queryset that can match nothing: nothing to count or remember
            return 0
        remembered = _counts.get(key)
        now = time.monotonic()
        if remembered and now - remembered[1] < COUNT_TTL:
            return remembered[0]
        count = super().count
        if count >= EXACT_COUNT_BELOW:
            _counts[key] = (count, now)
        else:
            _counts.pop(key, None)
        return count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom < DEFERRED_JOIN_FROM:
            return super().page(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids)}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class LargeTablePagination(PageNumberPagination):
    """DRF's page-number pagination (same query parameters and body) over `LargeTablePaginator`."""

    django_paginator_class = LargeTablePaginator
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
