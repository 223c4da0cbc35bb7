from django.conf import settings
from django.core.cache import caches
from rest_framework.permissions import BasePermission


class HasModelPermissions(BasePermission):
    """The token owner must hold the Django permissions the view lists for the request's method.

    The owner's permission set is remembered per process for API_PERMISSION_CACHE_SECONDS (30 s)
    under the token, instead of two permission queries on every call: a role taken away reaches
    the API within that time. A deleted token or a deactivated user is refused at once (the token
    lookup is never cached).
    """

    message = "Your role does not allow this"

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        required = getattr(view, "required_permissions", {}).get(request.method, ())
        return set(required) <= token_owner_permissions(request)


def token_owner_permissions(request) -> frozenset[str]:
    token = getattr(request.auth, "key", None)
    if token is None:  # not authenticated by token: no caching
        return frozenset(request.user.get_all_permissions())
    cache = caches["process"]
    key = f"api-perms:{token}"
    permissions = cache.get(key)
    if permissions is None:
        permissions = frozenset(request.user.get_all_permissions())
        cache.set(key, permissions, settings.API_PERMISSION_CACHE_SECONDS)
    return permissions
