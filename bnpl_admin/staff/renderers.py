"""Django's form renderer, with choice widgets rendered once per process for each distinct context.

A `<select>` is one template render for the widget and one more per option: the status filter
of the customer list cost more than the 25 rows of its table used to. The HTML of a widget is a
function of its template, its context and the active language (for lazy labels), so it is kept
under those, the context as its pickle: an exact copy (a SafeString and a str, True and 1 pickle
apart), and cheap to make. A context holding anything but plain data, text and lazy text (a model
instance of a model choice, say, which would carry all its fields) is rendered by Django every
time. Only choice widgets are kept: the costly ones, and their values are choices, not text
someone typed.
"""

from __future__ import annotations

import io
import pickle

from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.translation import get_language

MAX_KEPT = 512


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    # Called for everything but None, bools and exact ints, floats, str, bytes, dicts, lists, tuples and sets.
    def reducer_override(self, obj):
        if isinstance(obj, str | Promise):  # SafeString and other text; lazy translations
            return NotImplemented
        raise _NotPlain(type(obj))


def _pickled(context) -> bytes:
    buffer = io.BytesIO()
    _PlainPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(context)
    return buffer.getvalue()


class ChoiceWidgetMemoRenderer(DjangoTemplates):
    def __init__(self):
        super().__init__()
        self._kept: dict = {}

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if request is None and len(context) == 1 else None
        if settings.DEBUG or not isinstance(widget, dict) or "optgroups" not in widget:
            return super().render(template_name, context, request)
        try:
            key = (template_name, get_language(), _pickled(context))
        except (_NotPlain, pickle.PicklingError, TypeError, AttributeError):
            return super().render(template_name, context, request)
        html = self._kept.get(key)
        if html is None:
            html = super().render(template_name, context, request)
            if len(self._kept) >= MAX_KEPT:
                self._kept.clear()
            self._kept[key] = html
        return html
