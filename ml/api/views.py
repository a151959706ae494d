from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.api.mixins import MerchantAPIMixin
from config.api_errors import Conflict
from config.api_schema import conflict
from ml.api.serializers import (
    DeploymentSerializer,
    FinetuneRequestSerializer,
    JobSerializer,
    ModelVersionSerializer,
    PromoteRequestSerializer,
    RollbackRequestSerializer,
    RolledBackToBaseSerializer,
)
from ml.models import TrainingDataset
from ml.selectors import job_get, job_list, model_version_get, model_version_list, serving_version
from ml.services import (
    PromotionRefused,
    finetune_start,
    job_cancel,
    training_dataset_create,
    version_promote,
    version_rollback,
)


class ModelVersionViewSet(MerchantAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The registry: global base models plus this merchant's fine-tuned versions."""

    scope_by_action = {"promote": "publish", "rollback": "publish"}

    serializer_class = ModelVersionSerializer
    filterset_fields = ["purpose", "kind", "status"]
    search_fields = ["name"]
    ordering_fields = ["created_at", "name"]

    def get_queryset(self):
        return model_version_list(merchant=self.merchant)

    def get_object(self):
        return model_version_get(merchant=self.merchant, version_id=self.kwargs["pk"])

    @extend_schema(
        request=FinetuneRequestSerializer,
        responses={
            202: JobSerializer,
            **conflict("No base model, or the start version cannot be fine-tuned."),
        },
    )
    @action(detail=False, methods=["post"], url_path="finetune")
    def finetune(self, request):
        body = FinetuneRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        purpose = data["purpose"]
        if data.get("start_from"):
            start_from = model_version_get(merchant=self.merchant, version_id=data["start_from"])
        else:
            start_from = serving_version(merchant=self.merchant, purpose=purpose)
        if start_from is None:
            raise Conflict("No base model is registered yet; run `manage.py ml_provision` first.")
        if refusal := start_from.training_refusal():
            raise Conflict(refusal)
        # The uploaded records and the job are written together: a failure leaves neither behind.
        with transaction.atomic():
            if data.get("dataset"):
                dataset = get_object_or_404(TrainingDataset, merchant=self.merchant, pk=data["dataset"])
            else:
                dataset = training_dataset_create(
                    merchant=self.merchant,
                    name=data.get("name") or "API upload",
                    purpose=purpose,
                    records=[dict(r) for r in data["records"]],
                    source="api",
                )
            job = finetune_start(
                merchant=self.merchant,
                actor=self.actor,
                purpose=purpose,
                start_from=start_from,
                dataset=dataset,
                hyperparameters=dict(data["hyperparameters"]),
                name=data.get("name", ""),
            )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=PromoteRequestSerializer,
        responses={
            200: DeploymentSerializer,
            **conflict("The promotion gate refused; `gate` has its report."),
        },
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        version = self.get_object()
        body = PromoteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        purpose = body.validated_data.get("purpose") or version.purpose
        if not purpose:
            raise ValidationError({"purpose": ["Required when promoting a base model."]})
        try:
            deployment = version_promote(
                merchant=self.merchant, version=version, purpose=purpose, actor=self.actor
            )
        except PromotionRefused as exc:
            return Response(
                {"message": str(exc), "code": "gate_refused", "gate": exc.gate},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(
        request=RollbackRequestSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="RollbackResult",
                serializers=[DeploymentSerializer, RolledBackToBaseSerializer],
                resource_type_field_name=None,
            ),
            **conflict("Nothing to roll back to."),
        },
    )
    @action(detail=False, methods=["post"])
    def rollback(self, request):
        body = RollbackRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            restored = version_rollback(
                merchant=self.merchant, purpose=body.validated_data["purpose"], actor=self.actor
            )
        except PromotionRefused as exc:
            return Response(
                {"message": str(exc), "code": "nothing_to_roll_back"}, status=status.HTTP_409_CONFLICT
            )
        if restored is None:
            return Response({"message": "Rolled back to the default base model.", "code": "rolled_back"})
        return Response(DeploymentSerializer(restored).data)


class JobViewSet(MerchantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Long-running jobs (fine-tuning, copy generation): status, progress, ETA, metrics, logs."""

    serializer_class = JobSerializer
    filterset_fields = ["kind", "status"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return job_list(merchant=self.merchant)

    def get_object(self):
        return job_get(merchant=self.merchant, job_id=self.kwargs["pk"])

    @extend_schema(request=None, responses={200: JobSerializer, **conflict("The job has already ended.")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = self.get_object()
        if not job.is_active:
            raise Conflict(f"Job {job.pk} is already {job.status}.")
        job_cancel(job=job, actor=self.actor)
        return Response(JobSerializer(job).data)
