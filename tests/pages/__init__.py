"""Helpers for reading server-rendered pages: the one-time form token, table rows, CSV exports."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

TOKEN = re.compile(r'name="token" value="([0-9a-f-]{36})"')
LOGIN_URL = "/accounts/login/"
NO_ACCESS = "You do not have access"


def token_of(response) -> str:
    """The one-time token carried by the page's form."""
    match = TOKEN.search(response.content.decode())
    assert match, "the page has no one-time form token"
    return match.group(1)


def html_of(response) -> str:
    return response.content.decode()


class _Rows(HTMLParser):
    """Text of every cell of every <tbody> row; rows keep their `id` when they have one."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, list[str]]] = []
        self._in_body = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._row_id = ""

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row, self._row_id = [], dict(attrs).get("id") or ""
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append((self._row_id, self._row))
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(response_or_html) -> list[list[str]]:
    """The cell texts of every body row of every table on the page."""
    return [cells for _, cells in _parse(response_or_html)]


def rows_by_id(response_or_html) -> dict[str, list[str]]:
    """Body rows that carry an `id` attribute (installments, refunds), by that id."""
    return {row_id: cells for row_id, cells in _parse(response_or_html) if row_id}


def _parse(response_or_html):
    html = response_or_html if isinstance(response_or_html, str) else html_of(response_or_html)
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def first_column(response_or_html) -> list[str]:
    return [cells[0] for cells in table_rows(response_or_html) if cells]


def text_of(response) -> str:
    """The body of a response as text, streamed (a CSV export) or not."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8")


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text_of(response))))


def fact(response, label: str) -> str:
    """The text of the <dd> that follows `<dt>label</dt>` on a page."""
    match = re.search(rf"<dt>{re.escape(label)}</dt>\s*<dd[^>]*>(.*?)</dd>", html_of(response), re.S)
    assert match, f"no fact {label!r} on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def messages_of(response) -> list[str]:
    """The flash messages shown on a page."""
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", "", m)).split())
        for m in re.findall(r'<li class="message[^"]*">(.*?)</li>', html_of(response), re.S)
    ]


def is_login_redirect(response, path: str) -> bool:
    """A redirect to the login page that comes back to `path` afterwards."""
    if response.status_code != 302:
        return False
    url = urlsplit(response.url)
    return url.path == LOGIN_URL and parse_qs(url.query).get("next") == [path]


def assert_refused(response) -> None:
    """403, rendered with the project's own template."""
    assert response.status_code == 403
    assert NO_ACCESS in html_of(response)


HTMX = {"HX-Request": "true"}


def assert_fragment(response, element: str = '<div id="table"') -> str:
    """An HTMX response: only the fragment, no page around it."""
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(element), html[:200]
    assert "<html" not in html and "<body" not in html and 'class="topbar"' not in html
    return html
