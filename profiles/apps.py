import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class ProfilesConfig(AppConfig):
    name = "profiles"

    def ready(self) -> None:
        from catalog.signals import products_changed
        from chat.models import product_vectors_changed

        products_changed.connect(_link_unknown_products, dispatch_uid="profiles.link_unknown_products")
        product_vectors_changed.connect(_refresh_interest_vectors, dispatch_uid="profiles.interest_vectors")


def _link_unknown_products(sender, merchant_id: int, **kwargs) -> None:
    """New products (or a changed SKU) may match events recorded by SKU earlier: link them on the worker.
    Queued only when the merchant has such events, so catalog edits cost nothing otherwise."""
    from profiles.models import Event
    from profiles.tasks import link_unknown_products_task

    if Event.objects.filter(merchant_id=merchant_id, product__isnull=True).exclude(product_sku="").exists():
        try:
            link_unknown_products_task.delay(merchant_id)
        except Exception:  # a broker outage must not fail the catalog write; ingest/nightly runs link later
            logger.exception("Could not queue SKU linking for merchant %s", merchant_id)


def _refresh_interest_vectors(sender, merchant_id: int, **kwargs) -> None:
    """Product vectors changed (new products embedded, or their text changed): interest vectors are weighted means
    of them, so rebuild the merchant's profiles on the worker. Only when some customer can have a profile."""
    from profiles.models import Customer
    from profiles.tasks import rebuild_profiles_task

    if Customer.objects.filter(merchant_id=merchant_id, consent_profiling=True).exists():
        try:
            rebuild_profiles_task.delay(merchant_id)
        except Exception:  # a broker outage must not fail the embedding run; the nightly rebuild catches up
            logger.exception("Could not queue the profile rebuild of merchant %s", merchant_id)
