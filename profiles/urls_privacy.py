"""Dashboard routes (privacy: profile settings, erasure log); included by profiles/urls.py."""

from django.urls import path

from profiles import privacy_views

urlpatterns = [
    path("privacy/", privacy_views.privacy_view, name="privacy"),
    path("<int:customer_id>/erase/", privacy_views.customer_erase_view, name="customer_erase"),
]
