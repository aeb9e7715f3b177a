from django.conf import settings
from django.db import models


class ModelVersion(models.Model):
    """A model Kiln can route generations to: a backend, an endpoint and a model (or LoRA adapter)."""

    class Backend(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible (vLLM or any endpoint)"
        BLUEPRINT = "blueprint", "Offline blueprint server"
        KILN = "kiln", "Kiln's own model (served by vLLM)"

    class OutputMode(models.TextChoices):
        FULL = "full", "writes every file"
        # The model writes the explanation and app.json only; Kiln renders the rest (generation.specs).
        SPEC = "spec", "writes app.json; Kiln renders the app"

    name = models.CharField(max_length=100, unique=True)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.BLUEPRINT)
    # Empty means "the one in settings" (MODEL_BASE_URL, MODEL_NAME), so the default row follows the env;
    # both may be empty, or staff could not save that row in the admin.
    endpoint = models.CharField(max_length=300, blank=True, help_text="Empty: MODEL_BASE_URL from settings.")
    base_model = models.CharField(
        max_length=200, blank=True, help_text="Model name sent to the endpoint. Empty: MODEL_NAME from settings."
    )
    adapter = models.CharField(max_length=200, blank=True, help_text="LoRA adapter name served by vLLM.")
    weight = models.PositiveIntegerField(default=1, help_text="Share of traffic, relative to others.")
    is_active = models.BooleanField(default=True)
    output_mode = models.CharField(max_length=10, choices=OutputMode.choices, default=OutputMode.FULL)
    # Kiln's own models: a round's base (or parent round), the folder of its weights or adapter, and how
    # it was made ({"kind": "base"|"round", "method", "snapshot_sha256", ...}).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    artifact_dir = models.CharField(max_length=500, blank=True)
    training = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    @property
    def request_model_name(self) -> str:
        """vLLM serves a LoRA adapter under its own name; otherwise the base model's name. Kiln's own
        versions are served under their own name (a base with --served-model-name, a round's adapter
        with lora_name)."""
        if self.backend == self.Backend.KILN:
            return self.name
        return self.adapter or self.base_model or settings.MODEL_NAME

    @property
    def base_url(self) -> str:
        if self.backend == self.Backend.KILN:
            return self.endpoint or settings.OWN_MODEL_BASE_URL
        return self.endpoint or settings.MODEL_BASE_URL

    @property
    def writes_spec(self) -> bool:
        return self.output_mode == self.OutputMode.SPEC


class Generation(models.Model):
    """One model response for a turn. A turn has several when the user regenerates or compares."""

    class Status(models.TextChoices):
        # Held back by fair use (builder.fair_use): not yet handed to a worker.
        WAITING = "waiting"
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINAL_STATUSES = (Status.DONE, Status.FAILED, Status.CANCELLED)

    class Kind(models.TextChoices):
        FIRST = "first", "first answer"
        REGENERATE = "regenerate"
        COMPARE = "compare", "side-by-side candidate"
        REPAIR = "repair", "repair of a failed build"
        # No model call: the user brought back an earlier version's files (builder.history.restore_version).
        RESTORE = "restore", "restore of an earlier version"
        # No model call: the user edited a file by hand and saved it as a new version (builder.edits).
        EDIT = "edit", "hand edit"

    turn = models.ForeignKey("builder.Turn", on_delete=models.CASCADE, related_name="generations")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FIRST)
    # For a repair: the failed build whose errors this generation was asked to fix.
    repair_of = models.ForeignKey(
        "sandbox.Build", null=True, blank=True, on_delete=models.SET_NULL, related_name="repairs"
    )
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker started this generation (a worker killed mid-stream leads to a retry).
    attempts = models.PositiveSmallIntegerField(default=0)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="generations")
    candidate = models.PositiveSmallIntegerField(default=1)
    seed = models.BigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # Exactly what was sent to the model (system + conversation + prior files), kept for datasets.
    request_messages = models.JSONField(default=list)
    raw_output = models.TextField(blank=True)
    explanation = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="Shown to the user when the generation failed.")
    protocol_errors = models.JSONField(default=list, blank=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    app_version = models.ForeignKey(
        "builder.AppVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Generation {self.pk} ({self.status})"

    @property
    def stream_key(self) -> str:
        return f"kiln:gen:{self.pk}"


class OutputDefect(models.Model):
    """Something wrong with what the model wrote, found without any user: an automatic negative
    example for the preference data (KTO label false), and a message the user sees."""

    class Kind(models.TextChoices):
        PROTOCOL = "protocol", "protocol error"
        CUT_OFF = "cut_off", "cut off by the length limit"
        LAZY_PLACEHOLDER = "lazy_placeholder", "lazy placeholder in a file"
        CODE_IN_CHAT = "code_in_chat", "code dumped into the chat"
        NO_FILES = "no_files", "no files written"

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="defects")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField()
    path = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.kind}: {self.message[:60]}"
