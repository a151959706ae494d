from rest_framework.routers import SimpleRouter

from ml.api.views import JobViewSet, ModelVersionViewSet

router = SimpleRouter()
router.register("models", ModelVersionViewSet, basename="model-version")
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls
