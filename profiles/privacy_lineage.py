"""Which trained model versions learned from one customer's data, removing that data from the stored training
sets, and queueing a retrain of the models that still serve with it. Used by `profiles.privacy.customer_erase`.

What lineage exists (chat is the only purpose trained on shopper data today):
- `Conversation.trained_in`: the version whose fine-tuning first learned from a resolved conversation (set by the
  chat runner for the job's `params["conversation_ids"]`, full and incremental runs alike).
- A fine-tuning `Job` keeps its training records as a `TrainingDataset` (`params["dataset_id"]`) and its result
  version. A conversation's dialogue (`SupportDialogue`, masked) can reach later jobs without being named in
  their `conversation_ids`: every full fine-tune trains on all training dialogues, and incremental runs replay a
  sample of earlier ones. So the stored datasets are searched for the dialogue's own examples (the same
  `dialogue_to_examples` the chat trainer uses; the system message is ignored).
- A version fine-tuned from an affected version carries what its parent learned (`ModelVersion.parent`).
Not knowable: a dataset deleted since its job ran, and a dialogue that duplicated one already held (stored once,
under the first conversation). Held-out and regression snapshots are evaluated, not trained on: they are
redacted but do not make a version affected.

Retraining: a model that learned from the data keeps it in its weights, and continuing to train it (the chat
incremental sweep) would not remove it. So when the version serving a purpose is affected, a real fine-tuning
job is queued (`ml.services.finetune_start`, the purpose's own runner) from the nearest version above it that
did not learn from the data (normally the base model), on the union of the redacted training sets of the
versions in between, evaluated on the same (redacted) held-out and regression sets, with auto-promotion: the
promotion gate puts it in service once it beats its starting point. Affected versions that do not serve are
listed in the erasure record and left as they are."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from accounts.models import Merchant
from accounts.services import Actor
from chat.models import Conversation, SupportDialogue
from ml.engine.dialogues import dialogue_to_examples
from ml.models import Job, ModelVersion, TrainingDataset
from ml.selectors import serving_version
from ml.services import FinetuneRefused, finetune_start, training_dataset_create

# Job parameters that describe the data of the run they were recorded for, not how to train: not copied into a
# retraining job.
_RUN_FIGURES = {
    "dataset_id",
    "purpose",
    "hyperparameters",
    "name",
    "train_dialogues",
    "new_dialogues",
    "replay_dialogues",
    "masked_counts",
    "conversation_ids",
}


@dataclass
class Lineage:
    versions: dict[int, list[str]] = field(default_factory=dict)  # version id -> how it used the data
    running_jobs: list[int] = field(default_factory=list)  # jobs that read the data and have not finished
    redacted_records: int = 0

    def add(self, version_id: int, how: str) -> None:
        reasons = self.versions.setdefault(version_id, [])
        if how not in reasons:
            reasons.append(how)

    def describe(self) -> list[dict]:
        """The affected versions as stored in ErasureRecord.model_versions (no personal data)."""
        rows = ModelVersion.objects.filter(pk__in=list(self.versions)).order_by("pk")
        described = [
            {"id": v.pk, "name": v.name, "purpose": v.purpose, "status": v.status, "how": self.versions[v.pk]}
            for v in rows
        ]
        for job in Job.objects.filter(pk__in=self.running_jobs).order_by("pk"):
            described.append(
                {
                    "id": None,
                    "name": f"job {job.pk} (training when erased)",
                    "purpose": job.params.get("purpose", ""),
                    "status": job.status,
                    "how": ["read the data before the erasure; the version it produces will carry it"],
                }
            )
        return described


def _record_key(prompt, response) -> str | None:
    if not isinstance(prompt, list):
        return None
    turns = [
        [m.get("role"), m.get("content")] for m in prompt if isinstance(m, dict) and m.get("role") != "system"
    ]
    return json.dumps([turns, response], ensure_ascii=False)


def dialogue_keys(dialogues) -> set[str]:
    """The training examples these dialogues become, as comparable keys."""
    keys = set()
    for dialogue in dialogues:
        for example in dialogue_to_examples(dialogue.turns):
            keys.add(_record_key(example["prompt"], example["response"]))
    return keys


def _redact_datasets(*, merchant: Merchant, keys: set[str], since: datetime, lineage: Lineage) -> set[int]:
    """Remove the examples from every dataset stored since the data existed; the ids of those that had any."""
    touched = set()
    if not keys:
        return touched
    datasets = TrainingDataset.objects.filter(merchant=merchant, created_at__gte=since).order_by("pk")
    for dataset in datasets.iterator(chunk_size=20):
        records = dataset.records if isinstance(dataset.records, list) else []
        kept = [
            r
            for r in records
            if not (isinstance(r, dict) and _record_key(r.get("prompt"), r.get("response")) in keys)
        ]
        if len(kept) != len(records):
            touched.add(dataset.pk)
            lineage.redacted_records += len(records) - len(kept)
            TrainingDataset.objects.filter(pk=dataset.pk).update(records=kept, record_count=len(kept))
    return touched


def _add_descendants(lineage: Lineage) -> None:
    frontier = set(lineage.versions)
    names = dict(ModelVersion.objects.filter(pk__in=frontier).values_list("pk", "name"))
    while frontier:
        children = ModelVersion.objects.filter(parent_id__in=frontier).values_list("pk", "name", "parent_id")
        frontier = set()
        for pk, name, parent_id in children:
            if pk not in lineage.versions:
                frontier.add(pk)
            lineage.add(pk, f"fine-tuned from {names.get(parent_id, parent_id)}")
            names[pk] = name


def training_lineage(*, merchant: Merchant, conversations: list[Conversation]) -> Lineage:
    """Find the versions that learned from these conversations and redact their examples from the stored
    datasets (the search needs the examples, so it runs before the dialogues are deleted)."""
    lineage = Lineage()
    if not conversations:
        return lineage
    conversation_ids = {c.pk for c in conversations}
    since = min(c.created_at for c in conversations)
    for conversation in conversations:
        if conversation.trained_in_id:
            lineage.add(conversation.trained_in_id, f"learned from conversation {conversation.pk}")
    dialogues = SupportDialogue.objects.filter(merchant=merchant, conversation_id__in=conversation_ids)
    hit_datasets = _redact_datasets(
        merchant=merchant, keys=dialogue_keys(dialogues), since=since, lineage=lineage
    )
    jobs = Job.objects.filter(merchant=merchant, kind=Job.Kind.FINETUNE, created_at__gte=since).order_by("pk")
    for job in jobs:
        named = conversation_ids & set(job.params.get("conversation_ids") or [])
        in_data = job.params.get("dataset_id") in hit_datasets
        if not (named or in_data):
            continue
        if job.result_version_id:
            lineage.add(job.result_version_id, f"trained by job {job.pk} on the customer's dialogues")
        elif job.status == Job.Status.RUNNING:
            lineage.running_jobs.append(job.pk)
    _add_descendants(lineage)
    return lineage


def _chain_to_clean(
    serving: ModelVersion, affected: set[int]
) -> tuple[list[ModelVersion], ModelVersion | None]:
    """The affected versions from the serving one up to (not including) the first that is not affected."""
    chain, version = [], serving
    while version is not None and version.pk in affected:
        chain.append(version)
        version = version.parent
    return chain, version


def _retrain_records(chain: list[ModelVersion], jobs: dict[int, Job]) -> list[dict] | str:
    """The (already redacted) training records of every version in the chain, oldest first, without
    duplicates; or why they cannot be had."""
    records, seen = [], set()
    for version in reversed(chain):
        job = jobs.get(version.pk)
        if job is None:
            return f"No training job is recorded for version {version.name}."
        dataset = TrainingDataset.objects.filter(
            pk=job.params.get("dataset_id"), merchant=job.merchant
        ).first()
        if dataset is None:
            return f"The training data of version {version.name} is no longer stored."
        for record in dataset.records:
            key = json.dumps(record, sort_keys=True, ensure_ascii=False)
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def _queued_retrain(merchant: Merchant, purpose: str) -> Job | None:
    """A retraining job an earlier erasure queued that has not started: its dataset was redacted in place."""
    return Job.objects.filter(
        merchant=merchant,
        kind=Job.Kind.FINETUNE,
        status=Job.Status.QUEUED,
        params__purpose=purpose,
        params__erasure_retrain=True,
    ).first()


def _retrain_one(*, merchant: Merchant, actor: Actor, purpose: str, affected: set[int]) -> dict | None:
    serving = serving_version(merchant=merchant, purpose=purpose)
    if serving is None or serving.pk not in affected:
        return None  # the data is not in the model in service
    entry = {"purpose": purpose, "replaces": serving.name, "job_id": None}
    existing = _queued_retrain(merchant, purpose)
    if existing is not None:
        return {**entry, "status": "queued", "job_id": existing.pk, "note": "joined a retrain already queued"}
    chain, clean = _chain_to_clean(serving, affected)
    if clean is None or clean.training_refusal():
        reason = clean.training_refusal() if clean else "Every version above it learned from the data."
        return {**entry, "status": "not_possible", "reason": reason}
    jobs = {
        j.result_version_id: j
        for j in Job.objects.filter(
            merchant=merchant, kind=Job.Kind.FINETUNE, result_version__in=[v.pk for v in chain]
        )
    }
    records = _retrain_records(chain, jobs)
    if isinstance(records, str) or not records:
        return {**entry, "status": "not_possible", "reason": records or "Nothing is left to train on."}
    latest = jobs[serving.pk]
    params = {k: v for k, v in latest.params.items() if k not in _RUN_FIGURES}
    params.update(
        mode="retrain",
        auto_promote=True,
        conversation_ids=[],
        erasure_retrain=True,
        replaces_version_id=serving.pk,
    )
    dataset = training_dataset_create(
        merchant=merchant,
        name=f"{purpose} retrain after erasure",
        purpose=purpose,
        records=records,
        source="privacy:retrain",
    )
    try:
        job = finetune_start(
            merchant=merchant,
            actor=actor,
            purpose=purpose,
            start_from=clean,
            dataset=dataset,
            hyperparameters=dict(latest.params.get("hyperparameters") or {}),
            name=f"{purpose}-retrain-{timezone.now():%Y%m%d-%H%M}",
            extra_params=params,
        )
    except (FinetuneRefused, ValueError) as exc:
        dataset.delete()
        return {**entry, "status": "not_possible", "reason": str(exc)}
    return {**entry, "status": "queued", "job_id": job.pk, "start_from": clean.name, "records": len(records)}


def queue_retraining(*, merchant: Merchant, actor: Actor, lineage: Lineage) -> list[dict]:
    """For each purpose whose serving version learned from the data: a retraining job (or why there is none)."""
    affected = set(lineage.versions)
    purposes = sorted(
        set(
            ModelVersion.objects.filter(pk__in=affected).exclude(purpose="").values_list("purpose", flat=True)
        )
    )
    entries = [_retrain_one(merchant=merchant, actor=actor, purpose=p, affected=affected) for p in purposes]
    return [e for e in entries if e is not None]
