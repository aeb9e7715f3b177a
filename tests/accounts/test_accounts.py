"""Accounts as a person meets them: sign-up by invite (or open), password change and reset, invites
made by staff in the admin, and the fair-use limits on the project list."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.forms import EMAIL_TAKEN, INVITE_EXPIRED, INVITE_NEEDED, INVITE_OTHER_EMAIL, INVITE_UNKNOWN, INVITE_USED
from accounts.models import Invite
from accounts.views import TOO_MANY_CHANGES, TOO_MANY_RESETS, TOO_MANY_SIGNUPS, WELCOME

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "a long enough passphrase"


def sign_up(client, username="nora", email="nora@example.com", code=None, password=PASSWORD):
    data = {"username": username, "email": email, "password1": password, "password2": password}
    if code is not None:
        data["code"] = code
    return client.post("/accounts/signup/", data, follow=True)


def test_an_invite_signs_up_once_and_its_code_cannot_be_reused(client, staff):
    invite = Invite.objects.create(created_by=staff)

    page = client.get(f"/accounts/signup/?code={invite.code}")
    assert page.status_code == 200 and f'value="{invite.code}"' in page.content.decode()
    welcome = sign_up(client, code=invite.code)

    assert welcome.redirect_chain == [("/", 302)]
    assert WELCOME.format(name="nora") in welcome.content.decode()
    nora = User.objects.get(username="nora")
    assert welcome.wsgi_request.user == nora and nora.email == "nora@example.com" and not nora.is_staff
    invite.refresh_from_db()
    assert invite.used_by == nora and invite.used_at is not None and not invite.is_open

    client.logout()
    again = sign_up(client, username="nora2", email="other@example.com", code=invite.code)
    assert INVITE_USED in again.content.decode()
    assert not User.objects.filter(username="nora2").exists()


@pytest.mark.parametrize("make_code, message", [
    (lambda staff: None, INVITE_NEEDED),
    (lambda staff: "", INVITE_NEEDED),
    (lambda staff: "not-a-code", INVITE_UNKNOWN),
    (lambda staff: Invite.objects.create(created_by=staff, expires_at=timezone.now() - timedelta(minutes=1)).code,
     INVITE_EXPIRED),
    (lambda staff: Invite.objects.create(created_by=staff, email="someone@example.com").code, INVITE_OTHER_EMAIL),
])
def test_without_a_valid_invite_sign_up_is_refused_in_invite_mode(client, staff, make_code, message):
    assert "invite-only" in client.get("/accounts/signup/").content.decode()

    refused = sign_up(client, code=make_code(staff))

    assert refused.status_code == 200 and refused.redirect_chain == []
    assert message in refused.content.decode()
    assert not User.objects.filter(username="nora").exists()
    assert not refused.wsgi_request.user.is_authenticated


def test_an_invite_for_an_address_works_for_that_address(client, staff):
    invite = Invite.objects.create(created_by=staff, email="Nora@Example.com")

    assert sign_up(client, code=invite.code).redirect_chain == [("/", 302)]


def test_open_mode_signs_up_without_an_invite(client, settings, owner):
    settings.SIGNUP_MODE = "open"
    owner.email = "olivia@example.com"
    owner.save()

    assert 'name="code"' not in client.get("/accounts/signup/").content.decode()
    assert sign_up(client).redirect_chain == [("/", 302)]
    assert Invite.objects.count() == 0
    client.logout()
    taken = sign_up(client, username="olivia2", email="OLIVIA@example.com")
    assert EMAIL_TAKEN in taken.content.decode()


def test_sign_up_attempts_are_throttled_per_address(client, settings, staff):
    settings.SIGNUP_ATTEMPTS_PER_HOUR = 3
    for guess in ("guess-1", "guess-2", "guess-3"):
        assert INVITE_UNKNOWN in sign_up(client, code=guess).content.decode()
    invite = Invite.objects.create(created_by=staff)

    refused = sign_up(client, code=invite.code)

    assert refused.status_code == 429 and TOO_MANY_SIGNUPS in refused.content.decode()
    assert not User.objects.filter(username="nora").exists()
    other_address = client.post("/accounts/signup/", {
        "username": "nora", "email": "nora@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "code": invite.code}, REMOTE_ADDR="10.0.0.7")
    assert other_address.status_code == 302 and User.objects.filter(username="nora").exists()


def test_password_change_needs_the_current_password(client, owner):
    client.force_login(owner)

    wrong = client.post("/accounts/password_change/", {
        "old_password": "not it", "new_password1": "brand new passphrase", "new_password2": "brand new passphrase"})
    assert wrong.status_code == 200 and "Your old password was entered incorrectly" in wrong.content.decode()
    done = client.post("/accounts/password_change/", {
        "old_password": "owner-pass-123", "new_password1": "brand new passphrase",
        "new_password2": "brand new passphrase"}, follow=True)

    assert done.redirect_chain == [("/accounts/password_change/done/", 302)]
    assert "Password changed" in done.content.decode()
    owner.refresh_from_db()
    assert owner.check_password("brand new passphrase")
    client.logout()
    logged_in = client.post("/accounts/login/", {"username": owner.username, "password": "brand new passphrase"})
    assert logged_in.status_code == 302 and logged_in.url == "/"


def test_password_change_attempts_are_throttled_per_user(client, settings, owner):
    settings.PASSWORD_CHANGES_PER_HOUR = 2
    client.force_login(owner)
    guesses = [{"old_password": guess, "new_password1": "brand new passphrase", "new_password2": "brand new passphrase"}
               for guess in ("guess one", "guess two", "owner-pass-123")]
    for guess in guesses[:2]:
        assert client.post("/accounts/password_change/", guess).status_code == 200

    refused = client.post("/accounts/password_change/", guesses[2])

    assert refused.status_code == 429 and TOO_MANY_CHANGES in refused.content.decode()
    owner.refresh_from_db()
    assert owner.check_password("owner-pass-123")  # even the right password waits out the hour


def test_password_reset_mails_a_link_that_sets_a_new_password(client, owner, mailoutbox):
    owner.email = "olivia@example.com"
    owner.save()

    sent = client.post("/accounts/password_reset/", {"email": "olivia@example.com"}, follow=True)
    assert sent.redirect_chain == [("/accounts/password_reset/done/", 302)]
    nobody = client.post("/accounts/password_reset/", {"email": "nobody@example.com"}, follow=True)
    assert nobody.redirect_chain == sent.redirect_chain  # says nothing about which addresses exist

    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["olivia@example.com"]
    assert mailoutbox[0].subject == "Set a new Kiln password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "reset passphrase 42",
                                                     "new_password2": "reset passphrase 42"}, follow=True)
    assert done.redirect_chain == [("/accounts/reset/done/", 302)]
    owner.refresh_from_db()
    assert owner.check_password("reset passphrase 42")
    assert "does not work any more" in client.get(link, follow=True).content.decode()  # used once


def test_password_reset_requests_are_throttled_per_address(client, settings, owner, mailoutbox):
    settings.PASSWORD_RESETS_PER_HOUR = 2
    owner.email = "olivia@example.com"
    owner.save()
    for _ in range(2):
        client.post("/accounts/password_reset/", {"email": "olivia@example.com"})

    refused = client.post("/accounts/password_reset/", {"email": "olivia@example.com"})

    assert refused.status_code == 429 and TOO_MANY_RESETS in refused.content.decode()
    assert len(mailoutbox) == 2


def test_invites_are_made_by_staff_in_the_admin(client, staff, owner):
    client.force_login(owner)
    assert client.get("/admin/accounts/invite/add/").status_code == 302  # to the admin's login
    client.force_login(staff)

    made = client.post("/admin/accounts/invite/add/", {
        "email": "", "note": "for Nora", "expires_at_0": "2099-01-01", "expires_at_1": "12:00:00"})

    assert made.status_code == 302
    invite = Invite.objects.get()
    assert invite.created_by == staff and invite.note == "for Nora" and invite.is_open and len(invite.code) >= 20
    change = client.get(f"/admin/accounts/invite/{invite.id}/change/").content.decode()
    assert f"/accounts/signup/?code={invite.code}" in change
    assert "open" in client.get("/admin/accounts/invite/").content.decode()


def test_the_login_page_links_to_sign_up_and_reset(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in page and 'href="/accounts/password_reset/"' in page


def test_the_project_list_shows_the_fair_use_limits(client, settings, owner):
    settings.FAIR_RUNNING_GENERATIONS = 3
    settings.FAIR_RUNNING_BUILDS = 1
    settings.FAIR_WAITING_PROMPTS = 12
    client.force_login(owner)

    page = client.get("/").content.decode()

    assert re.search(r"3 generations and\s+1 build of yours run at a time; up to\s+12 more prompts wait", page)
    assert 'href="/accounts/password_change/"' in page
