"""Dashboard routes (imports); included by profiles/urls.py under app_name "profiles"."""

from django.urls import path

from profiles import import_views

urlpatterns = [
    path("import/", import_views.import_view, name="import"),
    path("imports/", import_views.import_list_view, name="import_list"),
    path("imports/<int:import_id>/", import_views.import_detail_view, name="import_detail"),
    path("imports/<int:import_id>/apply/", import_views.import_apply_view, name="import_apply"),
]
