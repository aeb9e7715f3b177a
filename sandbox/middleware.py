"""Requests for a preview host (p-<token>.<PREVIEW_BASE_DOMAIN>) go to the preview proxy's urls."""

import re

from django.conf import settings


def _preview_host_re():
    return re.compile(rf"^p-(?P<token>[a-z0-9]{{16,40}})\.{re.escape(settings.PREVIEW_BASE_DOMAIN)}$")


class PreviewHostMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.host_re = _preview_host_re()

    def __call__(self, request):
        host = request.get_host().rsplit(":", 1)[0].lower()
        match = self.host_re.match(host)
        if match:
            request.preview_token = match["token"]
            request.urlconf = "sandbox.preview_urls"
        return self.get_response(request)
