"""Sign-up (open, or by invite), and Django's own password change and reset views behind a throttle.

django-axes throttles wrong passwords at the login form only. The other forms that touch accounts are
throttled here, per address (sign-up, reset) or per user (password change, whose form checks the old
password without going through the login), so none of them is a way around it: guessing invite codes
or probing user names and addresses costs the same attempts whichever door is used.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.forms import INVITE_USED, SignupForm
from accounts.models import Invite
from accounts.throttle import allow, client_address

INVITE = "invite"
OPEN = "open"
TOO_MANY_SIGNUPS = "Too many sign-up attempts from this address. Try again in an hour."
TOO_MANY_RESETS = "Too many password reset requests from this address. Try again in an hour."
TOO_MANY_CHANGES = "Too many password change attempts. Try again in an hour."
WELCOME = "Welcome to Kiln, {name}. Name a project below and describe the app you want."
HOUR_S = 3600


class InviteTaken(Exception):
    """Someone else used the invite between the form's check and this sign-up."""


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("/")
    invite_only = settings.SIGNUP_MODE == INVITE
    if request.method == "GET":
        form = SignupForm(invite_only=invite_only, initial={"code": request.GET.get("code", "")})
        return render(request, "registration/signup.html", {"form": form, "invite_only": invite_only})
    form = SignupForm(request.POST, invite_only=invite_only)
    if not allow("signup", client_address(request), limit=settings.SIGNUP_ATTEMPTS_PER_HOUR, window_s=HOUR_S):
        return render(request, "registration/signup.html",
                      {"form": form, "invite_only": invite_only, "refused": TOO_MANY_SIGNUPS}, status=429)
    if form.is_valid():
        try:
            user = _create_account(form)
        except InviteTaken:
            form.add_error("code", INVITE_USED)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, WELCOME.format(name=user.username))
            return redirect("/")
    return render(request, "registration/signup.html", {"form": form, "invite_only": invite_only})


def _create_account(form: SignupForm):
    with transaction.atomic():
        user = form.save()
        if form.invite is not None:
            # The update is the check: of two sign-ups racing for one invite, one row is updated.
            taken = Invite.objects.filter(pk=form.invite.pk, used_at__isnull=True).update(
                used_by=user, used_at=timezone.now())
            if not taken:
                raise InviteTaken
    return user


class PasswordResetView(auth_views.PasswordResetView):
    def post(self, request, *args, **kwargs):
        if not allow("password-reset", client_address(request), limit=settings.PASSWORD_RESETS_PER_HOUR,
                     window_s=HOUR_S):
            return render(request, self.template_name, {"form": self.get_form(), "refused": TOO_MANY_RESETS},
                          status=429)
        return super().post(request, *args, **kwargs)


class PasswordChangeView(auth_views.PasswordChangeView):
    def post(self, request, *args, **kwargs):
        if not allow("password-change", str(request.user.pk), limit=settings.PASSWORD_CHANGES_PER_HOUR,
                     window_s=HOUR_S):
            return render(request, self.template_name, {"form": self.get_form(), "refused": TOO_MANY_CHANGES},
                          status=429)
        return super().post(request, *args, **kwargs)
