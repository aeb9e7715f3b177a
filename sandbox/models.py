from django.db import models


class Build(models.Model):
    """Bundling one AppVersion and running its preview. Status only moves forward."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"
        STOPPED = "stopped"

    FINAL_STATUSES = (Status.READY, Status.FAILED, Status.STOPPED)

    app_version = models.ForeignKey("builder.AppVersion", on_delete=models.CASCADE, related_name="builds")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # Event stream the status frames go to (the generation's stream), so the browser sees them in order.
    stream_key = models.CharField(max_length=100, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="Shown to the user when the build or preview failed.")
    # Host label of the preview (p-<token>.<PREVIEW_BASE_DOMAIN>): unguessable, lowercase for DNS.
    preview_token = models.CharField(max_length=40, unique=True, null=True, blank=True)
    container_id = models.CharField(max_length=80, blank=True)
    runtime = models.CharField(max_length=20, blank=True, help_text="runsc (gVisor) or runc.")
    timings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Build {self.pk} ({self.status})"
