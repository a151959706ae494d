"""Serializers of the chat training API: dialogue uploads and their reports, support dialogues, fine-tune
requests."""

from rest_framework import serializers

from chat.models import DialogueImport, SupportDialogue


class DialogueImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(required=False, allow_blank=True, max_length=32)


class DialogueImportQuerySerializer(serializers.Serializer):
    format = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="Overrides detection from the file name and content: `bitext`, `turns_csv` or `turns_jsonl`.",
    )
    filename = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)


class DialogueImportSerializer(serializers.ModelSerializer):
    duplicates = serializers.SerializerMethodField(help_text="Valid dialogues already held, skipped.")
    splits = serializers.SerializerMethodField(
        help_text="How many of this upload's dialogues went to each split."
    )

    class Meta:
        model = DialogueImport
        fields = (
            "id",
            "filename",
            "format",
            "rows_total",
            "rows_imported",
            "duplicates",
            "errors",
            "masked_counts",
            "splits",
            "created_by_label",
            "created_at",
        )

    def get_duplicates(self, obj) -> int:
        return obj.rows_total - len(obj.errors) - obj.rows_imported

    def get_splits(self, obj) -> dict[str, int]:
        counts = {split: 0 for split in SupportDialogue.Split.values}
        for split in obj.dialogues.values_list("split", flat=True):
            counts[split] += 1
        return counts


class SupportDialogueSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportDialogue
        fields = ("id", "source", "split", "intent", "turns", "import_batch", "conversation", "created_at")


class ChatFinetuneRequestSerializer(serializers.Serializer):
    incremental = serializers.BooleanField(
        default=False,
        help_text="Continue the serving model on resolved conversations not trained on yet, with a replay sample "
        "of earlier dialogues; otherwise train on every training dialogue.",
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    auto_promote = serializers.BooleanField(
        default=True, help_text="Promote the new version if it passes the held-out and regression-set gate."
    )
    hyperparameters = serializers.DictField(
        required=False,
        help_text="Overrides of the fine-tuning settings (method, epochs, max_steps, learning_rate, ...).",
    )
