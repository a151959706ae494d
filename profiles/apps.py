from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "profiles"

    def ready(self) -> None:
        from catalog.signals import products_changed

        products_changed.connect(_link_unknown_products, dispatch_uid="profiles.link_unknown_products")


def _link_unknown_products(sender, merchant_id: int, **kwargs) -> None:
    """New products (or a changed SKU) may match events recorded by SKU earlier: link them on the worker.
    Queued only when the merchant has such events, so catalog edits cost nothing otherwise."""
    from profiles.models import Event
    from profiles.tasks import link_unknown_products_task

    if Event.objects.filter(merchant_id=merchant_id, product__isnull=True).exclude(product_sku="").exists():
        link_unknown_products_task.delay(merchant_id)
