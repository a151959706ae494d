from rest_framework import serializers

from ml.models import Deployment, Job, ModelVersion, Purpose

MIN_RECORDS = 10
MAX_RECORDS = 50_000


class ModelVersionSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Null for base models."
    )
    is_global = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "purpose",
            "kind",
            "backend",
            "status",
            "parent",
            "is_global",
            "training_data_summary",
            "metrics",
            "created_at",
        ]

    def get_is_global(self, obj) -> bool:
        return obj.merchant_id is None


class RolledBackToBaseSerializer(serializers.Serializer):
    """A rollback with no earlier promotion left: the merchant is served by the default base model again."""

    message = serializers.CharField()
    code = serializers.ChoiceField(choices=["rolled_back"])


class DeploymentSerializer(serializers.ModelSerializer):
    version = ModelVersionSerializer(read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "purpose", "version", "is_active", "gate_report", "promoted_by_label", "created_at"]


class JobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    result_version = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The version a fine-tune produced; null until it has."
    )
    base_version = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "params",
            "progress_current",
            "progress_total",
            "percent",
            "eta_seconds",
            "metrics",
            "logs",
            "error",
            "cancel_requested",
            "base_version",
            "result_version",
            "created_by_label",
            "created_at",
            "started_at",
            "finished_at",
        ]


class HyperparametersSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["lora", "full"], default="lora")
    epochs = serializers.IntegerField(min_value=1, max_value=20, default=1)
    max_steps = serializers.IntegerField(min_value=1, max_value=100_000, required=False, allow_null=True)
    learning_rate = serializers.FloatField(min_value=1e-7, max_value=1e-2, default=2e-4)
    batch_size = serializers.IntegerField(min_value=1, max_value=64, default=8)
    grad_accum_steps = serializers.IntegerField(min_value=1, max_value=64, default=1)
    max_seq_len = serializers.IntegerField(min_value=16, max_value=8192, default=256)
    lora_r = serializers.IntegerField(min_value=1, max_value=256, default=16)
    lora_alpha = serializers.IntegerField(min_value=1, max_value=1024, default=32)
    lora_dropout = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.0)
    eval_fraction = serializers.FloatField(min_value=0.05, max_value=0.5, default=0.1)
    early_stopping_patience = serializers.IntegerField(min_value=0, max_value=20, default=2)
    eval_every = serializers.IntegerField(
        min_value=0,
        max_value=100_000,
        default=50,
        help_text="Optimizer steps between held-out evaluations; 0 = only before and after.",
    )
    checkpoint_every = serializers.IntegerField(
        min_value=0,
        max_value=100_000,
        default=50,
        help_text="Optimizer steps between resumable checkpoints; 0 = none.",
    )
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=42)


class TrainingRecordSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=20_000, trim_whitespace=False)
    response = serializers.CharField(max_length=20_000, trim_whitespace=False)


class FinetuneRequestSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    start_from = serializers.IntegerField(
        required=False,
        help_text="Model version id to train from (base or a ready fine-tuned version). "
        "Defaults to the version currently serving this purpose.",
    )
    records = TrainingRecordSerializer(many=True, required=False)
    dataset = serializers.IntegerField(required=False, help_text="Id of a stored training dataset.")
    hyperparameters = HyperparametersSerializer(required=False)

    def validate_records(self, records):
        if len(records) > MAX_RECORDS:
            raise serializers.ValidationError(f"At most {MAX_RECORDS} records per request.")
        return records

    def validate(self, attrs):
        if bool(attrs.get("records")) == bool(attrs.get("dataset")):
            raise serializers.ValidationError(
                {"records": ["Give either `records` or `dataset`, not both or neither."]}
            )
        if "records" in attrs and len(attrs["records"]) < MIN_RECORDS:
            raise serializers.ValidationError(
                {
                    "records": [
                        f"At least {MIN_RECORDS} records are needed to train and hold some out for evaluation."
                    ]
                }
            )
        if "hyperparameters" not in attrs:
            defaults = HyperparametersSerializer(data={})
            defaults.is_valid(raise_exception=True)
            attrs["hyperparameters"] = dict(defaults.validated_data)
        return attrs


class PromoteRequestSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices, required=False)


class RollbackRequestSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
