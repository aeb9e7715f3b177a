from django.contrib import admin

from feedback.models import Feedback, PreferencePair


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("id", "verdict", "reason", "user", "generation", "project", "created_at")
    list_filter = ("verdict", "created_at")
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
