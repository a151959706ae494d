"""Template pieces for customers, usable on any dashboard page: `{% load profiles_tags %}`.

- `{% rfm_badge profile %}`: the R/F/M scores and the RFM segment, colour-coded and always in words.
- `{{ value|rfm_label }}`: an RFMSegment value's label.
- `{{ event.type|event_tone }}`: the badge tone of an event type.
"""

from django import template

from profiles import display

register = template.Library()


@register.inclusion_tag("profiles/partials/_customer_rfm_badge.html")
def rfm_badge(profile, compact=False):
    segment = getattr(profile, "rfm_segment", "") or ""
    return {
        "profile": profile,
        "segment": segment,
        "label": display.rfm_label(segment),
        "tone": display.RFM_TONES.get(segment, "muted"),
        "help": display.RFM_HELP.get(segment, ""),
        "compact": compact,
    }


@register.filter
def rfm_label(value):
    return display.rfm_label(value)


@register.filter
def event_tone(value):
    return display.EVENT_TONES.get(value, "muted")
