"""Best of several drafts, sentence by sentence: copy built only from what the checker could verify.

A small model's draft is rarely clean as a whole, but most drafts hold a few clean sentences (a restated fact,
a line of generic praise). `assemble` takes the drafts written for one product (parsed fields, best first)
and builds one piece from their clean parts:

- a heading (title, subject) that is clean on its own, else, for a product description or an email, the
  product's own title (what the merchant named it), clipped to the channel's limit;
- the body: complete sentences that are clean on their own (no unsupported fact, unverified word,
  contradiction, placeholder, repetition or brand-voice breach), in draft order, without near-repeats
  (the same content words as a sentence already taken), up to the channel's length;
- hashtags that are clean on their own, at most the channel's number.

The result is checked as a whole again (`CopyChecker.check`); `assemble` returns None when it does not pass
(for example a description body shorter than the channel's minimum), and the caller keeps its best draft,
flagged for a person. Nothing is reworded: every sentence is one a draft wrote. `choose` picks, for one
try, the first draft that passes, else the assembled piece, else the draft with the fewest problems.
Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ml.engine.grounding import CHANNEL_FIELDS, CHANNEL_LIMITS, CopyChecker, GroundingReport, hashtag_list
from ml.engine.verification import split_sentences, trim_unfinished, unfinished

# The body a piece aims for: enough sentences to read well, well inside the channel's hard limit.
_BODY_TARGET_CHARS = {
    "product_description": 520,
    "email": 700,
    "sms": 160,
    "social_post": 240,
    "ad_headline": 40,
}
_HEADINGS = {"product_description": "title", "email": "subject"}
_MAX_HASHTAGS = 3


def assemble(
    drafts: Sequence[Mapping[str, str]], product: Mapping, *, channel: str, checker: CopyChecker
) -> dict[str, str] | None:
    if channel not in CHANNEL_FIELDS or not drafts:
        return None
    fields: dict[str, str] = {}
    heading = _HEADINGS.get(channel)
    if heading:
        fields[heading] = _heading(drafts, heading, product, channel, checker)
    fields["body"] = _body(drafts, channel, checker)
    if "hashtags" in CHANNEL_FIELDS[channel]:
        fields["hashtags"] = _hashtags(drafts, channel, checker)
    if not fields["body"]:
        return None
    report = checker.check(fields, channel=channel)
    return fields if report.passed else None


def _heading(drafts, name: str, product: Mapping, channel: str, checker: CopyChecker) -> str:
    limit = CHANNEL_LIMITS[channel][name]["max_chars"]
    for draft in drafts:
        text = (draft.get(name) or "").strip()
        if text and len(text) <= limit and checker.clean(text, name, channel):
            return text
    title = str(product.get("title") or "").strip()
    if len(title) > limit:
        title = title[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return title if checker.clean(title, name, channel) else ""


def _body(drafts, channel: str, checker: CopyChecker) -> str:
    target = _BODY_TARGET_CHARS[channel]
    hard = CHANNEL_LIMITS[channel]["body"]["max_chars"]
    taken: list[str] = []
    seen: list[set[str]] = []
    for draft in drafts:
        body = draft.get("body") or ""
        for start, end in split_sentences(body):
            sentence = re.sub(r"\s+", " ", body[start:end]).strip()
            if channel != "ad_headline" and unfinished(sentence, needs_full_stop=True):
                continue
            if len(sentence.split()) < 3 or not checker.clean(sentence, "body", channel):
                continue
            words = set(re.findall(r"[a-z]+", sentence.lower()))
            if any(len(words & other) >= 0.6 * min(len(words), len(other)) for other in seen):
                continue
            joined = " ".join([*taken, sentence])
            if len(joined) > min(target, hard):
                continue
            taken.append(sentence)
            seen.append(words)
    return " ".join(taken)


def _hashtags(drafts, channel: str, checker: CopyChecker) -> str:
    tags: list[str] = []
    for draft in drafts:
        for tag in hashtag_list(draft.get("hashtags") or ""):
            tag = tag if tag.startswith("#") else f"#{tag}"
            if tag.lower() in {t.lower() for t in tags}:
                continue
            if checker.clean(tag, "hashtags", channel):
                tags.append(tag)
            if len(tags) >= _MAX_HASHTAGS:
                return " ".join(tags)
    return " ".join(tags)


@dataclass
class Choice:
    """The piece chosen from one try's drafts: a draft as written (``index``) or one assembled from several."""

    fields: dict[str, str]
    report: GroundingReport
    index: int | None
    assembled: bool = False


def report_score(report: GroundingReport) -> tuple:
    """Higher is better: passing, then approvable, then fewer problems."""
    problems = (
        len(report.unsupported) + len(report.channel_violations) + len(report.degenerate) + len(report.banned)
    )
    return (report.passed, report.approvable, -problems)


def choose(
    candidates: Sequence[Mapping[str, str]],
    product: Mapping,
    *,
    channel: str,
    checker: CopyChecker,
    prompt: str = "",
) -> Choice | None:
    """The first draft that passes every check; else a piece assembled from the drafts' clean sentences when
    that passes; else the draft with the fewest problems (to be flagged). None when there are no drafts."""
    if not candidates:
        return None
    reports = [checker.check(c, channel=channel, prompt=prompt) for c in candidates]
    order = sorted(range(len(candidates)), key=lambda i: report_score(reports[i]), reverse=True)
    best = order[0]
    if reports[best].passed:
        return Choice(dict(candidates[best]), reports[best], best)
    fields = assemble([candidates[i] for i in order], product, channel=channel, checker=checker)
    if fields is not None:
        report = checker.check(fields, channel=channel, prompt=prompt)
        if report.passed:
            return Choice(fields, report, None, assembled=True)
    return Choice(dict(candidates[best]), reports[best], best)


def complete_sentences(fields: Mapping[str, str], channel: str) -> dict[str, str]:
    """A reply that ran out of tokens ends mid-sentence: its running text is cut back to the last complete
    sentence (a body with none is left empty, which the channel's required-field check then reports)."""
    if channel == "ad_headline":
        return dict(fields)
    return {name: trim_unfinished(text) if name == "body" else text for name, text in fields.items()}


def write_copy(
    generator,
    items: Sequence[tuple[Mapping, list[dict], CopyChecker]],
    *,
    channel: str,
    candidates: int,
    sampling: Mapping,
    seed_of,
    batch_size: int = 48,
) -> list[Choice | None]:
    """One piece per (product, prompt messages, checker): ``candidates`` sampled drafts each (seeds from
    ``seed_of(index, candidate)``), parsed, trimmed to complete sentences when cut by the token budget, and
    chosen by `choose`. What the copy model's evaluation and the benchmarks use; the copy studio's job runs
    the same steps with retries (marketing.generation)."""
    from ml.engine.generation import GenerationRequest
    from ml.engine.prompts import parse_copy_output

    requests = [
        GenerationRequest.chat(messages, seed=seed_of(i, j), **sampling)
        for i, (_, messages, _) in enumerate(items)
        for j in range(candidates)
    ]
    outputs = []
    for start in range(0, len(requests), batch_size):
        outputs += generator.generate(requests[start : start + batch_size])
    choices: list[Choice | None] = []
    for i, (product, messages, checker) in enumerate(items):
        drafts = []
        for result in outputs[i * candidates : (i + 1) * candidates]:
            fields = parse_copy_output(_CONTROL.sub("", result.text), channel)
            if result.finish_reason == "length":
                fields = complete_sentences(fields, channel)
            drafts.append({k: v for k, v in fields.items() if v})
        choices.append(
            choose(drafts, product, channel=channel, checker=checker, prompt=messages[-1]["content"])
        )
    return choices


# Control characters (NUL above all: PostgreSQL refuses it in text and JSON) are never copy.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
