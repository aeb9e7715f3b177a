from django.contrib import admin

from feedback.models import Feedback, PreferencePair, ReviewDecision


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("id", "verdict", "from_staff", "reason", "user", "generation", "project", "created_at")
    list_filter = ("verdict", "from_staff", "created_at")
    search_fields = ("reason", "comment", "generation__turn__prompt", "user__username")
    raw_id_fields = ("generation",)
    list_select_related = ("user", "generation__turn__project")

    @admin.display(description="project")
    def project(self, obj):
        return obj.generation.turn.project


@admin.register(PreferencePair)
class PreferencePairAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "review_status", "chosen_generation", "rejected_generation", "prompt_text", "created_at")
    list_filter = ("source", "review_status")
    list_editable = ("review_status",)
    raw_id_fields = ("chosen_generation", "rejected_generation", "feedback")
    readonly_fields = ("created_at",)

    @admin.display(description="prompt")
    def prompt_text(self, obj):
        user_messages = [m["content"] for m in obj.prompt if m.get("role") == "user"]
        return (user_messages[-1] if user_messages else "")[-80:]


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(admin.ModelAdmin):
    """The review console's audit trail: read only, so it stays a record of what reviewers did."""

    list_display = ("id", "created_at", "reviewer", "action", "review_status", "pair", "generation", "reason", "tags")
    list_filter = ("action", "review_status")
    list_select_related = ("reviewer",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
