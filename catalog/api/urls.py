from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api.views import ProductImportView, ProductViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")

# The import route comes first so that "import" is never taken for a product id.
urlpatterns = [
    path("products/import/", ProductImportView.as_view(), name="product-import"),
    *router.urls,
]
