from django.contrib import admin

from builder.models import AppVersion, Project, Turn


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "created_at")
    search_fields = ("name", "owner__username")


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
