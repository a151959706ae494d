"""Dashboard routes (customers); included by profiles/urls.py under app_name "profiles"."""

urlpatterns: list = []
