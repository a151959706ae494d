"""Dashboard access helpers: every dashboard view declares the permission it needs."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render


def merchant_required(permission: str = "view"):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.membership is None:
                return render(request, "accounts/no_merchant.html", status=403)
            if not request.membership.can(permission):
                raise PermissionDenied(f"Your role ({request.membership.role}) cannot {permission} here.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
