"""Dashboard routes (segments); included by profiles/urls.py under app_name "profiles". The fixed paths
(new/, preview/, conditions/) are reserved slugs (profiles.segments.RESERVED_SLUGS)."""

from django.urls import path

from profiles import segment_views as views

urlpatterns = [
    path("segments/", views.segment_list_view, name="segment_list"),
    path("segments/new/", views.segment_create_view, name="segment_create"),
    path("segments/preview/", views.segment_preview_view, name="segment_preview"),
    path("segments/conditions/", views.segment_conditions_view, name="segment_conditions"),
    path("segments/<slug:slug>/", views.segment_detail_view, name="segment_detail"),
    path("segments/<slug:slug>/edit/", views.segment_edit_view, name="segment_edit"),
    path("segments/<slug:slug>/delete/", views.segment_delete_view, name="segment_delete"),
]
