"""Local development and the demo: embedded defaults (SQLite, filesystem broker) unless env says otherwise."""

import logging

from .base import *  # noqa: F401,F403
from .base import LOGGING, VAR_DIR, env_bool, env_str

DEBUG = env_bool("DEBUG", True)
VAR_DIR.mkdir(parents=True, exist_ok=True)


class _DropDefaultHostWarning(logging.Filter):
    """kombu warns that the embedded broker URL (`filesystem://`) names no host; the filesystem transport has no
    use for one, so the warning says nothing the person running the demo could act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No hostname was supplied.")


# The terminal that runs `make demo` shows the logins and the API key: keep it to what the user can act on.
# django-axes announces itself at INFO in every process and logs each login; AXES_LOG_LEVEL=INFO brings it back.
LOGGING = {
    **LOGGING,
    "filters": {**LOGGING.get("filters", {}), "no_default_host_warning": {"()": _DropDefaultHostWarning}},
    "loggers": {
        **LOGGING["loggers"],
        "axes": {"level": env_str("AXES_LOG_LEVEL", "WARNING")},
        "kombu.connection": {"filters": ["no_default_host_warning"]},
    },
}
