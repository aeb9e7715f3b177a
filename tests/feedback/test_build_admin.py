"""Builds in the Django admin: read only even for a superuser, with the smoke test's screenshot served by
a staff-only admin view (never a public media URL) and the build log's error lines marked."""

import pytest

from builder.review_demo import seed
from sandbox.admin import NO_SCREENSHOT
from sandbox.models import Build

pytestmark = pytest.mark.django_db


@pytest.fixture
def builds(settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    seed(turns=4)
    return (Build.objects.exclude(screenshot="").filter(smoke_status="passed").first(),
            Build.objects.get(failed_step="bundle"))


def test_staff_see_a_build_read_only_with_its_screenshot_scores_and_preview(client, staff, builds, settings):
    ready, _ = builds
    client.force_login(staff)

    page = client.get(f"/admin/sandbox/build/{ready.id}/change/").content.decode()

    shot = f"/admin/sandbox/build/{ready.id}/screenshot.png"
    assert f'<img src="{shot}"' in page
    assert 'name="_save"' not in page and "Delete" not in page  # nothing to save, nothing to delete
    assert "<dt>render_ms</dt>" in page and "Preview" in page and "Smoke test" in page
    image = client.get(shot)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == (settings.SANDBOX_DIR / ready.screenshot).read_bytes()
    listing = client.get("/admin/sandbox/build/").content.decode()
    assert f"/admin/sandbox/build/{ready.id}/change/" in listing and "/admin/sandbox/build/add/" not in listing


def test_the_log_marks_its_error_lines(client, staff, builds):
    _, failed = builds
    client.force_login(staff)

    page = client.get(f"/admin/sandbox/build/{failed.id}/change/").content.decode()

    assert '<mark class="error-line">✘ [ERROR] Expected &quot;)&quot; but found &quot;}&quot;</mark>' in page
    assert '<mark class="error-line">Build failed with 1 error</mark>' in page
    assert "&gt; esbuild app/main.jsx --bundle\n" in page  # the command line is not an error
    assert NO_SCREENSHOT in page


def test_nobody_can_add_change_or_delete_a_build(client, staff, builds):
    ready, _ = builds
    client.force_login(staff)  # a superuser: every permission a user can hold

    assert client.get("/admin/sandbox/build/add/").status_code == 403
    assert client.post(f"/admin/sandbox/build/{ready.id}/change/", {"status": "failed"}).status_code == 403
    assert client.post(f"/admin/sandbox/build/{ready.id}/delete/", {"post": "yes"}).status_code == 403
    ready.refresh_from_db()
    assert ready.status == "ready"


def test_the_screenshot_is_for_staff_only(client, owner, builds, django_user_model):
    ready, failed = builds
    shot = f"/admin/sandbox/build/{ready.id}/screenshot.png"
    assert client.get(shot)["Location"].startswith("/admin/login/")  # nobody signed in
    client.force_login(owner)
    assert client.get(shot)["Location"].startswith("/admin/login/")  # a user, even the app's owner
    client.force_login(django_user_model.objects.create_user(username="tess", password="tess-pass-123", is_staff=True))
    assert client.get(shot).status_code == 403  # staff without the permission to view builds
    client.force_login(django_user_model.objects.create_superuser(username="root", password="root-pass-123"))
    assert client.get(f"/admin/sandbox/build/{failed.id}/screenshot.png").status_code == 404
