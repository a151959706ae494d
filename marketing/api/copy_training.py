"""API for the copy model's fine-tuning on the merchant's catalog and approved pieces. Thin: the work is in
marketing.copy_training."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from config.api_errors import Conflict
from config.api_schema import ErrorSerializer
from marketing.copy_training import CopyFinetuneRefused, copy_finetune_start
from ml.api.serializers import JobSerializer


class CopyFinetuneRequestSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    auto_promote = serializers.BooleanField(
        default=True,
        help_text="Promote the new version if it beats the serving one on held-out products (held-out loss, "
        "approvable share, unsupported claims, fact coverage, ROUGE-L, chrF) and is worse on none.",
    )
    hyperparameters = serializers.DictField(
        required=False,
        help_text="Overrides of the fine-tuning settings (method, epochs, max_steps, learning_rate, ...).",
    )


class CopyFinetuneView(MerchantAPIMixin, APIView):
    required_scope = "write"
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Fine-tune the copy model on the merchant's catalog and approved pieces",
        description="Training pairs: each active product's facts (without its description) -> its description, "
        "and each approved or published piece's prompt -> its final text (edits included). Every tenth product is "
        "held out for the promotion gate.",
        request=CopyFinetuneRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Invalid hyperparameters or too few examples."),
            409: OpenApiResponse(ErrorSerializer, description="A copy fine-tune is running, or no model."),
        },
    )
    def post(self, request):
        body = CopyFinetuneRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            job = copy_finetune_start(
                merchant=self.merchant,
                actor=self.actor,
                hyperparameters=data.get("hyperparameters"),
                name=data.get("name", ""),
                auto_promote=data["auto_promote"],
                trigger="api",
            )
        except CopyFinetuneRefused as exc:
            if exc.conflict:
                raise Conflict(exc.message, code=exc.code) from exc
            field_errors = (
                {"hyperparameters": exc.field_errors}
                if exc.field_errors
                else {"non_field_errors": [exc.message]}
            )
            return Response(
                {"message": exc.message, "code": exc.code, "field_errors": field_errors},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
