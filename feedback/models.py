from django.conf import settings
from django.db import models


class Feedback(models.Model):
    class Verdict(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"
        PICK = "pick"
        TIE = "tie"
        BOTH_BAD = "both_bad", "both bad"
        RESTORE = "restore"
        EDIT = "edit"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    generation = models.ForeignKey("generation.Generation", on_delete=models.CASCADE, related_name="feedback")
    verdict = models.CharField(max_length=12, choices=Verdict.choices)
    reason = models.CharField(max_length=200, blank=True)
    comment = models.TextField(blank=True)
    # A staff member's blind vote in the review console (/review/blind/), not a verdict of the project's
    # owner: it counts like a user's pick (the leaderboard, the pairs it records), and says whose it is.
    from_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "feedback"

    def __str__(self):
        return f"{self.verdict} on generation {self.generation_id}"


class PreferencePair(models.Model):
    """One ordering of two completions for the same prompt context, in TRL's conversational form."""

    class Source(models.TextChoices):
        PICK = "pick", "explicit pick"
        ACCEPT_VS_REJECT = "accept_vs_reject", "accept vs reject"
        REGENERATE = "regenerate"
        RESTORE = "restore"
        EDIT = "edit", "hand edit"
        REPAIR = "repair", "repair that fixed a failed build"
        SYNTHETIC = "synthetic"

    class ReviewStatus(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        RELABELLED = "relabelled"
        EXCLUDED = "excluded"

    prompt = models.JSONField(help_text="Messages before the answer: system, conversation, prior files.")
    chosen = models.JSONField(help_text="Assistant messages of the preferred completion.")
    rejected = models.JSONField(help_text="Assistant messages of the other completion.")
    chosen_generation = models.ForeignKey(
        "generation.Generation", on_delete=models.CASCADE, related_name="pairs_chosen"
    )
    rejected_generation = models.ForeignKey(
        "generation.Generation", on_delete=models.CASCADE, related_name="pairs_rejected"
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    feedback = models.ForeignKey(Feedback, null=True, blank=True, on_delete=models.SET_NULL, related_name="pairs")
    review_status = models.CharField(
        max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chosen_generation", "rejected_generation"], name="one_pair_per_ordering"
            )
        ]

    def __str__(self):
        return f"{self.chosen_generation_id} > {self.rejected_generation_id} ({self.source})"


class ReviewDecision(models.Model):
    """What a reviewer decided about one queue item, and when: the audit trail of the review console.

    An item is a preference pair or a single generation held as an automatic negative. A pair's own
    review_status is what the export reads; a generation has no status column, so its status is the
    review_status of its latest decision here (pending when it has none).
    """

    class Action(models.TextChoices):
        APPROVE = "approve"
        RELABEL = "relabel", "relabel (swap chosen and rejected)"
        EXCLUDE = "exclude"
        TAG = "tag"

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_decisions")
    pair = models.ForeignKey(PreferencePair, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions")
    generation = models.ForeignKey(
        "generation.Generation", null=True, blank=True, on_delete=models.CASCADE, related_name="review_decisions"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    # The item's review status after this decision (a tag leaves it as it was).
    review_status = models.CharField(max_length=12, choices=PreferencePair.ReviewStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pair__isnull=False, generation__isnull=True)
                | models.Q(pair__isnull=True, generation__isnull=False),
                name="review_decision_on_one_item",
            )
        ]

    def __str__(self):
        return f"{self.action} by {self.reviewer_id} on {'pair' if self.pair_id else 'generation'}"

    @classmethod
    def excluded_generation_ids(cls) -> models.QuerySet:
        """Ids of generations whose latest decision excluded them (the dataset export leaves them out)."""
        latest = cls.objects.filter(generation=models.OuterRef("generation")).order_by("-id").values("review_status")[:1]
        return (cls.objects.filter(generation__isnull=False).annotate(latest=models.Subquery(latest))
                .filter(latest=PreferencePair.ReviewStatus.EXCLUDED).values("generation_id"))


class CompareSettings(models.Model):
    """A user's settings for side-by-side votes. No row means the defaults (blind on)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="compare_settings")
    # Blind: which model version wrote which candidate stays hidden until the user has voted, so the
    # vote is about the apps, not about the names (as public model arenas do).
    blind = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "compare settings"

    def __str__(self):
        return f"compare settings of {self.user_id} (blind {'on' if self.blind else 'off'})"

    @classmethod
    def blind_for(cls, user) -> bool:
        return cls.objects.filter(user=user).values_list("blind", flat=True).first() is not False
