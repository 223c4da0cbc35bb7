from django.core.cache import caches
from rest_framework.throttling import UserRateThrottle


class TokenRateThrottle(UserRateThrottle):
    """Per token owner, counted in a cheap per-process cache (not a database round trip per request)."""

    cache = caches["throttle"]
    scope = "token"
