"""Segments API: list and create segments, read, change or delete one by slug, list its members, and preview
rules (count and a sample) before saving. Reads need the `read` scope (previewing too: it writes nothing),
changes `write`. Everything is the requesting merchant's only: another merchant's slug answers 404."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.api.mixins import MerchantAPIMixin
from config.api_errors import Conflict
from config.api_schema import AUTH_ERRORS, CONFLICT, ErrorSerializer, not_found
from profiles.models import RFMSegment, Segment
from profiles.segment_rules import MAX_CONDITIONS, RULE_FIELDS
from profiles.segments import (
    SegmentInvalid,
    segment_create,
    segment_delete,
    segment_get,
    segment_is_current,
    segment_list,
    segment_members,
    segment_queryset,
    segment_update,
)

PREVIEW_SAMPLE = 10
_NOT_FOUND = not_found("segment")

RULES_SCHEMA = {
    "type": "array",
    "maxItems": MAX_CONDITIONS,
    "description": "Conditions, each an object with `field`, `op` and `value` (plus `kind` and `name` for "
    "affinity, `event_type` and `within_days` for events, `key` for attribute). Fields: "
    + ", ".join(f"`{name}` ({'/'.join(spec.ops)})" for name, spec in RULE_FIELDS.items())
    + ". See docs/profiles.md for the vocabulary.",
    "items": {
        "type": "object",
        "properties": {
            "field": {"type": "string", "enum": list(RULE_FIELDS)},
            "op": {"type": "string"},
            "value": {"description": "A number, text, yes/no or a list, depending on the field."},
            "kind": {"type": "string", "enum": ["category", "brand", "colour", "price_band"]},
            "name": {"type": "string"},
            "event_type": {"type": "string"},
            "within_days": {"type": "integer"},
            "key": {"type": "string"},
        },
        "required": ["field"],
    },
}
RULES_EXAMPLE = [
    {"field": "r_score", "op": "gte", "value": 4},
    {"field": "events", "event_type": "purchase", "within_days": 30, "op": "gte", "value": 2},
]


@extend_schema_field(RULES_SCHEMA)
class RulesField(serializers.JSONField):
    """Rules are checked by profiles.segments (per condition); here they only need to be JSON."""


class SegmentSerializer(serializers.ModelSerializer):
    rules = RulesField(read_only=True)
    is_current = serializers.SerializerMethodField(
        help_text="Whether memberships follow the current rules (false for a moment after a change, until the "
        "worker recomputed them; members are then listed from the rules directly)."
    )

    class Meta:
        model = Segment
        fields = [
            "slug",
            "name",
            "description",
            "kind",
            "match",
            "rules",
            "member_count",
            "computed_at",
            "is_current",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_is_current(self, segment: Segment) -> bool:
        return segment_is_current(segment)


class SegmentWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    slug = serializers.SlugField(
        max_length=140, required=False, help_text="Made from the name when left out; unique per merchant."
    )
    match = serializers.ChoiceField(choices=Segment.Match.choices, required=False, default=Segment.Match.ALL)
    rules = RulesField()


class SegmentPatchSerializer(SegmentWriteSerializer):
    name = serializers.CharField(max_length=120, required=False)
    match = serializers.ChoiceField(choices=Segment.Match.choices, required=False)
    rules = RulesField(required=False)


class PreviewSerializer(serializers.Serializer):
    match = serializers.ChoiceField(choices=Segment.Match.choices, required=False, default=Segment.Match.ALL)
    rules = RulesField()


class MemberSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()
    country = serializers.CharField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    rfm_segment = serializers.SerializerMethodField(help_text="RFM group; null without a profile.")
    rfm_label = serializers.SerializerMethodField()
    r_score = serializers.SerializerMethodField()
    f_score = serializers.SerializerMethodField()
    m_score = serializers.SerializerMethodField()

    @staticmethod
    def _profile(customer):
        return getattr(customer, "profile", None)

    def get_rfm_segment(self, customer) -> str | None:
        profile = self._profile(customer)
        return (profile.rfm_segment or None) if profile else None

    def get_rfm_label(self, customer) -> str | None:
        value = self.get_rfm_segment(customer)
        return RFMSegment(value).label if value in RFMSegment.values else value

    def get_r_score(self, customer) -> int | None:
        profile = self._profile(customer)
        return profile.r_score if profile else None

    def get_f_score(self, customer) -> int | None:
        profile = self._profile(customer)
        return profile.f_score if profile else None

    def get_m_score(self, customer) -> int | None:
        profile = self._profile(customer)
        return profile.m_score if profile else None


class PreviewResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Customers matching the rules now.")
    sample = MemberSerializer(many=True, help_text=f"Up to {PREVIEW_SAMPLE}, most recently seen first.")


def _invalid(exc: SegmentInvalid) -> ValidationError:
    return ValidationError(exc.errors)


_INVALID_RULES = OpenApiResponse(
    ErrorSerializer,
    description="Invalid input; `field_errors.rules` is keyed by condition index (from 0).",
    examples=[
        OpenApiExample(
            "Bad second condition",
            value={
                "message": "Invalid input. rules: Enter a number from 1 to 5.",
                "code": "invalid",
                "field_errors": {"rules": {"1": {"value": ["Enter a number from 1 to 5."]}}},
            },
        )
    ],
)


@extend_schema_view(
    list=extend_schema(summary="List segments", responses={200: SegmentSerializer(many=True), **AUTH_ERRORS}),
    retrieve=extend_schema(
        summary="Get a segment", responses={200: SegmentSerializer, **AUTH_ERRORS, **_NOT_FOUND}
    ),
    create=extend_schema(
        summary="Create a segment",
        description="Saves a custom segment; its memberships are computed on the worker right after "
        "(`member_count` already holds the live count).",
        request=SegmentWriteSerializer,
        responses={201: SegmentSerializer, 400: _INVALID_RULES, **AUTH_ERRORS},
        examples=[
            OpenApiExample("Engaged", value={"name": "Engaged", "match": "all", "rules": RULES_EXAMPLE})
        ],
    ),
    partial_update=extend_schema(
        summary="Change a segment",
        description="Built-in segments only take a new name or description.",
        request=SegmentPatchSerializer,
        responses={200: SegmentSerializer, 400: _INVALID_RULES, **AUTH_ERRORS, **_NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a custom segment",
        description="Built-in segments cannot be deleted (409). Campaigns that targeted the segment then "
        "target everyone.",
        responses={204: None, **AUTH_ERRORS, **_NOT_FOUND, **CONFLICT},
    ),
)
class SegmentViewSet(
    MerchantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The merchant's segments: built-in RFM groups and custom rules. Addressed by slug."""

    serializer_class = SegmentSerializer
    lookup_field = "slug"
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["kind"]
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "member_count", "created_at"]
    ordering = ["kind", "name", "id"]
    scope_by_action = {"preview": "read"}

    def get_queryset(self):
        return segment_list(merchant=self.merchant)

    def get_object(self):
        return segment_get(merchant=self.merchant, slug=self.kwargs["slug"])

    def get_serializer_class(self):
        if self.action == "create":
            return SegmentWriteSerializer
        if self.action == "partial_update":
            return SegmentPatchSerializer
        return super().get_serializer_class()

    def create(self, request, *args, **kwargs):
        incoming = SegmentWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            segment = segment_create(merchant=self.merchant, actor=self.actor, **incoming.validated_data)
        except SegmentInvalid as exc:
            raise _invalid(exc) from exc
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        segment = self.get_object()
        incoming = SegmentPatchSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        try:
            segment = segment_update(segment=segment, actor=self.actor, **incoming.validated_data)
        except SegmentInvalid as exc:
            raise _invalid(exc) from exc
        return Response(SegmentSerializer(segment).data)

    def perform_destroy(self, instance):
        try:
            segment_delete(segment=instance, actor=self.actor)
        except SegmentInvalid as exc:
            raise Conflict("Built-in segments cannot be deleted.", code="builtin_segment") from exc

    @extend_schema(
        summary="List a segment's customers",
        description="Paginated, most recently seen first, with each customer's RFM group and scores.",
        responses={200: MemberSerializer(many=True), **AUTH_ERRORS, **_NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def members(self, request, slug=None):
        segment = self.get_object()
        page = self.paginate_queryset(segment_members(segment=segment))
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(
        summary="Preview rules",
        description="How many customers the rules match now, and a sample of them; nothing is saved. "
        "Invalid rules answer 400 with errors by condition index.",
        request=PreviewSerializer,
        responses={200: PreviewResultSerializer, 400: _INVALID_RULES, **AUTH_ERRORS},
        examples=[OpenApiExample("Engaged", value={"match": "all", "rules": RULES_EXAMPLE})],
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def preview(self, request):
        incoming = PreviewSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            matching = segment_queryset(merchant=self.merchant, **incoming.validated_data)
        except SegmentInvalid as exc:
            raise _invalid(exc) from exc
        sample = matching.select_related("profile").order_by("-last_seen_at", "-id")[:PREVIEW_SAMPLE]
        return Response({"count": matching.count(), "sample": MemberSerializer(sample, many=True).data})
