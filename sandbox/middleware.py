"""Requests for a preview host (p-<token>.<PREVIEW_BASE_DOMAIN>) go straight to the preview proxy.

It sits first in MIDDLEWARE and answers preview hosts itself, so none of the builder's middleware
(sessions, auth, CSRF, WhiteNoise's /static/) ever runs on a preview's site: a preview path such as
/static/app.css is the app's, never Kiln's.
"""

import re

from asgiref.sync import markcoroutinefunction
from django.conf import settings

from sandbox.views import preview_proxy


class PreviewHostMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.host_re = re.compile(rf"^p-(?P<token>[a-z0-9]{{16,40}})\.{re.escape(settings.PREVIEW_BASE_DOMAIN)}$")
        markcoroutinefunction(self)

    async def __call__(self, request):
        host = request.get_host().rsplit(":", 1)[0].lower()
        match = self.host_re.match(host)
        if match:
            request.preview_token = match["token"]
            return await preview_proxy(request, request.path.removeprefix("/"))
        return await self.get_response(request)
