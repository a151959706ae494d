"""Mail settings: production sends by SMTP by default (the console backend would log reset links), and
contradictory TLS settings stop start-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
}
PRINT_MAIL = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)"
)


def _shell(**env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    env.update(PRODUCTION_ENV, **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", PRINT_MAIL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_sends_mail_by_smtp_configured_from_the_environment():
    default = _shell()
    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", "localhost", "25"]
    configured = _shell(EMAIL_HOST="smtp.example.com", EMAIL_PORT="587", EMAIL_USE_TLS="true")
    assert configured.stdout.split()[1:] == ["smtp.example.com", "587"]


def test_tls_and_ssl_together_stop_start_up():
    result = _shell(EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
    assert result.returncode != 0 and "EMAIL_USE_TLS" in result.stderr
