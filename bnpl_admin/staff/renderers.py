"""Django's form renderer, with choice widgets rendered once per process for each distinct context.

A `<select>` is one template render for the widget and one more per option: the status filter
of the customer list cost more than the 25 rows of its table used to. The HTML of a widget is a
function of its template and context alone (the templates read nothing else), so it is kept under
an exact, hashable copy of that context: any change of name, value, attributes, labels (in the
active language) or choices is another key. Only choice widgets are kept (the costly ones; their
values are choices, not text someone typed), and only when every value in the context is plain
data: anything else is rendered by Django every time.
"""

from __future__ import annotations

from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise

MAX_KEPT = 512


class _Unfreezable(Exception):
    pass


def _key(value):
    """An exact, hashable copy of a context value. Types that render apart stay apart: True, 1 and
    1.0 are equal in Python but not in a template's output, nor are a SafeString and a str."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind in (int, float, bool):
        return (kind.__name__, value)
    if isinstance(value, Promise):  # a lazy translation: its text in the active language
        return ("lazy", str(value))
    if isinstance(value, str):
        return (kind.__qualname__, str(value))
    if kind is dict:
        return ("dict", tuple((_key(name), _key(item)) for name, item in value.items()))
    if kind in (list, tuple):
        return (kind.__name__, tuple(_key(item) for item in value))
    raise _Unfreezable(kind)


class ChoiceWidgetMemoRenderer(DjangoTemplates):
    def __init__(self):
        super().__init__()
        self._kept: dict = {}

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if request is None and len(context) == 1 else None
        if settings.DEBUG or not isinstance(widget, dict) or "optgroups" not in widget:
            return super().render(template_name, context, request)
        try:
            key = (template_name, _key(context))
        except _Unfreezable:
            return super().render(template_name, context, request)
        html = self._kept.get(key)
        if html is None:
            html = super().render(template_name, context, request)
            if len(self._kept) >= MAX_KEPT:
                self._kept.clear()
            self._kept[key] = html
        return html
