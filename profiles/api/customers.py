"""/api/v1/customers/: list, upsert, read, change, erase, export, profile. Customers are addressed by the shop's
own id (`external_id`); an id containing "/" cannot be addressed in a URL (find it with ?search=)."""

from django.db.models import F
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from accounts.api.mixins import MerchantAPIMixin
from config.api_schema import AUTH_ERRORS, INVALID, error_response, not_found
from profiles.api.filters import CustomerFilter
from profiles.api.serializers import CustomerProfileSerializer, CustomerSerializer, ErasureRecordSerializer
from profiles.privacy import customer_erase, customer_export
from profiles.selectors import customer_list, customer_profile
from profiles.services import customer_upsert

_NOT_FOUND = not_found("customer")
_EXTERNAL_ID = OpenApiParameter(
    "external_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The shop's own id for the customer."
)


@extend_schema_view(
    list=extend_schema(
        summary="List customers", responses={200: CustomerSerializer(many=True), **AUTH_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a customer",
        parameters=[_EXTERNAL_ID],
        responses={200: CustomerSerializer, **AUTH_ERRORS, **_NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a customer",
        parameters=[_EXTERNAL_ID],
        responses={200: CustomerSerializer, **INVALID, **AUTH_ERRORS, **_NOT_FOUND},
    ),
)
class CustomerViewSet(
    MerchantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The merchant's customers. Reads need the `read` scope, writes `write`."""

    serializer_class = CustomerSerializer
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = CustomerFilter
    ordering_fields = [
        "external_id",
        "name",
        "email",
        "country",
        "first_seen_at",
        "last_seen_at",
        "created_at",
    ]
    # Most recently seen first; customers never seen (imported, created by the API) after them.
    ordering = [F("last_seen_at").desc(nulls_last=True), "-id"]

    def get_queryset(self):
        return customer_list(merchant=self.merchant).prefetch_related("segment_memberships__segment")

    def get_object(self):
        external_id = self.kwargs[self.lookup_field]
        customer = None
        if "\x00" not in external_id:  # PostgreSQL cannot even compare a NUL
            customer = self.get_queryset().filter(external_id=external_id).first()
        if customer is None:
            raise Http404("No such customer.")
        return customer

    @extend_schema(
        summary="Create or update a customer",
        description="Upsert by `external_id`: creates the customer (201) or changes the fields sent (200).",
        request=CustomerSerializer,
        responses={201: CustomerSerializer, 200: CustomerSerializer, **INVALID, **AUTH_ERRORS},
    )
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        customer, created = customer_upsert(
            merchant=self.merchant, actor=self.actor, external_id=fields.pop("external_id"), **fields
        )
        customer = self.get_queryset().get(pk=customer.pk)
        return Response(
            self.get_serializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Create or update the customer with this id",
        description=(
            "Upsert at the URL's `external_id`: creates the customer (201) or changes the fields sent (200); "
            "fields left out keep their stored values. An `external_id` in the body must equal the URL's."
        ),
        parameters=[_EXTERNAL_ID],
        request=CustomerSerializer,
        responses={201: CustomerSerializer, 200: CustomerSerializer, **INVALID, **AUTH_ERRORS},
    )
    def update(self, request, *args, **kwargs):
        if kwargs.get("partial"):
            return super().update(request, *args, **kwargs)
        external_id = self.kwargs[self.lookup_field]
        data = request.data.copy() if hasattr(request.data, "copy") else request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Send the customer as a JSON object."]})
        if data.get("external_id", external_id) != external_id:
            raise ValidationError({"external_id": ["Must equal the id in the URL (ids cannot be changed)."]})
        data["external_id"] = external_id
        serializer = self.get_serializer(data=data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields.pop("external_id")
        customer, created = customer_upsert(
            merchant=self.merchant, actor=self.actor, external_id=external_id, **fields
        )
        customer = self.get_queryset().get(pk=customer.pk)
        return Response(
            self.get_serializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def perform_update(self, serializer):
        fields = dict(serializer.validated_data)
        fields.pop("external_id", None)  # the id in the URL is the customer's; it cannot be changed
        customer_upsert(
            merchant=self.merchant, actor=self.actor, external_id=serializer.instance.external_id, **fields
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    @extend_schema(
        summary="Erase a customer",
        description=(
            "Deletes the customer, their events, profile and segment memberships, and anonymises what must be "
            "kept; records which trained model versions used their data and queues those purposes for "
            "retraining. Answers the erasure record (it keeps only a hash of the customer's id)."
        ),
        parameters=[_EXTERNAL_ID],
        responses={200: ErasureRecordSerializer, **AUTH_ERRORS, **_NOT_FOUND},
    )
    def destroy(self, request, external_id=None):
        record = customer_erase(customer=self.get_object(), actor=self.actor)
        return Response(ErasureRecordSerializer(record).data)

    @extend_schema(
        summary="Export everything held about a customer",
        parameters=[_EXTERNAL_ID],
        responses={200: OpenApiTypes.OBJECT, **AUTH_ERRORS, **_NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, external_id=None):
        return Response(customer_export(customer=self.get_object()))

    @extend_schema(
        summary="Get a customer's computed profile",
        description="RFM, affinities, interest vector and predictions, computed on the worker.",
        parameters=[_EXTERNAL_ID],
        responses={
            200: CustomerProfileSerializer,
            **AUTH_ERRORS,
            **error_response(
                404, "No such customer, no profile computed yet, or the customer refused profiling."
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def profile(self, request, external_id=None):
        customer = self.get_object()
        profile = customer_profile(customer=customer)
        if profile is None:
            if not customer.consent_profiling:
                raise Http404("This customer refused profiling: no profile is kept.")
            raise Http404("No profile yet: it is computed on the worker after the customer's events arrive.")
        return Response(CustomerProfileSerializer(profile).data)
