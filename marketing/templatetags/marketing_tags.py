"""Template tags other apps' pages use to show marketing content without importing marketing code
(catalog must not import feature apps: see .importlinter)."""

from django import template

from marketing.selectors import content_list

register = template.Library()

# The product page lists the newest copy pieces; the review queue has the rest.
PIECES_SHOWN = 10


@register.inclusion_tag("marketing/partials/_product_copy.html", takes_context=True)
def product_copy(context, product):
    """The "Copy" card of a product page: its newest pieces, for the merchant whose page it is."""
    pieces = content_list(merchant=context["request"].merchant, product=product.pk)
    return {
        "pieces": pieces[:PIECES_SHOWN],
        "piece_count": pieces.count(),
        "can_edit": context.get("can_edit", False),
    }
