"""Versioned API root (/api/v1/). Each app contributes its routes from its own api/urls.py."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("catalog.api.urls")),
]
urlpatterns += [path("", include("ml.api.urls"))]
urlpatterns += [path("", include("marketing.api.urls"))]
urlpatterns += [path("", include("chat.api.urls"))]
urlpatterns += [path("", include("chat.training.api.urls"))]
urlpatterns += [path("", include("profiles.api.urls"))]
