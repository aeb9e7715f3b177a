"""Staff review feedback in the admin; nobody else can open it."""

import pytest

from feedback.services import record_verdict

pytestmark = pytest.mark.django_db


def test_staff_sees_feedback_and_pairs(client, staff, owner, make_generation):
    first = make_generation(raw_output="one")
    make_generation(first.turn, raw_output="two", candidate=2)
    record_verdict(user=owner, generation=first, verdict="accept")
    client.force_login(staff)

    feedback_page = client.get("/admin/feedback/feedback/")
    pairs_page = client.get("/admin/feedback/preferencepair/")

    assert feedback_page.status_code == 200
    assert b"accept" in feedback_page.content
    assert pairs_page.status_code == 200
    assert b"regenerate" in pairs_page.content


def test_a_normal_user_cannot_open_the_admin(client, owner):
    client.force_login(owner)
    response = client.get("/admin/feedback/feedback/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
