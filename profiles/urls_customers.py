"""Dashboard routes (customers); included by profiles/urls.py under app_name "profiles"."""

from django.urls import path

from profiles import views

urlpatterns = [
    path("", views.customer_list_view, name="customer_list"),
    path("<int:customer_id>/", views.customer_detail_view, name="customer_detail"),
]
