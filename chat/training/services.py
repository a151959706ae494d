"""Chat fine-tuning, web side: turning dialogues and resolved conversations into training data, and starting full
and incremental fine-tuning jobs. Training runs in an `ml` worker (chat/training/worker.py) through the
registry's job path, so progress, cancel, resume, the promotion gate and rollback are the ones every model
version has. The dialogues and their splits: chat.training.dialogues."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor
from chat.models import ChatSettings, Conversation, Message, SupportDialogue
from chat.training.dialogues import content_hash, is_heldout, mask_turns
from marketing.selectors import brand_voice_get
from ml.engine.chat import build_system_prompt
from ml.engine.dialogues import Dialogue, dialogue_to_examples
from ml.engine.finetune.params import validate_finetune_params
from ml.models import Job, ModelVersion, Purpose
from ml.selectors import serving_version
from ml.services import finetune_start, training_dataset_create
from profiles.models import Customer

logger = logging.getLogger(__name__)


REPLAY_PER_NEW = 2
RUNNER = "chat.finetune"  # registered in chat.apps (ml.job_runners)
# 320 tokens hold the system rules, the latest customer turn and a typical support reply (Bitext's average is
# ~150 tokens); a longer example loses the start of its prompt first (see docs/benchmarks.md, Support chat).
HYPERPARAMETER_DEFAULTS = {
    "method": "lora",
    "epochs": 1,
    "max_seq_len": 320,
    "batch_size": 8,
    "learning_rate": 2e-4,
    "eval_every": 50,
    "checkpoint_every": 50,
    "early_stopping_patience": 3,
    "seed": 0,
}


class FinetuneRefused(Exception):
    """A chat fine-tune cannot start. ``conflict`` is the state (one already running, nothing new to train
    on, no model): answered 409; otherwise the request itself is invalid (400)."""

    def __init__(self, message: str, code: str, *, conflict: bool = False, field_errors: dict | None = None):
        super().__init__(message)
        self.message, self.code, self.conflict = message, code, conflict
        self.field_errors = field_errors or {}


# --- training data -----------------------------------------------------------------------------------------


def training_system_prompt(merchant: Merchant) -> str:
    """The system message training examples carry: the live bot's rules and brand voice (the knowledge it
    retrieves per turn is not part of an imported dialogue)."""
    chat_settings = ChatSettings.objects.filter(merchant=merchant).first()
    voice = brand_voice_get(merchant=merchant)
    return build_system_prompt(
        merchant_name=merchant.name,
        bot_name=chat_settings.bot_name
        if chat_settings
        else ChatSettings._meta.get_field("bot_name").default,
        brand_voice=voice.as_prompt_dict() if voice else None,
    )


def dialogue_examples(dialogues, *, system_prompt: str) -> list[dict]:
    examples = []
    for dialogue in dialogues:
        examples += dialogue_to_examples(
            Dialogue(turns=list(dialogue.turns), intent=dialogue.intent), system_prompt=system_prompt
        )
    return [{"prompt": list(e["prompt"]), "response": e["response"]} for e in examples]


def _chat_job_running(merchant: Merchant) -> Job | None:
    return Job.objects.filter(
        merchant=merchant, kind=Job.Kind.FINETUNE, params__purpose=Purpose.CHAT, status__in=Job.ACTIVE
    ).first()


def _hyperparameters(overrides: dict | None) -> dict:
    merged = {**HYPERPARAMETER_DEFAULTS, **(overrides or {})}
    errors = validate_finetune_params(merged)
    if errors:
        raise FinetuneRefused("Invalid hyperparameters.", "invalid_hyperparameters", field_errors=errors)
    return merged


def _start_from(merchant: Merchant) -> ModelVersion:
    version = serving_version(merchant=merchant, purpose=Purpose.CHAT)
    if version is None:
        raise FinetuneRefused(
            "No base model is registered yet; run `manage.py ml_provision` first.", "no_model", conflict=True
        )
    if refusal := version.training_refusal():
        raise FinetuneRefused(refusal, "not_trainable", conflict=True)
    return version


def _lock_and_check(merchant: Merchant) -> None:
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
    running = _chat_job_running(merchant)
    if running is not None:
        raise FinetuneRefused(
            f"Chat fine-tuning job {running.pk} is still {running.status}.", "already_running", conflict=True
        )


def _eval_datasets(merchant: Merchant, system_prompt: str) -> dict:
    """Snapshots of the held-out and regression examples, so a job's figures can be reproduced."""
    params = {}
    stamp = f"{timezone.now():%Y-%m-%d %H:%M}"
    limit = settings.CHAT_EVAL_MAX_DIALOGUES
    for split, key in (
        (SupportDialogue.Split.HELDOUT, "eval_dataset_id"),
        (SupportDialogue.Split.REGRESSION, "regression_dataset_id"),
    ):
        dialogues = SupportDialogue.objects.filter(merchant=merchant, split=split).order_by("content_hash")[
            :limit
        ]
        records = dialogue_examples(dialogues, system_prompt=system_prompt)
        if records:
            dataset = training_dataset_create(
                merchant=merchant,
                name=f"chat {split} {stamp}",
                purpose=Purpose.CHAT,
                records=records,
                source=f"chat:{split}",
            )
            params[key] = dataset.pk
        params[f"{split}_examples"] = len(records)
    return params


@transaction.atomic
def chat_finetune_start(
    *,
    merchant: Merchant,
    actor: Actor,
    hyperparameters: dict | None = None,
    name: str = "",
    auto_promote: bool = True,
) -> Job:
    """Fine-tune the serving chat model on every training dialogue, evaluated on the held-out ones."""
    hp = _hyperparameters(hyperparameters)
    _lock_and_check(merchant)
    start_from = _start_from(merchant)
    dialogues = list(SupportDialogue.objects.filter(merchant=merchant, split=SupportDialogue.Split.TRAIN))
    minimum = settings.CHAT_FINETUNE_MIN_DIALOGUES
    if len(dialogues) < minimum:
        raise FinetuneRefused(
            f"{len(dialogues)} training dialogue(s); at least {minimum} are needed. Import more support dialogues.",
            "too_few_dialogues",
        )
    system_prompt = training_system_prompt(merchant)
    records = dialogue_examples(dialogues, system_prompt=system_prompt)
    # Dialogues taken from conversations by an incremental run that never finished: learned from here.
    conversation_ids = list(
        Conversation.objects.filter(
            merchant=merchant,
            trained_in__isnull=True,
            pk__in=[d.conversation_id for d in dialogues if d.conversation_id],
        ).values_list("pk", flat=True)
    )
    return _finetune_queue(
        merchant=merchant,
        actor=actor,
        start_from=start_from,
        records=records,
        dataset_name=name or "chat dialogues",
        source="chat:dialogues",
        hyperparameters=hp,
        name=name,
        params={
            "mode": "full",
            "auto_promote": auto_promote,
            "train_dialogues": len(dialogues),
            "conversation_ids": conversation_ids,
            **_eval_datasets(merchant, system_prompt),
        },
    )


def _finetune_queue(
    *, merchant, actor, start_from, records, dataset_name, source, hyperparameters, name, params
) -> Job:
    """Store the training records and queue the chat runner's job on them (ml.services.finetune_start)."""
    dataset = training_dataset_create(
        merchant=merchant, name=dataset_name, purpose=Purpose.CHAT, records=records, source=source
    )
    return finetune_start(
        merchant=merchant,
        actor=actor,
        purpose=Purpose.CHAT,
        start_from=start_from,
        dataset=dataset,
        hyperparameters=hyperparameters,
        name=name,
        extra_params={"runner": RUNNER, **params},
    )


# --- incremental -------------------------------------------------------------------------------------------


def conversation_turns(messages) -> list[dict]:
    """A resolved conversation as dialogue turns: a staff correction replaces the bot reply it corrects,
    staff replies are agent turns, bot replies rated bad without a correction are dropped, and notices and
    unfinished replies are skipped. Consecutive turns of one side are joined; the dialogue starts with the
    shopper and ends with an agent reply (or is empty)."""
    turns: list[dict] = []
    for message in messages:
        if message.role == Message.Role.SHOPPER:
            role, text = "customer", message.text
        elif message.role == Message.Role.STAFF:
            role, text = "agent", message.text
        elif message.role == Message.Role.BOT and message.status == Message.Status.COMPLETE:
            if message.correction.strip():
                text = message.correction
            elif message.rating == -1:
                continue
            else:
                text = message.text
            role = "agent"
        else:
            continue
        text = text.strip()
        if not text:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["text"] += "\n" + text
        elif turns or role == "customer":
            turns.append({"role": role, "text": text})
    while turns and turns[-1]["role"] == "customer":
        turns.pop()
    return turns


def _new_conversations(merchant: Merchant) -> list[Conversation]:
    """Resolved conversations no version has learned from: corrected ones first, then the most recent."""
    corrected = Q(messages__role=Message.Role.BOT) & ~Q(messages__correction="")
    # Customers who refused profiling refused training on their data too (profiles.privacy).
    refused = Customer.objects.filter(merchant=merchant, consent_profiling=False).values("external_id")
    return list(
        Conversation.objects.filter(
            merchant=merchant, status=Conversation.Status.RESOLVED, trained_in__isnull=True
        )
        .exclude(customer_external_id__in=refused)
        .annotate(corrections=Count("messages", filter=corrected))
        .order_by("-corrections", "-resolved_at", "-id")[: settings.CHAT_INCREMENTAL_MAX_CONVERSATIONS]
    )


@dataclass
class Collected:
    dialogues: list[
        SupportDialogue
    ]  # one per usable conversation (new, or left by a run that did not finish)
    conversation_ids: list[int]  # every conversation to mark as learned from once a version is trained
    masked_counts: Counter


def incremental_collect(*, merchant: Merchant) -> Collected:
    """Turn resolved, untrained conversations into masked SupportDialogues (held out by the same hash rule as
    imports; never in the regression set, which stays fixed)."""
    conversations = _new_conversations(merchant)
    ids = [c.pk for c in conversations]
    messages: dict[int, list[Message]] = {pk: [] for pk in ids}
    for message in Message.objects.filter(conversation_id__in=ids).order_by("created_at", "id"):
        messages[message.conversation_id].append(message)
    linked = {
        d.conversation_id: d
        for d in SupportDialogue.objects.filter(merchant=merchant, conversation_id__in=ids)
    }
    collected = Collected([], [], Counter())
    pending: dict[str, SupportDialogue] = {}
    for conversation in conversations:
        if conversation.pk in linked:
            collected.dialogues.append(linked[conversation.pk])
            collected.conversation_ids.append(conversation.pk)
            continue
        turns = conversation_turns(messages[conversation.pk])
        if not turns:
            continue
        masked, counts = mask_turns(turns)
        collected.masked_counts.update(counts)
        collected.conversation_ids.append(conversation.pk)
        digest = content_hash(masked)
        pending.setdefault(
            digest,
            SupportDialogue(
                merchant=merchant,
                source=SupportDialogue.Source.CONVERSATION,
                conversation=conversation,
                turns=masked,
                split=SupportDialogue.Split.HELDOUT if is_heldout(digest) else SupportDialogue.Split.TRAIN,
                content_hash=digest,
            ),
        )
    held = set(
        SupportDialogue.objects.filter(merchant=merchant, content_hash__in=list(pending)).values_list(
            "content_hash", flat=True
        )
    )
    # A conversation that repeats a dialogue already held adds nothing new, but it has been seen.
    fresh = [d for digest, d in pending.items() if digest not in held]
    SupportDialogue.objects.bulk_create(fresh)
    collected.dialogues += fresh
    return collected


def replay_sample(*, merchant: Merchant, exclude: list[int], count: int, seed: str) -> list[SupportDialogue]:
    """Earlier training dialogues mixed in so the model does not forget what it knew (deterministic)."""
    pool = list(
        SupportDialogue.objects.filter(merchant=merchant, split=SupportDialogue.Split.TRAIN)
        .exclude(pk__in=exclude)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chosen = random.Random(seed).sample(pool, min(count, len(pool)))
    return list(SupportDialogue.objects.filter(pk__in=chosen).order_by("pk"))


@transaction.atomic
def chat_incremental_finetune_start(
    *,
    merchant: Merchant,
    actor: Actor,
    hyperparameters: dict | None = None,
    name: str = "",
    auto_promote: bool = True,
) -> Job:
    """Continue the serving chat model on resolved conversations it has not learned from, plus a replay
    sample of earlier training dialogues (REPLAY_PER_NEW per new one, capped). Refused (409, nothing
    written) when there is nothing new to train on."""
    hp = _hyperparameters(hyperparameters)
    _lock_and_check(merchant)
    start_from = _start_from(merchant)
    collected = incremental_collect(merchant=merchant)
    fresh = [d for d in collected.dialogues if d.split == SupportDialogue.Split.TRAIN]
    if not fresh:
        reason = (
            "No resolved conversation since the last chat version has a usable dialogue to train on."
            if not collected.dialogues
            else f"The {len(collected.dialogues)} new dialogue(s) all fall in the held-out split."
        )
        logger.info("Incremental chat fine-tuning skipped for merchant %s: %s", merchant.pk, reason)
        raise FinetuneRefused(reason, "nothing_new", conflict=True)
    wanted = min(
        max(REPLAY_PER_NEW * len(fresh), settings.CHAT_INCREMENTAL_MIN_EXAMPLES - len(fresh)),
        settings.CHAT_REPLAY_MAX_DIALOGUES,
    )
    replay = replay_sample(
        merchant=merchant,
        exclude=[d.pk for d in fresh],
        count=wanted,
        seed=f"{merchant.pk}:{sorted(d.pk for d in fresh)}",
    )
    system_prompt = training_system_prompt(merchant)
    records = dialogue_examples(fresh + replay, system_prompt=system_prompt)
    if len(records) < settings.CHAT_INCREMENTAL_MIN_EXAMPLES:
        raise FinetuneRefused(
            f"Only {len(records)} training example(s) ({len(fresh)} new dialogue(s), {len(replay)} earlier); at "
            f"least {settings.CHAT_INCREMENTAL_MIN_EXAMPLES} are needed.",
            "too_few_dialogues",
        )
    return _finetune_queue(
        merchant=merchant,
        actor=actor,
        start_from=start_from,
        records=records,
        dataset_name=name or "chat incremental",
        source="chat:incremental",
        hyperparameters=hp,
        name=name or "",
        params={
            "mode": "incremental",
            "auto_promote": auto_promote,
            "new_dialogues": len(fresh),
            "replay_dialogues": len(replay),
            "conversation_ids": collected.conversation_ids,
            "masked_counts": dict(collected.masked_counts),
            **_eval_datasets(merchant, system_prompt),
        },
    )


def incremental_candidates() -> list[int]:
    """Merchants with resolved conversations no version has learned from (for the beat task)."""
    return list(
        Conversation.objects.filter(status=Conversation.Status.RESOLVED, trained_in__isnull=True)
        .values_list("merchant_id", flat=True)
        .distinct()
        .order_by("merchant_id")
    )
