"""The customer list's search box, filters and sort. Unknown values are dropped, never an error page."""

from django import forms

from profiles.models import RFMSegment
from profiles.selectors import (
    CUSTOMER_CONSENT_FILTERS,
    CUSTOMER_SORTS,
    rfm_segment_counts,
    segment_by_slug,
    segment_choice_list,
)


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    segment = forms.ChoiceField(required=False, label="Segment")
    rfm = forms.ChoiceField(required=False, label="RFM segment")
    consent = forms.ChoiceField(
        required=False,
        label="Consent",
        choices=[("", "Any consent")]
        + [(key, label) for key, (label, _) in CUSTOMER_CONSENT_FILTERS.items()],
    )
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[(key, f"Sort: {label}") for key, (label, _) in CUSTOMER_SORTS.items()],
    )

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        self.fields["segment"].choices = [("", "All segments")] + [
            (segment.slug, f"{segment.name} ({segment.member_count:,})")
            for segment in segment_choice_list(merchant=merchant)
        ]
        counts = rfm_segment_counts(merchant=merchant)
        self.fields["rfm"].choices = [("", "Any RFM segment")] + [
            (value, f"{label} ({counts[value]:,})") for value, label in RFMSegment.choices
        ]

    def selector_filters(self) -> dict:
        """Keyword arguments for `customer_list`, built from the valid fields only."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "search": (data.get("q") or "").strip(),
            "segment": segment_by_slug(merchant=self.merchant, slug=data.get("segment") or ""),
            "rfm_segment": data.get("rfm") or "",
            "consent": data.get("consent") or "",
            "sort": data.get("sort") or "last_seen",
        }
