"""Dashboard pages under /customers/: the customer list and pages, segments, imports, privacy settings."""

from profiles.urls_customers import urlpatterns as customer_patterns
from profiles.urls_imports import urlpatterns as import_patterns
from profiles.urls_privacy import urlpatterns as privacy_patterns
from profiles.urls_segments import urlpatterns as segment_patterns

app_name = "profiles"
# Fixed prefixes (import/, segments/, privacy/) come before the customer pages' patterns.
urlpatterns = [*import_patterns, *segment_patterns, *privacy_patterns, *customer_patterns]
