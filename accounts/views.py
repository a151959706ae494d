"""Dashboard views for the shell: merchant switching, settings (members, API keys) and the areas that are not
built yet. The Overview reads from every app, so it lives in config.overview. Reads go through selectors
scoped to `request.merchant`; writes through services."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import merchant_required
from accounts.forms import APIKeyCreateForm
from accounts.middleware import SESSION_KEY
from accounts.selectors import api_key_list, membership_get, membership_list_for_merchant
from accounts.services import Actor, api_key_create, api_key_revoke

# The areas later issues build. Each gets an honest page saying what it will hold, so the navigation is
# complete from day one and nobody mistakes an empty screen for a bug.
PLANNED_AREAS: dict[str, dict] = {
    "insights": {
        "title": "Insights",
        "summary": "What your reviews say, per product and over time.",
        "items": [
            "Every review classified positive, neutral or negative, with aspects",
            "Sentiment charts per product and over time",
            "Customer segments as charts",
            "Product Q&A answered from reviews and the catalog",
        ],
    },
}


@merchant_required()
@require_POST
def switch_merchant(request):
    try:
        merchant_id = int(request.POST.get("merchant_id", ""))
    except ValueError:
        raise Http404("No such merchant.") from None
    membership = membership_get(user=request.user, merchant_id=merchant_id)
    request.session[SESSION_KEY] = membership.merchant_id
    messages.success(request, f"Switched to {membership.merchant.name}.")
    # Always land on the home page: the page the user was on may belong to the merchant they just left.
    return redirect("dashboard:home")


@merchant_required()
def planned_area(request, area: str):
    if area not in PLANNED_AREAS:
        raise Http404("No such area.")
    return render(request, "dashboard/planned_area.html", {"section": area, "area": PLANNED_AREAS[area]})


def _settings_context(request, **extra):
    merchant = request.merchant
    return {
        "section": "settings",
        # Members of the current merchant only: the relation is filtered by the merchant by construction.
        "members": membership_list_for_merchant(merchant=merchant),
        "api_keys": api_key_list(merchant=merchant),
        "can_manage": request.membership.can("manage"),
        **extra,
    }


@merchant_required()
def settings_page(request):
    return render(request, "dashboard/settings.html", _settings_context(request, key_form=APIKeyCreateForm()))


@merchant_required("manage")
@require_POST
def api_key_create_view(request):
    form = APIKeyCreateForm(request.POST)
    if not form.is_valid():
        return render(
            request, "dashboard/settings.html", _settings_context(request, key_form=form), status=400
        )
    key_obj, key = api_key_create(
        merchant=request.merchant,
        name=form.cleaned_data["name"],
        scopes=form.cleaned_data["scopes"],
        actor=Actor.for_user(request.user),
    )
    # The clear-text key goes out in this response only: it is never stored, so it is not redirected through
    # the session, and the response must not be cached.
    response = render(
        request,
        "dashboard/settings.html",
        _settings_context(request, key_form=APIKeyCreateForm(), new_key=key, new_key_obj=key_obj),
    )
    response["Cache-Control"] = "no-store"
    return response


@merchant_required("manage")
@require_POST
def api_key_revoke_view(request, prefix: str):
    # Keys are addressed by their public prefix; the primary key embeds the hash, which stays out of pages.
    key = api_key_list(merchant=request.merchant).filter(prefix=prefix).first()
    if key is None:
        raise Http404("No such API key.")
    if key.revoked:
        messages.info(request, f"The key “{key.name}” was already revoked.")
    else:
        api_key_revoke(key=key, actor=Actor.for_user(request.user))
        messages.success(
            request, f"Revoked the key “{key.name}” ({key.prefix}…). Clients using it now get 401."
        )
    return redirect("dashboard:settings")
