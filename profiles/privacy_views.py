"""Dashboard pages for privacy: the Privacy page (raw-event retention, consent figures, the erasure log) and
erasing a customer (a confirmation page, then the erasure). Everyone on the team reads the page; only owners
change the retention or erase a customer."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q
from django.shortcuts import get_object_or_404, redirect, render

from accounts.decorators import merchant_required
from accounts.services import Actor
from chat.models import Conversation
from profiles.models import Customer, CustomerProfile, Event, SegmentMembership
from profiles.privacy import (
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    customer_erase,
    erasure_list,
    profile_settings_get,
    profile_settings_update,
    retention_cutoff,
)

ERASURES_PER_PAGE = 25


class RetentionForm(forms.Form):
    event_retention_days = forms.IntegerField(
        label="Keep raw events for (days)",
        min_value=MIN_RETENTION_DAYS,
        max_value=MAX_RETENTION_DAYS,
        help_text=(
            "Events older than this are deleted every night. Profiles are computed from the events that are "
            "left, so a short window means RFM and affinities look back less far."
        ),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


def _consent_figures(merchant) -> dict:
    return Customer.objects.filter(merchant=merchant).aggregate(
        customers=Count("id"),
        marketing=Count("id", filter=Q(consent_marketing=True)),
        refused_profiling=Count("id", filter=Q(consent_profiling=False)),
    )


def _privacy_page(request, form: RetentionForm, *, status: int = 200):
    merchant = request.merchant
    settings_row = profile_settings_get(merchant=merchant)
    page = Paginator(erasure_list(merchant=merchant), ERASURES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "section": "customers",
        "form": form,
        "can_manage": request.membership.can("manage"),
        "retention_days": settings_row.event_retention_days,
        "cutoff": retention_cutoff(settings_row.event_retention_days),
        "oldest_event": Event.objects.filter(merchant=merchant).aggregate(at=Min("occurred_at"))["at"],
        "consent": _consent_figures(merchant),
        "page": page,
    }
    return render(request, "profiles/privacy.html", context, status=status)


@merchant_required()
def privacy_view(request):
    can_manage = request.membership.can("manage")
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(f"Your role ({request.membership.role}) cannot change the retention.")
        form = RetentionForm(request.POST)
        if not form.is_valid():
            return _privacy_page(request, form, status=400)
        profile_settings_update(
            merchant=request.merchant,
            actor=Actor.for_user(request.user),
            event_retention_days=form.cleaned_data["event_retention_days"],
        )
        messages.success(
            request, f"Raw events are now kept for {form.cleaned_data['event_retention_days']} days."
        )
        return redirect("profiles:privacy")
    settings_row = profile_settings_get(merchant=request.merchant)
    form = RetentionForm(initial={"event_retention_days": settings_row.event_retention_days})
    if not can_manage:
        form.fields["event_retention_days"].disabled = True
    return _privacy_page(request, form)


class EraseForm(forms.Form):
    confirm = forms.CharField(label="Type the customer's id to confirm", max_length=200, strip=True)

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["confirm"].help_text = f"Type {customer.external_id} to erase this customer for good."
        self.fields["confirm"].widget.attrs.update(autocomplete="off", spellcheck="false")

    def clean_confirm(self):
        value = self.cleaned_data["confirm"]
        if value != self.customer.external_id:
            raise forms.ValidationError(f"Type {self.customer.external_id} exactly to erase this customer.")
        return value


def _erase_summary(customer: Customer) -> dict:
    conversations = (
        Conversation.objects.filter(merchant=customer.merchant, customer_external_id=customer.external_id)
        if customer.external_id
        else Conversation.objects.none()
    )
    return {
        "events": Event.objects.filter(merchant=customer.merchant, customer=customer).count(),
        "has_profile": CustomerProfile.objects.filter(customer=customer).exists(),
        "segments": SegmentMembership.objects.filter(customer=customer).count(),
        "conversations": conversations.count(),
        "trained_conversations": conversations.filter(trained_in__isnull=False).count(),
    }


@merchant_required("manage")
def customer_erase_view(request, customer_id: int):
    customer = get_object_or_404(Customer, merchant=request.merchant, pk=customer_id)
    status = 200
    if request.method == "POST":
        form = EraseForm(request.POST, customer=customer)
        if form.is_valid():
            record = customer_erase(customer=customer, actor=Actor.for_user(request.user))
            retrain = [r for r in record.retrain_purposes if r.get("status") == "queued"]
            note = f" Retraining queued for: {', '.join(r['purpose'] for r in retrain)}." if retrain else ""
            messages.success(
                request,
                f"The customer was erased ({record.deleted.get('events', 0)} events deleted, "
                f"{record.deleted.get('conversations_anonymised', 0)} conversations anonymised).{note} "
                "The erasure log on the Privacy page keeps the details.",
            )
            return redirect("profiles:customer_list")
        status = 400
    else:
        form = EraseForm(customer=customer)
    context = {
        "section": "customers",
        "customer": customer,
        "form": form,
        "summary": _erase_summary(customer),
    }
    return render(request, "profiles/privacy_erase.html", context, status=status)
