"""Only a page on the builder's exact origin (scheme, host and port) may open the project websocket."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def opens(project, user, origin: str) -> bool:
    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [(b"origin", origin.encode()), (b"host", f"127.0.0.1:{settings.KILN_PORT}".encode()),
               (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, f"/ws/projects/{project.id}/", headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


async def test_the_builders_own_origins_open_the_socket(project, owner):
    assert settings.BUILDER_ORIGINS == [f"http://127.0.0.1:{settings.KILN_PORT}",
                                        f"http://localhost:{settings.KILN_PORT}"]
    for origin in settings.BUILDER_ORIGINS:
        assert await opens(project, owner, origin), origin


@pytest.mark.parametrize("origin", [
    "http://127.0.0.1:9999",  # another port on the same host: another site's server
    "https://127.0.0.1:{port}",
    "ws://127.0.0.1:{port}",
    "http://127.0.0.1",  # port 80
    "http://localhost.evil.example:{port}",
    "null",  # a sandboxed iframe or a file:// page
])
async def test_a_page_on_any_other_origin_cannot_open_the_socket(project, owner, origin):
    assert not await opens(project, owner, origin.format(port=settings.KILN_PORT))
