"""Guessing passwords is throttled: after a few wrong ones a user name is locked from that address,
with a page that says why and for how long."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed log-ins"


def log_in(client, username, password, *, path="/accounts/login/", address="127.0.0.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_user_name_from_that_address(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, "olivia", "wrong-guess")
        assert response.status_code == 200
        assert b"didn't match" in response.content

    locked = log_in(client, "olivia", "wrong-guess")
    right_password_too = log_in(client, "olivia", "owner-pass-123")

    assert locked.status_code == 429
    assert LOCKED in locked.content.decode()
    assert "as olivia" in locked.content.decode() and "Try again in 15 minutes" in locked.content.decode()
    assert right_password_too.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_from_one_address_does_not_lock_the_user_out_elsewhere(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "olivia", "wrong-guess", address="203.0.113.9")

    response = log_in(client, "olivia", "owner-pass-123", address="127.0.0.1")

    assert response.status_code == 302 and response["Location"] == "/"


def test_a_successful_log_in_forgets_the_earlier_mistakes(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "olivia", "wrong-guess")
    assert log_in(client, "olivia", "owner-pass-123").status_code == 302
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "olivia", "wrong-guess").status_code == 200
    assert log_in(client, "olivia", "owner-pass-123").status_code == 302


def test_the_admin_login_is_throttled_too(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "riley", "wrong-guess", path="/admin/login/")

    response = log_in(client, "riley", "staff-pass-123", path="/admin/login/")

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
