"""Helpers the chat dashboard views share: who is acting, whether they may act on conversations, HTMX partial
requests, integer query parameters and the widget embed snippet."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.decorators import merchant_required
from accounts.services import Actor
from chat.models import ChatSettings

SEARCH_MAX_CHARS = 200
ACT_PERMISSIONS = ("edit", "review")


def _wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _can_act(request) -> bool:
    return any(request.membership.can(permission) for permission in ACT_PERMISSIONS)


def chat_staff_required(view):
    """Support work (taking over, replying, rating) is for editors, reviewers and owners; viewers only read."""

    @merchant_required()
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _can_act(request):
            raise PermissionDenied(f"Your role ({request.membership.role}) cannot act on conversations.")
        return view(request, *args, **kwargs)

    return wrapped


def _int(value, default: int = 0) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def _widget_snippet(request, chat_settings: ChatSettings) -> str:
    src = request.build_absolute_uri(reverse("chat_widget_script", args=[chat_settings.widget_token]))
    return f'<script src="{src}" async></script>'
