from django.apps import AppConfig


class MlConfig(AppConfig):
    name = "ml"

    def ready(self) -> None:
        from ml import worker_signals  # noqa: F401  (connects the worker set-up signals)
