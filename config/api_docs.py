"""The API docs pages, served entirely from our own origin (drf-spectacular-sidecar assets, no CDN, no web fonts)
under the Content-Security-Policy. The templates in templates/drf_spectacular/ put the policy's nonce on their
inline start-up scripts.

ReDoc needs two exceptions, on its page only:
- style-src 'unsafe-inline': its bundle inserts <style> elements while it loads (style-loader), before any code
  of ours can hand it the nonce, and then more at run time (styled-components). Styles cannot run script, and
  script-src stays 'self' plus the nonce.
- worker-src blob:: its search index runs in a Web Worker that it starts from a blob: URL it creates itself.
"""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

_PUBLIC = {"url_name": "schema", "authentication_classes": [], "permission_classes": []}

swagger_view = SpectacularSwaggerView.as_view(**_PUBLIC)
redoc_view = csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(
    SpectacularRedocView.as_view(**_PUBLIC)
)
