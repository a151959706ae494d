"""Converts the packaged base models into the model store once and registers them. Re-running is a no-op."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from ml.services import base_model_register


class Command(BaseCommand):
    help = "Provision the offline base models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) and register them."

    def handle(self, *args, **options):
        from ml.engine.provision import SMOLLM2_DIRNAME, provision_base_models

        started = time.monotonic()
        paths = provision_base_models(settings.MODEL_STORE_DIR)
        version = base_model_register(name=SMOLLM2_DIRNAME, path=paths[SMOLLM2_DIRNAME])
        self.stdout.write(
            f"Base model '{version.name}' (id {version.pk}) at {version.path}; "
            f"embeddings at {paths['all-minilm-l6-v2']} ({time.monotonic() - started:.1f} s)."
        )
