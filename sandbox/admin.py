"""Builds in the Django admin, read only: status, smoke verdict and scores, the log with its error lines
marked, the preview (container) it ran in, and the smoke test's screenshot.

Read only for everyone, superusers included: a build is a record of what the sandbox did, and its
status only moves forward through sandbox.builds. The screenshot is served by an admin view (staff
sign-in and view permission on builds), read from SANDBOX_DIR: screenshots are never public media files.
Previews have no model of their own: a preview is the build's container, shown in its own fieldset.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from sandbox.lifecycle import screenshot_path
from sandbox.logs import log_lines
from sandbox.models import Build

NO_SCREENSHOT = "No screenshot for this build."


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "build_passed", "smoke_status", "failed_step", "app_version", "runtime", "warm",
                    "has_screenshot", "created_at")
    list_filter = ("status", "smoke_status", "build_passed", "failed_step", "warm")
    search_fields = ("id", "error", "preview_token", "container_id")
    list_select_related = ("app_version",)
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("app_version", "status", "failed_step", "error", "created_at", "started_at", "finished_at")}),
        ("Smoke test", {"fields": ("build_passed", "smoke_passed", "smoke_status", "smoke_message", "score_list",
                                   "screenshot_image")}),
        ("Log", {"fields": ("log_with_errors",)}),
        ("Preview", {"fields": ("preview_token", "container_id", "runtime", "slot", "warm", "restarts", "timings")}),
        ("Worker", {"fields": ("worker", "claims", "heartbeat_at", "stream_key")}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("<int:build_id>/screenshot.png", self.admin_site.admin_view(self.screenshot_view),
                 name="sandbox_build_screenshot"),
            *super().get_urls(),
        ]

    def screenshot_view(self, request, build_id: int):
        """The smoke test's PNG, for staff who may view builds (admin_view has checked the sign-in)."""
        build = get_object_or_404(Build, pk=build_id)
        if not self.has_view_permission(request, build):
            raise PermissionDenied
        found = screenshot_path(build)
        if found is None or not found.is_file():
            raise Http404(NO_SCREENSHOT)
        return FileResponse(found.open("rb"), content_type="image/png")

    @admin.display(description="screenshot", boolean=True)
    def has_screenshot(self, obj):
        return bool(obj.screenshot)

    @admin.display(description="screenshot")
    def screenshot_image(self, obj):
        if not obj.screenshot:
            return NO_SCREENSHOT
        url = reverse("admin:sandbox_build_screenshot", args=[obj.pk])
        return format_html('<a href="{}"><img src="{}" width="480" alt="Screenshot of build {} from the smoke test"></a>',
                           url, url, obj.pk)

    @admin.display(description="scores")
    def score_list(self, obj):
        if not obj.scores:
            return "—"
        return format_html("<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", sorted(
            (name, value) for name, value in obj.scores.items())))

    @admin.display(description="log (error lines marked)")
    def log_with_errors(self, obj):
        if not obj.log:
            return "—"
        # <mark>, not a style attribute: the CSP allows no inline style.
        return format_html("<pre>{}</pre>", format_html_join("\n", "{}", (
            (format_html("<mark class=\"error-line\">{}</mark>", line) if is_error else line,)
            for is_error, line in log_lines(obj.log))))
