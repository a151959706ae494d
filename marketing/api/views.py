"""Copy studio API: campaigns and their generation, the content review workflow, publishing, exports, the
brand voice and webhook endpoints. Views only translate HTTP to the marketing services / marketing.selectors.

Scopes: reads need `read`; creating and editing campaigns, generating, editing, approving, rejecting and
regenerating content need `write`; publishing, unpublishing and managing webhook endpoints (where
published copy goes) need `publish`."""

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.mixins import MerchantAPIMixin
from config.api_errors import Conflict
from config.api_schema import AUTH_ERRORS, CONFLICT, INVALID, NOT_FOUND
from marketing.api.filters import ContentFilter
from marketing.api.serializers import (
    BrandVoiceSerializer,
    BulkApproveResultSerializer,
    BulkApproveSerializer,
    CampaignSerializer,
    ContentEditSerializer,
    ContentPieceSerializer,
    ContentRevisionSerializer,
    ExportQuerySerializer,
    RejectSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)
from marketing.campaigns.services import (
    brand_voice_set,
    campaign_create,
    campaign_delete,
    campaign_generate,
    campaign_update,
)
from marketing.models import BrandVoice, ContentPiece
from marketing.publishing.services import (
    content_export,
    content_publish,
    content_unpublish,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)
from marketing.review.services import (
    content_approve,
    content_bulk_approve,
    content_regenerate,
    content_reject,
    content_update,
)
from marketing.selectors import (
    brand_voice_get,
    campaign_get,
    campaign_list,
    content_export_list,
    content_get,
    content_list,
    content_revision_list,
    webhook_delivery_list,
    webhook_endpoint_get,
    webhook_endpoint_list,
)
from marketing.workflow import ContentConflict
from ml.api.serializers import JobSerializer


def _conflict(exc: ContentConflict) -> Conflict:
    return Conflict(exc.message, code=exc.code)


# --- campaigns ---------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns", responses={200: CampaignSerializer(many=True), **AUTH_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a campaign", responses={200: CampaignSerializer, **AUTH_ERRORS, **NOT_FOUND}
    ),
    create=extend_schema(
        summary="Create a campaign",
        description="Products must be this merchant's; unknown ids answer 400 naming them.",
        responses={201: CampaignSerializer, **INVALID, **AUTH_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a campaign",
        responses={200: CampaignSerializer, **INVALID, **AUTH_ERRORS, **NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a campaign",
        responses={200: CampaignSerializer, **INVALID, **AUTH_ERRORS, **NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a campaign and its pieces",
        responses={204: None, **AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
    ),
)
class CampaignViewSet(MerchantAPIMixin, viewsets.ModelViewSet):
    """Campaigns: a channel, a set of products (explicit or a catalog filter), tone, length, language and
    variants per product. `generate` writes their copy on the ML queue."""

    serializer_class = CampaignSerializer
    filterset_fields = ["status", "channel"]
    search_fields = ["name"]
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return campaign_list(merchant=self.merchant).prefetch_related("products")

    def get_object(self):
        return campaign_get(merchant=self.merchant, campaign_id=self.kwargs["pk"])

    def perform_create(self, serializer):
        campaign = campaign_create(merchant=self.merchant, actor=self.actor, **serializer.validated_data)
        serializer.instance = campaign_get(merchant=self.merchant, campaign_id=campaign.pk)

    def perform_update(self, serializer):
        campaign = campaign_update(
            campaign=serializer.instance, actor=self.actor, **serializer.validated_data
        )
        serializer.instance = campaign_get(merchant=self.merchant, campaign_id=campaign.pk)

    def perform_destroy(self, instance):
        try:
            campaign_delete(campaign=instance, actor=self.actor)
        except ContentConflict as exc:
            raise _conflict(exc) from exc

    @extend_schema(
        summary="Generate the campaign's copy",
        description="Queues batch generation on the ML queue and answers 202 with the job; poll "
        "`/api/v1/jobs/{id}/` for progress. Pieces land `in_review`. "
        "Generating again only fills in missing pieces.",
        request=None,
        responses={202: JobSerializer, **AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def generate(self, request, pk=None):
        campaign = self.get_object()
        try:
            job = campaign_generate(campaign=campaign, actor=self.actor)
        except ContentConflict as exc:
            raise _conflict(exc) from exc
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- content -----------------------------------------------------------------------------------------------


class CSVRenderer(renderers.BaseRenderer):
    """Lets `?format=csv` select the export (DRF reads `format` for content negotiation)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return renderers.JSONRenderer().render(data)


_PIECE_RESPONSES = {200: ContentPieceSerializer, **AUTH_ERRORS, **NOT_FOUND, **CONFLICT}


@extend_schema_view(
    list=extend_schema(
        summary="List content pieces (the review queue)",
        responses={200: ContentPieceSerializer(many=True), **INVALID, **AUTH_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Get a content piece", responses={200: ContentPieceSerializer, **AUTH_ERRORS, **NOT_FOUND}
    ),
    partial_update=extend_schema(
        summary="Edit a content piece",
        description="Saves a revision and re-runs the grounding check. A rejected or approved piece goes "
        "back to review; a published piece must be unpublished first (409).",
        request=ContentEditSerializer,
        responses={**_PIECE_RESPONSES, **INVALID},
    ),
)
class ContentViewSet(
    MerchantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Generated copy and its review workflow: draft -> in_review -> approved -> published, or rejected.
    Illegal moves answer 409. Publishing needs the `publish` scope."""

    serializer_class = ContentPieceSerializer
    filterset_class = ContentFilter
    search_fields = ["title", "subject", "body", "product__sku", "product__title"]
    ordering_fields = ["created_at", "updated_at", "status", "product__title"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    scope_by_action = {"publish": "publish", "unpublish": "publish"}

    def get_queryset(self):
        return content_list(merchant=self.merchant)

    def get_object(self):
        return content_get(merchant=self.merchant, piece_id=self.kwargs["pk"])

    def get_renderers(self):
        if getattr(self, "action", None) == "export":
            return [renderers.JSONRenderer(), CSVRenderer()]
        return super().get_renderers()

    def perform_content_negotiation(self, request, force=False):
        # DRF answers an unknown `?format=` with 404; the export validates it itself and answers 400.
        if getattr(self, "action", None) == "export":
            force = True
        return super().perform_content_negotiation(request, force=force)

    def _respond(self, piece: ContentPiece) -> Response:
        return Response(ContentPieceSerializer(content_get(merchant=self.merchant, piece_id=piece.pk)).data)

    def _run(self, service, **kwargs) -> Response:
        try:
            piece = service(piece=self.get_object(), actor=self.actor, **kwargs)
        except ContentConflict as exc:
            raise _conflict(exc) from exc
        return self._respond(piece)

    def partial_update(self, request, *args, **kwargs):
        body = ContentEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._run(content_update, **body.validated_data)

    @extend_schema(
        summary="Approve a piece",
        description="Only pieces in review whose grounding report blocks "
        "nothing (unsupported claims, channel limits, banned words) can be approved.",
        request=None,
        responses=_PIECE_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._run(content_approve)

    @extend_schema(
        summary="Reject a piece", request=RejectSerializer, responses={**_PIECE_RESPONSES, **INVALID}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._run(content_reject, reason=body.validated_data["reason"])

    @extend_schema(
        summary="Publish an approved piece",
        description="Needs the `publish` scope. Sends signed webhooks to the merchant's endpoints. "
        "Anything but an approved piece answers 409.",
        request=None,
        responses=_PIECE_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._run(content_publish)

    @extend_schema(summary="Unpublish a piece (back to approved)", request=None, responses=_PIECE_RESPONSES)
    @action(detail=True, methods=["post"])
    def unpublish(self, request, pk=None):
        return self._run(content_unpublish)

    @extend_schema(
        summary="Regenerate a piece",
        description="Queues a new generation of this piece on the ML queue (202 + job); the old text "
        "is kept as a revision and the piece returns to review.",
        request=None,
        responses={202: JobSerializer, **AUTH_ERRORS, **NOT_FOUND, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def regenerate(self, request, pk=None):
        try:
            job = content_regenerate(piece=self.get_object(), actor=self.actor)
        except ContentConflict as exc:
            raise _conflict(exc) from exc
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="A piece's revisions (newest first)",
        responses={200: ContentRevisionSerializer(many=True), **AUTH_ERRORS, **NOT_FOUND},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def revisions(self, request, pk=None):
        piece = self.get_object()
        revisions = content_revision_list(merchant=self.merchant, piece=piece)
        return Response(ContentRevisionSerializer(revisions, many=True).data)

    @extend_schema(
        summary="Approve every given piece that passes every check",
        description="Pieces not in review, flagged, or blocked by their grounding report are skipped "
        "with the reason.",
        request=BulkApproveSerializer,
        responses={200: BulkApproveResultSerializer, **INVALID, **AUTH_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="bulk-approve", filter_backends=[])
    def bulk_approve(self, request):
        body = BulkApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("ids"):
            pieces = content_list(merchant=self.merchant).filter(pk__in=data["ids"])
            missing = set(data["ids"]) - set(pieces.values_list("pk", flat=True))
        else:
            campaign = campaign_get(merchant=self.merchant, campaign_id=data["campaign"])
            pieces = content_list(
                merchant=self.merchant, campaign=campaign, status=ContentPiece.Status.IN_REVIEW
            )
            missing = set()
        result = content_bulk_approve(merchant=self.merchant, actor=self.actor, pieces=pieces.order_by("id"))
        skipped = {**{pk: "not found" for pk in missing}, **result.skipped}
        return Response(
            {"approved": result.approved, "skipped": {str(k): v for k, v in sorted(skipped.items())}}
        )

    @extend_schema(
        summary="Export approved and published pieces",
        description="CSV (cells that a spreadsheet would run as formulas are prefixed with an apostrophe) or "
        "JSON. Only approved and published pieces are ever exported.",
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
            **INVALID,
            **AUTH_ERRORS,
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def export(self, request):
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        campaign = None
        if options.get("campaign"):
            campaign = campaign_get(merchant=self.merchant, campaign_id=options["campaign"])
        pieces = content_export_list(merchant=self.merchant, campaign=campaign, status=options.get("status"))
        body, content_type = content_export(pieces=pieces, export_format=options["format"])
        response = HttpResponse(body, content_type=content_type)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = (
            f'attachment; filename="storyfront-content-{stamp}.{options["format"]}"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- brand voice -------------------------------------------------------------------------------------------


class BrandVoiceView(MerchantAPIMixin, APIView):
    """The merchant's brand voice, used in every prompt; its banned words are checked in every piece."""

    @extend_schema(summary="Get the brand voice", responses={200: BrandVoiceSerializer, **AUTH_ERRORS})
    def get(self, request):
        # Before the first PUT: the defaults, unsaved (updated_at null), in the same shape.
        voice = brand_voice_get(merchant=self.merchant) or BrandVoice(merchant=self.merchant)
        return Response(BrandVoiceSerializer(voice).data)

    @extend_schema(
        summary="Set the brand voice",
        request=BrandVoiceSerializer,
        responses={200: BrandVoiceSerializer, **INVALID, **AUTH_ERRORS},
    )
    def put(self, request):
        body = BrandVoiceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        voice = brand_voice_set(merchant=self.merchant, actor=self.actor, **body.validated_data)
        return Response(BrandVoiceSerializer(voice).data)


# --- webhooks ----------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints", responses={200: WebhookEndpointSerializer(many=True), **AUTH_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        responses={200: WebhookEndpointSerializer, **AUTH_ERRORS, **NOT_FOUND},
    ),
    create=extend_schema(
        summary="Add a webhook endpoint",
        description="Needs the `publish` scope. The response carries the signing `secret`, shown only once. "
        "Each delivery is a POST with `X-Storyfront-Signature` = hex HMAC-SHA256 of "
        "`{X-Storyfront-Timestamp}.{raw body}`, and `X-Storyfront-Idempotency-Key`, stable across retries.",
        responses={201: WebhookEndpointCreatedSerializer, **INVALID, **AUTH_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a webhook endpoint",
        responses={200: WebhookEndpointSerializer, **INVALID, **AUTH_ERRORS, **NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        responses={200: WebhookEndpointSerializer, **INVALID, **AUTH_ERRORS, **NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Remove a webhook endpoint", responses={204: None, **AUTH_ERRORS, **NOT_FOUND}
    ),
)
class WebhookEndpointViewSet(MerchantAPIMixin, viewsets.ModelViewSet):
    """Where published copy is pushed. Changing endpoints needs the `publish` scope."""

    serializer_class = WebhookEndpointSerializer
    filterset_fields = ["active"]
    search_fields = []
    ordering_fields = ["created_at"]
    scope_by_action = {
        "create": "publish",
        "update": "publish",
        "partial_update": "publish",
        "destroy": "publish",
    }

    def get_queryset(self):
        return webhook_endpoint_list(merchant=self.merchant)

    def get_object(self):
        return webhook_endpoint_get(merchant=self.merchant, endpoint_id=self.kwargs["pk"])

    def create(self, request, *args, **kwargs):
        body = WebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint, secret = webhook_endpoint_create(
            merchant=self.merchant, actor=self.actor, **body.validated_data
        )
        data = WebhookEndpointCreatedSerializer(endpoint).data
        data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = webhook_endpoint_update(
            endpoint=serializer.instance, actor=self.actor, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        webhook_endpoint_delete(endpoint=instance, actor=self.actor)

    @extend_schema(
        summary="Delivery log of an endpoint",
        parameters=[OpenApiParameter("page", int, description="Page number.")],
        responses={200: WebhookDeliverySerializer(many=True), **AUTH_ERRORS, **NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        page = self.paginate_queryset(webhook_delivery_list(merchant=self.merchant, endpoint=endpoint))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
