"""API routes (segments); included by profiles/api/urls.py. `segments/preview/` is routed before
`segments/{slug}/`, and "preview" is a reserved slug."""

from rest_framework.routers import SimpleRouter

from profiles.api.segments import SegmentViewSet

router = SimpleRouter()
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns: list = [*router.urls]
