"""The chat settings page with the embed snippet and token rotation ("manage"); and, for storefronts, the widget
script and the demo store page (public)."""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import merchant_required
from accounts.models import Merchant
from catalog.selectors import product_list
from chat.forms import (
    ChatSettingsForm,
    add_service_errors,
)
from chat.models import DEFAULT_HANDOFF_TOPICS
from chat.selectors import (
    chat_settings_for_widget,
    chat_settings_get,
)
from chat.views_common import _actor, _widget_snippet
from chat.widget.services import chat_settings_update, widget_token_rotate

DEMO_STORE_PRODUCTS = 6


@merchant_required()
def settings_view(request):
    merchant = request.merchant
    chat_settings = chat_settings_get(merchant=merchant)
    can_manage = request.membership.can("manage")
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(f"Your role ({request.membership.role}) cannot change chat settings.")
        # The form validates a copy: a refused change must not leak into the snippet shown beside it.
        form = ChatSettingsForm(request.POST, instance=chat_settings_get(merchant=merchant))
        if form.is_valid():
            try:
                chat_settings_update(merchant=merchant, actor=_actor(request), **form.service_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Chat settings saved.")
                return redirect("chat:settings")
        status = 422
    else:
        form = ChatSettingsForm(instance=chat_settings)
    if not can_manage:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "section": "chat",
        "form": form,
        "chat_settings": chat_settings,
        "snippet": _widget_snippet(request, chat_settings),
        "can_manage": can_manage,
        "default_topics": DEFAULT_HANDOFF_TOPICS,
        "demo_store": settings.DEBUG,
    }
    return render(request, "chat/settings.html", context, status=status)


@merchant_required("manage")
@require_POST
def rotate_token_view(request):
    widget_token_rotate(merchant=request.merchant, actor=_actor(request))
    messages.success(
        request,
        "New widget token issued. Paste the new snippet into your storefront; the old one no longer works.",
    )
    return redirect("chat:settings")


# ---------- Storefront side: widget script and demo store ----------


def _widget_source() -> bytes:
    path = finders.find("chat/widget.js")
    if path is None:
        raise Http404("The widget script is missing.")
    with open(path, "rb") as handle:
        return handle.read()


@require_GET
@cache_control(public=True, max_age=300)
def widget_script_view(request, token: str):
    """The widget for storefront pages. Public: it holds nothing secret, and learns its token and the
    Storyfront origin from its own URL. Unknown tokens and switched-off widgets answer 404, so a storefront
    shows no bubble at all instead of one that cannot talk."""
    chat_settings = chat_settings_for_widget(token=token)
    if not (chat_settings.widget_enabled and chat_settings.merchant.is_active):
        raise Http404("No such widget.")
    source = _widget_source()
    etag = '"' + hashlib.sha256(source).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    # Any storefront may load the script; what it can do is limited by the origin checks of the endpoints.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _one_per_category(products) -> list:
    """A shop window: the first product of each category, up to DEMO_STORE_PRODUCTS."""
    chosen, seen = [], set()
    for product in products[: DEMO_STORE_PRODUCTS * 20]:
        if product.category_id not in seen:
            seen.add(product.category_id)
            chosen.append(product)
            if len(chosen) == DEMO_STORE_PRODUCTS:
                break
    return chosen


@require_GET
def demo_store_view(request):
    """A pretend storefront with the demo merchant's widget, for `make demo`. Only in DEBUG (local) runs."""
    if not settings.DEBUG:
        raise Http404("The demo store is only served in local development.")
    merchant = Merchant.objects.filter(slug=request.GET.get("merchant", "demo"), is_active=True).first()
    if merchant is None:
        raise Http404("No demo merchant; run `manage.py demo_setup` and `manage.py demo_chat` first.")
    chat_settings = chat_settings_get(merchant=merchant)
    context = {
        "merchant": merchant,
        "products": _one_per_category(product_list(merchant=merchant, is_active=True).order_by("id")),
        "widget_src": request.build_absolute_uri(
            reverse("chat_widget_script", args=[chat_settings.widget_token])
        ),
        "widget_enabled": chat_settings.widget_enabled,
    }
    return render(request, "chat/demo_store.html", context)
