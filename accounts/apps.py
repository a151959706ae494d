from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Merchants and access"

    def ready(self):
        from accounts import login_throttle  # noqa: F401  (connects the lockout audit receiver)
        from accounts.api import schema  # noqa: F401  (registers the OpenAPI auth extension)
