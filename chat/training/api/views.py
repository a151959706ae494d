"""API for the chat model's training data and fine-tuning: import support dialogues, list them, start a full or
incremental chat fine-tune. Views are thin: chat.training does the work."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from chat.training.api.serializers import (
    ChatFinetuneRequestSerializer,
    DialogueImportQuerySerializer,
    DialogueImportSerializer,
    DialogueImportUploadSerializer,
    SupportDialogueSerializer,
)
from chat.training.dialogues import (
    DialogueImportError,
    DialogueImportTooLarge,
    dialogue_import,
    split_counts,
    support_dialogue_list,
)
from chat.training.services import FinetuneRefused, chat_finetune_start, chat_incremental_finetune_start
from config.api_errors import Conflict, PayloadTooLarge
from config.api_schema import ErrorSerializer
from config.api_uploads import (
    CSVUploadParser,
    JSONLinesUploadParser,
    JSONLUploadParser,
    JSONUploadParser,
    upload_read,
)
from ml.api.serializers import JobSerializer

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
            400: OpenApiResponse(ErrorSerializer, description="Nothing valid in the file; `errors` per row."),
            413: OpenApiResponse(ErrorSerializer, description="The file is over the size limit."),
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


class ChatFinetuneView(MerchantAPIMixin, APIView):
    required_scope = "write"
    parser_classes = (JSONParser,)

    @extend_schema(
        summary="Fine-tune the chat model on the merchant's dialogues",
        request=ChatFinetuneRequestSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Invalid hyperparameters or too few dialogues."
            ),
            409: OpenApiResponse(ErrorSerializer, description="A chat fine-tune is running, or nothing new."),
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
