from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import Invite


def signup_link(invite: Invite) -> str:
    return f"{settings.BUILDER_ORIGINS[0]}{reverse('signup')}?code={invite.code}"


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    """Staff make invites here (the admin is staff-only) and send the sign-up link themselves."""

    list_display = ("__str__", "email", "created_by", "created_at", "expires_at", "state", "used_by")
    list_filter = ("created_at", "expires_at")
    search_fields = ("email", "note", "used_by__username")
    fields = ("email", "note", "expires_at", "link", "created_by", "used_by", "used_at")
    readonly_fields = ("link", "created_by", "used_by", "used_at")
    list_select_related = ("created_by", "used_by")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="sign-up link")
    def link(self, obj):
        if obj.pk is None:
            return "Saved invites show their link here."
        return format_html('<code class="signup-link">{}</code>', signup_link(obj))

    @admin.display(description="state")
    def state(self, obj):
        if obj.used_at is not None:
            return "used"
        return "open" if obj.is_open else "expired"
