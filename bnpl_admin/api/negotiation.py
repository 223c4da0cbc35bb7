"""DRF's content negotiation, answered without parsing for what nearly every API call sends."""

from rest_framework.negotiation import DefaultContentNegotiation


class PlainAcceptNegotiation(DefaultContentNegotiation):
    """No `Accept` header, `*/*`, or exactly the first renderer's media type: DRF would pick the
    first renderer with that media type; said at once here (parsing and ranking the header was
    7% of a users-list call). Anything else (a list, parameters, `?format=`) goes to DRF."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        first = renderers[0] if renderers else None
        plain = first is not None and accept in ("*/*", first.media_type)
        if plain and not format_suffix and self.settings.URL_FORMAT_OVERRIDE not in request.query_params:
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
