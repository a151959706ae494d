"""API routes (customers and events); included by profiles/api/urls.py."""

from rest_framework.routers import SimpleRouter

from profiles.api.customers import CustomerViewSet
from profiles.api.events import EventViewSet

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("events", EventViewSet, basename="event")

urlpatterns = router.urls
