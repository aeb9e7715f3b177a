from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils import timezone

from accounts.models import Invite

INVITE_NEEDED = "Kiln is invite-only here: open the sign-up link from your invite, or paste its code."
INVITE_UNKNOWN = "This invite code is not valid. Check the link, or ask an administrator for a new invite."
INVITE_USED = "This invite has been used already. Ask an administrator for a new one."
INVITE_EXPIRED = "This invite has expired. Ask an administrator for a new one."
INVITE_OTHER_EMAIL = "This invite is for another e-mail address."
EMAIL_TAKEN = "An account with this e-mail address exists already: log in, or reset its password."


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="E-mail", help_text="For password resets. Kiln sends nothing else.")
    code = forms.CharField(label="Invite code", required=False, max_length=64)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, invite_only: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.invite_only = invite_only
        self.invite: Invite | None = None
        if invite_only:
            self.fields["code"].required = True
            self.fields["code"].error_messages["required"] = INVITE_NEEDED
        else:
            del self.fields["code"]

    def clean_email(self):
        email = self.cleaned_data["email"]
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(EMAIL_TAKEN)
        return email

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        invite = Invite.objects.filter(code=code).first()
        if invite is None:
            raise forms.ValidationError(INVITE_UNKNOWN)
        if invite.used_at is not None:
            raise forms.ValidationError(INVITE_USED)
        if invite.expires_at <= timezone.now():
            raise forms.ValidationError(INVITE_EXPIRED)
        self.invite = invite
        return code

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if self.invite is not None and self.invite.email and email and email.lower() != self.invite.email.lower():
            self.add_error("email", INVITE_OTHER_EMAIL)
        return cleaned
