"""Publishing pages: a campaign's CSV/JSON export, and Settings › Webhooks: the merchant's webhook endpoints
with their recent deliveries; owners add, edit, disable, enable and delete them.

URLs go through the same checks as the API (`POST /api/v1/webhooks/`): the form runs the SSRF guard's write-time
check (storyfront.validators.validate_outbound_url) once the URL is well formed, and
marketing.publishing.services validates the rest; both kinds of error are shown on the field they
concern. Every endpoint and campaign is looked up through the merchant's selector, so another merchant's
ids answer 404.
The signing secret is shown once, in the response that creates the endpoint, which is never cached."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from accounts.decorators import merchant_required
from accounts.services import Actor
from marketing.forms import add_service_errors
from marketing.models import WebhookEndpoint, WebhookEvent
from marketing.publishing.services import (
    content_export,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)
from marketing.selectors import (
    campaign_get,
    content_export_list,
    webhook_endpoint_get,
    webhook_endpoint_list,
    webhook_recent_deliveries,
)
from storyfront.validators import validate_outbound_url

RECENT_DELIVERIES = 5


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=1000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/storyfront/webhooks"}),
        help_text="Where Storyfront POSTs signed events. Public http(s) addresses only.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    def clean_url(self) -> str:
        # Only a well-formed URL reaches this, as in the API: a malformed one gets just "Enter a valid URL."
        url = self.cleaned_data["url"]
        validate_outbound_url(url)
        return url


def _edit_form(endpoint: WebhookEndpoint, data=None) -> WebhookEndpointForm:
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    return WebhookEndpointForm(data, initial=initial, prefix=f"endpoint-{endpoint.pk}")


def _page(request, *, status: int = 200, create_form=None, editing=None, **extra):
    """The whole page; `editing` is (endpoint, bound form) when an edit came back with errors."""
    merchant = request.merchant
    endpoints = list(webhook_endpoint_list(merchant=merchant))
    recent = webhook_recent_deliveries(
        merchant=merchant, endpoint_ids=[e.pk for e in endpoints], per_endpoint=RECENT_DELIVERIES
    )
    can_manage = request.membership.can("manage")
    rows = []
    for endpoint in endpoints:
        form = None
        if can_manage:
            form = editing[1] if editing and editing[0].pk == endpoint.pk else _edit_form(endpoint)
        rows.append({"endpoint": endpoint, "deliveries": recent.get(endpoint.pk, []), "form": form})
    context = {
        "section": "webhooks",
        "rows": rows,
        "can_manage": can_manage,
        "create_form": create_form or WebhookEndpointForm(),
        "editing_id": editing[0].pk if editing else None,
        "event_labels": dict(WebhookEvent.choices),
        **extra,
    }
    return render(request, "marketing/webhooks.html", context, status=status)


@merchant_required()
def webhooks_view(request):
    return _page(request)


@merchant_required("manage")
@require_POST
def webhook_create_view(request):
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = webhook_endpoint_create(
                merchant=request.merchant, actor=Actor.for_user(request.user), **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            response = _page(request, new_secret=secret, new_endpoint=endpoint)
            response["Cache-Control"] = "no-store"  # the only copy of the secret is in this page
            return response
    return _page(request, status=400, create_form=form)


@merchant_required("manage")
@require_POST
def webhook_edit_view(request, endpoint_id: int):
    endpoint = webhook_endpoint_get(merchant=request.merchant, endpoint_id=endpoint_id)
    form = _edit_form(endpoint, request.POST)
    if form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint=endpoint, actor=Actor.for_user(request.user), **form.cleaned_data
            )
        except ValidationError as exc:
            endpoint.refresh_from_db()  # the service set the refused values on the instance before checking
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the endpoint {endpoint.url}.")
            return redirect(reverse("marketing:webhooks") + f"#endpoint-{endpoint.pk}")
    return _page(request, status=400, editing=(endpoint, form))


@merchant_required("manage")
@require_POST
def webhook_toggle_view(request, endpoint_id: int):
    """Disable (no new deliveries; pending retries give up) or enable again."""
    endpoint = webhook_endpoint_get(merchant=request.merchant, endpoint_id=endpoint_id)
    if request.POST.get("active") not in ("0", "1"):
        return HttpResponseBadRequest("Send active=1 to enable the endpoint or active=0 to disable it.")
    active = request.POST["active"] == "1"
    if endpoint.active == active:
        messages.info(
            request, f"The endpoint {endpoint.url} was already {'enabled' if active else 'disabled'}."
        )
    else:
        webhook_endpoint_update(endpoint=endpoint, actor=Actor.for_user(request.user), active=active)
        messages.success(
            request,
            f"Enabled {endpoint.url}: new events are sent to it again."
            if active
            else f"Disabled {endpoint.url}: it gets no new events, and retries waiting for it give up.",
        )
    return redirect(reverse("marketing:webhooks") + f"#endpoint-{endpoint.pk}")


@merchant_required("manage")
@require_POST
def webhook_delete_view(request, endpoint_id: int):
    endpoint = webhook_endpoint_get(merchant=request.merchant, endpoint_id=endpoint_id)
    url = endpoint.url
    webhook_endpoint_delete(endpoint=endpoint, actor=Actor.for_user(request.user))
    messages.success(request, f"Deleted the endpoint {url} and its delivery log.")
    return redirect("marketing:webhooks")


@merchant_required()
def campaign_export_view(request, campaign_id: int):
    campaign = campaign_get(merchant=request.merchant, campaign_id=campaign_id)
    export_format = request.GET.get("format", "csv")
    if export_format not in ("csv", "json"):
        return HttpResponseBadRequest("Choose csv or json.")
    pieces = content_export_list(merchant=request.merchant, campaign=campaign)
    body, content_type = content_export(pieces=pieces, export_format=export_format)
    response = HttpResponse(body, content_type=content_type)
    name = slugify(campaign.name) or f"campaign-{campaign.pk}"
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{export_format}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
