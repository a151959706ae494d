"""API routes (imports); included by profiles/api/urls.py (before the customer routes, so "import" is never
taken for a customer id)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from profiles.api.imports import CustomerImportView, EventImportView, ImportRunViewSet

router = SimpleRouter()
router.register("imports", ImportRunViewSet, basename="import-run")

urlpatterns = [
    path("customers/import/", CustomerImportView.as_view(), name="customer-import"),
    path("events/import/", EventImportView.as_view(), name="event-import"),
    *router.urls,
]
