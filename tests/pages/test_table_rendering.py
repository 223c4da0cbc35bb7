"""Every table's body, rendered by `{% table_body %}`, is the one django-tables2's own template renders."""

import datetime
import re

import django_tables2 as _tables
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st

from bnpl_admin.audit.models import AuditEvent
from bnpl_admin.audit.tables import AuditEventTable
from bnpl_admin.customers import selectors
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.tables import CustomerTable, DebtUserTable
from bnpl_admin.plans.services import check_overdue
from bnpl_admin.staff.columns import record_url
from bnpl_admin.staff.templatetags.table_rendering import table_header_cells
from bnpl_admin.webhooks.models import WebhookEvent
from bnpl_admin.webhooks.tables import WebhookEventTable
from tests.factories import CustomerFactory, MerchantFactory, PlanFactory
from tests.pages import html_of, table_rows

pytestmark = pytest.mark.django_db

LIBRARY_TEMPLATE = "django_tables2/table.html"


def _tbody(html: str) -> str:
    body = re.search(r"<tbody[^>]*>(.*)</tbody>", html, re.S).group(1)
    return re.sub(r"\s+<", "<", re.sub(r">\s+", ">", body)).strip()


def _both(table_class, data, **kwargs):
    request = RequestFactory().get("/", {"sort": kwargs.pop("sort", "")})
    request.user = AnonymousUser()
    ours = table_class(data, **kwargs)
    theirs = table_class(data, template_name=LIBRARY_TEMPLATE, **kwargs)
    for table in (ours, theirs):
        table.order_by = request.GET.get("sort") or table.order_by
    return _tbody(ours.as_html(request)), _tbody(theirs.as_html(request))


@pytest.fixture
def customers():
    today = timezone.localdate()
    PlanFactory(start_date=today - datetime.timedelta(days=70))
    PlanFactory(start_date=today - datetime.timedelta(days=40), customer=CustomerFactory(full_name="<b>Tag</b> & Co"))
    CustomerFactory(date_of_birth=None)
    check_overdue()
    assert Customer.objects.filter(status=Customer.Status.DEBT_USER).count() == 2


@pytest.mark.parametrize("sort", ["", "-created_at", "status"])
def test_customer_table_body_is_the_librarys(customers, sort):
    ours, theirs = _both(CustomerTable, selectors.customer_list(), sort=sort)
    assert 'class="badge badge-debt_user"' in ours
    assert "&lt;b&gt;Tag&lt;/b&gt; &amp; Co" in ours
    assert ours == theirs


@pytest.mark.parametrize(
    "row_attrs",
    [{"data-kind": "customer"}, {"data-id": lambda record: record.customer_id, "class": "row"}],
    ids=["static", "per-record"],
)
def test_row_attributes_are_the_librarys(customers, row_attrs):
    CustomerFactory(full_name='O\'Neil "Junior"')
    ours, theirs = _both(CustomerTable, selectors.customer_list(), row_attrs=row_attrs)
    assert "O&#x27;Neil &quot;Junior&quot;" in ours
    assert ours.count('class="even') + ours.count('class="row even') == 2
    assert ours == theirs


@pytest.mark.parametrize("sort", ["", "total_overdue", "-days_overdue"])
def test_debt_user_table_body_is_the_librarys(customers, sort):
    ours, theirs = _both(DebtUserTable, selectors.debt_users(), sort=sort)
    assert '<td class="num">' in ours
    assert ours == theirs


def test_audit_table_body_is_the_librarys(customers):
    ours, theirs = _both(AuditEventTable, AuditEvent.objects.all())
    assert ours.count("<tr ") == AuditEvent.objects.count()
    assert ours == theirs


def test_webhook_table_body_is_the_librarys(db):
    merchant = MerchantFactory()
    for n, status in enumerate(WebhookEvent.Status.values):
        WebhookEvent.objects.create(
            merchant=merchant, webhook_id=f"wh-{n}", payload={}, refund_ref=f"txn-{n}", status=status
        )
    ours, theirs = _both(WebhookEventTable, WebhookEvent.objects.select_related("merchant"))
    assert 'class="badge badge-failed"' in ours
    assert ours == theirs


def test_an_empty_table_shows_its_empty_text(db):
    ours, theirs = _both(CustomerTable, Customer.objects.none(), empty_text="No customers")
    assert "No customers" in ours
    assert ours == theirs


# The header: `{% table_header_cells %}` against the template loop it replaced.

HEADER_LOOP = Template(
    "{% load django_tables2 table_rendering %}{% for column in table.columns %}"
    '<th {{ column.attrs.th|as_attributes }}>{% if column.orderable %}<a href="{% querystring_replace '
    'table.prefixed_order_by_field=column.order_by_alias.next %}">{{ column.header }}</a>{% else %}'
    "{{ column.header }}{% endif %}</th>{% endfor %}"
)


def _headers(table, query: str = "") -> tuple[str, str]:
    request = RequestFactory().get("/?" + query)
    sort = request.GET.get(table.prefixed_order_by_field)
    if sort:
        table.order_by = sort
    context = Context({"table": table, "request": request})
    return str(table_header_cells(context, table)).replace("\n", ""), HEADER_LOOP.render(context)


@pytest.mark.parametrize(
    ("table_class", "rows", "query"),
    [
        (CustomerTable, selectors.customer_list, ""),
        (CustomerTable, selectors.customer_list, "status=DEBT_USER&sort=-created_at"),
        (CustomerTable, selectors.customer_list, "sort=full_name&q=%3Cb%3E+%26+%22x%22&page=3"),
        (CustomerTable, selectors.customer_list, "status=NORMAL&status=DEBT_USER&sort=status"),
        (DebtUserTable, selectors.debt_users, "sort=-days_overdue"),
        (AuditEventTable, AuditEvent.objects.all, "action=overdue.checked"),
        (WebhookEventTable, WebhookEvent.objects.all, ""),
    ],
)
def test_header_cells_are_the_template_loops(customers, table_class, rows, query):
    table = table_class(rows())
    ours, loop = _headers(table, query)
    assert ours.count("<th ") == len(table.columns)
    assert ours == loop


def test_header_cells_of_a_prefixed_or_unsortable_table_are_the_template_loops(customers):
    ours, loop = _headers(CustomerTable(selectors.customer_list(), prefix="c-"), "c-sort=full_name&sort=x")
    assert "c-sort=-full_name" in ours
    assert ours == loop
    ours, loop = _headers(CustomerTable(selectors.customer_list(), orderable=False), "sort=full_name")
    assert "<a " not in ours
    assert ours == loop


@given(st.dictionaries(st.text(max_size=12), st.lists(st.text(max_size=12), min_size=1, max_size=3), max_size=4))
def test_header_links_keep_any_query_as_querystring_replace_does(params):
    query = urlencode(params, doseq=True)
    ours, loop = _headers(CustomerTable(Customer.objects.none()), query)
    assert ours == loop


def test_header_cells_without_the_request_say_what_is_missing(db):
    missing = r"table_header_cells.*django\.template\.context_processors\.request"
    with pytest.raises(ImproperlyConfigured, match=missing):
        table_header_cells(Context({}), CustomerTable(Customer.objects.none()))


def test_the_header_links_sort_the_other_way_and_keep_the_filter(support_client, customers):
    html = html_of(support_client.get("/customers/", {"status": "DEBT_USER", "sort": "full_name"}))

    assert '<th class="asc orderable">' in html
    assert '<a href="?status=DEBT_USER&amp;sort=-full_name">Name</a>' in html
    assert '<a href="?status=DEBT_USER&amp;sort=customer_id">Customer ID</a>' in html


def test_the_risk_review_rows_show_the_overdue_figures(risk_client, customers):
    rows = table_rows(risk_client.get("/risk/"))

    assert len(rows) == 2
    for _customer_id, _name, _phone, total, count, oldest, days in rows:
        assert total.endswith(" UZS") and int(count) >= 1
        assert int(days) == (timezone.localdate() - datetime.date.fromisoformat(oldest)).days


# Record links: one reverse() per table, the same URL as reverse() per row.


@given(st.text(min_size=1, max_size=40).filter(lambda key: "/" not in key and "\x00" not in key))
def test_a_record_url_is_what_reverse_gives_for_any_key(key):
    assert record_url("customers:detail", key) == reverse("customers:detail", args=[key])


def test_a_record_url_of_a_view_with_a_number_key_is_what_reverse_gives():
    for key in (0, 42, 10**12, "42"):
        assert record_url("webhooks:detail", key) == reverse("webhooks:detail", args=[key])
    for refused in ("not-a-number", -1, "", "a/b"):
        with pytest.raises(NoReverseMatch):
            record_url("webhooks:detail", refused)


_text_key = st.text(min_size=1, max_size=30).filter(lambda key: "/" not in key and "\x00" not in key)


@given(_text_key, st.sampled_from(["full_name", "phone", "card_number"]), st.integers(0, 2**63), st.uuids())
def test_record_urls_of_the_profile_links_are_what_reverse_gives(customer_id, field, number, refund_id):
    assert record_url("customers:reveal", customer_id, field) == reverse("customers:reveal", args=[customer_id, field])
    assert record_url("plans:pay", number) == reverse("plans:pay", args=[number])
    assert record_url("refunds:cancel", refund_id) == reverse("refunds:cancel", args=[refund_id])
    assert record_url("refunds:issue", customer_id) == reverse("refunds:issue", args=[customer_id])
    assert record_url("customers:list") == reverse("customers:list")


@pytest.mark.parametrize("viewname", ["home", "logout", "customers:list", "risk", "health", "audit", "webhooks:list"])
def test_a_record_url_without_keys_is_what_reverse_gives(viewname):
    assert record_url(viewname) == reverse(viewname)


def test_a_record_url_follows_the_script_prefix():
    from django.urls import set_script_prefix

    try:
        set_script_prefix("/office/")
        assert record_url("plans:pay", 7) == reverse("plans:pay", args=[7]) == "/office/installments/7/pay/"
    finally:
        set_script_prefix("/")


def test_the_customer_link_exports_as_its_plain_id():
    CustomerFactory(customer_id="usr-export")
    table = CustomerTable(Customer.objects.all())

    exported = list(table.as_values())

    assert exported[1][0] == "usr-export"


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_money_groups_thousands_as_intcomma_does(amount):
    from django.contrib.humanize.templatetags.humanize import intcomma
    from django.utils import translation

    from bnpl_admin.staff.templatetags.bnpl import money, money_formatter

    whole, cents = f"{abs(amount):.2f}".split(".")
    sign = "-" if amount < 0 else ""
    for language in ("en-us", "de", "fr"):  # ",", "." and a space between thousands
        with translation.override(language):
            assert money(amount) == money_formatter()(amount) == f"{sign}{intcomma(int(whole))}.{cents} UZS"


_attr_text = st.one_of(st.text(max_size=12), st.sampled_from(['a"b', "<i>", "x & y", "'", "orderable asc"]))
_attr_value = st.one_of(
    _attr_text,
    _attr_text.map(lambda text: format_html("{}", text)),  # already safe
    st.none(),
    st.integers(),
    st.just(gettext_lazy("Yes")),
    _attr_text.map(lambda text: lambda: text),  # computed
)


@given(st.dictionaries(st.one_of(_attr_text, st.sampled_from(["th", "td", "thead", "class"])), _attr_value, max_size=5))
def test_attributes_are_written_as_django_tables2_writes_them(attrs):
    from django_tables2.templatetags.django_tables2 import render_attrs
    from django_tables2.utils import AttributeDict

    from bnpl_admin.staff.templatetags.table_rendering import attributes_html

    assert attributes_html(AttributeDict(attrs)) == AttributeDict(attrs).as_html()
    assert attributes_html(attrs) == render_attrs(attrs)


@given(st.text(max_size=30).filter(lambda text: "{" not in text and "}" not in text), st.lists(_attr_value, max_size=3))
def test_cell_html_is_what_djangos_format_html_makes(text, values):
    from django.utils.safestring import SafeString

    from bnpl_admin.staff import html

    format_string = text + "{}" * len(values)
    values = [value() if callable(value) and not hasattr(value, "__html__") else value for value in values]
    if not values:
        with pytest.raises(TypeError):
            html.format_html(format_string)
        return
    ours = html.format_html(format_string, *values)
    assert ours == format_html(format_string, *values)
    assert type(ours) is SafeString


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tashkent", "America/Los_Angeles"])
@pytest.mark.parametrize("format", ["Y-m-d", "Y-m-d H:i:s", "N j, Y"])
def test_a_date_column_shows_the_time_in_the_current_zone_as_localtime_does(zone, format):
    import zoneinfo

    from django.utils.formats import date_format

    from bnpl_admin.staff.columns import FormattedDateColumn

    column = FormattedDateColumn(format=format)
    moments = [
        datetime.datetime(2026, 3, 1, 19, 30, tzinfo=datetime.UTC),  # the next day in Tashkent
        datetime.datetime(2026, 3, 1, 3, 0, tzinfo=datetime.UTC),  # the day before in Los Angeles
    ]
    if "H" not in format:
        moments.append(datetime.date(2026, 3, 1))  # a date column (no time to show)
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        render = column.render_for_table()
        for moment in moments:
            expected = timezone.localtime(moment) if isinstance(moment, datetime.datetime) else moment
            assert render(moment) == column.render(moment) == date_format(expected, format)


def test_a_choices_column_shows_what_get_foo_display_shows(monkeypatch):
    from bnpl_admin.staff.columns import choices_display

    customer = Customer(status=Customer.Status.DEBT_USER)
    display = choices_display(Customer, "status", customer)
    for value in [*Customer.Status.values, "NOT_A_CHOICE", None]:
        customer.status = value
        assert display(customer) == customer.get_status_display()

    monkeypatch.setattr(Customer, "get_status_display", lambda self: f"own {self.status}", raising=False)
    assert choices_display(Customer, "status", customer)(customer) == "own None"
    assert choices_display(Customer, "full_name", customer) is None


class _AttributedTable(CustomerTable):
    """Cell attributes of every kind: declared on the table, on a column, computed, with classes."""

    full_name = CustomerTable.base_columns["full_name"].__class__(
        verbose_name="Name",
        attrs={
            "th": {"class": "name wide", "data-column": lambda bound_column: bound_column.name},
            "td": {"class": "name", "title": lambda record: record.customer_id},
        },
    )
    status = CustomerTable.base_columns["status"].__class__(verbose_name="Status", attrs={"td": {"class": "st"}})

    class Meta(CustomerTable.Meta):
        attrs = {"class": "table", "th": {"class": "h"}, "td": {"data-table": "customers"}}


@pytest.mark.parametrize("sort", ["", "full_name", "-status"])
def test_cell_attributes_of_every_kind_are_the_librarys(customers, sort):
    ours, theirs = _both(_AttributedTable, selectors.customer_list(), sort=sort)
    assert 'title="usr-' in ours and 'class="st"' in ours
    assert ours == theirs
    ours, loop = _headers(_AttributedTable(selectors.customer_list()), f"sort={sort}" if sort else "")
    assert 'data-column="full_name"' in ours and "orderable" in ours
    assert ours == loop


class _TemplatedAndLinkedTable(CustomerTable):
    """Columns none of the back office's tables has today, each with its own path in the renderer:
    template code, a link around the content, a render method wanting an argument no cell has, and
    one taking every argument."""

    shout = _tables.TemplateColumn("{{ value|upper }}! {{ record.customer_id }}", accessor="full_name")
    linked = _tables.Column(accessor="customer_id", linkify=lambda record: f"/c/{record.customer_id}/")
    picky = _tables.Column(accessor="customer_id")
    everything = _tables.Column(accessor="customer_id")

    def render_picky(self, value, unknown):  # the library does not call it: the cell shows None
        return "never"

    def render_everything(self, **kwargs):
        return f"{kwargs['value']} {kwargs['bound_row'].record.pk == kwargs['record'].pk} {kwargs['table'] is self}"


@pytest.mark.parametrize("sort", ["", "-customer_id"])
def test_template_link_and_argument_paths_are_the_librarys(customers, sort):
    ours, theirs = _both(_TemplatedAndLinkedTable, selectors.customer_list(), sort=sort)
    assert '<a href="/c/' in ours and "! usr-" in ours and " True True" in ours
    assert ours == theirs
