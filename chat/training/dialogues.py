"""Chat fine-tuning data: importing support dialogues (personal data masked before anything is stored) and each
merchant's fixed held-out and regression splits.

Splits are decided by a hash of the masked content, so the same dialogue always lands in the same split:
about 10% are held out (evaluated, never trained on). The first import of at least 4 dialogues also fixes a
regression set (5% of it, at least 20, at most a quarter) that never changes afterwards: a new version is
promoted only if its loss there is no worse than the serving version's."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count

from accounts.models import Merchant
from accounts.services import Actor, audit_record
from chat.models import DialogueImport, SupportDialogue
from ml.engine.dialogues import parse_dialogues
from ml.engine.pii import mask_pii

HELDOUT_PERCENT = 10
REGRESSION_FRACTION = 0.05
REGRESSION_MIN = 20


class DialogueImportError(Exception):
    """The upload as a whole cannot be imported; nothing was written."""

    def __init__(self, message: str, code: str = "invalid_file", errors: list | None = None):
        super().__init__(message)
        self.message, self.code, self.errors = message, code, errors or []


class DialogueImportTooLarge(DialogueImportError):
    def __init__(self, size: int, limit: int):
        super().__init__(
            f"The file is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.1f} MB.",
            code="payload_too_large",
        )


# --- dialogues ---------------------------------------------------------------------------------------------


def content_hash(turns: list[dict]) -> str:
    """The same conversation, whatever its spacing or case, has the same hash (per merchant: the dedupe key)."""
    normal = [[t["role"], " ".join(t["text"].split()).lower()] for t in turns]
    return hashlib.sha256(json.dumps(normal, ensure_ascii=False).encode()).hexdigest()


def _bucket(salt: str, digest: str) -> int:
    return int(hashlib.sha256(f"{salt}:{digest}".encode()).hexdigest()[:8], 16)


def is_heldout(digest: str) -> bool:
    return _bucket("heldout", digest) % 100 < HELDOUT_PERCENT


def regression_size(count: int) -> int:
    return min(max(math.ceil(REGRESSION_FRACTION * count), REGRESSION_MIN), count // 4)


def mask_turns(turns: list[dict]) -> tuple[list[dict], Counter]:
    counts: Counter = Counter()
    masked = []
    for turn in turns:
        result = mask_pii(turn["text"])
        counts.update(result.counts)
        masked.append({"role": turn["role"], "text": result.text})
    return masked, counts


@dataclass
class _Candidate:
    turns: list[dict]
    intent: str
    digest: str


def _assign_splits(candidates: list[_Candidate], *, choose_regression: bool) -> dict[str, str]:
    splits = {}
    if choose_regression:
        ranked = sorted(candidates, key=lambda c: _bucket("regression", c.digest))
        splits = {
            c.digest: SupportDialogue.Split.REGRESSION for c in ranked[: regression_size(len(candidates))]
        }
    for c in candidates:
        splits.setdefault(
            c.digest, SupportDialogue.Split.HELDOUT if is_heldout(c.digest) else SupportDialogue.Split.TRAIN
        )
    return splits


def dialogue_import(
    *, merchant: Merchant, actor: Actor, data: bytes, filename: str = "", format: str | None = None
) -> DialogueImport:
    """Import support dialogues (Bitext CSV, a generic turns format in CSV/JSON/JSONL). Every turn is masked
    before it is stored; dialogues already held (same masked content) are skipped. Bad rows are reported and
    the valid ones are written in one transaction; a file with nothing valid raises DialogueImportError."""
    limit = settings.CHAT_DIALOGUE_IMPORT_MAX_BYTES
    if len(data) > limit:
        raise DialogueImportTooLarge(len(data), limit)
    try:
        parsed = parse_dialogues(data, format=format, filename=filename)
    except ValueError as exc:
        raise DialogueImportError(str(exc)) from exc
    errors = [dict(e) for e in parsed.errors]
    counts: Counter = Counter()
    candidates: dict[str, _Candidate] = {}
    for dialogue in parsed.dialogues:
        turns, masked = mask_turns(dialogue.turns)
        counts.update(masked)
        digest = content_hash(turns)
        candidates.setdefault(digest, _Candidate(turns, (dialogue.intent or "")[:100], digest))
    if not candidates:
        message = "The file holds no valid dialogue." + (
            f" {len(errors)} row(s) were rejected." if errors else ""
        )
        raise DialogueImportError(message, code="no_valid_dialogues", errors=errors)

    with transaction.atomic():
        # One import at a time per merchant, so the first one alone picks the regression set.
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
        held = set(
            SupportDialogue.objects.filter(merchant=merchant, content_hash__in=list(candidates)).values_list(
                "content_hash", flat=True
            )
        )
        new = [c for digest, c in candidates.items() if digest not in held]
        first = not SupportDialogue.objects.filter(
            merchant=merchant, split=SupportDialogue.Split.REGRESSION
        ).exists()
        splits = _assign_splits(new, choose_regression=first and regression_size(len(new)) > 0)
        batch = DialogueImport.objects.create(
            merchant=merchant,
            filename=filename[:300],
            format=parsed.format or (format or ""),
            rows_total=len(parsed.dialogues) + len(errors),
            errors=errors,
            masked_counts=dict(sorted(counts.items())),
            created_by_label=actor.label[:200],
        )
        SupportDialogue.objects.bulk_create(
            [
                SupportDialogue(
                    merchant=merchant,
                    source=SupportDialogue.Source.IMPORT,
                    split=splits[c.digest],
                    turns=c.turns,
                    intent=c.intent,
                    import_batch=batch,
                    content_hash=c.digest,
                )
                for c in new
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        batch.rows_imported = SupportDialogue.objects.filter(import_batch=batch).count()
        batch.save(update_fields=["rows_imported"])
        audit_record(
            merchant=merchant,
            actor=actor,
            action="dialogues.import",
            obj=batch,
            summary=filename[:500],
            changes={
                "imported": batch.rows_imported,
                "duplicates": len(parsed.dialogues) - batch.rows_imported,
                "errors": len(errors),
                "masked": batch.masked_counts,
            },
        )
    return batch


def support_dialogue_list(*, merchant: Merchant, split: str | None = None):
    qs = SupportDialogue.objects.filter(merchant=merchant).order_by("-id")
    return qs.filter(split=split) if split else qs


def split_counts(*, merchant: Merchant) -> dict[str, int]:
    rows = SupportDialogue.objects.filter(merchant=merchant).values("split").annotate(n=Count("id"))
    counts = {split: 0 for split in SupportDialogue.Split.values}
    counts.update({row["split"]: row["n"] for row in rows})
    return counts
