from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from chat.widget import views as chat_widget_views
from config import api_docs

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path("api/docs/", api_docs.swagger_view, name="api-docs"),
    path("api/redoc/", api_docs.redoc_view, name="api-redoc"),
    path("accounts/", include("accounts.urls")),
    path("catalog/", include("catalog.urls")),
    path("models/", include("ml.urls")),
    path("campaigns/", include("marketing.urls")),
    path("chat/", include("chat.urls")),
    path("customers/", include("profiles.urls")),
    # Storefront side of chat: the widget script (public, any origin) and the local demo store.
    path("widget/<str:token>/widget.js", chat_widget_views.widget_script_view, name="chat_widget_script"),
    path("demo/store/", chat_widget_views.demo_store_view, name="demo_store"),
    path("widget/", include("chat.api.widget_urls")),
    path("", include("config.dashboard_urls")),
]

# Under /api/ these answer the documented JSON error; elsewhere Django's HTML pages (config/api_errors.py).
handler400 = "config.api_errors.bad_request_view"
handler403 = "config.api_errors.permission_denied_view"
handler404 = "config.api_errors.not_found_view"
handler500 = "config.api_errors.server_error_view"
