from django.contrib import admin
from django.db import models

from ml.models import Deployment, Job, ModelVersion, TrainingDataset


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "merchant", "purpose", "kind", "backend", "status", "parent", "created_at"]
    list_filter = ["merchant", "kind", "purpose", "status", "backend"]
    search_fields = ["name", "path", "merchant__name", "merchant__slug"]
    raw_id_fields = ["parent"]
    list_select_related = ["merchant", "parent"]
    readonly_fields = ["created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["merchant", "purpose", "version", "is_active", "promoted_by_label", "created_at", "rolled_back_at"]
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
    list_display = ["id", "merchant", "kind", "status", "progress_current", "progress_total", "created_by_label", "created_at"]
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
