from django import forms
from django.contrib import admin

from ml.engine.checkpoints import validate_adapter_dir, validate_checkpoint_dir
from ml.engine.errors import InvalidCheckpoint
from ml.models import Deployment, Job, ModelVersion, TrainingDataset
from storyfront.validators import validate_outbound_url


class ModelVersionForm(forms.ModelForm):
    endpoint_url = forms.URLField(required=False, assume_scheme="https", validators=[validate_outbound_url])

    class Meta:
        model = ModelVersion
        fields = "__all__"

    def clean(self):
        data = super().clean()
        if data.get("backend") != ModelVersion.Backend.LOCAL_HF or not data.get("path"):
            return data
        check = (
            validate_adapter_dir if data.get("kind") == ModelVersion.Kind.LORA else validate_checkpoint_dir
        )
        try:
            check(data["path"])
        except InvalidCheckpoint as exc:
            self.add_error("path", str(exc))
        return data


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    form = ModelVersionForm
    list_display = ["name", "merchant", "purpose", "kind", "backend", "status", "parent", "created_at"]
    list_filter = ["merchant", "kind", "purpose", "status", "backend"]
    search_fields = ["name", "path", "merchant__name", "merchant__slug"]
    raw_id_fields = ["parent"]
    list_select_related = ["merchant", "parent"]
    readonly_fields = ["created_at"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = [
        "merchant",
        "purpose",
        "version",
        "is_active",
        "promoted_by_label",
        "created_at",
        "rolled_back_at",
    ]
    list_filter = ["merchant", "purpose", "is_active"]
    search_fields = ["merchant__name", "merchant__slug", "version__name"]
    list_select_related = ["merchant", "version"]

    # Deployments change only through promotion and rollback, which enforce the gate and audit.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "merchant",
        "kind",
        "status",
        "progress_current",
        "progress_total",
        "created_by_label",
        "created_at",
    ]
    list_filter = ["merchant", "kind", "status"]
    search_fields = ["id", "merchant__name", "merchant__slug", "error", "celery_task_id"]
    list_select_related = ["merchant"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(TrainingDataset)
class TrainingDatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "merchant", "purpose", "record_count", "source", "created_at"]
    list_filter = ["merchant", "purpose", "source"]
    search_fields = ["name", "merchant__name", "merchant__slug"]
    exclude = ["records"]
    readonly_fields = ["record_count", "created_at"]
