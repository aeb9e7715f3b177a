from django.contrib import admin

from generation.models import Generation, ModelVersion, OutputDefect


class OutputDefectInline(admin.TabularInline):
    model = OutputDefect
    extra = 0
    readonly_fields = ("kind", "message", "path", "created_at")
    can_delete = False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "backend", "output_mode", "parent", "request_model_name", "base_url", "weight",
                    "is_active")
    list_editable = ("weight", "is_active")
    list_filter = ("backend", "output_mode", "is_active")
    # Where a model of Kiln's own came from is written by its training commands (bootstrap_model,
    # train_round) and read by serving and promotion: shown, never edited by hand.
    readonly_fields = ("parent", "artifact_dir", "training")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("id", "turn", "candidate", "status", "model_version", "finish_reason", "completion_tokens",
                    "time_to_first_token_ms", "duration_ms", "created_at")
    list_filter = ("status", "model_version", "finish_reason")
    search_fields = ("turn__prompt", "explanation", "error")
    raw_id_fields = ("turn", "app_version")
    readonly_fields = ("request_messages", "raw_output", "protocol_errors")
    inlines = [OutputDefectInline]


@admin.register(OutputDefect)
class OutputDefectAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "generation", "path", "message", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("generation",)
