"""Evaluation runs of Kiln's model versions and the promotions they allow (training.evaluation,
training.promotion). Model versions themselves live in `generation` (ModelVersion)."""

from django.conf import settings
from django.db import models


class EvaluationRun(models.Model):
    """One evaluation: the same prompts answered by one or two model versions through the real turn
    path. With two versions, `summary["paired"]` holds the paired difference A − B in reward."""

    version_a = models.ForeignKey("generation.ModelVersion", on_delete=models.PROTECT, related_name="+")
    # The version A is compared with (a round's parent); null for an evaluation of one version.
    version_b = models.ForeignKey("generation.ModelVersion", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    prompt_source = models.CharField(max_length=500, help_text='"held-out" or the prompt file read.')
    n = models.PositiveIntegerField(help_text="Prompts answered by each version.")
    # Prompts (the first k, the same for every version) that went through build, preview and smoke
    # test; null: all of them.
    sandbox_sample = models.PositiveIntegerField(null=True, blank=True)
    # {"versions": {name: {metric: {"value", "low", "high", "n"}}}, "paired": {...}} (evaluation.summarise)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        against = f" vs {self.version_b}" if self.version_b_id else ""
        return f"Evaluation {self.pk}: {self.version_a}{against} on {self.n} prompts"

    @property
    def versions(self) -> list:
        return [v for v in (self.version_a, self.version_b) if v is not None]


class EvaluationResult(models.Model):
    """One prompt answered by one version: the generation it made and how it scored."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="results")
    version = models.ForeignKey("generation.ModelVersion", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(help_text="The prompt's place in the run (pairs results of A and B).")
    prompt = models.TextField()
    # What the prompt asks for (training.corpus.PromptItem): entity, fields, noun.
    expected = models.JSONField(default=dict, blank=True)
    generation = models.ForeignKey("generation.Generation", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    build = models.ForeignKey("sandbox.Build", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sandboxed = models.BooleanField(default=False)
    valid = models.BooleanField(default=False)
    entity_right = models.BooleanField(default=False)
    field_f1 = models.FloatField(default=0.0)
    build_passed = models.BooleanField(null=True, blank=True)
    smoke_passed = models.BooleanField(null=True, blank=True)
    # The smoke test's count of the prompt's expected things and fields found on the page.
    terms_shown = models.PositiveIntegerField(null=True, blank=True)
    terms_expected = models.PositiveIntegerField(null=True, blank=True)
    working = models.BooleanField(default=False, help_text="Valid, and built and smoke-tested when sandboxed.")
    reward = models.FloatField(default=0.0)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    seconds = models.FloatField(default=0.0, help_text="Generation, plus build and smoke test when sandboxed.")
    reason = models.TextField(blank=True, help_text="Why the answer is not valid or did not work.")

    class Meta:
        ordering = ["run", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "version", "position"], name="one_result_per_version_and_prompt"),
        ]

    def __str__(self):
        return f"{self.version} on prompt {self.position}: reward {self.reward:.2f}"


class Promotion(models.Model):
    """A version given a share of live traffic, with the evaluation numbers that allowed it (or the
    override that did)."""

    version = models.ForeignKey("generation.ModelVersion", on_delete=models.PROTECT, related_name="promotions")
    share = models.FloatField(help_text="The share of traffic asked for (0–1).")
    weight = models.PositiveIntegerField(help_text="The routing weight it was given.")
    forced = models.BooleanField(default=False, help_text="Promoted with --force, whatever the evaluation said.")
    evaluation = models.ForeignKey(EvaluationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The paired difference (version − parent) and its interval, and the weights before and after.
    numbers = models.JSONField(default=dict, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.version} at {self.share:.0%}{' (forced)' if self.forced else ''}"
