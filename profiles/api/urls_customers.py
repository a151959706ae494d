"""API routes (customers); included by profiles/api/urls.py."""

urlpatterns: list = []
