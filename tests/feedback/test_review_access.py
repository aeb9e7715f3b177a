"""Every review URL is 404 to anyone but staff: a signed-in user and nobody signed in alike, as if the
console did not exist."""

import pytest

from generation.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def urls(make_generation):
    generation = make_generation()
    version = ModelVersion.objects.get(name="default")
    return {
        "get": ["/review/", "/review/go/", "/review/leaderboard/", "/review/versions/",
                f"/review/versions/{version.id}/", "/review/versions/?since=2026-01-01&until=2026-12-31",
                "/review/blind/", "/review/blind/?after=3", f"/review/generation/{generation.id}/"],
        "post": ["/review/blind/vote/", f"/review/generation/{generation.id}/decide/"],
    }


@pytest.mark.parametrize("who", ["owner", "nobody"])
def test_a_normal_user_or_nobody_gets_404_on_every_review_url(client, owner, urls, who):
    if who == "owner":
        client.force_login(owner)
    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["post"]:
        assert client.post(url, {"choice": "a", "left": 1, "right": 2, "action": "approve"}).status_code == 404, url


def test_staff_open_each_page(client, staff, urls):
    client.force_login(staff)
    for url in urls["get"]:
        assert client.get(url).status_code in (200, 302), url
