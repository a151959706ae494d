"""How profile figures read on the dashboard: RFM segment tones and explanations, churn risk levels, the
worker's explanation JSON in words, affinity kinds. Shared by the customer pages, the segment pages and the
`profiles_tags` template library."""

from __future__ import annotations

from dataclasses import dataclass

from profiles.models import RFMSegment

# Badge tone per RFM segment (a colour class) — the label is always printed too, never colour alone.
RFM_TONES: dict[str, str] = {
    RFMSegment.CHAMPIONS: "success",
    RFMSegment.LOYAL: "success",
    RFMSegment.POTENTIAL: "info",
    RFMSegment.NEW: "info",
    RFMSegment.NEED_ATTENTION: "warning",
    RFMSegment.AT_RISK: "danger",
    RFMSegment.HIBERNATING: "muted",
    RFMSegment.PROSPECT: "muted",
}

# What each built-in segment means (the rules in profiles.models.RFMSegment) and what to do about it.
RFM_HELP: dict[str, str] = {
    RFMSegment.CHAMPIONS: "Bought recently and often (R and F 4 or 5). Your best customers: reward them, ask "
    "for reviews, show them new arrivals first.",
    RFMSegment.LOYAL: "Buy often (F 4 or 5) but not as recently as champions. Keep them close with "
    "loyalty offers and recommendations.",
    RFMSegment.POTENTIAL: "Bought fairly recently (R 3 or more) with a few orders (F 2 or 3). Could become "
    "loyal: suggest what goes with what they bought.",
    RFMSegment.NEW: "First order recently (R 4 or 5, one order). Welcome them and make the second order easy.",
    RFMSegment.AT_RISK: "Used to buy often (F 3 or more) but not lately (R 1 or 2). Win them back before "
    "they go.",
    RFMSegment.HIBERNATING: "Few orders, long ago (R and F 1 or 2). A reminder or a strong offer, or let "
    "them rest.",
    RFMSegment.NEED_ATTENTION: "Between the other groups: middling recency and frequency. Worth a nudge.",
    RFMSegment.PROSPECT: "No purchase yet: only views, searches or carts.",
}

# Badge tone per event type on the timeline (the type is printed too).
EVENT_TONES: dict[str, str] = {
    "purchase": "success",
    "refund": "danger",
    "add_to_cart": "info",
    "recommendation_click": "info",
    "review": "warning",
}

AFFINITY_KINDS: tuple[tuple[str, str], ...] = (
    ("category", "Categories"),
    ("brand", "Brands"),
    ("colour", "Colours"),
    ("price_band", "Price bands"),
)

SCORE_NAMES = {"r": "Recency", "f": "Frequency", "m": "Monetary"}


def rfm_label(value: str) -> str:
    return RFMSegment(value).label if value in RFMSegment.values else (value or "")


@dataclass(frozen=True)
class ChurnLevel:
    label: str
    tone: str
    percent: int


def churn_level(risk: float | None) -> ChurnLevel | None:
    """Low below a third, high from two thirds."""
    if risk is None:
        return None
    risk = min(max(float(risk), 0.0), 1.0)
    if risk < 1 / 3:
        return ChurnLevel("Low", "success", round(risk * 100))
    if risk < 2 / 3:
        return ChurnLevel("Medium", "warning", round(risk * 100))
    return ChurnLevel("High", "danger", round(risk * 100))


def _words(key: str) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
    if isinstance(value, dict):
        return ", ".join(f"{_words(k).lower()} {_value_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(v) for v in value)
    return "—" if value is None else str(value)


# Keys whose value is already a sentence, shown as written; "factors" is a list of such objects.
_SENTENCE_KEYS = ("summary", "text", "why", "reason")
_FACTOR_KEYS = ("factors", "reasons")


@dataclass(frozen=True)
class ExplanationSection:
    title: str  # "" for the top level
    sentences: list[str]  # what the worker wrote in words
    details: list[str]  # the remaining figures, "Key in words: value"


def _section(title: str, data: dict) -> ExplanationSection:
    sentences = [data[key] for key in _SENTENCE_KEYS if isinstance(data.get(key), str) and data[key]]
    details = []
    for key, value in data.items():
        if key in _SENTENCE_KEYS and isinstance(value, str):
            continue
        if key in _FACTOR_KEYS and isinstance(value, list):
            for factor in value:
                text = factor.get("text") if isinstance(factor, dict) else factor
                if text:
                    sentences.append(str(text) if isinstance(text, str) else _value_text(factor))
            continue
        if value is None or value == "none":
            continue
        text = value.replace("_", " ") if isinstance(value, str) else _value_text(value)
        details.append(f"{_words(key)}: {text}")
    return ExplanationSection(title=title, sentences=sentences, details=details)


def explanation_sections(explanation) -> list[ExplanationSection]:
    """The worker's explanation JSON in words: one section per nested object (its "summary"/"text" and the
    "text" of each of its "factors" as sentences, other keys as "Key: value" details), plus one untitled
    section for the top level's own keys. Anything that is not an object becomes one sentence."""
    if not explanation:
        return []
    if not isinstance(explanation, dict):
        return [ExplanationSection(title="", sentences=[_value_text(explanation)], details=[])]
    top = {key: value for key, value in explanation.items() if not (isinstance(value, dict) and value)}
    sections = [_section("", top)] if top else []
    sections += [
        _section(_words(key), value)
        for key, value in explanation.items()
        if isinstance(value, dict) and value
    ]
    return [section for section in sections if section.sentences or section.details]


def affinity_rows(affinities, kind: str, limit: int = 8) -> list[tuple[str, float]]:
    """(name, share) for one kind, largest first, at most `limit`; bad entries skipped."""
    values = (affinities or {}).get(kind) or {}
    if not isinstance(values, dict):
        return []
    rows = []
    for name, share in values.items():
        try:
            share = float(share)
        except (TypeError, ValueError):
            continue
        if share > 0:
            rows.append((str(name), share))
    rows.sort(key=lambda row: (-row[1], row[0].lower()))
    return rows[:limit]
