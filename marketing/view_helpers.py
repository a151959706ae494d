"""What the copy studio's dashboard views share: the acting user, their roles, where a plain form post goes
back to, and the review queue's URL."""

from urllib.parse import urlencode

from django.contrib import messages
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.services import Actor

MESSAGE_LEVELS = {
    "success": messages.SUCCESS,
    "info": messages.INFO,
    "warning": messages.WARNING,
    "error": messages.ERROR,
}


def wants_partial(request) -> bool:
    # A history-restore request (back button after a cache miss) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def request_actor(request) -> Actor:
    return Actor.for_user(request.user)


def request_roles(request) -> dict:
    membership = request.membership
    return {
        "can_edit": membership.can("edit"),
        "can_review": membership.can("review"),
        "can_publish": membership.can("publish"),
    }


def return_to(request, default: str) -> str:
    """Where a plain (no-JS) form post goes back to: the page it came from, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def int_list(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def review_url(**params) -> str:
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return reverse("dashboard:review") + (f"?{query}" if query else "")
