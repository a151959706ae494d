"""The web process never imports torch or transformers: model work belongs to `ml` queue workers."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys, django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # imports every view, serializer, service and selector behind a URL
import config.wsgi  # noqa
heavy = sorted(m for m in ("torch", "transformers", "peft", "sentence_transformers") if m in sys.modules)
print(",".join(heavy) or "clean")
"""


def test_loading_every_url_imports_no_ml_framework():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "clean"
