"""The copy model learns the merchant's voice: web side of copy fine-tuning (no torch here).

A copy fine-tune LoRA-trains the merchant's serving copy model on what the merchant wrote themselves:
- their catalog: (the product's facts without its description -> their own description), for every active
  product with a description (`ml.engine.copy_training.catalog_example`);
- their approved and published pieces: (the piece's prompt -> its final text); a person's edit is the text
  that was approved, so edits are learned as written.
Held out: every tenth product (by id), at most COPY_EVAL_MAX_PRODUCTS, with its pieces. The worker
(`marketing.copy_training_worker`) evaluates the starting model and the new one on those products with the
copy studio's own generation and checks, and the registry's gate promotes the new version only if it is at
least as good on every count and better on one (see ml.services.promotion_gate).

Celery beat runs `copy_learning_sweep` daily: a merchant with at least COPY_FINETUNE_MIN_NEW_PIECES pieces
approved since their last copy fine-tune (and none running) gets a new one, so approvals and edits feed the
model without anyone asking.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q

from accounts.models import Merchant
from accounts.services import Actor
from catalog.models import Product
from marketing.models import ContentPiece, ContentRevision
from marketing.selectors import brand_voice_get, product_facts
from ml.engine.copy_training import catalog_example, piece_example
from ml.engine.finetune.params import validate_finetune_params
from ml.models import Job, Purpose
from ml.selectors import serving_version
from ml.services import finetune_start, training_dataset_create

logger = logging.getLogger(__name__)

RUNNER = "copy.finetune"  # registered in marketing.apps (ml.job_runners)
HELDOUT_MODULO = 10
LEARNED_STATUSES = (ContentPiece.Status.APPROVED, ContentPiece.Status.PUBLISHED)
# A catalog pair is ~450 tokens with the prompt's rules and worked example; 640 keeps the whole description.
HYPERPARAMETER_DEFAULTS = {
    "method": "lora",
    "epochs": 1,
    "max_steps": 60,
    "max_seq_len": 640,
    "batch_size": 8,
    "learning_rate": 3e-4,
    "eval_every": 0,
    "checkpoint_every": 20,
    "early_stopping_patience": 0,
    "seed": 0,
}


class CopyFinetuneRefused(Exception):
    """A copy fine-tune cannot start. ``conflict`` is the state (one running, no model): 409; else 400."""

    def __init__(self, message: str, code: str, *, conflict: bool = False, field_errors: dict | None = None):
        super().__init__(message)
        self.message, self.code, self.conflict = message, code, conflict
        self.field_errors = field_errors or {}


def copy_job_running(*, merchant: Merchant) -> Job | None:
    return Job.objects.filter(
        merchant=merchant, kind=Job.Kind.FINETUNE, params__purpose=Purpose.COPY, status__in=Job.ACTIVE
    ).first()


def is_heldout(product_id: int) -> bool:
    return product_id % HELDOUT_MODULO == 0


def copy_training_data(*, merchant: Merchant) -> dict:
    """The records a copy fine-tune would train and evaluate on, and where they come from."""
    voice = brand_voice_get(merchant=merchant)
    voice_dict = voice.as_prompt_dict() if voice else None
    products = list(
        Product.objects.filter(merchant=merchant, is_active=True)
        .exclude(description="")
        .select_related("category")
        .order_by("id")[: settings.COPY_FINETUNE_MAX_PRODUCTS]
    )
    train, heldout_records, heldout_ids = [], [], []
    for product in products:
        record = catalog_example(product_facts(product), brand_voice=voice_dict)
        if record is None:
            continue
        if is_heldout(product.pk) and len(heldout_ids) < settings.COPY_EVAL_MAX_PRODUCTS:
            heldout_records.append(record)
            heldout_ids.append(product.pk)
        elif not is_heldout(product.pk):
            train.append(record)
    catalog_pairs = len(train)
    pieces = (
        ContentPiece.objects.filter(merchant=merchant, status__in=LEARNED_STATUSES)
        .select_related("campaign")
        .annotate(was_edited=Exists(ContentRevision.objects.filter(piece=OuterRef("pk"), kind="edit")))
        .order_by("-updated_at")[: settings.COPY_FINETUNE_MAX_PIECES]
    )
    piece_ids, edited = [], 0
    for piece in pieces:
        if is_heldout(piece.product_id):
            continue
        try:
            messages = json.loads(piece.prompt or "[]")
        except ValueError:
            continue
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            continue
        record = piece_example(messages, piece.fields(), piece.campaign.channel)
        if record is None:
            continue
        train.append(record)
        piece_ids.append(piece.pk)
        edited += piece.was_edited
    return {
        "records": train,
        "eval_records": heldout_records,
        "eval_product_ids": heldout_ids,
        "catalog_pairs": catalog_pairs,
        "piece_pairs": len(piece_ids),
        "edited_pieces": edited,
        "piece_ids": piece_ids,
    }


@transaction.atomic
def copy_finetune_start(
    *,
    merchant: Merchant,
    actor: Actor,
    hyperparameters: dict | None = None,
    name: str = "",
    auto_promote: bool = True,
    trigger: str = "manual",
) -> Job:
    """Queue a copy fine-tune of the merchant's serving copy model on their catalog and approved pieces."""
    hp = {**HYPERPARAMETER_DEFAULTS, **(hyperparameters or {})}
    errors = validate_finetune_params(hp)
    if errors:
        raise CopyFinetuneRefused("Invalid hyperparameters.", "invalid_hyperparameters", field_errors=errors)
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
    running = copy_job_running(merchant=merchant)
    if running is not None:
        raise CopyFinetuneRefused(
            f"Copy fine-tuning job {running.pk} is still {running.status}.", "already_running", conflict=True
        )
    start_from = serving_version(merchant=merchant, purpose=Purpose.COPY)
    if start_from is None:
        raise CopyFinetuneRefused(
            "No base model is registered yet; run `manage.py ml_provision` first.", "no_model", conflict=True
        )
    if refusal := start_from.training_refusal():
        raise CopyFinetuneRefused(refusal, "not_trainable", conflict=True)
    data = copy_training_data(merchant=merchant)
    minimum = settings.COPY_FINETUNE_MIN_EXAMPLES
    if len(data["records"]) < minimum or not data["eval_records"]:
        raise CopyFinetuneRefused(
            f"{len(data['records'])} training example(s) and {len(data['eval_records'])} held-out product(s); "
            f"at least {minimum} examples (products with a description, or approved pieces) and one held-out "
            "product are needed. Import descriptions or approve more copy.",
            "too_few_examples",
        )
    stamp = name or "copy"
    dataset = training_dataset_create(
        merchant=merchant,
        name=f"{stamp} training",
        purpose=Purpose.COPY,
        records=data["records"],
        source="copy:catalog+pieces",
    )
    eval_dataset = training_dataset_create(
        merchant=merchant,
        name=f"{stamp} held-out",
        purpose=Purpose.COPY,
        records=data["eval_records"],
        source="copy:heldout-catalog",
    )
    return finetune_start(
        merchant=merchant,
        actor=actor,
        purpose=Purpose.COPY,
        start_from=start_from,
        dataset=dataset,
        hyperparameters=hp,
        name=name,
        extra_params={
            "runner": RUNNER,
            "auto_promote": auto_promote,
            "trigger": trigger,
            "eval_dataset_id": eval_dataset.pk,
            "eval_product_ids": data["eval_product_ids"],
            "catalog_pairs": data["catalog_pairs"],
            "piece_pairs": data["piece_pairs"],
            "edited_pieces": data["edited_pieces"],
            "piece_ids": data["piece_ids"],
        },
    )


def new_approvals_since_last_run(*, merchant: Merchant) -> int:
    """Pieces approved or published since the merchant's last copy fine-tune was queued."""
    last = Job.objects.filter(
        merchant=merchant, kind=Job.Kind.FINETUNE, params__purpose=Purpose.COPY
    ).aggregate(at=Max("created_at"))["at"]
    pieces = ContentPiece.objects.filter(merchant=merchant, status__in=LEARNED_STATUSES)
    if last is not None:
        pieces = pieces.filter(Q(updated_at__gt=last))
    return pieces.count()


def copy_learning_sweep(*, minimum: int | None = None) -> list[int]:
    """Start a copy fine-tune for every merchant with enough new approvals (Celery beat, daily)."""
    minimum = settings.COPY_FINETUNE_MIN_NEW_PIECES if minimum is None else minimum
    started = []
    merchant_ids = (
        ContentPiece.objects.filter(status__in=LEARNED_STATUSES)
        .values_list("merchant_id", flat=True)
        .distinct()
    )
    for merchant in Merchant.objects.filter(pk__in=list(merchant_ids)):
        if new_approvals_since_last_run(merchant=merchant) < minimum or copy_job_running(merchant=merchant):
            continue
        try:
            job = copy_finetune_start(
                merchant=merchant, actor=Actor.system("copy-learning"), trigger="schedule"
            )
        except CopyFinetuneRefused as exc:
            logger.info("Copy learning for %s skipped: %s", merchant.slug, exc.message)
            continue
        started.append(job.pk)
    return started
