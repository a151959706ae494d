"""API routes (imports); included by profiles/api/urls.py."""

urlpatterns: list = []
