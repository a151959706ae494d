from django.urls import path

from ml import views

app_name = "ml"
urlpatterns = [
    path("", views.model_list_view, name="model_list"),
    path("finetune/", views.finetune_view, name="finetune"),
    path("rollback/", views.rollback_view, name="rollback"),
    path("versions/<int:version_id>/promote/", views.version_promote_view, name="version_promote"),
    path("jobs/", views.job_list_view, name="job_list"),
    path("jobs/<int:job_id>/", views.job_detail_view, name="job_detail"),
    path("jobs/<int:job_id>/progress/", views.job_progress_view, name="job_progress"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel_view, name="job_cancel"),
]
