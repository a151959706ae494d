"""Yes/no words in uploaded files and form-like input: the one parser every import uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})


def parse_bool(
    value: Any, *, blank: bool | None = None, true_words: Iterable[str] = (), false_words: Iterable[str] = ()
) -> bool:
    """``value`` as a bool: a bool, 0/1, or a yes/no word in any case (``TRUE_WORDS``/``FALSE_WORDS`` plus a
    caller's own, such as "published"/"draft"). None and blank text give ``blank``, or are an error when it
    is None. Anything else raises ValueError with a message fit for a per-row import report."""
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        if blank is None:
            raise ValueError("is empty; use true or false.")
        return blank
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS or word in set(true_words):
            return True
        if word in FALSE_WORDS or word in set(false_words):
            return False
    raise ValueError(f"'{str(value)[:20]}' is not yes/no; use true or false.")
