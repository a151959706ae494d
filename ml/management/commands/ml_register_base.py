from django.core.management.base import BaseCommand, CommandError

from ml.engine.errors import InvalidCheckpoint
from ml.models import ModelVersion
from ml.services import base_model_register


class Command(BaseCommand):
    help = "Register a local Hugging Face checkpoint directory, or an OpenAI-compatible endpoint, as a base model."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--path", default="", help="Local checkpoint directory")
        parser.add_argument(
            "--endpoint-url", default="", help="OpenAI-compatible base URL, e.g. http://gpu:8000/v1"
        )
        parser.add_argument("--endpoint-model", default="", help="Model name the endpoint serves")

    def handle(self, *args, name, path, endpoint_url, endpoint_model, **options):
        backend = ModelVersion.Backend.OPENAI if endpoint_url else ModelVersion.Backend.LOCAL_HF
        if not path and not endpoint_url:
            raise CommandError("Give --path for a local checkpoint or --endpoint-url and --endpoint-model.")
        try:
            version = base_model_register(
                name=name,
                path=path,
                backend=backend,
                endpoint_url=endpoint_url,
                endpoint_model=endpoint_model,
            )
        except (InvalidCheckpoint, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Registered base model '{version.name}' (id {version.pk})."))
