"""Dashboard routes (segments); included by profiles/urls.py under app_name "profiles"."""

urlpatterns: list = []
