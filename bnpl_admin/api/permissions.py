from rest_framework.permissions import BasePermission


class HasModelPermissions(BasePermission):
    """The token owner must hold the Django permissions the view lists for the request's method.

    The permissions are Django's ModelBackend's, read on every request: a role taken away is
    refused on the next call.
    """

    message = "Your role does not allow this"

    def has_permission(self, request, view):
        required = getattr(view, "required_permissions", {}).get(request.method, ())
        return bool(request.user and request.user.is_authenticated and request.user.has_perms(required))
