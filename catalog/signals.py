"""Signals the catalog sends for other apps. Sent after the transaction commits, so receivers see the rows.

- `products_changed(sender=Product, merchant_id=...)`: products were created, or an SKU changed (one product,
  or an import that created any). profiles links events recorded by SKU before the product existed."""

from django.db import transaction
from django.dispatch import Signal

products_changed = Signal()


def products_changed_on_commit(merchant_id: int) -> None:
    from catalog.models import Product

    # robust: a receiver's failure (the broker down, say) is logged; the products are saved either way.
    transaction.on_commit(lambda: products_changed.send(sender=Product, merchant_id=merchant_id), robust=True)
