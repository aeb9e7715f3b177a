"""ASGI entry point: HTTP goes to Django, websockets to Channels with origin and auth checks."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Build the Django app before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from builder.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Stricter than AllowedHostsOriginValidator: ALLOWED_HOSTS also admits the preview hosts, and a
        # preview page must never open the builder's websocket. Patterns with a scheme and port make
        # OriginValidator compare all three; a bare host name would admit any scheme and port.
        "websocket": OriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)), settings.BUILDER_ORIGINS
        ),
    }
)
