"""STORYFRONT_OUTBOUND_ALLOW_PRIVATE is read strictly: off unless set, and a value that is not a boolean stops
start-up instead of silently choosing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTING = (
    "import django; django.setup(); from django.conf import settings; print(settings.OUTBOUND_ALLOW_PRIVATE)"
)


def _setting(value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "STORYFRONT_OUTBOUND_ALLOW_PRIVATE"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    if value is not None:
        env["STORYFRONT_OUTBOUND_ALLOW_PRIVATE"] = value
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTING],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "False"), ("0", "False"), ("1", "True"), ("true", "True")]
)
def test_allow_private_is_off_unless_turned_on(value, expected):
    result = _setting(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_a_value_that_is_not_a_boolean_stops_start_up():
    result = _setting("sometimes")
    assert result.returncode != 0
    assert "STORYFRONT_OUTBOUND_ALLOW_PRIVATE must be a boolean" in result.stderr
