"""The staff tables' paginator."""

from django.core.paginator import EmptyPage
from django_tables2.paginators import LazyPaginator as _LibraryLazyPaginator

# The largest row offset the databases take (a signed 64-bit OFFSET on PostgreSQL and SQLite).
_LARGEST_OFFSET = 2**63 - 1


class LazyPaginator(_LibraryLazyPaginator):
    """django-tables2's LazyPaginator (no COUNT(*) over the table on each page view), with a page
    number too large to become an OFFSET (`?page=` followed by 30 nines) refused as a page past the
    end, which shows the first page, instead of the database's error and a 500."""

    def validate_number(self, number):
        number = super().validate_number(number)
        last_row = number * self.per_page + self.orphans + (self.look_ahead - 1) * self.per_page + 1
        if last_row > _LARGEST_OFFSET:
            raise EmptyPage("That page contains no results")
        return number
