"""Scope checks. Safe methods need `read`, writes need `write`; a view or action can ask for another scope
(publishing needs `publish`) with `required_scope`."""

from rest_framework import permissions

from accounts.api.authentication import APIKeyPrincipal


def required_scope_for(request, view) -> str:
    scope = getattr(view, "required_scope", None)
    action = getattr(view, "action", None)
    scope_by_action = getattr(view, "scope_by_action", {})
    if action and action in scope_by_action:
        return scope_by_action[action]
    if scope:
        return scope
    return "read" if request.method in permissions.SAFE_METHODS else "write"


class HasMerchantScope(permissions.BasePermission):
    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view):
        if not isinstance(request.user, APIKeyPrincipal):
            return False
        scope = required_scope_for(request, view)
        if not request.auth.has_scope(scope):
            self.message = f"This API key lacks the '{scope}' scope this request needs."
            return False
        return True
