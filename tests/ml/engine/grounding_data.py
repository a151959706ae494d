"""Plain helpers shared by the grounding tests (tests/ml/engine/test_grounding*.py)."""

from decimal import Decimal

from ml.engine.grounding import check_copy

BOTTLE = {
    "sku": "HB-750",
    "title": "Hydra Insulated Bottle 750ml",
    "brand": "Hydra",
    "category": "Drinkware",
    "price": Decimal("24.90"),
    "currency": "USD",
    "attributes": {"capacity": "750 ml", "material": "stainless steel", "colour": "Forest green"},
    "description": "Double-wall vacuum insulated bottle that keeps drinks cold for 24 hours or hot for 12 hours. "
    "BPA-free lid, fits most cup holders. Weighs 340 g. Warranty: 2 years.",
    "stock": 17,
    "url": "https://shop.example/p/hb-750",
}


def body(text, product=BOTTLE, channel="sms", **kwargs):
    return check_copy({"body": text}, product, channel=channel, **kwargs)
