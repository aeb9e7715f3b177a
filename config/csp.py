"""The builder's Content-Security-Policy: django-csp's middleware, with frame-src naming the preview
hosts as the settings say at the time of the request."""

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings


def preview_frame_source() -> str:
    """Every preview host (p-<token>.<PREVIEW_BASE_DOMAIN>) on the scheme and port the browser uses."""
    return f"{settings.PREVIEW_SCHEME}://*.{settings.PREVIEW_BASE_DOMAIN}:{settings.PREVIEW_PORT}"


class BuilderCSPMiddleware(CSPMiddleware):
    # Read per request, not at import: PREVIEW_PORT can be set after the settings load (a live test
    # server learns its port late), and a stale port here would blank every preview iframe.
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request=request, response=response, report_only=report_only)
        if not report_only:
            parts.replace = {"frame-src": [preview_frame_source()], **(parts.replace or {})}
        return parts
