"""API for the chat model's training data and fine-tuning: import support dialogues, list them, start a full or
incremental chat fine-tune. Views are thin: chat.training does the work."""

from django.conf import settings
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from catalog.api.serializers import APIErrorSerializer
from chat.models import DialogueImport, SupportDialogue
from chat.training import (
    DialogueImportError,
    DialogueImportTooLarge,
    FinetuneRefused,
    chat_finetune_start,
    chat_incremental_finetune_start,
    dialogue_import,
    split_counts,
    support_dialogue_list,
)
from config.api_errors import Conflict, PayloadTooLarge
from config.api_uploads import (
    CSVUploadParser,
    JSONLinesUploadParser,
    JSONLUploadParser,
    JSONUploadParser,
    upload_read,
)
from ml.api.serializers import JobSerializer


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


_IMPORT_DESCRIPTION = """Import support dialogues to fine-tune the chat model on.

Send `multipart/form-data` with the file in `file`, or the raw file as the body (`text/csv` or
`application/x-ndjson`). Formats (detected from the file name and content, or named with `format`):
`bitext`, the Bitext customer-support CSV (`instruction`, `response`, `intent` columns: one exchange per
row); `turns_csv`, a CSV with `conversation_id`, `role`, `text` (and optionally `intent`) columns, one turn
per row; `turns_jsonl`, one `{"turns": [{"role": "customer"|"agent", "text": ...}], "intent": ...}` object
per line (chat-completions `{"messages": [{"role", "content"}]}` too).

Emails, phone numbers, order numbers, addresses and card-like numbers are replaced by typed placeholders
(`[EMAIL]`, `[PHONE]`...) before anything is stored; `masked_counts` says how many of each. A dialogue
already held (same masked content) is skipped and counted in `duplicates`. Bad rows are listed in
`errors` (`row` 0 is the file as a whole) and the valid dialogues are imported in one transaction; a file
with no valid dialogue answers 400 with the report and writes nothing; a file over the limit answers 413.
About 10% of dialogues are held out for evaluation, and the first import also fixes a regression set that
new versions must not get worse on."""


class DialogueImportView(MerchantAPIMixin, APIView):
    parser_classes = (
        MultiPartParser,
        CSVUploadParser,
        JSONUploadParser,
        JSONLinesUploadParser,
        JSONLUploadParser,
    )
    required_scope = "write"

    @extend_schema(
        summary="Import support dialogues (masked before storage)",
        description=_IMPORT_DESCRIPTION,
        parameters=[DialogueImportQuerySerializer],
        request={
            "multipart/form-data": DialogueImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "application/json": OpenApiTypes.OBJECT,
            "application/x-ndjson": OpenApiTypes.STR,
        },
        responses={
            200: DialogueImportSerializer,
            400: OpenApiResponse(
                APIErrorSerializer, description="Nothing valid in the file; `errors` per row."
            ),
            413: OpenApiResponse(APIErrorSerializer, description="The file is over the size limit."),
        },
    )
    def post(self, request):
        limit = settings.CHAT_DIALOGUE_IMPORT_MAX_BYTES
        upload = upload_read(
            request,
            limit,
            DialogueImportUploadSerializer,
            lambda size: DialogueImportTooLarge(size, limit).message,
        )
        query = DialogueImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filename, file_format = query.validated_data["filename"], query.validated_data.get("format") or None
        data = upload.data
        if upload.multipart:
            filename = upload.filename or filename
            file_format = upload.form.get("format") or file_format
        elif not filename:
            filename = _default_name(request.content_type)
        try:
            batch = dialogue_import(
                merchant=self.merchant, actor=self.actor, data=data, filename=filename, format=file_format
            )
        except DialogueImportTooLarge as exc:
            raise PayloadTooLarge(exc.message) from exc
        except DialogueImportError as exc:
            return Response(
                {
                    "message": exc.message,
                    "code": exc.code,
                    "field_errors": {"file": [exc.message]},
                    "errors": exc.errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(DialogueImportSerializer(batch).data)


class SupportDialogueListView(MerchantAPIMixin, generics.ListAPIView):
    """The merchant's support dialogues (masked), filterable by `split`, `source` and `intent`."""

    serializer_class = SupportDialogueSerializer
    filterset_fields = ("split", "source", "intent")
    ordering_fields = ("created_at", "id")
    search_fields = ()

    def get_queryset(self):
        return support_dialogue_list(merchant=self.merchant)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if self.merchant is not None:
            response.data["splits"] = split_counts(merchant=self.merchant)
        return response


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


class ChatFinetuneView(MerchantAPIMixin, APIView):
    required_scope = "write"
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Fine-tune the chat model on the merchant's dialogues",
        request=ChatFinetuneRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(
                APIErrorSerializer, description="Invalid hyperparameters or too few dialogues."
            ),
            409: OpenApiResponse(
                APIErrorSerializer, description="A chat fine-tune is running, or nothing new."
            ),
        },
    )
    def post(self, request):
        body = ChatFinetuneRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        start = chat_incremental_finetune_start if data["incremental"] else chat_finetune_start
        try:
            job = start(
                merchant=self.merchant,
                actor=self.actor,
                hyperparameters=data.get("hyperparameters"),
                name=data.get("name", ""),
                auto_promote=data["auto_promote"],
            )
        except FinetuneRefused as exc:
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


def _default_name(content_type: str) -> str:
    if content_type.startswith("application/json"):
        return "upload.json"
    if "ndjson" in content_type or "jsonl" in content_type:
        return "upload.jsonl"
    return "upload.csv"


urlpatterns = [
    path("chat/dialogues/import/", DialogueImportView.as_view(), name="chat-dialogue-import"),
    path("chat/dialogues/", SupportDialogueListView.as_view(), name="chat-dialogue-list"),
    path("chat/finetune/", ChatFinetuneView.as_view(), name="chat-finetune"),
]
