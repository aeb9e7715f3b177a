from django.contrib import admin

from builder.models import AppVersion, Project, Turn
from builder.services import delete_project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "created_at")
    search_fields = ("name", "owner__username")

    # Deleting from the admin must also stop previews and delete the project's stored records.
    def delete_model(self, request, obj):
        delete_project(project=obj)

    def delete_queryset(self, request, queryset):
        for project in queryset:
            delete_project(project=project)


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "prompt", "created_at")
    search_fields = ("prompt",)
    raw_id_fields = ("project", "base_version")


@admin.register(AppVersion)
class AppVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "parent", "digest", "created_at")
    raw_id_fields = ("project", "parent")
    readonly_fields = ("manifest", "digest")
