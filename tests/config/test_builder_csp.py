"""Builder pages carry a strict Content-Security-Policy and hold no inline script for it to allow."""

import re

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def builder_pages(client, owner, project):
    login = client.get("/accounts/login/")
    client.force_login(owner)
    return {"login": login, "projects": client.get("/"), "project": client.get(f"/projects/{project.id}/")}


def test_builder_pages_allow_only_kilns_own_scripts_the_previews_and_the_socket(client, owner, project):
    for name, response in builder_pages(client, owner, project).items():
        assert response.status_code == 200, name
        policy = directives(response)
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], name
        assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"], name
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], name
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], name
        assert policy["frame-src"] == [f"http://*.{settings.PREVIEW_BASE_DOMAIN}:{settings.PREVIEW_PORT}"], name
        assert f"ws://127.0.0.1:{settings.KILN_PORT}" in policy["connect-src"], name


def test_builder_pages_hold_no_inline_script(client, owner, project):
    for name, response in builder_pages(client, owner, project).items():
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), name
        assert not INLINE_HANDLER.search(html), name
        assert "style=" not in html, name


def test_the_admin_carries_the_policy_too(client, staff):
    client.force_login(staff)

    response = client.get("/admin/feedback/feedback/")

    assert response.status_code == 200
    assert directives(response)["script-src"] == ["'self'"]


def test_the_framed_preview_hosts_follow_the_preview_port_in_force(client, owner, project, settings):
    settings.PREVIEW_PORT = 43210  # as a live test server sets it, after the settings loaded

    client.force_login(owner)
    response = client.get(f"/projects/{project.id}/")

    assert directives(response)["frame-src"] == [f"http://*.{settings.PREVIEW_BASE_DOMAIN}:43210"]
