import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_code() -> str:
    # 128 bits: an invite link cannot be guessed, and sign-up attempts are throttled besides.
    return secrets.token_urlsafe(16)


def default_expiry():
    return timezone.now() + timedelta(days=settings.INVITE_DAYS)


class Invite(models.Model):
    """A one-time sign-up link made by staff in the admin (SIGNUP_MODE=invite)."""

    code = models.CharField(max_length=64, unique=True, default=new_code, editable=False)
    email = models.EmailField(blank=True, help_text="Optional: only this address may use the invite.")
    note = models.CharField(max_length=200, blank=True, help_text="Who it is for, for the other staff.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invites_made",
                                   editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=default_expiry)
    used_by = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="invite", editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"invite {self.code[:6]}… for {self.email or self.note or 'anyone'}"

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()
