from django.db import models


class Build(models.Model):
    """Bundling one AppVersion and running its preview. Status only moves forward."""

    class Status(models.TextChoices):
        # Held back by fair use (builder.fair_use): not yet handed to a build worker.
        WAITING = "waiting"
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"
        STOPPED = "stopped"

    class Smoke(models.TextChoices):
        PENDING = "pending"
        PASSED = "passed"
        FAILED = "failed"
        # The test could not run (Chromium missing or crashed, the preview stopped under it): no
        # verdict on the app, so never a repair and never a negative example.
        NOT_SCORED = "not_scored", "not scored"
        SKIPPED = "skipped"  # SMOKE_TEST is off

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
    # The preview's folder SANDBOX_DIR/slots/<slot>: its socket, app/ and the project's data/.
    slot = models.CharField(max_length=40, blank=True)
    warm = models.BooleanField(default=False, help_text="The preview went live in a warm-pool container.")
    # Where it stopped when it failed: "invalid" (app files), "engine", "bundle" (esbuild: `error` has
    # file:line), "preview" (server did not start), "lost" (its worker died too often), "internal".
    failed_step = models.CharField(max_length=12, blank=True)
    # Automatic scores (docs/sandbox.md): None until known.
    build_passed = models.BooleanField(null=True, blank=True)
    smoke_passed = models.BooleanField(null=True, blank=True)
    smoke_status = models.CharField(max_length=12, choices=Smoke.choices, default=Smoke.PENDING)
    scores = models.JSONField(default=dict, blank=True)
    smoke_message = models.TextField(blank=True)
    screenshot = models.CharField(max_length=200, blank=True, help_text="PNG path relative to SANDBOX_DIR.")
    # Fault tolerance: who claimed it (host:pid), how often, and crash restarts of its preview.
    worker = models.CharField(max_length=120, blank=True)
    claims = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    restarts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Build {self.pk} ({self.status})"
