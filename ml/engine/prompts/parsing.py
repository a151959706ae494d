"""Parsing the model's reply into the channel's fields (CHANNEL_FIELDS): labelled sections, chatter and
sign-offs dropped, text tidied and trimmed to the channel's limits."""

from __future__ import annotations

import re

from ..grounding import CHANNEL_FIELDS, CHANNEL_LIMITS, CHANNELS

_LABELS = {
    "title": "title",
    "product title": "title",
    "name": "title",
    "product name": "title",
    "headline": "title",
    "ad headline": "title",
    "ad": "title",
    "subject": "subject",
    "subject line": "subject",
    "email subject": "subject",
    "hashtags": "hashtags",
    "hashtag": "hashtags",
    "tags": "hashtags",
    "body": "body",
    "email body": "body",
    "email": "body",
    "message": "body",
    "sms": "body",
    "text message": "body",
    "sms message": "body",
    "text": "body",
    "description": "body",
    "product description": "body",
    "copy": "body",
    "content": "body",
    "post": "body",
    "caption": "body",
    "social post": "body",
    "social media post": "body",
    "tweet": "body",
}
_LABEL_RE = re.compile(
    r"^[ \t]*(?:[#>*_•-]+[ \t]*)*(?P<label>"
    + "|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True))
    + r")[ \t]*(?:\*\*|__|\*|_)?[ \t]*[:：](?:[ \t]*(?:\*\*|__))?[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_INLINE_LABEL = re.compile(r"(?<=\S)[ \t]+(?=(?:\*\*)?(?:Body|Hashtags|Tags|Message)(?:\*\*)?[ \t]*:)")
_END_OF_TURN = re.compile(
    r"<\|(?:im_end|endoftext|im_start|eot_id|end)\|>|</s>|\n\s*(?:user|human)\s*:", re.IGNORECASE
)
_CHATTER = re.compile(
    r"^\s*(?:sure|certainly|of course|absolutely|okay|ok|here is|here's|here are|below is|below are|i have|"
    r"i've|i hope|hope this|let me know|feel free|note:|please note|assistant\s*:)",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(r"(?i)^\s*(?:i hope|hope this|let me know|feel free|note:|please note|assistant\s*:)")
_META = re.compile(
    r"(?i)\b(?:description|e-?mail|post|sms|text message|headline|copy|version|message|subject|"
    r"caption|tweet|ad|options?)\b"
)
_GREETING = re.compile(r"(?i)^\s*(?:dear|hi|hello|hey)\b")
_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("«", "»")]
_DANGLING = {"and", "or", "with", "for", "the", "a", "an", "to", "of", "in", "on", "at", "your", "our", "&"}


def parse_copy_output(text: str, channel: str) -> dict[str, str]:
    """The channel's fields from a raw reply, tolerating missing labels, chatter, markdown and quotes.
    Subjects, SMS and ad headlines a little over their limit (up to a quarter) are cut at a word boundary;
    anything else over a limit is left for the grounding check to report."""
    if channel not in CHANNEL_FIELDS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    sections = _sections(_clean(text))
    fields = _assign(sections, channel)
    result = {}
    for name in CHANNEL_FIELDS[channel]:
        value = _tidy(fields.get(name, ""), single_line=name != "body" or channel in ("sms", "ad_headline"))
        if name == "hashtags":
            value = " ".join(_dedupe_tags(_hashtags_from(value)))
        result[name] = value
    if channel == "social_post":
        result["body"], trailing = _split_trailing_hashtags(result["body"])
        result["hashtags"] = " ".join(_dedupe_tags(result["hashtags"].split() + trailing))
    for name in ("subject", "body"):
        if name in result and (name == "subject" or channel in ("sms", "ad_headline")):
            result[name] = _trim(result[name], CHANNEL_LIMITS[channel][name]["max_chars"])
    return result


def _clean(text: str) -> str:
    text = str(text or "")
    end = _END_OF_TURN.search(text)
    if end and text[: end.start()].strip():
        text = text[: end.start()]
    text = re.sub(r"<\|[^|>\n]{1,40}\|>", "", text)
    text = re.sub(r"(?m)^\s*```\w*\s*$", "", text)
    text = _INLINE_LABEL.sub("\n", text)
    # Talk about the copy goes at the start, at the end, and on lines introducing another version; a line in
    # the middle of the copy stays even if it sounds like talk, so that its claims are still checked.
    lines = text.splitlines()
    while lines and (not lines[0].strip() or _is_chatter(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _is_chatter(lines[-1]) or _SIGN_OFF.match(lines[-1])):
        lines.pop()
    return "\n".join(line for line in lines if not (_is_chatter(line) and line.strip().endswith(":")))


def _is_chatter(line: str) -> bool:
    """ "Sure! Here is your email:" or "Let me know if ..." is talk about the copy; "Here's to summer!" is copy."""
    if _LABEL_RE.match(line) or not _CHATTER.match(line):
        return False
    stripped = line.strip()
    return (
        stripped.endswith(":")
        or bool(_SIGN_OFF.match(stripped) or _META.search(stripped))
        or bool(re.match(r"(?i)(?:sure|certainly|of course|absolutely|okay|ok)\b", stripped))
    )


def _sections(text: str) -> list[tuple[str | None, str]]:
    """(field or None, text) in order. A title or subject is one line; lines after it are unlabelled."""
    sections: list[tuple[str | None, list[str]]] = []
    for line in text.splitlines():
        m = _LABEL_RE.match(line)
        if m:
            sections.append((_LABELS[m.group("label").lower()], [line[m.end() :]]))
        elif sections and not (sections[-1][0] in ("title", "subject") and "".join(sections[-1][1]).strip()):
            sections[-1][1].append(line)
        elif line.strip() or sections:
            if sections and sections[-1][0] is None:
                sections[-1][1].append(line)
            else:
                sections.append((None, [line]))
    return [(label, "\n".join(lines).strip()) for label, lines in sections if "".join(lines).strip()]


def _assign(sections: list[tuple[str | None, str]], channel: str) -> dict[str, str]:
    labelled: dict[str, str] = {}
    for label, body in sections:
        if label is not None and label not in labelled:
            labelled[label] = body
    loose = "\n\n".join(body for label, body in sections if label is None)
    if channel in ("sms", "ad_headline"):
        order = ("body", "title", "subject") if channel == "sms" else ("title", "body", "subject")
        text = next((labelled[k] for k in order if labelled.get(k)), loose)
        if channel == "ad_headline":
            text = next((line for line in text.splitlines() if line.strip()), "")
        return {"body": text}
    wanted = CHANNEL_FIELDS[channel]
    heading = next((f for f in ("subject", "title") if f in wanted), None)
    fields = {"body": labelled.get("body", ""), "hashtags": labelled.get("hashtags", "")}
    if heading:
        fields[heading] = labelled.get(heading) or labelled.get(
            "title" if heading == "subject" else "subject", ""
        )
        if not fields[heading] and not fields["body"] and loose:
            # No labels at all: a short first line that is not a greeting (or, for a title, a sentence) heads it.
            first, _, rest = loose.partition("\n")
            limit = CHANNEL_LIMITS[channel][heading]["max_chars"]
            first_line = _tidy(first, single_line=True)
            if (
                rest.strip()
                and len(first_line) <= limit + 20
                and not _GREETING.match(first_line)
                and not (heading == "title" and first_line.endswith("."))
            ):
                fields[heading], loose = first, rest
    if not fields["body"]:
        fields["body"] = loose
    return fields


def _tidy(text: str, *, single_line: bool) -> str:
    text = re.sub(r"\[([^\]\n]+)\]\((?:https?://)?[^)\s]*\)", r"\1", text)  # markdown links
    text = re.sub(r"(?m)^[ \t]*#{1,6}[ \t]+", "", text)  # markdown headings (not #hashtags)
    text = re.sub(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])", "", text)
    text = re.sub(r"(?m)^[ \t]*[*•][ \t]+", "- ", text)
    if single_line:
        text = re.sub(r"\s+", " ", text)
    else:
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r"\n\s*\n+", "\n\n", text)
        text = "\n".join(line.strip() for line in text.split("\n"))
    text = text.strip()
    for left, right in _QUOTES:
        if len(text) > 1 and text.startswith(left) and text.endswith(right) and left not in text[1:-1]:
            text = text[1:-1].strip()
    return text


def _hashtags_from(text: str) -> list[str]:
    """ "#a #b", or "a, b c" without any # (each comma-separated entry becomes one tag)."""
    if "#" in text:
        return re.findall(r"#\w+", text)
    entries = re.split(r"[,;\n]+", text) if re.search(r"[,;\n]", text) else text.split()
    return [f"#{word}" for word in (re.sub(r"[^\w]", "", e) for e in entries) if word]


def _split_trailing_hashtags(body: str) -> tuple[str, list[str]]:
    m = re.search(r"(?:\s*#\w+)+\s*$", body)
    if not m or not body[: m.start()].strip():
        return body, []
    return body[: m.start()].rstrip(), re.findall(r"#\w+", m.group())


def _dedupe_tags(tags) -> list[str]:
    seen, result = set(), []
    for tag in tags:
        if tag.lower() not in seen:
            seen.add(tag.lower())
            result.append(tag)
    return result


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit or len(text) > limit * 1.25:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    words = cut.rstrip(" ,;:-–").split(" ")
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" ,;:-–")
