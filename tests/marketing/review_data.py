"""Plain helpers shared by the review page tests (tests/marketing/test_views_review*.py)."""

import re

from django.urls import reverse

from marketing.campaigns.services import content_piece_record
from marketing.workflow import content_check

HTMX = {"HTTP_HX_REQUEST": "true"}


def record(campaign, product, body, *, variant=1, title="Trail bottle"):
    """A piece as the worker stores it: text checked by the real grounding check."""
    fields = {"title": title, "body": body} if campaign.channel == "product_description" else {"body": body}
    outcome = content_check(product=product, channel=campaign.channel, fields=fields)
    piece, _ = content_piece_record(
        campaign=campaign,
        product=product,
        variant=variant,
        fields=fields,
        outcome=outcome,
        model_version=None,
        prompt="[]",
        params={},
        quality={},
        attempts=1,
    )
    return piece


def card_of(html: str, piece) -> str:
    match = re.search(
        rf'<article class="piece-card[^"]*" id="piece-{piece.pk}".*?</article>', html, re.DOTALL
    )
    assert match, f"no card for piece {piece.pk}"
    return match.group(0)


def url(name, piece):
    return reverse(f"marketing:{name}", args=[piece.pk])
