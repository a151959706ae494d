"""API routes (segments); included by profiles/api/urls.py."""

urlpatterns: list = []
