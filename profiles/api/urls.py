"""/api/v1/ routes of profiles. Imports come first so "import" is never taken for a customer id."""

from profiles.api.urls_customers import urlpatterns as customer_patterns
from profiles.api.urls_imports import urlpatterns as import_patterns
from profiles.api.urls_segments import urlpatterns as segment_patterns

urlpatterns = [*import_patterns, *segment_patterns, *customer_patterns]
