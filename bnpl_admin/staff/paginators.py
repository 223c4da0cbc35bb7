"""The staff tables' paginator."""

from django.core.paginator import EmptyPage
from django_tables2.paginators import LazyPaginator as _LibraryLazyPaginator

# The most rows one page shows, whatever `?per_page=` asks (django-tables2 takes it from the URL).
MAX_PER_PAGE = 100
# The largest row offset the databases take (a signed 64-bit OFFSET on PostgreSQL and SQLite).
_LARGEST_OFFSET = 2**63 - 1


class LazyPaginator(_LibraryLazyPaginator):
    """django-tables2's LazyPaginator (no COUNT(*) over the table on each page view), bounded:

    - `?per_page=` is kept within 1..MAX_PER_PAGE: a hundred thousand rows on one page would hold
      a worker for minutes, and a number too large for the database answered 500;
    - a page number too large to become an OFFSET (`?page=` followed by 30 nines) is a page past
      the end, which shows the first page, instead of the database's error and a 500.
    """

    def __init__(self, object_list, per_page, *args, **kwargs):
        super().__init__(object_list, min(max(int(per_page), 1), MAX_PER_PAGE), *args, **kwargs)

    def validate_number(self, number):
        number = super().validate_number(number)
        last_row = number * self.per_page + self.orphans + (self.look_ahead - 1) * self.per_page + 1
        if last_row > _LARGEST_OFFSET:
            raise EmptyPage("That page contains no results")
        return number
