"""Local development and the demo: embedded defaults (SQLite, filesystem broker) unless env says otherwise."""

from .base import *  # noqa: F401,F403
from .base import VAR_DIR, env_bool

DEBUG = env_bool("DEBUG", True)
VAR_DIR.mkdir(parents=True, exist_ok=True)
