"""Model registry and jobs. Base models are global (merchant is null); fine-tuned versions belong to a
merchant. Which version serves a merchant's copy or chat is a `Deployment`, so rollback is re-activating
the previous deployment and a shared base model can be live for many merchants at once."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Merchant


class Purpose(models.TextChoices):
    COPY = "copy", "Marketing copy"
    CHAT = "chat", "Support chat"


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        BASE = "base", "Base model"
        LORA = "lora", "LoRA adapter"
        FULL = "full", "Full fine-tune"

    class Backend(models.TextChoices):
        LOCAL_HF = "local_hf", "Local Hugging Face checkpoint"
        OPENAI = "openai", "OpenAI-compatible endpoint"

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        PROMOTED = "promoted", "Promoted"
        FAILED = "failed", "Failed"
        ARCHIVED = "archived", "Archived"

    merchant = models.ForeignKey(
        Merchant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="model_versions",
        help_text="Empty for global base models.",
    )
    name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.LOCAL_HF)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(
        max_length=1000, blank=True, help_text="Checkpoint dir (base/full) or adapter dir."
    )
    endpoint_url = models.URLField(blank=True)
    endpoint_model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    training_data_summary = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(merchant__isnull=True), name="uniq_base_model_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def base(self) -> "ModelVersion":
        version = self
        while version.parent_id is not None:
            version = version.parent
        return version

    TRAINABLE_STATUSES = ("ready", "promoted")

    @classmethod
    def trainable_filter(cls) -> Q:
        """The versions a fine-tune may start from, as a queryset filter (the choice lists use it)."""
        return Q(status__in=cls.TRAINABLE_STATUSES, backend=cls.Backend.LOCAL_HF)

    def training_refusal(self) -> str | None:
        """Why a fine-tune cannot start from this version, or None when it can: the one rule every way of
        starting one (dashboard form, API, chat and copy fine-tunes, ml.services.finetune_start) applies."""
        if self.backend != self.Backend.LOCAL_HF:
            return "Only local Hugging Face models can be fine-tuned here; this version is an HTTP endpoint."
        if self.status not in self.TRAINABLE_STATUSES:
            return f"Version {self.pk} is {self.status}; train from a ready version."
        return None


class Deployment(models.Model):
    """The version serving a merchant's purpose. Exactly one active row per (merchant, purpose)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="deployments")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    is_active = models.BooleanField(default=True)
    gate_report = models.JSONField(default=dict, blank=True)
    promoted_by_label = models.CharField(max_length=200, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "purpose"], condition=Q(is_active=True), name="uniq_active_deployment"
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.is_active else "inactive"
        return f"{self.purpose} deployment of version {self.version_id} ({state})"


class Job(models.Model):
    """A long-running unit of work on a Celery queue, with live progress the dashboard and API poll."""

    class Kind(models.TextChoices):
        FINETUNE = "finetune", "Fine-tuning"
        GENERATE = "generate", "Copy generation"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    progress_current = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    logs = models.TextField(blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    base_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_by"
    )
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == self.Status.SUCCEEDED else 0
        return min(100, round(100 * self.progress_current / self.progress_total))

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class TrainingDataset(models.Model):
    """(prompt, response) pairs a merchant uploaded or Storyfront collected (approved copy, resolved chats)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="training_datasets")
    name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    records = models.JSONField(default=list, help_text='[{"prompt": ..., "response": ...}, ...]')
    record_count = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.record_count} records)"
