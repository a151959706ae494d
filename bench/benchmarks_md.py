"""Writing a benchmark's section of docs/benchmarks.md: the section from its heading line to the next "## "
heading is replaced (or appended when it is not there yet); the rest of the file is left as it is."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(section: str, heading: str, path: Path = BENCHMARKS_MD) -> None:
    """``section`` starts with ``heading`` (the whole "## ..." line: a longer heading is another section)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end != -1 else "")
    path.write_text(text)
