from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from chat import views as chat_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api")),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="api-redoc",
    ),
    path("accounts/", include("accounts.urls")),
    path("catalog/", include("catalog.urls")),
    path("models/", include("ml.urls")),
    path("campaigns/", include("marketing.urls")),
    path("chat/", include("chat.urls")),
    # Storefront side of chat: the widget script (public, any origin) and the local demo store.
    path("widget/<str:token>/widget.js", chat_views.widget_script_view, name="chat_widget_script"),
    path("demo/store/", chat_views.demo_store_view, name="demo_store"),
    path("widget/", include("chat.api.widget_urls")),
    path("", include("accounts.dashboard_urls")),
]
